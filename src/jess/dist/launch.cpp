#include "jess/dist/launch.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace jess::dist {

namespace {

std::vector<pid_t> g_children;

void forward_signal(int sig) {
  for (pid_t p : g_children)
    if (p > 0) kill(p, sig);
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("jess --nproc: cannot open a socket to find a free port");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    throw std::runtime_error("jess --nproc: cannot bind a loopback socket to find a free port");
  }
  const int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "stopped";
}

}  // namespace

int take_nproc_option(std::vector<std::string>& argv) {
  int n = 0;
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.empty() || a[0] != '-') break;  // the command name: global options end here
    std::string value;
    size_t erase = 0;
    if (a == "--nproc") {
      if (i + 1 >= argv.size()) throw std::invalid_argument("--nproc needs a number of processes");
      value = argv[i + 1], erase = 2;
    } else if (a.rfind("--nproc=", 0) == 0) {
      value = a.substr(8), erase = 1;
    } else {
      if ((a == "--threads") && i + 1 < argv.size()) ++i;  // skip the option's value
      continue;
    }
    char* end = nullptr;
    const long v = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || v < 1 || v > 1024)
      throw std::invalid_argument("--nproc '" + value + "' is not a number of processes (1..1024)");
    n = int(v);
    argv.erase(argv.begin() + long(i), argv.begin() + long(i + erase));
    break;
  }
  return n;
}

int launch_local(int nproc, const std::vector<std::string>& argv) {
  if (std::getenv("WORLD_SIZE") && std::getenv("RANK"))
    throw std::invalid_argument("--nproc inside a launched process (WORLD_SIZE and RANK are already set): use one launcher");
  const char* port_env = std::getenv("MASTER_PORT");
  const int port = port_env && *port_env ? std::atoi(port_env) : free_port();
  bool threads_given = std::getenv("JESS_THREADS") != nullptr;
  for (size_t i = 1; i < argv.size() && !argv[i].empty() && argv[i][0] == '-'; ++i)
    if (argv[i] == "--threads" || argv[i].rfind("--threads=", 0) == 0) threads_given = true;
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const int per_rank = std::max(1, int(hw) / nproc);

  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) throw std::runtime_error("jess --nproc: cannot find this executable (/proc/self/exe)");
  exe[n] = '\0';

  g_children.assign(size_t(nproc), -1);
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::fprintf(stderr, "jess --nproc %d: ranks 0..%d on 127.0.0.1:%d, %s thread%s each\n", nproc, nproc - 1, port,
               threads_given ? "the given" : std::to_string(per_rank).c_str(), !threads_given && per_rank == 1 ? "" : "s");
  for (int r = 0; r < nproc; ++r) {
    const pid_t pid = fork();
    if (pid < 0) {
      forward_signal(SIGTERM);
      throw std::runtime_error("jess --nproc: fork failed");
    }
    if (pid == 0) {
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      if (!threads_given) setenv("JESS_THREADS", std::to_string(per_rank).c_str(), 1);
      setenv("OMP_WAIT_POLICY", "PASSIVE", 0);  // ranks that share cores must not spin-wait each other
      if (r > 0) {
        setenv("JESS_PROGRESS", "0", 1);
        const int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, STDOUT_FILENO), close(devnull);
      }
      std::vector<char*> args;
      args.push_back(exe);
      for (size_t i = 1; i < argv.size(); ++i) args.push_back(const_cast<char*>(argv[i].c_str()));
      args.push_back(nullptr);
      execv(exe, args.data());
      std::fprintf(stderr, "jess --nproc: cannot start rank %d (%s)\n", r, std::strerror(errno));
      _exit(127);
    }
    g_children[size_t(r)] = pid;
  }
  int result = 0, first_failed = -1, left = nproc;
  std::chrono::steady_clock::time_point failed_at;
  // After a rank fails the others stop by themselves (a dead peer fails their next collective at once);
  // those still running after the grace period (stuck in a rendezvous, or hung) are killed.
  double grace = 30;
  if (const char* t = std::getenv("JESS_DIST_TIMEOUT"); t && std::atof(t) > 0) grace = std::min(grace, std::atof(t) + 5);
  while (left > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, first_failed >= 0 ? WNOHANG : 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pid == 0) {  // a rank failed earlier: give the others a grace period to stop by themselves
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - failed_at).count() > grace) {
        std::fprintf(stderr, "jess --nproc: stopping the ranks still running %.0f s after rank %d failed\n", grace, first_failed);
        forward_signal(SIGKILL);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    int r = -1;
    for (int k = 0; k < nproc; ++k)
      if (g_children[size_t(k)] == pid) r = k;
    if (r < 0) continue;
    g_children[size_t(r)] = -1;
    --left;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok && first_failed < 0) {
      first_failed = r;
      failed_at = std::chrono::steady_clock::now();
      result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      std::fprintf(stderr, "jess --nproc: rank %d %s\n", r, describe_status(status).c_str());
    }
  }
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  return result;
}

}  // namespace jess::dist
