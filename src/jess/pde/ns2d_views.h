#pragma once
// Navier–Stokes SSL data (internal to pde/, ATen only): the fields of an ns2d file at the cell centres
// and a chosen resolution, and the two symmetry views of a trajectory the VICReg pretraining compares.
//
// A view is a window of crop_t frames (time translation) of a square of `crop` cells of the box,
// resampled through one composed, exact element of the equations' symmetry group (ns2d_symmetries.h):
//   scaling  u -> lambda^-1 u(x / lambda, t / lambda^2)      (changes b: off by default)
//   rotation u -> R u(R^-1 x)                                (broken by the vertical buoyancy)
//   boosts   u -> u(x - beta t - q t^2) + beta + 2 q t       (linear and quadratic, each axis)
//   shift    the square's position in the box                (space translation, only with crop < box)
// applied in that order, about the square's centre and the window's first frame, so a view is
//   v_out(p, tau) = R v(c + R^-1 (p - beta t - q t^2) / lambda, t0 + t / lambda^2) / lambda + beta + 2 q t,
// smoke the same without the velocity terms (a passive scalar). Every map is applied exactly (one
// trilinear resample), not by Lie–Trotter splitting as in the reference. The box walls break all but
// the time translation and the buoyancy the rotation: docs/pde.md measures what each does to SSL.
// Boost strengths are relative to the data: beta in units of the velocity's rms, q such that 2 q t
// reaches that many rms at the end of the window.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace jess {
class ConfigSchema;
class Rng;
}

namespace jess::pde::ns2d {

// (N, 3, T, S, S) float32: smoke, vx, vy at the cell centres (face values averaged; the wall face the
// file crops is zero), average-pooled by `pool`, standardised by `stats` (smoke: mean, std; velocity:
// divided by its rms).
struct Fields {
  at::Tensor x;
  at::Tensor buoyancy;   // (N,) float64
  double dx = 0, dt = 0;  // after pooling
  double velocity_rms = 1;  // of the unstandardised velocity (the boosts' displacement)
};
struct FieldStats {
  double smoke_mean = 0, smoke_std = 1, velocity_rms = 1;
  at::Tensor tensor() const;
  static FieldStats from(const at::Tensor& t);
};
// The first `limit` trajectories (0: all) of a split, pooled; stats computed from them when
// `stats` is null.
Fields load_fields(const std::string& path, const std::string& split, int64_t limit, int64_t pool, FieldStats* stats,
                   bool compute_stats);
int64_t split_size(const std::string& path, const std::string& split);

struct ViewOptions {
  int64_t crop_t = 16;    // frames per view (the reference's window)
  int64_t crop = 0;       // side of the square in pooled cells (0: the whole box)
  double rotation = 0;    // angle ~ U(-r, r) radians
  double boost = 0;       // beta_x, beta_y ~ U(-s, s) velocity rms
  double quad_boost = 0;  // q_x, q_y: 2 q T_window ~ U(-s, s) velocity rms
  double scaling = 0;     // log lambda ~ U(-s, s)
  void describe(ConfigSchema& schema, const std::string& prefix);
  void validate(int64_t frames, int64_t side) const;  // ConfigError naming the key
};

// One view's group element: window start t0 (frame), square centre (cx, cy) in cells, angle, linear
// boosts (rms units), quadratic boosts (2 q T_window in rms units), log lambda.
struct ViewDraw {
  int64_t t0 = 0;
  double cx = 0, cy = 0, theta = 0, bx = 0, by = 0, qx = 0, qy = 0, log_lambda = 0;
};
ViewDraw draw_view(const Fields& f, const ViewOptions& o, Rng& rng);
// Source frames a view of crop_t frames spans at scale e^log_lambda (at most `frames`).
int64_t frames_needed(int64_t crop_t, double log_lambda, int64_t frames);
// The view (3, crop_t, C, C) of trajectory `row` under the element d (formula at the top).
at::Tensor apply_view(const Fields& f, int64_t row, const ViewOptions& o, const ViewDraw& d);

// Two views per listed trajectory, (B, 3, crop_t, C, C) each; the draws depend on (seed, epoch,
// position in the epoch) only.
std::pair<at::Tensor, at::Tensor> make_views(const Fields& f, const std::vector<int64_t>& rows, const ViewOptions& o,
                                             uint64_t seed, uint64_t draw_index, bool single = false);

// The evaluation inputs: `windows` evenly spaced crop_t-frame windows of the whole box (no symmetry);
// window k of rows [first, first + m) as (m, 3, crop_t, S, S).
at::Tensor eval_window(const Fields& f, int64_t first, int64_t m, int64_t crop_t, int64_t k, int64_t windows);

}  // namespace jess::pde::ns2d
