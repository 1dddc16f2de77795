#pragma once
// Lie point symmetries of 2-D incompressible Navier–Stokes with a passively advected smoke and a
// buoyancy force (0, b s) — u_t + (u.grad)u = -grad p + nu lap u + (0, b s), div u = 0, s_t + u.grad s = 0
// — as exact maps of solutions, with the SSL-for-PDEs reference's bugs fixed (pde.md §3.1):
//   t_shift      t -> t + e
//   x_shift      x -> x + e              y_shift: y -> y + e
//   rotation     (x, y) -> R_e (x, y), u -> R_e u   (broken by the vertical buoyancy unless b = 0)
//   boost_x      x -> x + e t, u -> u + e            boost_y: y -> y + e t, v -> v + e
//   quad_x       x -> x + e t^2, u -> u + 2 e t, p -> p - 2 e x   (the reference maps u -> u + e)
//   quad_y       y -> y + e t^2, v -> v + 2 e t, p -> p - 2 e y   (the reference maps v -> v + e)
//   scaling      x -> e^e x, t -> e^2e t, u -> e^-e u, p -> e^-2e p, b -> e^-3e b (the buoyancy rescales)
// A flow is a function of (t, x, y) tensors returning (u, v, p, s); `ns2d_residual` evaluates the
// equations' residuals by automatic differentiation (float64), so a symmetry maps a solution to a
// solution to rounding. In the closed box the walls break the translations, rotations and boosts (their
// images violate v = 0 on the walls) — augmentations of box data use them only on interior crops.
#include <ATen/core/Tensor.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

namespace jess::pde::ns2d {

struct Flow {
  // (t, x, y) -> {u, v, p, s}, elementwise, differentiable.
  std::function<std::array<at::Tensor, 4>(const at::Tensor& t, const at::Tensor& x, const at::Tensor& y)> field;
  double buoyancy = 0;  // b of the force (0, b s)
};

const std::vector<std::string>& symmetry_names();
// The image of `flow` under generator `name` with parameter eps (ConfigError-like std::invalid_argument
// for an unknown name). "quad_x_reference" / "quad_y_reference" are the released code's buggy maps.
Flow transform(const Flow& flow, const std::string& name, double eps);

// Residuals at the points (t, x, y) (same-shape float64 tensors): momentum x, momentum y, continuity,
// smoke transport.
std::array<at::Tensor, 4> ns2d_residual(const Flow& flow, const at::Tensor& t, const at::Tensor& x, const at::Tensor& y,
                                        double nu);

// Exact solutions for the tests: the decaying Taylor–Green vortex (periodic; a constant smoke s0 whose
// buoyancy the pressure balances), and Kovasznay's steady flow (unbounded in x; the smoke is the stream
// function, constant along streamlines; b = 0).
Flow taylor_green(double nu, double buoyancy, double s0);
Flow kovasznay(double nu);

}  // namespace jess::pde::ns2d
