#include "jess/pde/solvers.h"

#include <ATen/ATen.h>
#include <c10/util/complex.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "jess/pde/kernels_cpu.h"

namespace jess::pde {

Equation parse_equation(const std::string& name) {
  if (name == "kdv") return Equation::kdv;
  if (name == "ks") return Equation::ks;
  if (name == "burgers") return Equation::burgers;
  if (name == "heat") return Equation::heat;
  throw std::invalid_argument("unknown equation '" + name + "' (choose kdv, ks, burgers or heat)");
}

std::string equation_name(Equation eq) {
  switch (eq) {
    case Equation::kdv: return "kdv";
    case Equation::ks: return "ks";
    case Equation::burgers: return "burgers";
    case Equation::heat: return "heat";
  }
  return "?";
}

namespace {
using namespace at::indexing;

std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

at::Tensor as_f64(const at::Tensor& t, const at::Device& device) { return t.to(device, at::kDouble).contiguous(); }

void validate(const SolveSpec& s) {
  if (!s.u0.defined() || s.u0.dim() != 2) throw SolverError("initial condition must be a (batch, nx) array");
  const int64_t B = s.u0.size(0), nx = s.u0.size(1);
  if (B == 0) throw SolverError("empty batch: no initial conditions given");
  if (nx < 8 || nx % 2 != 0)
    throw SolverError("grid size nx = " + std::to_string(nx) + " is not supported: a periodic spectral grid needs an even nx >= 8");
  auto finite_rows = at::isfinite(s.u0).all(1);
  if (!finite_rows.all().item<bool>()) {
    int64_t bad = (~finite_rows).nonzero().index({0, 0}).item<int64_t>();
    throw SolverError("initial condition of trajectory " + std::to_string(bad) + " contains NaN or Inf");
  }
  auto check_vec = [&](const at::Tensor& v, const char* name, bool strictly_positive) {
    if (!v.defined() || v.dim() != 1 || v.size(0) != B)
      throw SolverError(std::string(name) + " must hold one value per trajectory (" + std::to_string(B) + ")");
    auto vv = v.to(at::kDouble);
    auto bad = strictly_positive ? ~(at::isfinite(vv) & (vv > 0)) : ~at::isfinite(vv);
    if (bad.any().item<bool>()) {
      int64_t i = bad.nonzero().index({0, 0}).item<int64_t>();
      throw SolverError(std::string(name) + " of trajectory " + std::to_string(i) + " is " +
                        fmt(vv[i].item<double>()) + "; it must be a finite number > 0");
    }
  };
  check_vec(s.L, "domain length L", true);
  check_vec(s.T, "final time T", true);
  if (s.equation == Equation::burgers || s.equation == Equation::heat) {
    if (!s.nu.defined()) throw SolverError("viscosity nu is required for " + equation_name(s.equation));
    auto nu = s.nu.to(at::kDouble);
    if ((nu <= 0).any().item<bool>()) {
      int64_t i = (nu <= 0).nonzero().index({0, 0}).item<int64_t>();
      throw SolverError("viscosity nu of trajectory " + std::to_string(i) + " is " + fmt(nu[i].item<double>()) +
                        "; it must be > 0 (negative nu is the ill-posed backward heat equation)");
    }
    check_vec(s.nu, "viscosity nu", true);
  }
  if (s.nt_total < 2) throw SolverError("nt_total must be >= 2 (the initial time and at least one more)");
  if (s.nt_keep < 1 || s.nt_keep > s.nt_total)
    throw SolverError("nt_keep = " + std::to_string(s.nt_keep) + " must be in [1, nt_total = " +
                      std::to_string(s.nt_total) + "]");
  if (s.solve_nx != 0 && (s.solve_nx < nx || s.solve_nx % nx != 0))
    throw SolverError("solve_nx = " + std::to_string(s.solve_nx) + " must be a multiple of nx = " + std::to_string(nx));
  if (s.contour_points < 4) throw SolverError("contour_points must be >= 4");
}

std::string resolve_method(const SolveSpec& s) {
  if (s.method != "auto") {
    if (s.method == "cole_hopf" && s.equation != Equation::burgers)
      throw SolverError("method cole_hopf applies to burgers only");
    if (s.method == "exact" && s.equation != Equation::heat) throw SolverError("method exact applies to heat only");
    if (s.method != "etdrk4" && s.method != "cole_hopf" && s.method != "exact")
      throw SolverError("unknown method '" + s.method + "' (etdrk4, cole_hopf, exact or auto)");
    return s.method;
  }
  if (s.equation == Equation::burgers) return "cole_hopf";
  if (s.equation == Equation::heat) return "exact";
  return "etdrk4";
}

// Linear symbol L(k) of u_t = L u + N(u) in Fourier space (u_x -> i k u).
at::Tensor linear_symbol(Equation eq, const at::Tensor& k, const at::Tensor& nu) {
  auto zero = at::zeros_like(k);
  switch (eq) {
    case Equation::kdv: return at::complex(zero, k.pow(3));  // -u_xxx -> i k^3
    case Equation::ks: return at::complex(k.pow(2) - k.pow(4), zero);
    case Equation::burgers:
    case Equation::heat: return at::complex(-nu.unsqueeze(1) * k.pow(2), zero);
  }
  return {};
}

// Nonlinear symbol: N(v) = g * rfft(irfft(v)^2), i.e. -(u^2/2)_x, with the 2/3-rule dealiasing mask.
at::Tensor nonlinear_symbol(Equation eq, const at::Tensor& k, int64_t nx) {
  if (eq == Equation::heat) return at::zeros_like(at::complex(k, k));
  auto mask = (at::arange(k.size(1), k.options()) <= double(nx / 3)).to(k.dtype());
  return at::complex(at::zeros_like(k), -0.5 * k * mask);
}

struct Coefficients {
  at::Tensor E, E2, Q, f1, f2, f3;
};

// phi-function combinations of Kassam & Trefethen (2005), eq. (2.5) with h folded in, evaluated as
// means over M points on a circle of radius 1 around each z = h L(k) to avoid cancellation near 0.
Coefficients etdrk4_coefficients(const at::Tensor& Lsym, const at::Tensor& h, int64_t M) {
  auto hc = h.to(at::kDouble).unsqueeze(1);  // (B, 1)
  auto z = Lsym * hc;                           // (B, nk)
  Coefficients c;
  c.E = at::exp(z);
  c.E2 = at::exp(z / 2);
  auto theta = (at::arange(1, M + 1, h.options().dtype(at::kDouble)) - 0.5) * (2 * M_PI / double(M));
  auto roots = at::polar(at::ones_like(theta), theta);  // (M,)
  auto zz = z.unsqueeze(-1) + roots;                     // (B, nk, M)
  auto ez = at::exp(zz), ez2 = at::exp(zz / 2);
  auto zz2 = zz * zz, zz3 = zz2 * zz;
  auto hz = hc.to(at::kComplexDouble);
  c.Q = hz * ((ez2 - 1.0) / zz).mean(-1);
  c.f1 = hz * ((-4.0 - zz + ez * (4.0 - 3.0 * zz + zz2)) / zz3).mean(-1);
  c.f2 = hz * ((2.0 + zz + ez * (zz - 2.0)) / zz3).mean(-1);
  c.f3 = hz * ((-4.0 - 3.0 * zz - zz2 + ez * (4.0 - zz)) / zz3).mean(-1);
  return c;
}

at::Tensor blowup_limits(const at::Tensor& u0, double factor) {
  return at::clamp_min(u0.abs().amax(1), 1.0) * factor;
}

SolverError blowup_error(const SolveSpec& s, int64_t row, int64_t interval, bool nonfinite) {
  double t = s.T[row].item<double>() * double(interval) / double(s.nt_total - 1);
  return SolverError("trajectory " + std::to_string(row) + " " + (nonfinite ? "became non-finite" : "blew up") +
                     " by t = " + fmt(t) + " (" + equation_name(s.equation) +
                     "); reduce the initial amplitude or the step (solver.substeps)");
}

// ETDRK4 for KdV, KS or Burgers on the grid of u0 (tensor ops: any device).
at::Tensor etdrk4_tensor(const SolveSpec& s, const Coefficients& c, const at::Tensor& g,
                         const std::function<void(int64_t)>& progress) {
  const int64_t B = s.u0.size(0), nx = s.u0.size(1);
  auto v = at::fft_rfft(s.u0, nx, 1);
  auto out = at::empty({B, s.nt_keep, nx}, s.u0.options());
  auto limit = blowup_limits(s.u0, s.blowup_factor);
  const int64_t first_kept = s.nt_total - s.nt_keep;
  auto N = [&](const at::Tensor& w) { return g * at::fft_rfft(at::fft_irfft(w, nx, 1).square(), nx, 1); };
  if (first_kept == 0) out.select(1, 0).copy_(s.u0);
  for (int64_t interval = 1; interval < s.nt_total; ++interval) {
    for (int64_t step = 0; step < s.substeps; ++step) {
      auto Nv = N(v);
      auto a = c.E2 * v + c.Q * Nv;
      auto Na = N(a);
      auto b = c.E2 * v + c.Q * Na;
      auto Nb = N(b);
      auto cc = c.E2 * a + c.Q * (2.0 * Nb - Nv);
      auto Nc = N(cc);
      v = c.E * v + Nv * c.f1 + 2.0 * (Na + Nb) * c.f2 + Nc * c.f3;
    }
    auto bound = (v.abs().sum(1) * 2 - v.select(1, 0).abs()) / double(nx);
    auto bad = ~at::isfinite(bound) | (bound > limit);
    if (bad.any().item<bool>()) {
      int64_t row = bad.nonzero().index({0, 0}).item<int64_t>();
      throw blowup_error(s, row, interval, !std::isfinite(bound[row].item<double>()));
    }
    if (interval >= first_kept) out.select(1, interval - first_kept).copy_(at::fft_irfft(v, nx, 1));
  }
  if (progress) progress(B);
  return out;
}

at::Tensor etdrk4(const SolveSpec& s, const std::function<void(int64_t)>& progress) {
  if (s.substeps < 1) throw SolverError("ETDRK4 needs substeps >= 1 (use choose_substeps)");
  const auto dev = s.u0.device();
  SolveSpec g = s;
  g.u0 = as_f64(s.u0, dev);
  g.L = as_f64(s.L, dev);
  g.T = as_f64(s.T, dev);
  if (s.nu.defined()) g.nu = as_f64(s.nu, dev);
  // Burgers by ETDRK4 may be solved on a finer grid: interpolate spectrally, then sample back.
  int64_t nx = g.u0.size(1);
  int64_t fine = s.solve_nx > 0 ? s.solve_nx : nx;
  if (fine != nx) {
    auto uh = at::fft_rfft(g.u0, nx, 1) * (double(fine) / double(nx));
    g.u0 = at::fft_irfft(uh, fine, 1);  // zero-padded: exact for band-limited data
  }
  const int64_t n = g.u0.size(1);
  auto k = wavenumbers(g.L, n);
  auto Lsym = linear_symbol(s.equation, k, g.nu);
  auto gsym = nonlinear_symbol(s.equation, k, n);
  auto h = g.T / double((s.nt_total - 1) * s.substeps);
  auto coef = etdrk4_coefficients(Lsym, h, s.contour_points);

  const bool use_cpu = s.backend == "cpu" || (s.backend == "auto" && dev.is_cpu());
  at::Tensor out;
  if (use_cpu) {
    if (!dev.is_cpu()) throw SolverError("backend 'cpu' needs tensors on the CPU");
    auto v0 = at::fft_rfft(g.u0, n, 1).contiguous();
    auto limit = blowup_limits(g.u0, s.blowup_factor).contiguous();
    out = at::empty({g.u0.size(0), s.nt_keep, n}, g.u0.options());
    auto cptr = [](const at::Tensor& t) {
      return reinterpret_cast<const std::complex<double>*>(t.data_ptr<c10::complex<double>>());
    };
    auto E = coef.E.contiguous(), E2 = coef.E2.contiguous(), Q = coef.Q.contiguous(), f1 = coef.f1.contiguous(),
         f2 = coef.f2.contiguous(), f3 = coef.f3.contiguous(), gg = gsym.contiguous();
    detail::Etdrk4CpuProblem p;
    p.batch = g.u0.size(0);
    p.nx = n;
    p.v0 = cptr(v0);
    p.E = cptr(E);
    p.E2 = cptr(E2);
    p.Q = cptr(Q);
    p.f1 = cptr(f1);
    p.f2 = cptr(f2);
    p.f3 = cptr(f3);
    p.g = cptr(gg);
    p.blowup_limit = limit.data_ptr<double>();
    p.substeps = s.substeps;
    p.nt_total = s.nt_total;
    p.nt_keep = s.nt_keep;
    p.out = out.data_ptr<double>();
    p.progress = progress;
    auto fail = detail::etdrk4_cpu(p);
    if (fail.row >= 0) throw blowup_error(s, fail.row, fail.frame, fail.nonfinite);
  } else {
    if (s.backend != "auto" && s.backend != "tensor")
      throw SolverError("unknown backend '" + s.backend + "' (auto, cpu or tensor)");
    out = etdrk4_tensor(g, coef, gsym, progress);
  }
  if (n != nx) out = out.index({Slice(), Slice(), Slice(None, None, n / nx)}).contiguous();
  return out;
}

at::Tensor output_times(const SolveSpec& s, const at::Tensor& T) {
  // (B, nt_keep): the last nt_keep of t_j = j T / (nt_total - 1)
  auto j = at::arange(s.nt_total - s.nt_keep, s.nt_total, T.options());
  return T.unsqueeze(1) * j.unsqueeze(0) / double(s.nt_total - 1);
}

// Heat equation, exactly: u_hat(t) = u_hat(0) exp(-nu k^2 t).
at::Tensor heat_exact(const SolveSpec& s, const std::function<void(int64_t)>& progress) {
  const auto dev = s.u0.device();
  auto u0 = as_f64(s.u0, dev), L = as_f64(s.L, dev), T = as_f64(s.T, dev), nu = as_f64(s.nu, dev);
  const int64_t nx = u0.size(1);
  auto k2 = wavenumbers(L, nx).pow(2);  // (B, nk)
  auto uh = at::fft_rfft(u0, nx, 1);
  auto t = output_times(s, T);  // (B, nt)
  auto decay = at::exp(-(nu.view({-1, 1, 1}) * k2.unsqueeze(1) * t.unsqueeze(2)));
  auto out = at::fft_irfft(uh.unsqueeze(1) * decay, nx, 2).contiguous();
  if (progress) progress(u0.size(0));
  return out;
}

// Burgers through Cole-Hopf: with u = phi_x and psi = exp(-phi / (2 nu)), psi solves the heat equation
// psi_t = nu psi_xx, whose exact solution is a Fourier multiplier; then u = -2 nu psi_x / psi.
// The exponent is shifted by min(phi0) so psi0 lies in (0, 1]: no overflow, and parts of psi0 below
// e^-745 underflow harmlessly. A mean velocity c (non-zero mean of u0) is removed first and restored
// by the exact Galilean boost u(x, t) = c + w(x - c t, t), applied as a Fourier phase shift.
// Solved on n points and sampled down to the nx of u0.
at::Tensor cole_hopf_on_grid(const SolveSpec& s, const at::Tensor& u0, const at::Tensor& L, const at::Tensor& T,
                             const at::Tensor& nu, int64_t n) {
  const int64_t B = u0.size(0), nx = u0.size(1);
  const int64_t r = n / nx, nkf = n / 2 + 1;
  if (s.backend == "cpu" || (s.backend == "auto" && u0.device().is_cpu())) {
    // Fused FFTW kernel, one trajectory per worker at a time (same mathematics as below).
    auto out = at::empty({B, s.nt_keep, nx}, u0.options());
    auto u0c = u0.contiguous(), nu_c = nu.contiguous(), L_c = L.contiguous();
    auto t_first = output_times(s, T).select(1, 0).contiguous();
    auto dt = (T / double(s.nt_total - 1)).contiguous();
    detail::ColeHopfCpuProblem p;
    p.batch = B;
    p.n = n;
    p.nx = nx;
    p.nt = s.nt_keep;
    p.u0 = u0c.data_ptr<double>();
    p.nu = nu_c.data_ptr<double>();
    p.L = L_c.data_ptr<double>();
    p.t_first = t_first.data_ptr<double>();
    p.dt = dt.data_ptr<double>();
    p.out = out.data_ptr<double>();
    detail::cole_hopf_cpu(p);
    return out;
  }
  auto kf = wavenumbers(L, n);  // (B, nkf)
  auto uh = at::fft_rfft(u0, nx, 1);
  auto mean = at::real(uh.select(1, 0)) / double(nx);  // (B,)
  // Potential phi0 with phi0_x = u0 - mean, on the fine grid (zero-padded spectrum: exact).
  auto uhf = at::zeros({B, nkf}, uh.options());
  uhf.index_put_({Slice(), Slice(0, nx / 2 + 1)}, uh * (double(n) / double(nx)));
  uhf.select(1, 0).zero_();
  uhf.select(1, nx / 2).zero_();  // the Nyquist mode of u0 has no well-defined antiderivative
  auto ik = at::complex(at::zeros_like(kf), kf);
  auto phih = at::where(kf > 0, uhf / at::where(kf > 0, ik, at::ones_like(ik)), at::zeros_like(uhf));
  auto phi0 = at::fft_irfft(phih, n, 1);
  auto psi0 = at::exp(-(phi0 - std::get<0>(phi0.min(1, true))) / (2.0 * nu.unsqueeze(1)));
  auto psih = at::fft_rfft(psi0, n, 1);

  auto t = output_times(s, T);  // (B, nt)
  auto out = at::empty({B, s.nt_keep, nx}, u0.options());
  // Frames per block: ~8 MiB of complex per temporary. Larger temporaries exceed the mmap threshold and
  // are returned to the OS after every use, which made this loop 4x slower (page faults).
  const int64_t block = std::max<int64_t>(1, (1 << 19) / std::max<int64_t>(1, B * nkf));
  const bool has_mean = (mean != 0).any().item<bool>();
  auto k2 = kf.pow(2).unsqueeze(1);
  for (int64_t j0 = 0; j0 < s.nt_keep; j0 += block) {
    const int64_t j1 = std::min(s.nt_keep, j0 + block);
    auto tj = t.index({Slice(), Slice(j0, j1)}).unsqueeze(2);  // (B, nb, 1)
    // exp(-nu k^2 t) and the boost's phase exp(-i k c t).
    auto decay = at::exp(-(nu.view({-1, 1, 1}) * k2 * tj));
    auto ph = psih.unsqueeze(1) * decay;
    if (has_mean) ph = ph * at::polar(at::ones_like(decay), -(kf.unsqueeze(1) * mean.view({-1, 1, 1}) * tj));
    auto psi = at::fft_irfft(ph, n, 2);
    auto psix = at::fft_irfft(ph * ik.unsqueeze(1), n, 2);
    auto u = -2.0 * nu.view({-1, 1, 1}) * psix / psi + mean.view({-1, 1, 1});
    out.index_put_({Slice(), Slice(j0, j1)}, u.index({Slice(), Slice(), Slice(None, None, r)}));
  }
  return out;
}

// The accuracy of Cole-Hopf is limited by the grid's resolution of psi0 and by double precision where
// psi is many orders of magnitude below its maximum. Both are measured, not guessed: the solution is
// computed on n and 2n points, and their relative L2 difference (per trajectory, over all saved
// frames) must stay within the tolerance. The 2n solution is returned.
at::Tensor burgers_cole_hopf(const SolveSpec& s, const std::function<void(int64_t)>& progress, SolveStats* stats) {
  const auto dev = s.u0.device();
  auto u0 = as_f64(s.u0, dev), L = as_f64(s.L, dev), T = as_f64(s.T, dev), nu = as_f64(s.nu, dev);
  const int64_t B = u0.size(0);
  const int64_t n = s.solve_nx > 0 ? s.solve_nx : u0.size(1);
  auto coarse = cole_hopf_on_grid(s, u0, L, T, nu, n);
  auto fine = cole_hopf_on_grid(s, u0, L, T, nu, 2 * n);
  auto err = (coarse - fine).flatten(1).norm(2, 1) / fine.flatten(1).norm(2, 1).clamp_min(1e-300);
  err = at::where(at::isfinite(err), err, at::full_like(err, INFINITY));
  if (stats) stats->cole_hopf_error_estimate = std::max(stats->cole_hopf_error_estimate, err.max().item<double>());
  auto bad = err > s.cole_hopf_tolerance;
  if (bad.any().item<bool>()) {
    int64_t i = bad.nonzero().index({0, 0}).item<int64_t>();
    throw SolverError("Cole-Hopf solution of trajectory " + std::to_string(i) + " (nu = " + fmt(nu[i].item<double>()) +
                      ") is not accurate: it changes by " + fmt(err[i].item<double>()) + " (relative L2) between " +
                      std::to_string(n) + " and " + std::to_string(2 * n) + " points, more than the tolerance " +
                      fmt(s.cole_hopf_tolerance) +
                      ". psi = exp(-phi/2nu) spans too many orders of magnitude for double precision, or is "
                      "under-resolved: raise solve_nx, raise the similarity scale (burgers), or use method etdrk4 "
                      "on a grid that resolves the shocks");
  }
  if (progress) progress(B);
  return fine;
}
}  // namespace

at::Tensor wavenumbers(const at::Tensor& L, int64_t nx) {
  auto Ld = L.to(at::kDouble);
  auto j = at::arange(nx / 2 + 1, Ld.options());
  return (2 * M_PI) * j.unsqueeze(0) / Ld.unsqueeze(1);
}

at::Tensor spectral_derivative(const at::Tensor& u, const at::Tensor& L, int64_t order) {
  // u: (B, ..., nx) with one L per leading index.
  const int64_t nx = u.size(-1);
  auto k = wavenumbers(L, nx);
  std::vector<int64_t> shape(size_t(u.dim()), 1);
  shape[0] = k.size(0);
  shape.back() = k.size(1);
  auto ikn = at::pow(at::complex(at::zeros_like(k), k), order);
  if (order % 2 == 1) ikn.select(1, nx / 2).zero_();  // the Nyquist mode of an odd derivative is ambiguous
  return at::fft_irfft(at::fft_rfft(u.to(at::kDouble), nx, -1) * ikn.view(shape), nx, -1);
}

at::Tensor mass(const at::Tensor& u, const at::Tensor& L) {
  std::vector<int64_t> shape(size_t(u.dim() - 1), 1);
  shape[0] = L.size(0);
  return u.mean(-1) * L.to(at::kDouble).view(shape);
}

at::Tensor energy(const at::Tensor& u, const at::Tensor& L) {
  std::vector<int64_t> shape(size_t(u.dim() - 1), 1);
  shape[0] = L.size(0);
  return u.square().mean(-1) * L.to(at::kDouble).view(shape);
}

at::Tensor solve(const SolveSpec& spec, const std::function<void(int64_t)>& progress, SolveStats* stats) {
  validate(spec);
  const std::string method = resolve_method(spec);
  if ((spec.equation == Equation::kdv || spec.equation == Equation::ks) && spec.solve_nx != 0 &&
      spec.solve_nx != spec.u0.size(1))
    throw SolverError("solve_nx applies to burgers and heat only");
  if (method == "cole_hopf") return burgers_cole_hopf(spec, progress, stats);
  if (method == "exact") return heat_exact(spec, progress);
  SolveSpec s = spec;
  if (s.substeps <= 0) s.substeps = choose_substeps(s, 1e-6);
  if (stats) stats->substeps = s.substeps;
  return etdrk4(s, progress);
}

int64_t choose_substeps(const SolveSpec& probe, double tolerance, double* estimated_error) {
  validate(probe);
  SolveSpec s = probe;
  s.method = "etdrk4";
  const int64_t nx = s.solve_nx > 0 ? s.solve_nx : s.u0.size(1);
  // Start from the explicit nonlinear part's stability scale, h * max|u| * k_max ~ 1, then halve while
  // the estimate stays within tolerance, or double until it gets there.
  const double umax = std::max(1e-12, s.u0.abs().max().item<double>());
  const double kmax = 2 * M_PI * double(nx / 3) / s.L.min().item<double>();
  const double dt_out = (s.T / double(s.nt_total - 1)).max().item<double>();
  // Richardson for a 4th-order method: err(m) = 16/15 * ||u_m - u_2m|| (worst relative L2 over probes).
  auto estimate = [&](int64_t m) {
    try {
      s.substeps = m;
      auto coarse = etdrk4(s, {});
      s.substeps = 2 * m;
      auto fine = etdrk4(s, {});
      auto diff = (coarse - fine).flatten(1).norm(2, 1) / fine.flatten(1).norm(2, 1).clamp_min(1e-300);
      return 16.0 / 15.0 * diff.max().item<double>();
    } catch (const SolverError&) {
      return double(INFINITY);  // unstable at this step
    }
  };
  int64_t m = std::max<int64_t>(1, int64_t(std::ceil(dt_out * umax * kmax)));
  double err = estimate(m);
  // Bracket the answer by halving or doubling: m_fail fails the tolerance, m passes.
  int64_t m_fail = 0;
  double err_fail = INFINITY;
  if (err <= tolerance) {
    while (m > 1) {
      double e = estimate(m / 2);
      if (!(e <= tolerance)) {
        m_fail = m / 2;
        err_fail = e;
        break;
      }
      m /= 2;
      err = e;
    }
  } else {
    for (int attempt = 0; attempt < 16 && !(err <= tolerance); ++attempt) {
      m_fail = m;
      err_fail = err;
      m *= 2;
      err = estimate(m);
    }
    if (!(err <= tolerance))
      throw SolverError("no ETDRK4 step up to " + std::to_string(m) + " substeps reaches tolerance " + fmt(tolerance) +
                        " (last estimate " + fmt(err) + "); the problem may be under-resolved in space");
  }
  // Inside the bracket, the 4th-order error model err ~ m^-4 predicts the smallest sufficient m.
  if (m_fail > 0 && std::isfinite(err_fail) && m - m_fail > 1) {
    int64_t guess = int64_t(std::ceil(double(m_fail) * std::pow(err_fail / tolerance, 0.25) * 1.05));
    for (; guess < m; guess = std::max(guess + 1, int64_t(std::ceil(guess * 1.1)))) {
      double e = estimate(guess);
      if (e <= tolerance) {
        m = guess;
        err = e;
        break;
      }
    }
  }
  if (estimated_error) *estimated_error = err;
  return m;
}

double spatial_error_estimate(const SolveSpec& probe, int64_t substeps) {
  validate(probe);
  SolveSpec s = probe;
  s.method = "etdrk4";
  s.substeps = substeps;
  const int64_t fine = s.solve_nx > 0 ? s.solve_nx : s.u0.size(1);
  try {
    auto coarse = etdrk4(s, {});
    s.solve_nx = 2 * fine;  // zero-padded initial condition: the same function on twice the points
    auto finer = etdrk4(s, {});
    auto diff = (coarse - finer).flatten(1).norm(2, 1) / finer.flatten(1).norm(2, 1).clamp_min(1e-300);
    return diff.max().item<double>();
  } catch (const SolverError&) {
    return 0;  // the finer grid is unstable at this step: no estimate, keep the tolerance
  }
}

StepChoice choose_substeps_for_total_error(const SolveSpec& probe, double tolerance) {
  StepChoice c;
  c.target = tolerance;
  c.substeps = choose_substeps(probe, tolerance, &c.time_error);
  c.spatial_error = spatial_error_estimate(probe, c.substeps);
  if (c.spatial_error / 2 > tolerance) {
    StepChoice loose;
    loose.substeps = choose_substeps(probe, c.spatial_error / 2, &loose.time_error);
    if (loose.substeps < c.substeps) c.substeps = loose.substeps, c.time_error = loose.time_error;
    c.target = c.spatial_error / 2;
  }
  return c;
}

}  // namespace jess::pde
