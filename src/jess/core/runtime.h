#pragma once
// Process start-up that every jess binary runs first. It handles the measured traps of the stack
// (the stack notes): glibc returning freed tensor buffers to the OS every step (mallopt), libtorch
// seeing one core on this VM (explicit thread count), and a reference BLAS selected by Debian's
// alternatives (warned about, since it is 20x slower than OpenBLAS), and OpenBLAS falling back to its
// SSE3 (Prescott) kernels on a CPU it does not recognise (warned about: ~5x slower matrix products).
#include <cstddef>
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

// glibc's mmap/trim thresholds raised (the allocator half of init_runtime; the Python package runs it when
// imported). JESS_MALLOC_TUNING=0 keeps glibc's defaults. Returns what was set, for describe_runtime().
std::string tune_allocator();
// The trim threshold tune_allocator sets (before mallopt's 2 GiB cap): an eighth of the physical memory,
// at least 256 MiB, so a training step's freed working set stays in the process (runtime.cpp).
std::size_t trim_threshold_for(std::size_t physical_bytes);

// threads <= 0: the JESS_THREADS environment variable if set, else all hardware threads.
RuntimeInfo init_runtime(int threads = 0, bool warn_on_slow_blas = true);
const RuntimeInfo& runtime_info();
std::string describe_runtime();

// OpenMP's wait policy on a busy machine. libgomp spins in its barriers before sleeping; when other
// processes hold the cores the spinning threads steal the time the working ones need. Measured on the
// 2-core VM on 2026-12-06 (`jess train n_train=2048 width=8 train.epochs=2`, 2 threads):
// with two other jess processes running, the default took 34.7 s, OMP_WAIT_POLICY=passive 14.5 s,
// GOMP_SPINCOUNT=100000 19.2 s, active 98.8 s; idle, 8.5 / 9.7 / 8.8 / 7.7 s. Passive waiting costs an
// idle machine more for small steps: `jess pde pretrain` (ResNet1d-32, batch 64) 998-1,038 samples/s
// passive against 1,184-1,248 with the default (2026-12-07). So jess waits passively only when the
// machine is busy as it starts: the 1-minute load average and the cores the other processes use over
// 100 ms now both at least half the cores (the load alone stays high for a minute after a run ends).
// libgomp reads the policy once, when it is loaded, so the choice is made by re-running the process with
// OMP_WAIT_POLICY=PASSIVE set (~0.4 s, only on a busy machine). OMP_WAIT_POLICY or GOMP_SPINCOUNT in the
// environment are always respected.
bool wait_passively(double load_average, double busy_cores_now, unsigned cores, bool policy_in_environment);
// Called first by main(): re-executes argv with OMP_WAIT_POLICY=PASSIVE when wait_passively() says so
// (returns otherwise; also when the re-execution fails).
void choose_openmp_wait_policy(char** argv);

}  // namespace jess
