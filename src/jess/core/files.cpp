#include "jess/core/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace jess {

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void make_directories(const std::string& dir) {
  std::string cur;
  std::stringstream ss(dir);
  std::string part;
  if (!dir.empty() && dir[0] == '/') cur = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    cur += part + "/";
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
      throw std::runtime_error("cannot create directory '" + cur + "': " + std::strerror(errno));
  }
}

void write_file_atomic(const std::string& path, const char* data, size_t size) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw std::runtime_error("cannot write '" + path + "': " + std::strerror(errno));
  size_t done = 0;
  while (done < size) {
    ssize_t w = ::write(fd, data + done, size - done);
    if (w <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::runtime_error("writing '" + path + "' failed: " + std::strerror(w < 0 ? err : ENOSPC) +
                               " (disk full, or a file-size limit?); the previous file, if any, is unchanged");
    }
    done += size_t(w);
  }
  const bool synced = ::fsync(fd) == 0 || errno == EINVAL || errno == ENOTSUP;  // file systems without fsync
  if (::close(fd) != 0 || !synced) {
    ::unlink(tmp.c_str());
    throw std::runtime_error("writing '" + path + "' failed (disk full?); the previous file, if any, is unchanged");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write '" + path + "': " + std::strerror(err));
  }
}

void write_text_atomic(const std::string& path, const std::string& text) { write_file_atomic(path, text.data(), text.size()); }

DirectoryLock::DirectoryLock(const std::string& dir) {
  const std::string path = dir + "/.jess.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot create the lock file '" + path + "': " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {0};
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    ::close(fd_);
    fd_ = -1;
    std::string holder = n > 0 ? std::string(buf, size_t(n)) : std::string("?");
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    throw std::runtime_error("another jess process (pid " + holder + ") is writing '" + dir +
                             "'; wait for it to finish, or write into another --out directory");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    const ssize_t w = ::pwrite(fd_, pid.data(), pid.size(), 0);
    (void)w;
  }
  remove_stale_temporaries(dir);
}

int remove_stale_temporaries(const std::string& dir) {
  // write_file_atomic names its temporary `<final name>.tmp.<pid>`; a writer killed between open and
  // rename (kill -9, power loss) leaves it behind. Only files of processes that no longer exist go:
  // a live writer's temporary (e.g. `jess vision eval` writing eval.json beside a run) is never touched.
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  int removed = 0;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    const size_t at = name.rfind(".tmp.");
    if (at == std::string::npos || at == 0 || at + 5 >= name.size()) continue;
    const std::string digits = name.substr(at + 5);
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = pid_t(std::stol(digits));
    if (pid <= 0 || pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    if (::unlink((dir + "/" + name).c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace jess
