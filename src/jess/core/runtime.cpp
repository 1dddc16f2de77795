#include "jess/core/runtime.h"

#include <ATen/Parallel.h>
#include <malloc.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace jess {
namespace {
RuntimeInfo g_info;

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

RuntimeInfo init_runtime(int threads, bool warn_on_slow_blas) {
  // Keep freed buffers inside the process: without this, C++ LibTorch spends ~40% of a training step
  // in page faults (measured 2.3x slower). Allocations above 64 MiB still use mmap, so one very large
  // tensor does not pin the heap.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  g_info.malloc_tuning = "mmap_threshold=64MiB trim_threshold=256MiB";

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
  if (warn_on_slow_blas && !g_info.blas_is_optimised && std::getenv("JESS_QUIET_BLAS") == nullptr) {
    std::fprintf(stderr,
                 "warning: libblas.so.3 resolves to %s, not OpenBLAS; matrix work will be ~20x slower. "
                 "Run scripts/setup.sh to select libopenblas0-openmp.\n",
                 g_info.blas.c_str());
  }
  return g_info;
}

const RuntimeInfo& runtime_info() { return g_info; }

std::string describe_runtime() {
  return "threads=" + std::to_string(g_info.threads) + " blas=" + g_info.blas +
         " OPENBLAS_CORETYPE=" + (g_info.openblas_coretype.empty() ? "(unset)" : g_info.openblas_coretype) +
         " malloc=" + g_info.malloc_tuning;
}

}  // namespace jess
