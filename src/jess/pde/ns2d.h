#pragma once
// Incompressible Navier–Stokes in 2-D with buoyancy-driven smoke (PDEArena's "conditioned" data, made
// with phiflow 2.1): a marker-and-cell grid of n x n cells on [0, L]^2, a closed box (normal velocity
// zero on the walls), smoke s at the cell centres with zero-gradient walls. One step of dt, in
// PDEArena's order:
//   1. s <- semi-Lagrangian advection of s by v (backtrace from the cell centres, bilinear sample);
//   2. F = (0, b s) at the horizontal faces;
//   3. v <- semi-Lagrangian self-advection of v (each component from its own faces, zero outside) + dt F;
//   4. v <- v + nu dt lap(v)   (explicit diffusion, zero outside the box);
//   5. v <- v - grad p with lap p = div v: the exact projection, the Neumann Poisson problem solved
//      directly: the discrete cosine transform along x (FFTW's REDFT10 / REDFT01), which diagonalises
//      the x part of the 5-point Laplacian with zero-flux walls, then an exact tridiagonal elimination
//      along y per mode — so div v = 0 to rounding after every step.
// Tensors: s (B, n, n), vx (B, n, n + 1) on the vertical faces x = i dx, vy (B, n + 1, n) on the
// horizontal faces y = j dx; rows are y, columns x. Any floating dtype; the Poisson solve runs in
// float64 on the CPU. Light header.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace jess::pde::ns2d {

struct Grid {
  int64_t n = 128;      // cells per side
  double length = 32;   // the box side
  double dx() const { return length / double(n); }
};

struct State {
  at::Tensor s, vx, vy;
};

struct StepOptions {
  double dt = 1.5;
  double nu = 0.01;
};

// div v at the cell centres, (B, n, n).
at::Tensor divergence(const at::Tensor& vx, const at::Tensor& vy, double dx);
// The Neumann 5-point Laplacian of cell-centred p (zero flux through the walls).
at::Tensor neumann_laplacian(const at::Tensor& p, double dx);
// p with neumann_laplacian(p) = rhs - mean(rhs) and mean(p) = 0, exactly (DCT), (B, n, n) float64.
at::Tensor solve_neumann_poisson(const at::Tensor& rhs, double dx);
// v - grad p with lap p = div v: divergence-free, the wall faces left at zero.
State project(const State& state, double dx);
// Semi-Lagrangian advection of the smoke by the velocity (zero-gradient walls).
at::Tensor advect_smoke(const at::Tensor& s, const at::Tensor& vx, const at::Tensor& vy, double dt, double dx);
// Semi-Lagrangian self-advection of the velocity (zero outside the box; wall faces zero).
State advect_velocity(const State& state, double dt, double dx);
// v + nu dt lap(v) on each staggered component (zero outside the box; wall faces zero).
State diffuse(const State& state, double nu, double dt, double dx);
// The advection steps run fused CPU kernels for float/double CPU tensors (the default) or the tensor
// path (grid_sampler; any device). Tests and benchmarks switch between them.
void use_fused_cpu_kernels(bool on);
// One step in PDEArena's order; buoyancy (B,) per trajectory.
State step(const State& state, const at::Tensor& buoyancy, const StepOptions& options, const Grid& grid);

// phiflow's Noise(scale, smoothness) for one trajectory from a seed: complex Gaussian white noise
// r(k), spectrum r(k) kappa^-smoothness with kappa = |k scale|^2, k = fftfreq(n) n / L, modes with
// kappa <= 0.1 (and k = 0) removed; real part of the inverse FFT, normalised to std 1, mean removed.
// (n, n) float64. The initial smoke is |noise|.
at::Tensor smoke_noise(int64_t n, double length, double scale, double smoothness, uint64_t seed);

}  // namespace jess::pde::ns2d

namespace jess {
class ConfigSchema;
}

namespace jess::pde::ns2d {

// `jess pde generate equation=ns2d`: PDEArena's conditioned smoke data. Each trajectory's buoyancy
// b ~ U(buoyancy_min, buoyancy_max) and initial smoke |noise| depend only on (seed, split, index);
// `steps` steps are simulated and the first `skip` states dropped. Layout (one group per split, like
// the 1-D files): u (smoke), vx, vy as N x frames x n x n float32 (rows y, columns x; vx on the left
// faces x = i dx, vy on the bottom faces y = j dx — the staggered arrays with the last column / row
// cropped, as PDEArena stores them), t (N x frames), x, y (N x n cell centres), dt, dx, dy, buo_y (N).
struct GenerateOptions {
  std::string equation = "ns2d";
  int64_t seed = 0;
  int64_t n_train = 128, n_valid = 32, n_test = 32;
  int64_t n = 128;
  double length = 32;
  double dt = 1.5, nu = 0.01;
  int64_t steps = 64, skip = 8;
  double buoyancy_min = 0.2, buoyancy_max = 0.5;
  double noise_scale = 11, noise_smoothness = 6;
  std::string precision = "float32";  // the simulation's dtype (the projection runs in float64 either way)
  int64_t batch = 16;
  int64_t shard_index = 0, shard_count = 1;
  int64_t compression = 0;

  void describe(ConfigSchema& schema);
  void resolve();  // ConfigError naming the key
  std::string config_yaml;
};

struct GenerateSummary {
  int64_t trajectories = 0;
  double seconds = 0;
  std::string path;
};
GenerateSummary generate(const GenerateOptions& options, const std::string& path);
// Concatenates the shard files of one configuration into the file an unsharded run writes (same bytes).
void merge_shards(const std::vector<std::string>& shard_paths, const std::string& path);

// `jess pde plot` of an ns2d file: per trajectory a strip of frames of the smoke and of the vorticity
// dvy/dx - dvx/dy (at `frames` evenly spaced times), one PNG. Returns the path.
std::string plot_file(const std::string& h5_path, const std::string& split, int64_t count, int64_t frames,
                      const std::string& output);

}  // namespace jess::pde::ns2d
