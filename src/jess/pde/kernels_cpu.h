#pragma once
// Fused CPU kernels on FFTW, behind a torch-free interface (raw arrays) so this translation unit
// compiles fast: batched ETDRK4 (each thread integrates a chunk of trajectories through the whole
// interval, working set in cache), the Cole-Hopf Burgers solution, and the row shifts of the view maker.
#include <complex>
#include <cstdint>
#include <functional>

namespace jess::pde::detail {

struct Etdrk4CpuProblem {
  int64_t batch = 0, nx = 0;  // nk = nx / 2 + 1 complex modes per trajectory
  // All B x nk, row-major, in the convention v = rfft(u) (unnormalised forward transform).
  const std::complex<double>* v0 = nullptr;
  const std::complex<double>* E = nullptr;   // exp(h L)
  const std::complex<double>* E2 = nullptr;  // exp(h L / 2)
  const std::complex<double>* Q = nullptr;   // h phi_1(h L / 2) / 2 ... as in Kassam-Trefethen
  const std::complex<double>* f1 = nullptr;
  const std::complex<double>* f2 = nullptr;
  const std::complex<double>* f3 = nullptr;
  const std::complex<double>* g = nullptr;   // nonlinear symbol: N(v) = g * rfft(irfft(v)^2)
  const double* blowup_limit = nullptr;       // B: bound on max|u| before the run is stopped
  int64_t substeps = 1, nt_total = 2, nt_keep = 2;
  double* out = nullptr;  // B x nt_keep x nx
  std::function<void(int64_t)> progress;  // called with the number of trajectories finished
};

struct Etdrk4Failure {
  int64_t row = -1;    // first failing trajectory, -1 if none
  int64_t frame = -1;  // output interval at which it failed
  bool nonfinite = false;
};

Etdrk4Failure etdrk4_cpu(const Etdrk4CpuProblem& problem);

}  // namespace jess::pde::detail

namespace jess::pde::detail {

// Cole-Hopf solution of Burgers on the CPU, fused per trajectory with FFTW (see solvers.cpp for the
// mathematics): u0 (on nx points) -> potential phi0 on an n-point grid -> psi0 -> frames at times
// t_first + j dt, sampled every (n / nx)-th point.
struct ColeHopfCpuProblem {
  int64_t batch = 0, n = 0, nx = 0, nt = 0;
  const double* u0 = nullptr;       // B x nx
  const double* nu = nullptr;       // B
  const double* L = nullptr;        // B
  const double* t_first = nullptr;  // B
  const double* dt = nullptr;       // B
  double* out = nullptr;            // B x nt x nx
};

void cole_hopf_cpu(const ColeHopfCpuProblem& problem);

}  // namespace jess::pde::detail

namespace jess::pde::detail {

// The sampling step of the view maker when every output row is a data row shifted in x (all
// generators but projective ones): out[v, i, j] = A[v, i] * u_t(row[v, i], x_j + shift) + B0[v, i],
// with the band-limited shift done by FFTW, for j < crop_x. `data` is (T, nt, nx) in float or double;
// view v reads trajectory v % T, and the row spectra of a trajectory are computed once for all its
// views.
struct RowShiftProblem {
  int64_t views = 0, trajectories = 0, nt = 0, nx = 0, crop_t = 0, crop_x = 0;
  const float* data_f32 = nullptr;   // one of the two
  const double* data_f64 = nullptr;
  const int64_t* row = nullptr;      // V x crop_t
  const double* shift = nullptr;     // V x crop_t, in cells: result(x_j) = u(x_j + shift)
  const double* A = nullptr;         // V x crop_t
  const double* B0 = nullptr;        // V x crop_t
  double* out = nullptr;             // V x crop_t x crop_x (or out_f32)
  float* out_f32 = nullptr;
};

void row_shift_cpu(const RowShiftProblem& problem);

}  // namespace jess::pde::detail
