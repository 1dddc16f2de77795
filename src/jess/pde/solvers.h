#pragma once
// Batched solvers for 1-D periodic PDEs, operating on many trajectories at once in float64.
//   KdV      u_t + u u_x + u_xxx = 0
//   KS       u_t + u u_x + u_xx + u_xxxx = 0
//   Burgers  u_t + u u_x = nu u_xx
//   heat     u_t = nu u_xx
// KdV, KS (and Burgers on request) use Fourier pseudo-spectral space discretisation with 2/3-rule
// dealiasing and ETDRK4 time stepping (Cox & Matthews 2002; phi-functions by the contour integral of
// Kassam & Trefethen 2005). Burgers defaults to the exact Cole-Hopf solution (heat propagation in
// Fourier space, u = -2 nu psi_x / psi), and heat to its exact Fourier solution. Each trajectory has
// its own domain length L, final time T and viscosity nu.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace jess::pde {

enum class Equation { kdv, ks, burgers, heat };
Equation parse_equation(const std::string& name);  // throws std::invalid_argument naming the choices
std::string equation_name(Equation eq);

class SolverError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SolveSpec {
  Equation equation = Equation::kdv;
  at::Tensor u0;  // (B, nx) float64, samples at x_j = j L / nx, j = 0..nx-1
  at::Tensor L;   // (B,) domain lengths
  at::Tensor T;   // (B,) final times
  at::Tensor nu;  // (B,) viscosity (Burgers) or diffusivity (heat); unused otherwise
  int64_t nt_total = 2;  // output times t_j = j T / (nt_total - 1), j = 0..nt_total-1
  int64_t nt_keep = 2;   // only the last nt_keep output times are returned
  int64_t substeps = 0;  // ETDRK4 steps per output interval (0: choose_substeps first)
  // "etdrk4" | "cole_hopf" (Burgers) | "exact" (heat) | "auto" (cole_hopf for Burgers, exact for heat,
  // etdrk4 otherwise)
  std::string method = "auto";
  // "auto" (fused FFTW kernel on CPU, tensor ops elsewhere) | "cpu" | "tensor"
  std::string backend = "auto";
  int64_t solve_nx = 0;  // Burgers/heat: grid to solve on (multiple of nx), sampled down; 0 = nx
  int64_t contour_points = 32;
  double blowup_factor = 1e3;  // stop when max|u| exceeds this times max(1, max|u0|)
  double cole_hopf_tolerance = 1e-7;  // largest accepted estimate of the Cole-Hopf relative error
};

struct SolveStats {
  double cole_hopf_error_estimate = 0;  // worst estimated relative error over trajectories
  int64_t substeps = 0;
};

// Returns (B, nt_keep, nx) float64 on u0's device. Throws SolverError for invalid input (naming the
// trajectory and the problem) or when a solution blows up or becomes non-finite.
at::Tensor solve(const SolveSpec& spec, const std::function<void(int64_t)>& progress = {},
                 SolveStats* stats = nullptr);

// Smallest number of ETDRK4 steps per output interval, doubling from a stability guess, for which the
// step-doubling estimate of the relative L2 error of the whole trajectory is <= tolerance (order 4:
// err(m) ~ 16/15 * ||u_m - u_2m||). Uses the trajectories of `probe`. Deterministic.
int64_t choose_substeps(const SolveSpec& probe, double tolerance, double* estimated_error = nullptr);

// Relative L2 difference (worst probe) between the ETDRK4 solution at `substeps` on the spec's grid and
// on a grid twice as fine: the spatial error of the discretisation, which no time step can remove.
double spatial_error_estimate(const SolveSpec& probe, int64_t substeps);

// The step chosen against the total error: the time-stepping target is max(tolerance, half the
// estimated spatial error), so no steps are spent pushing the time error far below an error the grid
// keeps anyway (the total error then stays within ~12 % of the spatial floor). Fills the estimates.
struct StepChoice {
  int64_t substeps = 0;
  double time_error = 0, spatial_error = 0, target = 0;
};
StepChoice choose_substeps_for_total_error(const SolveSpec& probe, double tolerance);

// Diagnostics used by tests and the CLI.
at::Tensor wavenumbers(const at::Tensor& L, int64_t nx);  // (B, nx/2+1): 2 pi j / L
at::Tensor spectral_derivative(const at::Tensor& u, const at::Tensor& L, int64_t order);  // d^order/dx^order
at::Tensor mass(const at::Tensor& u, const at::Tensor& L);    // integral of u over [0, L), per frame
at::Tensor energy(const at::Tensor& u, const at::Tensor& L);  // integral of u^2

}  // namespace jess::pde
