#pragma once
// Lie point symmetries of the 1-D PDEs acting on gridded trajectories (Mialon et al. 2023, sec. 3;
// Brandstetter et al. 2022). A view of a trajectory is made by a random group element g, composed of
// one-parameter generators by Lie-Trotter or Strang splitting, followed by a random crop. Each
// generator is implemented as its inverse point map (x~, t~) -> (x, t) and an affine action on the
// values, u~(x~, t~) = A(x~, t~) u(x, t) + B(x~, t~); a composition is evaluated exactly, point by
// point, and the field is then sampled from the data: band-limited (Fourier) interpolation in x,
// 6-point Lagrange interpolation in t.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "jess/core/config.h"
#include "jess/pde/solvers.h"

namespace jess::pde {

enum class Generator {
  x_shift,        // x + e
  galilean,       // (x + e t, t, u + e)                       KdV, KS, Burgers
  scaling,        // KdV (e^e x, e^3e t, e^-2e u); Burgers (e^e x, e^2e t, e^-e u); heat (e^e x, e^2e t, u)
  projective,     // Burgers (x/(1-et), t/(1-et), u(1-et) + e x); heat (x/(1+4et), t/(1+4et), ...)
  psi_scaling,    // heat: e^e u
  heat_galilean,  // heat: e^(-e x + nu e^2 t) u(x - 2 nu e t, t)
  superposition,  // heat: u + e alpha (alpha a heat solution); Burgers: psi + e psi(x - a) via Cole-Hopf
};
std::string generator_name(Generator g);
Generator parse_generator(const std::string& name);
// The generators that are symmetries of `eq` (time translation is the random start of the crop).
std::vector<Generator> symmetry_generators(Equation eq);

// One factor of a group element. `aux` carries the extra random data of superposition (the shift a of
// the Burgers partner, or the wave number and phase of the heat partner).
struct Factor {
  Generator generator;
  double epsilon = 0;
  double aux0 = 0, aux1 = 0;
};

// A group element for one view, applied right to left: factors.back() acts last.
struct GroupElement {
  std::vector<Factor> factors;
  double crop_t_fraction = 0.5;  // where in the admissible range the crop starts (0..1)
  double crop_x_fraction = 0.0;  // start of the crop in x as a fraction of the (transformed) period
  // The view's grid: false, the transformed grid (dx, dt multiplied by the scaling factors: the view
  // holds the data's own samples, only relabelled); true, the data's grid (dx, dt unchanged: the
  // scaled pattern is resampled, which is what an encoder that is not told dx and dt can see).
  bool data_grid = false;
};

struct AugmentOptions {
  std::string equation = "kdv";
  // Strengths: epsilon ~ U(-s, s) (x_shift: fraction of the domain length; 0 disables a generator).
  double x_shift = 0.5, galilean = -1, scaling = -1, projective = -1, psi_scaling = -1, heat_galilean = -1,
         superposition = -1;  // <0: the equation's default
  std::string splitting = "strang";  // "lie" (order 1) or "strang" (order 2)
  int64_t steps = 2;                 // splitting steps
  int64_t crop_t = 128, crop_x = 128;
  bool random_crop = true;  // false: every view is the same centred crop (ablations)
  bool data_grid = false;   // views on the data's grid (see GroupElement::data_grid)
  // The data's velocity scale, std(u) of the split the views come from (set by the view loader and
  // `jess pde augment` from their data; 0: absolute units). The Galilean strength is a fraction of it,
  // so one default fits any amplitude: the boost u + e is only meaningful relative to u's spread.
  double velocity_scale = 0;
  void describe(ConfigSchema& schema, const std::string& prefix = "");
  void resolve();  // equation defaults, validation
};

// A batch of trajectories on uniform grids, time measured from the first row.
struct GridBatch {
  at::Tensor u;       // (B, nt, nx)
  at::Tensor dx, dt;  // (B,)
  at::Tensor nu;      // (B,) viscosity/diffusivity (Burgers, heat)
};

struct Views {
  at::Tensor u;       // (B, crop_t, crop_x)
  at::Tensor dx, dt;  // (B,) grid spacing of the view in transformed coordinates
};

// Draws one group element per trajectory: trajectory b's from Rng(seed, stream, first + b), so a
// data-parallel rank's share of a batch (first: its offset) draws what those rows draw in one process.
std::vector<GroupElement> sample_elements(const AugmentOptions& options, int64_t batch, uint64_t seed, uint64_t stream,
                                          int64_t first = 0);
// Applies the elements to the batch and crops. `elements` holds k views per trajectory (k >= 1):
// element v acts on trajectory v % B. Throws std::invalid_argument when the crop cannot fit inside the
// data under the transform.
// `single_precision` returns float32 views (computed in float64), halving the memory of large batches.
Views apply_symmetries(Equation eq, const GridBatch& data, const std::vector<GroupElement>& elements, int64_t crop_t,
                       int64_t crop_x, bool single_precision = false);

// Periodic band-limited shift of the last axis: result(x) = u(x - shift), shift in grid cells.
at::Tensor fourier_shift(const at::Tensor& u, const at::Tensor& shift_cells);

// Residual u_t + N(u) of the PDE on a gridded field (interior points): spectral derivatives in x when
// `periodic`, else 8th-order central differences; 8th-order central differences in t.
at::Tensor pde_residual(Equation eq, const at::Tensor& u, double dx, double dt, double nu, bool periodic);

}  // namespace jess::pde
