#include "jess/core/runtime.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace jess {
namespace {
// Constructed on first use: test binaries call init_runtime from their own static initialisers, which may
// run before this file's (a namespace-scope object was then constructed over the values already set,
// leaking them; found by the AddressSanitizer build).
RuntimeInfo& info_storage() {
  static RuntimeInfo info;
  return info;
}

std::string resolve_link(const std::string& path) {
  char buf[PATH_MAX];
  std::string current = path;
  for (int i = 0; i < 8; ++i) {  // follow the alternatives chain
    ssize_t n = readlink(current.c_str(), buf, sizeof buf - 1);
    if (n <= 0) break;
    buf[n] = 0;
    current = buf;
  }
  return current;
}
}  // namespace

std::size_t trim_threshold_for(std::size_t physical_bytes) {
  const std::size_t floor = std::size_t(256) << 20;
  return std::max(floor, physical_bytes / 8);
}

std::string tune_allocator() {
  if (const char* env = std::getenv("JESS_MALLOC_TUNING"); env && std::string(env) == "0") return "glibc defaults";
  // Keep freed buffers inside the process: without this, LibTorch spends ~40% of a training step in page
  // faults (measured 2.3x slower in C++; 1.45x for a PyTorch training step in Python). Allocations above
  // 64 MiB still use mmap, so one very large tensor does not pin the heap.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  // The trim threshold must exceed what a step frees at the heap top, else each step gives that memory back
  // and faults it in again. A fixed 256 MiB was too small for an image recipe (resnet_small w32, batch 256:
  // ~1 GB heap): depending on the heap's layout (it moved with the length of the --out path) the top grew
  // past 256 MiB and was trimmed every few steps, 2.7 GB returned and re-faulted in 3 epochs of 10 steps,
  // 3x the page faults and 35 % fewer images/s. An eighth of the machine's memory keeps any step's
  // working set in the process while bounding what a finished peak can pin.
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  // mallopt takes an int: at most 2 GiB - 1.
  const std::size_t trim = std::min<std::size_t>(
      trim_threshold_for(pages > 0 && page > 0 ? std::size_t(pages) * std::size_t(page) : 0), std::size_t(INT_MAX));
  mallopt(M_TRIM_THRESHOLD, int(trim));
  return "mmap_threshold=64MiB trim_threshold=" + std::to_string(trim >> 20) + "MiB";
}

RuntimeInfo init_runtime(int threads, bool warn_on_slow_blas) {
  RuntimeInfo& g_info = info_storage();
  g_info.malloc_tuning = tune_allocator();
  // A write past the file-size limit (`ulimit -f`) raises SIGXFSZ, whose default action kills the process
  // with no message and leaves the temporary file behind. Ignored, the write fails with EFBIG instead and
  // every writer reports it as a clear error, removes its temporary file and leaves the previous file intact.
  signal(SIGXFSZ, SIG_IGN);

  if (threads <= 0) {
    if (const char* env = std::getenv("JESS_THREADS")) threads = std::atoi(env);
  }
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  // libcpuinfo reports 1 core on these VMs, so libtorch would default to 1 thread.
  at::set_num_threads(threads);
  g_info.threads = at::get_num_threads();

  g_info.blas = resolve_link("/usr/lib/x86_64-linux-gnu/libblas.so.3");
  g_info.blas_is_optimised = g_info.blas.find("openblas") != std::string::npos ||
                             g_info.blas.find("blis") != std::string::npos ||
                             g_info.blas.find("mkl") != std::string::npos;
  if (const char* ct = std::getenv("OPENBLAS_CORETYPE")) g_info.openblas_coretype = ct;
  // OpenBLAS 0.3.21's run-time detection does not know every recent Xeon model (this project's VMs report
  // a generic "Intel Xeon Processor") and falls back to the Prescott (SSE3) kernels: measured 5.2x slower
  // on the PRE nearest-neighbour products than OPENBLAS_CORETYPE=SkylakeX. The variable must be set before
  // the process starts (OpenBLAS reads it when it loads), so jess reports it and never changes it.
  using CoreName = char* (*)();
  if (auto f = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"))) g_info.openblas_core = f();
  const bool sse3_fallback = (g_info.openblas_core == "Prescott" || g_info.openblas_core == "prescott") &&
                             __builtin_cpu_supports("avx2");
  if (warn_on_slow_blas && sse3_fallback && std::getenv("JESS_QUIET_BLAS") == nullptr) {
    std::fprintf(stderr,
                 "warning: OpenBLAS picked its SSE3 (Prescott) kernels on a CPU with %s; matrix work is up to 5x "
                 "slower. Start jess with OPENBLAS_CORETYPE=%s (JESS_QUIET_BLAS=1 silences this).\n",
                 __builtin_cpu_supports("avx512f") ? "AVX-512" : "AVX2",
                 __builtin_cpu_supports("avx512f") ? "SkylakeX" : "Haswell");
  }
  if (warn_on_slow_blas && !g_info.blas_is_optimised && std::getenv("JESS_QUIET_BLAS") == nullptr) {
    std::fprintf(stderr,
                 "warning: libblas.so.3 resolves to %s, not OpenBLAS; matrix work will be ~20x slower. "
                 "Run scripts/setup.sh to select libopenblas0-openmp.\n",
                 g_info.blas.c_str());
  }
  return g_info;
}

const RuntimeInfo& runtime_info() { return info_storage(); }

std::string describe_runtime() {
  const RuntimeInfo& g_info = info_storage();
  return "threads=" + std::to_string(g_info.threads) + " blas=" + g_info.blas +
         " OPENBLAS_CORETYPE=" + (g_info.openblas_coretype.empty() ? "(unset)" : g_info.openblas_coretype) +
         (g_info.openblas_core.empty() ? "" : " openblas_kernels=" + g_info.openblas_core) +
         " malloc=" + g_info.malloc_tuning;
}

bool wait_passively(double load_average, double busy_cores_now, unsigned cores, bool policy_in_environment) {
  if (policy_in_environment) return false;
  const double half = 0.5 * double(std::max(1u, cores));
  return load_average >= half && busy_cores_now >= half;
}

namespace {
// Cores the rest of the machine keeps busy over `ms` milliseconds (/proc/stat; this process sleeps
// meanwhile), or -1 when /proc/stat cannot be read.
double busy_cores_over(int ms, unsigned cores) {
  auto read = [](unsigned long long& busy, unsigned long long& total) {
    std::FILE* f = std::fopen("/proc/stat", "r");
    if (!f) return false;
    unsigned long long v[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // user nice system idle iowait irq softirq steal
    const int got = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                                &v[5], &v[6], &v[7]);
    std::fclose(f);
    if (got < 4) return false;
    total = 0;
    for (auto x : v) total += x;
    busy = total - v[3] - v[4];
    return true;
  };
  unsigned long long b0, t0, b1, t1;
  if (!read(b0, t0)) return -1;
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  if (!read(b1, t1) || t1 <= t0) return -1;
  return double(b1 - b0) / double(t1 - t0) * double(std::max(1u, cores));
}
}  // namespace

void choose_openmp_wait_policy(char** argv) {
  const bool in_env = std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT") || std::getenv("JESS_WAIT_CHOSEN");
  if (in_env) return;
  const unsigned cores = std::thread::hardware_concurrency();
  double load = 0;
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  if (f) {
    if (std::fscanf(f, "%lf", &load) != 1) load = 0;
    std::fclose(f);
  }
  // The 1-minute load is cheap but remembers the last minute: a run that just ended (a benchmark's previous
  // row, the command before) still counts. So a busy-looking load is confirmed by what the other processes
  // use now, over 100 ms (only then: an idle machine starts without the wait).
  if (!wait_passively(load, load, cores, in_env)) return;  // a quiet minute: no need to look closer
  const double busy = busy_cores_over(100, cores);
  if (!wait_passively(load, busy < 0 ? load : busy, cores, in_env)) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  setenv("JESS_WAIT_CHOSEN", "1", 1);  // never twice
  execv("/proc/self/exe", argv);
  // exec failed: carry on with libgomp's default (the environment above only affects children)
}

}  // namespace jess
