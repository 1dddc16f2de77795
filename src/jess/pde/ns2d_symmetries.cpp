// Exact symmetry maps of 2-D Navier–Stokes with buoyant smoke, and their residual check (ns2d_symmetries.h).
#include "jess/pde/ns2d_symmetries.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <stdexcept>

namespace jess::pde::ns2d {

const std::vector<std::string>& symmetry_names() {
  static const std::vector<std::string> n = {"t_shift", "x_shift", "y_shift", "rotation", "boost_x",
                                             "boost_y", "quad_x",  "quad_y",  "scaling"};
  return n;
}

Flow transform(const Flow& flow, const std::string& name, double e) {
  const auto f = flow.field;
  Flow out = flow;
  using A = std::array<at::Tensor, 4>;
  if (name == "t_shift") {
    out.field = [f, e](const at::Tensor& t, const at::Tensor& x, const at::Tensor& y) { return f(t - e, x, y); };
  } else if (name == "x_shift") {
    out.field = [f, e](const at::Tensor& t, const at::Tensor& x, const at::Tensor& y) { return f(t, x - e, y); };
  } else if (name == "y_shift") {
    out.field = [f, e](const at::Tensor& t, const at::Tensor& x, const at::Tensor& y) { return f(t, x, y - e); };
  } else if (name == "rotation") {
    const double c = std::cos(e), s = std::sin(e);
    out.field = [f, c, s](const at::Tensor& t, const at::Tensor& x, const at::Tensor& y) {
      A q = f(t, c * x + s * y, -s * x + c * y);  // the pre-image R^-1 (x, y)
      return A{c * q[0] - s * q[1], s * q[0] + c * q[1], q[2], q[3]};
    };
  } else if (name == "boost_x") {
    out.field = [f, e](const at::Tensor& t, const at::Tensor& x, const at::Tensor& y) {
      A q = f(t, x - e * t, y);
      return A{q[0] + e, q[1], q[2], q[3]};
    };
  } else if (name == "boost_y") {
    out.field = [f, e](const at::Tensor& t, const at::Tensor& x, const at::Tensor& y) {
      A q = f(t, x, y - e * t);
      return A{q[0], q[1] + e, q[2], q[3]};
    };
  } else if (name == "quad_x" || name == "quad_x_wrong") {
    const double k = name == "quad_x" ? 2 : 1;  // "wrong": u + e t, a factor 2 short
    out.field = [f, e, k](const at::Tensor& t, const at::Tensor& x, const at::Tensor& y) {
      A q = f(t, x - e * t * t, y);
      return A{q[0] + k * e * t, q[1], q[2] - 2 * e * x, q[3]};
    };
  } else if (name == "quad_y" || name == "quad_y_reference") {
    const bool reference = name == "quad_y_reference";  // the released code: y + e t^2 with v + e, no pressure shift
    out.field = [f, e, reference](const at::Tensor& t, const at::Tensor& x, const at::Tensor& y) {
      A q = f(t, x, y - e * t * t);
      if (reference) return A{q[0], q[1] + e, q[2], q[3]};
      return A{q[0], q[1] + 2 * e * t, q[2] - 2 * e * y, q[3]};
    };
  } else if (name == "scaling") {
    const double l = std::exp(e);
    out.field = [f, l](const at::Tensor& t, const at::Tensor& x, const at::Tensor& y) {
      A q = f(t / (l * l), x / l, y / l);
      return A{q[0] / l, q[1] / l, q[2] / (l * l), q[3]};
    };
    out.buoyancy = flow.buoyancy / (l * l * l);
  } else {
    std::string known;
    for (const auto& n : symmetry_names()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown ns2d symmetry '" + name + "' (known: " + known + ")");
  }
  return out;
}

std::array<at::Tensor, 4> ns2d_residual(const Flow& flow, const at::Tensor& t0, const at::Tensor& x0, const at::Tensor& y0,
                                        double nu) {
  auto t = t0.to(at::kDouble).detach().requires_grad_(true), x = x0.to(at::kDouble).detach().requires_grad_(true),
       y = y0.to(at::kDouble).detach().requires_grad_(true);
  auto q = flow.field(t, x, y);
  auto grad = [&](const at::Tensor& f, const at::Tensor& w) {  // a constant (no graph) has zero derivatives
    if (!f.requires_grad()) return at::zeros_like(w);
    auto g = torch::autograd::grad({f}, {w}, {at::ones_like(f)}, /*retain_graph*/ true, /*create_graph*/ true,
                                   /*allow_unused*/ true)[0];
    return g.defined() ? g : at::zeros_like(w);
  };
  const auto &u = q[0], &v = q[1], &p = q[2], &s = q[3];
  auto ux = grad(u, x), uy = grad(u, y), vx = grad(v, x), vy = grad(v, y);
  auto lap_u = grad(ux, x) + grad(uy, y), lap_v = grad(vx, x) + grad(vy, y);
  auto mx = grad(u, t) + u * ux + v * uy + grad(p, x) - nu * lap_u;
  auto my = grad(v, t) + u * vx + v * vy + grad(p, y) - nu * lap_v - flow.buoyancy * s;
  auto cont = ux + vy;
  auto sm = grad(s, t) + u * grad(s, x) + v * grad(s, y);
  return {mx.detach(), my.detach(), cont.detach(), sm.detach()};
}

Flow taylor_green(double nu, double b, double s0) {
  Flow f;
  f.buoyancy = b;
  f.field = [nu, b, s0](const at::Tensor& t, const at::Tensor& x, const at::Tensor& y) {
    auto d = at::exp(-2 * nu * t);
    return std::array<at::Tensor, 4>{at::sin(x) * at::cos(y) * d, -at::cos(x) * at::sin(y) * d,
                                     0.25 * (at::cos(2 * x) + at::cos(2 * y)) * d * d + b * s0 * y, at::full_like(x, s0)};
  };
  return f;
}

Flow kovasznay(double nu) {
  const double re = 1 / nu, lam = re / 2 - std::sqrt(re * re / 4 + 4 * M_PI * M_PI);
  Flow f;
  f.field = [lam](const at::Tensor& t, const at::Tensor& x, const at::Tensor& y) {
    auto ex = at::exp(lam * x) + 0 * t;  // t enters only through the maps
    auto u = 1 - ex * at::cos(2 * M_PI * y), v = lam / (2 * M_PI) * ex * at::sin(2 * M_PI * y);
    auto p = 0.5 * (1 - at::exp(2 * lam * x));
    auto psi = y - ex * at::sin(2 * M_PI * y) / (2 * M_PI);  // the stream function: a passive smoke
    return std::array<at::Tensor, 4>{u, v, p + 0 * t, psi};
  };
  return f;
}

}  // namespace jess::pde::ns2d
