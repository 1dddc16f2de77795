#pragma once
// Process start-up that every jess binary runs first. It handles the measured traps of the stack
// (docs/performance.md): glibc returning freed tensor buffers to the OS every step (mallopt), libtorch
// seeing one core on this VM (explicit thread count), and a reference BLAS selected by Debian's
// alternatives (warned about, since it is 20x slower than OpenBLAS), and OpenBLAS falling back to its
// SSE3 (Prescott) kernels on a CPU it does not recognise (warned about: ~5x slower matrix products).
#include <string>

namespace jess {

struct RuntimeInfo {
  int threads = 1;
  std::string blas;               // the library libblas.so.3 resolves to
  bool blas_is_optimised = false;
  std::string openblas_coretype;  // recorded, never changed
  std::string openblas_core;      // the kernels OpenBLAS picked (openblas_get_corename), "" if not OpenBLAS
  std::string malloc_tuning;
};

// threads <= 0: the JESS_THREADS environment variable if set, else all hardware threads.
RuntimeInfo init_runtime(int threads = 0, bool warn_on_slow_blas = true);
const RuntimeInfo& runtime_info();
std::string describe_runtime();

}  // namespace jess
