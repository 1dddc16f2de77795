#include "jess/pde/symmetries.h"

#include <ATen/ATen.h>

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "jess/core/rng.h"
#include "jess/pde/kernels_cpu.h"

namespace jess::pde {
namespace {
using at::indexing::None;
using at::indexing::Slice;

struct Names {
  Generator g;
  const char* name;
};
const Names kNames[] = {{Generator::x_shift, "x_shift"},         {Generator::galilean, "galilean"},
                        {Generator::scaling, "scaling"},         {Generator::projective, "projective"},
                        {Generator::psi_scaling, "psi_scaling"}, {Generator::heat_galilean, "heat_galilean"},
                        {Generator::superposition, "superposition"}};
}  // namespace

std::string generator_name(Generator g) {
  for (const auto& n : kNames)
    if (n.g == g) return n.name;
  return "?";
}

Generator parse_generator(const std::string& name) {
  for (const auto& n : kNames)
    if (name == n.name) return n.g;
  throw std::invalid_argument("unknown symmetry generator '" + name + "'");
}

std::vector<Generator> symmetry_generators(Equation eq) {
  switch (eq) {
    case Equation::kdv: return {Generator::x_shift, Generator::galilean, Generator::scaling};
    case Equation::ks: return {Generator::x_shift, Generator::galilean};
    case Equation::burgers:
      return {Generator::x_shift, Generator::galilean, Generator::scaling, Generator::projective, Generator::superposition};
    case Equation::heat:
      return {Generator::x_shift,       Generator::scaling,       Generator::psi_scaling,
              Generator::heat_galilean, Generator::projective,    Generator::superposition};
  }
  return {};
}

void AugmentOptions::describe(ConfigSchema& s, const std::string& p) {
  s.add(p + "x_shift", x_shift, "space translation: e ~ U(-s, s) domain lengths", check::non_negative());
  s.add(p + "galilean", galilean, "Galilean boost x + e t, u + e, as a fraction of the data's std(u) (<0 default: kdv 0.65, ks 0.3, burgers 0.5)");
  s.add(p + "scaling", scaling, "scaling strength (kdv 0.1, burgers 0.1, heat 0.1; <0 default)");
  s.add(p + "projective", projective, "projective strength (<0 default: heat 1e-3, burgers 0 = off; 2e-5 suits the similarity-scaled data)");
  s.add(p + "psi_scaling", psi_scaling, "heat: u -> e^e u (<0 default 0.2)");
  s.add(p + "heat_galilean", heat_galilean, "heat: Galilean boost (<0 default 0.1)");
  s.add(p + "superposition", superposition, "burgers/heat: superposition weight (<0 default: heat 0.5, burgers 0 = off; 0.5 when on)");
  s.add(p + "splitting", splitting, "composition: lie (order 1) or strang (order 2)", check::one_of({"lie", "strang"}));
  s.add(p + "steps", steps, "splitting steps", check::positive_int());
  s.add(p + "crop_t", crop_t, "time steps of a view (0: half of the trajectory's)", check::int_at_least(0));
  s.add(p + "crop_x", crop_x, "grid points of a view (0: half of the trajectory's)", check::int_at_least(0));
  s.add(p + "random_crop", random_crop, "random crop positions (false: the same centred crop; ablations)");
  s.add(p + "data_grid", data_grid,
        "views on the data's grid: a scaled pattern is resampled (true) instead of relabelled with scaled dx, dt");
}

void AugmentOptions::resolve() {
  const Equation eq = parse_equation(equation);
  auto def = [](double& v, double d) {
    if (v < 0) v = d;
  };
  auto off = [&](double& v, Generator g, const char* key) {
    auto gens = symmetry_generators(eq);
    if (std::find(gens.begin(), gens.end(), g) == gens.end()) {
      if (v > 0)
        throw ConfigError("config key '" + std::string(key) + "': " + generator_name(g) + " is not a symmetry of " +
                          equation);
      v = 0;
    }
  };
  // A strength the user set for a generator that is not a symmetry of the equation is an error; an
  // unset (<0) one is switched off.
  off(galilean, Generator::galilean, "galilean");
  off(scaling, Generator::scaling, "scaling");
  off(projective, Generator::projective, "projective");
  off(psi_scaling, Generator::psi_scaling, "psi_scaling");
  off(heat_galilean, Generator::heat_galilean, "heat_galilean");
  off(superposition, Generator::superposition, "superposition");
  // In units of std(u): kdv 0.65 and ks 0.3 are the absolute 0.4 of LPSDA on their default data.
  def(galilean, eq == Equation::burgers ? 0.5 : eq == Equation::kdv ? 0.65 : 0.3);
  def(scaling, 0.1);
  // Burgers' projective and superposition views are off unless asked for: each costs ~5x more per view
  // on the CPU, and projective views raised the probe's error in the ablation (docs/pde.md).
  def(projective, eq == Equation::burgers ? 0.0 : 1e-3);
  def(psi_scaling, 0.2);
  def(heat_galilean, 0.1);
  def(superposition, eq == Equation::burgers ? 0.0 : 0.5);
}

std::vector<GroupElement> sample_elements(const AugmentOptions& o, int64_t batch, uint64_t seed, uint64_t stream,
                                          int64_t first) {
  const Equation eq = parse_equation(o.equation);
  std::vector<std::pair<Generator, double>> chain;  // one-parameter generators in canonical order
  for (Generator g : symmetry_generators(eq)) {
    double s = g == Generator::x_shift ? o.x_shift : g == Generator::galilean ? o.galilean
             : g == Generator::scaling ? o.scaling : g == Generator::projective ? o.projective
             : g == Generator::psi_scaling ? o.psi_scaling : g == Generator::heat_galilean ? o.heat_galilean
             : 0.0;
    if (g == Generator::galilean && o.velocity_scale > 0) s *= o.velocity_scale;
    if (g != Generator::superposition && s > 0) chain.push_back({g, s});
  }
  std::vector<GroupElement> out(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    Rng rng(seed, stream, uint64_t(first + b));
    GroupElement& e = out[size_t(b)];
    std::vector<double> eps;
    for (const auto& c : chain) eps.push_back(rng.uniform(-c.second, c.second));
    // Superposition acts first (innermost): it is not a one-parameter subgroup of the splitting.
    if (o.superposition > 0 && (eq == Equation::burgers || eq == Equation::heat)) {
      Factor f{Generator::superposition, rng.uniform(0, o.superposition), 0, 0};
      if (eq == Equation::burgers) f.aux0 = rng.uniform(0.1, 0.9);  // partner shift, fraction of L
      else {
        f.aux0 = double(rng.integer(1, 4));  // partner wave number
        f.aux1 = rng.uniform(0, 2 * M_PI);
      }
      e.factors.push_back(f);
    }
    const int64_t n = o.steps;
    for (int64_t s = 0; s < n; ++s) {
      if (o.splitting == "lie") {
        for (size_t k = 0; k < chain.size(); ++k) e.factors.push_back({chain[k].first, eps[k] / double(n)});
      } else {  // Strang: reverse half-steps then forward half-steps
        for (size_t k = chain.size(); k-- > 0;) e.factors.push_back({chain[k].first, eps[k] / double(2 * n)});
        for (size_t k = 0; k < chain.size(); ++k) e.factors.push_back({chain[k].first, eps[k] / double(2 * n)});
      }
    }
    const double ct = rng.uniform(), cx = rng.uniform();
    e.crop_t_fraction = o.random_crop ? ct : 0.5;
    e.crop_x_fraction = o.random_crop ? cx : 0.0;
    e.data_grid = o.data_grid;
  }
  return out;
}

at::Tensor fourier_shift(const at::Tensor& u, const at::Tensor& shift_cells) {
  // u: (..., n); shift_cells broadcastable to u's shape without the last axis.
  const int64_t n = u.size(-1);
  auto shift = shift_cells.to(at::kDouble);
  // exp(-2 pi i k s / n) for k = 0..n/2: one sincos per row, then exact-enough powers by cumulative
  // products of the row's root (relative error ~k eps), instead of a sincos per mode.
  const int64_t nk = n / 2 + 1;
  auto root = at::polar(at::ones_like(shift), -2 * M_PI / double(n) * shift).unsqueeze(-1);
  std::vector<int64_t> rep(size_t(root.dim()), 1);
  rep.back() = nk - 1;
  auto phase = at::cat({at::ones_like(root), root.repeat(rep)}, -1).cumprod(-1);
  // The Nyquist mode of a real signal cannot be shifted by a fraction of a cell and stay real: keep
  // its cosine part (as a real interpolant must).
  if (n % 2 == 0) {
    auto nyq = phase.index({"...", n / 2});
    phase.index_put_({"...", n / 2}, at::complex(at::real(nyq), at::zeros_like(at::real(nyq))));
  }
  // u(x - s) = irfft(rfft(u) p) = hfft(ihfft(u) conj(p)); the ihfft/hfft pair is the same mathematics
  // but ~2x faster than rfft on CPU in LibTorch 1.13 (measured: 0.46 vs 1.09 us per 256-point row).
  auto out = at::fft_hfft(at::fft_ihfft(u.to(at::kDouble), n, -1) * at::conj(phase), n, -1);
  // Whole-cell shifts are exact permutations: use them, bit for bit.
  auto rounded = at::round(shift);
  auto whole = (shift == rounded);
  if (whole.any().item<bool>()) {
    auto idx = at::remainder(at::arange(n, u.options().dtype(at::kLong)) - rounded.to(at::kLong).unsqueeze(-1), n);
    auto rolled = at::gather(u.to(at::kDouble), -1, idx.expand_as(u).contiguous());
    out = at::where(whole.unsqueeze(-1), rolled, out);
  }
  return out;
}

namespace {

// Scale of x and t of the view's grid: products of the scaling factors of the element.
std::pair<double, double> grid_scale(Equation eq, const GroupElement& e) {
  double sx = 1, st = 1;
  if (e.data_grid) return {sx, st};
  for (const auto& f : e.factors)
    if (f.generator == Generator::scaling) {
      sx *= std::exp(f.epsilon);
      st *= std::exp((eq == Equation::kdv ? 3 : 2) * f.epsilon);
    }
  return {sx, st};
}

bool has_scaling(const GroupElement& e) {
  for (const auto& f : e.factors)
    if (f.generator == Generator::scaling && f.epsilon != 0) return true;
  return false;
}

bool has_projective(const GroupElement& e) {
  for (const auto& f : e.factors)
    if (f.generator == Generator::projective && f.epsilon != 0) return true;
  return false;
}

// Preimage time T(t~) through the chain (right to left), for a scalar; throws if a projective
// denominator vanishes.
double time_preimage(Equation eq, const GroupElement& e, double t) {
  for (size_t i = e.factors.size(); i-- > 0;) {
    const Factor& f = e.factors[i];
    if (f.generator == Generator::scaling) t *= std::exp(-(eq == Equation::kdv ? 3 : 2) * f.epsilon);
    if (f.generator == Generator::projective) {
      const double den = 1 + (eq == Equation::heat ? 4 : 1) * f.epsilon * t;
      if (den <= 0) return NAN;
      t /= den;
    }
  }
  return t;
}

// Burgers superposition through Cole-Hopf: psi~ = psi(x) + e psi(x - a) with psi = exp(-phi / 2nu),
// phi_x = u, so u~ = w u(x) + (1 - w) u(x - a) with w = sigmoid(log psi(x) - log psi(x - a) - log e)
// and log psi(x) - log psi(x - a) = -(1/2nu) int_{x-a}^{x} u. Exact at each time: no time integral.
at::Tensor burgers_superposition(const at::Tensor& u, const at::Tensor& dx, const at::Tensor& nu,
                                 const at::Tensor& eps, const at::Tensor& shift_fraction) {
  const int64_t nx = u.size(-1);
  auto shift_cells = (shift_fraction * double(nx)).view({-1, 1});  // (B, 1)
  auto L = (dx * double(nx)).view({-1, 1, 1});
  auto uh = at::fft_rfft(u, nx, -1);
  auto mean = at::real(uh.index({"...", 0})) / double(nx);  // (B, nt)
  auto j = at::arange(nx / 2 + 1, u.options());
  auto k = 2 * M_PI * j.view({1, 1, -1}) / L;
  auto ik = at::complex(at::zeros_like(k), k);
  auto ph = uh / at::where(k > 0, ik, at::ones_like(ik));
  ph.index_put_({"...", 0}, 0);
  if (nx % 2 == 0) ph.index_put_({"...", nx / 2}, 0);
  auto P = at::fft_irfft(ph, nx, -1);  // periodic part of the antiderivative
  auto a = shift_cells.unsqueeze(-1) * dx.view({-1, 1, 1});
  auto integral = mean.unsqueeze(-1) * a + P - fourier_shift(P, shift_cells);
  auto logw = -integral / (2 * nu.view({-1, 1, 1})) - at::log(eps.view({-1, 1, 1}));
  auto w = at::sigmoid(logw);
  return w * u + (1 - w) * fourier_shift(u, shift_cells);
}

}  // namespace

namespace {
Views apply_chunk(Equation eq, const GridBatch& d, const std::vector<GroupElement>& elements, int64_t crop_t,
                  int64_t crop_x, bool single_precision);
}

Views apply_symmetries(Equation eq, const GridBatch& d, const std::vector<GroupElement>& elements, int64_t crop_t,
                       int64_t crop_x, bool single_precision) {
  if (!d.u.defined() || d.u.dim() != 3) throw std::invalid_argument("trajectories must be (batch, nt, nx)");
  const int64_t B = d.u.size(0);
  if (elements.empty() || int64_t(elements.size()) % B != 0)
    throw std::invalid_argument("group elements must come as k views per trajectory");
  // Work on chunks of trajectories: every temporary stays a few MiB, in cache and below glibc's mmap
  // threshold (whole-batch temporaries of ~70 MiB were mapped and unmapped on every use: 5x slower).
  // Chunks of 16 trajectories: every temporary stays a few MiB (in cache, and below glibc's mmap
  // threshold: whole-batch temporaries of ~70 MiB were mapped and unmapped on every use, 5x slower).
  // The ops inside a chunk use LibTorch's own intra-op threads.
  const int64_t chunk = 16;
  // Without projective maps or superposition (KdV, KS, Burgers' one-parameter maps) the sampling is a
  // fused kernel reading the rows it needs straight from the batch: no large temporaries, and one
  // call for the whole batch (alternating many small LibTorch ops, whose OpenMP threads spin after
  // each op, with the kernel's threads cost 25%).
  bool fast = eq != Equation::heat && d.u.device().is_cpu();
  for (const auto& f : elements[0].factors)
    fast = fast && f.generator != Generator::projective && f.generator != Generator::superposition &&
           !(elements[0].data_grid && f.generator == Generator::scaling);  // resampled: between rows
  if (fast) return apply_chunk(eq, d, elements, crop_t, crop_x, single_precision);
  if (int64_t(elements.size()) != B) {  // several views per trajectory: repeat the trajectories
    auto idx = at::arange(int64_t(elements.size()), at::kLong).remainder(B);
    GridBatch rep{d.u.index_select(0, idx), d.dx.index_select(0, idx), d.dt.index_select(0, idx),
                  d.nu.defined() ? d.nu.index_select(0, idx) : at::Tensor()};
    return apply_symmetries(eq, rep, elements, crop_t, crop_x, single_precision);
  }
  if (B <= chunk) return apply_chunk(eq, d, elements, crop_t, crop_x, single_precision);
  const int64_t nchunks = (B + chunk - 1) / chunk;
  std::vector<Views> parts(static_cast<size_t>(nchunks));
  for (int64_t c = 0; c < nchunks; ++c) {
    const int64_t b0 = c * chunk, b1 = std::min(B, b0 + chunk);
    GridBatch part{d.u.slice(0, b0, b1), d.dx.slice(0, b0, b1), d.dt.slice(0, b0, b1),
                   d.nu.defined() ? d.nu.slice(0, b0, b1) : at::Tensor()};
    std::vector<GroupElement> pe(elements.begin() + b0, elements.begin() + b1);
    parts[size_t(c)] = apply_chunk(eq, part, pe, crop_t, crop_x, single_precision);
  }
  std::vector<at::Tensor> us, dxs, dts;
  for (auto& v : parts) {
    us.push_back(v.u);
    dxs.push_back(v.dx);
    dts.push_back(v.dt);
  }
  return {at::cat(us), at::cat(dxs), at::cat(dts)};
}

namespace {
// For KdV, KS and Burgers every generator keeps the preimage of an output row affine in x:
// X = X0 + S x~ (x~ measured from the view's first column), with T, A and the value offset
// B0 + B1 x~ constant along the row. One row is pulled back through the factors (last first).
struct RowMap {
  double T, X0, S = 1, A = 1, B0 = 0, B1 = 0;
};

RowMap pull_back_row(Equation eq, const GroupElement& e, size_t first, double t, double x0, double L) {
  RowMap r{t, x0};
  for (size_t k = e.factors.size(); k-- > first;) {
    const Factor& f = e.factors[k];
    const double eps = f.epsilon;
    switch (f.generator) {
      case Generator::x_shift: r.X0 -= eps * L; break;
      case Generator::galilean:  // u~ = u(x - e t, t) + e
        r.B0 += r.A * eps;
        r.X0 -= eps * r.T;
        break;
      case Generator::scaling: {
        const double fx = std::exp(-eps);
        r.A *= eq == Equation::kdv ? std::exp(-2 * eps) : fx;
        r.T *= eq == Equation::kdv ? std::exp(-3 * eps) : std::exp(-2 * eps);
        r.X0 *= fx;
        r.S *= fx;
        break;
      }
      case Generator::projective: {  // Burgers: u~ = u (1 - e t) + e x, 1 - e t = 1 / (1 + e t~)
        const double den = 1 + eps * r.T;
        r.B0 += r.A * eps * r.X0 / den;
        r.B1 += r.A * eps * r.S / den;
        r.A /= den;
        r.X0 /= den;
        r.S /= den;
        r.T /= den;
        break;
      }
      default:
        throw std::invalid_argument(generator_name(f.generator) + " is not a symmetry of " + equation_name(eq));
    }
  }
  return r;
}

Views apply_chunk(Equation eq, const GridBatch& d, const std::vector<GroupElement>& elements, int64_t crop_t,
                  int64_t crop_x, bool single_precision) {
  if (!d.u.defined() || d.u.dim() != 3) throw std::invalid_argument("trajectories must be (batch, nt, nx)");
  // B views of Bt trajectories (view v acts on trajectory v % Bt; only the fused path gets B > Bt).
  const int64_t Bt = d.u.size(0), nt = d.u.size(1), nx = d.u.size(2), B = int64_t(elements.size());
  const GridBatch* data = &d;
  GridBatch per_view;
  if (B != Bt) {
    auto idx = at::arange(B, at::kLong).remainder(Bt);
    per_view = GridBatch{at::Tensor(), d.dx.index_select(0, idx), d.dt.index_select(0, idx),
                         d.nu.defined() ? d.nu.index_select(0, idx) : at::Tensor()};
    per_view.u = d.u;  // rows are read by trajectory inside the kernel
    data = &per_view;
  }
  if (crop_x > nx || crop_t > nt)
    throw std::invalid_argument("crop " + std::to_string(crop_t) + "x" + std::to_string(crop_x) +
                                " is larger than the data " + std::to_string(nt) + "x" + std::to_string(nx));
  auto u = d.u;  // converted to float64 below where tensor ops need it
  auto dx = data->dx.to(at::kDouble).contiguous(), dt = data->dt.to(at::kDouble).contiguous();
  auto nu = data->nu.defined() ? data->nu.to(at::kDouble) : at::ones({B}, u.options().dtype(at::kDouble));
  const auto opt = u.options().dtype(at::kDouble);
  const size_t nf = elements[0].factors.size();
  for (const auto& e : elements)
    if (e.factors.size() != nf) throw std::invalid_argument("group elements must share their generator sequence");

  // ---- Superposition acts first, on the data itself.
  size_t first = 0;
  if (nf > 0 && elements[0].factors[0].generator == Generator::superposition) {
    first = 1;
    const size_t nb = static_cast<size_t>(B);
    std::vector<double> eps(nb), a0(nb), a1(nb);
    for (int64_t b = 0; b < B; ++b) {
      eps[size_t(b)] = elements[size_t(b)].factors[0].epsilon;
      a0[size_t(b)] = elements[size_t(b)].factors[0].aux0;
      a1[size_t(b)] = elements[size_t(b)].factors[0].aux1;
    }
    u = u.to(at::kDouble);
    auto E = at::tensor(eps, opt), A0 = at::tensor(a0, opt), A1 = at::tensor(a1, opt);
    if (eq == Equation::burgers) {
      u = burgers_superposition(u, dx, nu, E.clamp_min(1e-300), A0);
    } else if (eq == Equation::heat) {
      // u + e rms(u) alpha, alpha = cos(k x + theta) exp(-nu k^2 t), k = 2 pi m / L: a heat solution.
      auto x = at::arange(nx, opt).view({1, 1, -1}) * dx.view({-1, 1, 1});
      auto t = at::arange(nt, opt).view({1, -1, 1}) * dt.view({-1, 1, 1});
      auto k = 2 * M_PI * A0.view({-1, 1, 1}) / (dx.view({-1, 1, 1}) * double(nx));
      auto rms = u.square().mean({1, 2}).sqrt().view({-1, 1, 1});
      u = u + E.view({-1, 1, 1}) * rms * at::cos(k * x + A1.view({-1, 1, 1})) * at::exp(-nu.view({-1, 1, 1}) * k * k * t);
    } else {
      throw std::invalid_argument("superposition is a symmetry of burgers and heat only");
    }
  }

  // ---- The view's grid: spacing scaled by the scaling factors; crop start chosen inside the data.
  const size_t nbatch = static_cast<size_t>(B);
  std::vector<double> sx(nbatch), st(nbatch), t0(nbatch), x0(nbatch);
  bool projective = false;
  // Views on the data grid under a scaling need preimages between rows and grid points: the general
  // sampling path (time interpolation, arbitrary x positions), as for projective maps.
  for (const auto& e : elements) projective = projective || has_projective(e) || (e.data_grid && has_scaling(e));
  auto dx_a = dx.accessor<double, 1>();
  auto dt_a = dt.accessor<double, 1>();
  for (int64_t b = 0; b < B; ++b) {
    const GroupElement& e = elements[size_t(b)];
    const auto scale = grid_scale(eq, e);
    const double gx = scale.first, gt = scale.second;
    sx[size_t(b)] = gx;
    st[size_t(b)] = gt;
    const double h = dt_a[b] * gt, span = double(crop_t - 1) * h;
    if (!projective) {
      // T(t~) = t~ / gt: start on a data row, so no interpolation in time is needed.
      const int64_t row = std::min<int64_t>(nt - crop_t, int64_t(e.crop_t_fraction * double(nt - crop_t + 1)));
      t0[size_t(b)] = double(row) * dt_a[b] * gt;
    } else {
      // T is monotone: find the start range keeping [T(s), T(s + span)] within the stencil margins.
      const double lo = 2 * dt_a[b], hi = double(nt - 4) * dt_a[b];
      auto solve = [&](double target, double offset) {
        double a = -1e3 * double(nt) * dt_a[b] * gt, c = 1e3 * double(nt) * dt_a[b] * gt;
        for (int it = 0; it < 200; ++it) {
          double m = 0.5 * (a + c), v = time_preimage(eq, e, m + offset);
          if (std::isnan(v) || v > target) c = m;
          else a = m;
        }
        return 0.5 * (a + c);
      };
      const double smin = solve(lo, 0), smax = solve(hi, span);
      if (!(smax >= smin) || std::isnan(time_preimage(eq, e, smin)) || std::isnan(time_preimage(eq, e, smax + span)))
        throw std::invalid_argument("a view of " + std::to_string(crop_t) + " time steps does not fit inside trajectory " +
                                    std::to_string(b) + " under its transform (projective, or scaling on the data grid); reduce crop_t or the strength");
      t0[size_t(b)] = smin + e.crop_t_fraction * (smax - smin);
    }
    x0[size_t(b)] = e.crop_x_fraction * double(nx) * dx_a[b] * gx;
  }
  auto SX = at::tensor(sx, opt).view({-1, 1, 1}), ST = at::tensor(st, opt).view({-1, 1, 1});
  auto view_dx = dx.view({-1, 1, 1}) * SX, view_dt = dt.view({-1, 1, 1}) * ST;
  auto xrel = at::arange(crop_x, opt).view({1, 1, -1}) * view_dx;  // (B, 1, crop_x)
  auto L = (dx * double(nx)).view({-1, 1, 1});
  auto NU = nu.view({-1, 1, 1});
  auto epsilon_of = [&](size_t i) {
    std::vector<double> ev(static_cast<size_t>(B));
    for (int64_t b = 0; b < B; ++b) {
      const Factor& f = elements[size_t(b)].factors[i];
      if (f.generator != elements[0].factors[i].generator)
        throw std::invalid_argument("group elements must share their generator sequence");
      ev[size_t(b)] = f.epsilon;
    }
    return at::tensor(ev, opt).view({-1, 1, 1});
  };

  // ---- Pull the output grid back through the chain (last factor first), accumulating the affine
  // value map u~ = A u(X, T) + Bv: per row for KdV, KS and Burgers (pull_back_row); point by point
  // for the heat equation, whose Galilean and projective maps multiply by functions of x.
  at::Tensor X, T, A, Bv;
  at::Tensor X0, S, B0, B1;
  const bool rowwise = eq != Equation::heat;
  if (rowwise && !projective && u.device().is_cpu()) {
    // Fused path: every output row is a data row shifted in x, so one FFTW transform pair per row,
    // fused with the crop and the affine value map. (The per-row maps are host scalars: as tensor ops,
    // the OpenMP threads LibTorch wakes for them spin against the kernel's threads.)
    std::vector<int64_t> row_idx(static_cast<size_t>(B * crop_t));
    std::vector<double> shift(row_idx.size()), Av(row_idx.size()), B0v(row_idx.size());
    const double* vdt = view_dt.data_ptr<double>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < crop_t; ++i) {
        const RowMap r = pull_back_row(eq, elements[size_t(b)], first, t0[size_t(b)] + double(i) * vdt[b],
                                       x0[size_t(b)], dx_a[b] * double(nx));
        const size_t idx = size_t(b * crop_t + i);
        row_idx[idx] = std::min<int64_t>(nt - 1, std::max<int64_t>(0, std::llround(r.T / dt_a[b])));
        shift[idx] = r.X0 / dx_a[b];
        Av[idx] = r.A;
        B0v[idx] = r.B0;
      }
    auto out = at::empty({B, crop_t, crop_x}, single_precision ? opt.dtype(at::kFloat) : opt);
    auto uc = u.contiguous();
    if (uc.scalar_type() != at::kFloat) uc = uc.to(at::kDouble);
    detail::RowShiftProblem p;
    p.views = B;
    p.trajectories = Bt;
    p.nt = nt;
    p.nx = nx;
    p.crop_t = crop_t;
    p.crop_x = crop_x;
    if (uc.scalar_type() == at::kFloat) p.data_f32 = uc.data_ptr<float>();
    else p.data_f64 = uc.data_ptr<double>();
    p.row = row_idx.data();
    p.shift = shift.data();
    p.A = Av.data();
    p.B0 = B0v.data();
    if (single_precision) p.out_f32 = out.data_ptr<float>();
    else p.out = out.data_ptr<double>();
    detail::row_shift_cpu(p);
    return {out, view_dx.view({-1}), view_dt.view({-1})};
  }
  T = (at::tensor(t0, opt).view({-1, 1, 1}) + at::arange(crop_t, opt).view({1, -1, 1}) * view_dt).contiguous();
  if (rowwise) {
    // The per-row maps are scalars: computed on the host, then moved to the data's device.
    const size_t rows = static_cast<size_t>(B * crop_t);
    std::vector<double> Tv(rows), X0v(rows), Sv(rows), Av(rows), B0v(rows), B1v(rows);
    auto Th = T.to(at::kCPU).contiguous();
    const double* th = Th.data_ptr<double>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < crop_t; ++i) {
        const size_t idx = size_t(b * crop_t + i);
        const RowMap r = pull_back_row(eq, elements[size_t(b)], first, th[idx], x0[size_t(b)], dx_a[b] * double(nx));
        Tv[idx] = r.T, X0v[idx] = r.X0, Sv[idx] = r.S, Av[idx] = r.A, B0v[idx] = r.B0, B1v[idx] = r.B1;
      }
    auto as_rows = [&](const std::vector<double>& v) { return at::tensor(v, at::kDouble).view({B, crop_t, 1}).to(opt); };
    T = as_rows(Tv), X0 = as_rows(X0v), S = as_rows(Sv), A = as_rows(Av), B0 = as_rows(B0v), B1 = as_rows(B1v);
  } else {
    X = (at::tensor(x0, opt).view({-1, 1, 1}) + xrel).expand({B, crop_t, crop_x}).contiguous();
    T = T.expand({B, crop_t, crop_x}).contiguous();
    A = at::ones({B, crop_t, crop_x}, opt);
    Bv = at::zeros({B, crop_t, crop_x}, opt);
    for (size_t i = nf; i-- > first;) {
      auto e = epsilon_of(i);
      switch (elements[0].factors[i].generator) {
        case Generator::x_shift: X = X - e * L; break;
        case Generator::scaling:
          T = T * at::exp(-2 * e);
          X = X * at::exp(-e);
          break;
        case Generator::projective: {  // heat, diffusivity nu
          auto den = 1 + 4 * e * T;
          A = A * at::rsqrt(den) * at::exp(-e * X * X / (NU * den));
          X = X / den;
          T = T / den;
          break;
        }
        case Generator::psi_scaling: A = A * at::exp(e); break;
        case Generator::heat_galilean:
          A = A * at::exp(-e * X + NU * e * e * T);
          X = X - 2 * NU * e * T;
          break;
        default:
          throw std::invalid_argument(generator_name(elements[0].factors[i].generator) + " is not a symmetry of " +
                                      equation_name(eq));
      }
    }
  }

  // ---- Sample u at (X, T): rows r = T / dt (6-point Lagrange when not on a row), then x.
  auto R = T.select(2, 0) / dt.view({-1, 1});  // (B, crop_t)
  u = u.to(at::kDouble);
  if (rowwise) X = projective ? (X0 + S * xrel).contiguous() : X0;  // positions of the samples
  at::Tensor rows;                                // (B, crop_t, nx): u at the preimage times
  auto base = at::round(R);
  if (!projective && (R - base).abs().max().item<double>() < 1e-9) {
    auto idx = base.to(at::kLong).clamp(0, nt - 1);
    rows = at::gather(u, 1, idx.unsqueeze(-1).expand({B, crop_t, nx}).contiguous());
  } else {
    auto i0 = at::floor(R) - 2;
    auto frac = R - at::floor(R);
    if ((i0 < 0).any().item<bool>() || (i0 + 5 > nt - 1).any().item<bool>())
      throw std::invalid_argument("the transform reaches outside the data in time");
    rows = at::zeros({B, crop_t, nx}, opt);
    for (int m = 0; m < 6; ++m) {
      // Lagrange basis for nodes -2..3 at offset frac.
      auto w = at::ones_like(frac);
      for (int q = 0; q < 6; ++q)
        if (q != m) w = w * (frac - double(q - 2)) / double(m - q);
      auto idx = (i0 + m).to(at::kLong);
      rows = rows + w.unsqueeze(-1) * at::gather(u, 1, idx.unsqueeze(-1).expand({B, crop_t, nx}).contiguous());
    }
  }
  at::Tensor sampled;
  if (!projective) {
    // X is the data grid shifted per row: one band-limited shift per row, then the first crop_x points.
    auto shift = -X.select(2, 0) / dx.view({-1, 1});  // cells
    sampled = fourier_shift(rows, shift).index({Slice(), Slice(), Slice(0, crop_x)});
  } else {
    // General positions: the trigonometric interpolant sum_k c_k e^{i k w x} (w = 2 pi / L).
    const int64_t nk = nx / 2 + 1;
    auto coef = at::fft_rfft(rows, nx, -1) / double(nx);  // (B, crop_t, nk)
    auto wts = at::full({nk}, 2.0, opt);
    wts[0] = 1;
    if (nx % 2 == 0) wts[nk - 1] = 0;  // the Nyquist term is not a smooth interpolant
    coef = coef * wts;
    auto kk = at::arange(nk, opt);
    auto omega = (2 * M_PI / (dx * double(nx))).view({-1, 1, 1});
    if (rowwise) {
      // Along a row the positions are an arithmetic progression X0 + j D (D = S dx~), so the sum is a
      // chirp z-transform (Bluestein): with k j = (k^2 + j^2 - (k - j)^2) / 2,
      //   y_j = w_j sum_k (a_k w_k) conj(w_{j-k}),  w_n = e^{i w D n^2 / 2},  a_k = c_k e^{i k w X0},
      // a linear convolution done with FFTs of length >= nk + crop_x - 1: exact, O(n log n) per row
      // instead of crop_x * nk sines and cosines.
      const int64_t M = nk + crop_x - 1;
      auto D = S * view_dx;                                  // (B, crop_t, 1)
      auto half = omega * D / 2;                             // (B, crop_t, 1)
      auto cis = [](const at::Tensor& phase) { return at::polar(at::ones_like(phase), phase); };
      auto a = coef * cis(omega * X0 * kk);                  // (B, crop_t, nk)
      auto b = a * cis(half * kk * kk);
      auto m = at::arange(M, opt);
      auto n = at::where(m < double(crop_x), m, m - double(M));  // circular lags -(nk-1)..crop_x-1
      auto h = cis(-half * n * n);                           // (B, crop_t, M)
      auto y = at::fft_ifft(at::fft_fft(b, M, -1) * at::fft_fft(h, M, -1), M, -1).narrow(-1, 0, crop_x);
      auto j = at::arange(crop_x, opt);
      sampled = at::real(y * cis(half * j * j)).contiguous();
    } else {
      sampled = at::empty({B, crop_t, crop_x}, opt);
      for (int64_t b = 0; b < B; ++b) {
        auto theta = (2 * M_PI / (dx_a[b] * double(nx))) * X[b].unsqueeze(-1) * kk;  // (crop_t, crop_x, nk)
        auto c = coef[b].unsqueeze(1);                                               // (crop_t, 1, nk)
        sampled[b] = (at::real(c) * at::cos(theta) - at::imag(c) * at::sin(theta)).sum(-1);
      }
    }
  }
  Views v;
  v.u = rowwise ? (A * sampled + B0 + B1 * xrel).contiguous() : (A * sampled + Bv).contiguous();
  if (single_precision) v.u = v.u.to(at::kFloat);
  v.dx = view_dx.view({-1});
  v.dt = view_dt.view({-1});
  return v;
}
}  // namespace

at::Tensor pde_residual(Equation eq, const at::Tensor& u_in, double dx, double dt, double nu, bool periodic) {
  auto u = u_in.to(at::kDouble);
  const int64_t nt = u.size(0), nx = u.size(1);
  static const double c8[4] = {4.0 / 5, -1.0 / 5, 4.0 / 105, -1.0 / 280};  // 8th-order first derivative
  auto d1 = [&](const at::Tensor& f, int64_t dim, double h) {
    const int64_t n = f.size(dim);
    auto out = at::zeros_like(f.narrow(dim, 4, n - 8));
    for (int q = 1; q <= 4; ++q) out = out + c8[q - 1] * (f.narrow(dim, 4 + q, n - 8) - f.narrow(dim, 4 - q, n - 8));
    return out / h;
  };
  auto ut = d1(u, 0, dt);                      // rows 4..nt-5
  auto uc = u.narrow(0, 4, nt - 8);
  at::Tensor ux, uxx, uxxx, uxxxx, core;
  if (periodic) {
    auto k = at::arange(nx / 2 + 1, u.options()) * (2 * M_PI / (dx * double(nx)));
    auto ik = at::complex(at::zeros_like(k), k);
    auto uh = at::fft_rfft(uc, nx, -1);
    auto der = [&](int order) {
      auto m = at::pow(ik, order);
      if (order % 2 == 1) m.index_put_({nx / 2}, 0);
      return at::fft_irfft(uh * m, nx, -1);
    };
    ux = der(1), uxx = der(2), uxxx = der(3), uxxxx = der(4);
    core = uc;
  } else {
    // Repeated 8th-order differences; each trims 4 columns per side.
    ux = d1(uc, 1, dx);
    uxx = d1(ux, 1, dx);
    uxxx = d1(uxx, 1, dx);
    uxxxx = d1(uxxx, 1, dx);
    const int64_t m = uxxxx.size(1);
    auto trim = [&](const at::Tensor& f) { return f.narrow(1, (f.size(1) - m) / 2, m); };
    core = trim(uc), ux = trim(ux), uxx = trim(uxx), uxxx = trim(uxxx);
    ut = trim(ut);
  }
  switch (eq) {
    case Equation::kdv: return ut + core * ux + uxxx;
    case Equation::ks: return ut + core * ux + uxx + uxxxx;
    case Equation::burgers: return ut + core * ux - nu * uxx;
    case Equation::heat: return ut - nu * uxx;
  }
  return {};
}

}  // namespace jess::pde
