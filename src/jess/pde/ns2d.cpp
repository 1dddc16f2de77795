// The 2-D Navier–Stokes smoke solver (ns2d.h): semi-Lagrangian advection on a MAC grid, explicit
// diffusion, and the exact pressure projection by the discrete cosine transform.
#include "jess/pde/ns2d.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fftw3.h>

#include <cmath>
#include <mutex>
#include <vector>
#include <stdexcept>
#include <type_traits>

#include "jess/core/rng.h"
#include "jess/pde/ns2d_kernels.h"

namespace jess::pde::ns2d {

namespace {

std::mutex& fftw_planner_mutex() {  // FFTW's planner is not thread safe
  static std::mutex m;
  return m;
}

// Bilinear samples of a grid f (B, H, W) whose point (r, c) sits at (x0 + c dx, y0 + r dx), at the
// positions (X, Y) (B, h, w): zeros outside the grid, or the edge values (border = true).
at::Tensor sample(const at::Tensor& f, double x0, double y0, double dx, const at::Tensor& X, const at::Tensor& Y,
                  bool border) {
  const int64_t H = f.size(1), W = f.size(2);
  auto gx = (X - x0) / dx * (2.0 / double(W - 1)) - 1.0;
  auto gy = (Y - y0) / dx * (2.0 / double(H - 1)) - 1.0;
  auto grid = at::stack({gx, gy}, -1).to(f.scalar_type());
  return at::grid_sampler(f.unsqueeze(1), grid, /*bilinear*/ 0, border ? 1 : 0, /*align_corners*/ true).squeeze(1);
}

// Physical coordinates of a grid's points: (x0 + c dx, y0 + r dx), each (B, H, W).
std::pair<at::Tensor, at::Tensor> points(const at::Tensor& like, double x0, double y0, double dx) {
  const int64_t B = like.size(0), H = like.size(1), W = like.size(2);
  auto opts = like.options();
  auto x = (at::arange(W, opts) * dx + x0).view({1, 1, W}).expand({B, H, W});
  auto y = (at::arange(H, opts) * dx + y0).view({1, H, 1}).expand({B, H, W});
  return {x, y};
}

void check_state(const at::Tensor& vx, const at::Tensor& vy) {
  if (vx.dim() != 3 || vy.dim() != 3 || vx.size(1) + 1 != vx.size(2) || vy.size(1) != vy.size(2) + 1 ||
      vx.size(1) != vy.size(2) || vx.size(0) != vy.size(0))
    throw std::invalid_argument("ns2d: velocities must be vx (B, n, n + 1) and vy (B, n + 1, n)");
}

at::Tensor zero_wall_columns(at::Tensor vx) {  // normal velocity on the left and right walls
  vx.select(2, 0).zero_();
  vx.select(2, vx.size(2) - 1).zero_();
  return vx;
}
at::Tensor zero_wall_rows(at::Tensor vy) {  // normal velocity on the bottom and top walls
  vy.select(1, 0).zero_();
  vy.select(1, vy.size(1) - 1).zero_();
  return vy;
}

// 5-point Laplacian with zeros outside the array (B, H, W).
at::Tensor laplacian_zero_outside(const at::Tensor& f, double dx) {
  auto p = at::constant_pad_nd(f, {1, 1, 1, 1}, 0);
  const int64_t H = f.size(1), W = f.size(2);
  auto c = p.narrow(1, 1, H).narrow(2, 1, W);
  return (p.narrow(1, 0, H).narrow(2, 1, W) + p.narrow(1, 2, H).narrow(2, 1, W) + p.narrow(1, 1, H).narrow(2, 0, W) +
          p.narrow(1, 1, H).narrow(2, 2, W) - 4 * c) /
         (dx * dx);
}

}  // namespace

at::Tensor divergence(const at::Tensor& vx, const at::Tensor& vy, double dx) {
  check_state(vx, vy);
  const int64_t n = vx.size(1);
  return (vx.narrow(2, 1, n) - vx.narrow(2, 0, n) + vy.narrow(1, 1, n) - vy.narrow(1, 0, n)) / dx;
}

at::Tensor neumann_laplacian(const at::Tensor& p, double dx) {
  // Ghost cells equal to their neighbours inside: zero flux through the walls.
  auto q = at::replication_pad2d(p.unsqueeze(1), {1, 1, 1, 1}).squeeze(1);
  const int64_t H = p.size(1), W = p.size(2);
  return (q.narrow(1, 0, H).narrow(2, 1, W) + q.narrow(1, 2, H).narrow(2, 1, W) + q.narrow(1, 1, H).narrow(2, 0, W) +
          q.narrow(1, 1, H).narrow(2, 2, W) - 4 * p) /
         (dx * dx);
}

namespace {
// The two DCT plans of an n x n Neumann solve: the n rows' 1-D REDFT10 forward and REDFT01 back (fftwf
// for float, fftw for double; the y direction is solved exactly by elimination, ns2d_kernels.cpp), made and destroyed under FFTW's planner lock. Executing them on other arrays (new-array
// execute) is thread safe, so the fused step's workers share one pair. One plan per transform, run on
// each trajectory in turn: a trajectory's bytes do not depend on the batch it is solved in (FFTW may
// pick other algorithms for other batch counts).
template <typename T>
class DctPlans {
  using Plan = std::conditional_t<std::is_same_v<T, float>, fftwf_plan, fftw_plan>;

 public:
  // Two pairs: plans for 64-byte aligned arrays (FFTW's SIMD codelets; the fused step's scratch and
  // torch's allocations are aligned) and FFTW_UNALIGNED ones for any other pointer. FFTW_ESTIMATE keeps
  // the choice of algorithm, hence the bytes, the same on every run.
  explicit DctPlans(int64_t n) {
    detail::AlignedArray<T> a(n * n), w(n * n);
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    for (int k = 0; k < 2; ++k) {
      const unsigned flags = FFTW_ESTIMATE | (k ? FFTW_UNALIGNED : 0u);
      const int len[1] = {int(n)};
      const fftw_r2r_kind dct2 = FFTW_REDFT10, dct3 = FFTW_REDFT01;
      if constexpr (std::is_same_v<T, float>) {
        forward_[k] = fftwf_plan_many_r2r(1, len, int(n), a.data(), nullptr, 1, int(n), w.data(), nullptr, 1, int(n), &dct2, flags);
        inverse_[k] = fftwf_plan_many_r2r(1, len, int(n), w.data(), nullptr, 1, int(n), a.data(), nullptr, 1, int(n), &dct3, flags);
      } else {
        forward_[k] = fftw_plan_many_r2r(1, len, int(n), a.data(), nullptr, 1, int(n), w.data(), nullptr, 1, int(n), &dct2, flags);
        inverse_[k] = fftw_plan_many_r2r(1, len, int(n), w.data(), nullptr, 1, int(n), a.data(), nullptr, 1, int(n), &dct3, flags);
      }
    }
  }
  ~DctPlans() {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    for (int k = 0; k < 2; ++k) {
      if constexpr (std::is_same_v<T, float>) fftwf_destroy_plan(forward_[k]), fftwf_destroy_plan(inverse_[k]);
      else fftw_destroy_plan(forward_[k]), fftw_destroy_plan(inverse_[k]);
    }
  }
  DctPlans(const DctPlans&) = delete;
  DctPlans& operator=(const DctPlans&) = delete;
  detail::Transform<T> forward() const {
    return [a = forward_[0], u = forward_[1]](T* in, T* out) { execute(aligned(in, out) ? a : u, in, out); };
  }
  detail::Transform<T> inverse() const {
    return [a = inverse_[0], u = inverse_[1]](T* in, T* out) { execute(aligned(in, out) ? a : u, in, out); };
  }

 private:
  static bool aligned(const T* in, const T* out) {
    return reinterpret_cast<uintptr_t>(in) % 64 == 0 && reinterpret_cast<uintptr_t>(out) % 64 == 0;
  }
  static void execute(Plan p, T* in, T* out) {
    if constexpr (std::is_same_v<T, float>) fftwf_execute_r2r(p, in, out);
    else fftw_execute_r2r(p, in, out);
  }
  Plan forward_[2], inverse_[2];
};

// The Neumann solve of every trajectory of rhs (B, n, n) in precision T (float for float32 simulations:
// the projected velocity's divergence stays ~1e-6 of its scale, the float32 fields' own rounding).
template <typename T>
at::Tensor solve_poisson(const at::Tensor& rhs, double dx) {
  const int64_t B = rhs.size(0), n = rhs.size(1), nn = n * n;
  auto p = rhs.to(at::kCPU, std::is_same_v<T, float> ? at::kFloat : at::kDouble).contiguous().clone();
  const DctPlans<T> plans(n);
  detail::AlignedArray<T> work(nn);
  for (int64_t b = 0; b < B; ++b)
    detail::neumann_poisson_one<T>(n, dx, p.template data_ptr<T>() + b * nn, work.data(), plans.forward(), plans.inverse());
  return p;
}
}  // namespace

at::Tensor solve_neumann_poisson(const at::Tensor& rhs_in, double dx) {
  if (rhs_in.dim() != 3 || rhs_in.size(1) != rhs_in.size(2) || rhs_in.size(1) < 2)
    throw std::invalid_argument("ns2d: the Poisson right-hand side must be (B, n, n), n >= 2");
  return solve_poisson<double>(rhs_in, dx);
}

State project(const State& st, double dx) {
  check_state(st.vx, st.vy);
  const int64_t n = st.vx.size(1);
  auto div = divergence(st.vx, st.vy, dx);
  auto p = (st.vx.scalar_type() == at::kFloat ? solve_poisson<float>(div, dx) : solve_neumann_poisson(div, dx))
               .to(st.vx.device(), st.vx.scalar_type());
  State out{st.s, st.vx.clone(), st.vy.clone()};
  out.vx.narrow(2, 1, n - 1).sub_((p.narrow(2, 1, n - 1) - p.narrow(2, 0, n - 1)) / dx);
  out.vy.narrow(1, 1, n - 1).sub_((p.narrow(1, 1, n - 1) - p.narrow(1, 0, n - 1)) / dx);
  zero_wall_columns(out.vx);
  zero_wall_rows(out.vy);
  return out;
}

namespace {
bool g_fused = true;
bool fused_ok(std::initializer_list<at::Tensor> ts) {
  if (!g_fused) return false;
  const auto t0 = ts.begin()->scalar_type();
  for (const auto& t : ts)
    if (!t.device().is_cpu() || t.scalar_type() != t0 || (t0 != at::kFloat && t0 != at::kDouble)) return false;
  return true;
}
}  // namespace

void use_fused_cpu_kernels(bool on) { g_fused = on; }

at::Tensor advect_smoke(const at::Tensor& s, const at::Tensor& vx, const at::Tensor& vy, double dt, double dx) {
  check_state(vx, vy);
  if (fused_ok({s, vx, vy})) {
    auto sc = s.contiguous(), uc = vx.contiguous(), vc = vy.contiguous();
    auto out = at::empty_like(sc);
    const int64_t B = s.size(0), n = s.size(1);
    if (s.scalar_type() == at::kFloat)
      detail::advect_smoke_cpu<float>(B, n, dx, dt, sc.data_ptr<float>(), uc.data_ptr<float>(), vc.data_ptr<float>(),
                                      out.data_ptr<float>(), at::get_num_threads());
    else
      detail::advect_smoke_cpu<double>(B, n, dx, dt, sc.data_ptr<double>(), uc.data_ptr<double>(), vc.data_ptr<double>(),
                                       out.data_ptr<double>(), at::get_num_threads());
    return out;
  }
  const int64_t n = s.size(1);
  auto uc = (vx.narrow(2, 0, n) + vx.narrow(2, 1, n)) / 2, vc = (vy.narrow(1, 0, n) + vy.narrow(1, 1, n)) / 2;
  auto [X, Y] = points(s, 0.5 * dx, 0.5 * dx, dx);
  return sample(s, 0.5 * dx, 0.5 * dx, dx, X - dt * uc, Y - dt * vc, /*border*/ true);
}

State advect_velocity(const State& st, double dt, double dx) {
  check_state(st.vx, st.vy);
  if (fused_ok({st.vx, st.vy})) {
    auto uc = st.vx.contiguous(), vc = st.vy.contiguous();
    State out{st.s, at::empty_like(uc), at::empty_like(vc)};
    const int64_t B = uc.size(0), n = uc.size(1);
    if (uc.scalar_type() == at::kFloat)
      detail::advect_velocity_cpu<float>(B, n, dx, dt, uc.data_ptr<float>(), vc.data_ptr<float>(), out.vx.data_ptr<float>(),
                                         out.vy.data_ptr<float>(), at::get_num_threads());
    else
      detail::advect_velocity_cpu<double>(B, n, dx, dt, uc.data_ptr<double>(), vc.data_ptr<double>(), out.vx.data_ptr<double>(),
                                          out.vy.data_ptr<double>(), at::get_num_threads());
    return out;
  }
  // vx faces: (i dx, (j + 1/2) dx); vy faces: ((i + 1/2) dx, j dx).
  auto [Xu, Yu] = points(st.vx, 0.0, 0.5 * dx, dx);
  auto [Xv, Yv] = points(st.vy, 0.5 * dx, 0.0, dx);
  // The other component at a face: the mean of its 4 nearest faces — bilinear interpolation exactly, as
  // the face lies at their centre — with zeros outside the box.
  const int64_t n = st.vx.size(1);
  auto vyp = at::constant_pad_nd(st.vy, {1, 1}, 0);        // (B, n + 1, n + 2)
  auto v_at_u = (vyp.narrow(1, 0, n).narrow(2, 0, n + 1) + vyp.narrow(1, 0, n).narrow(2, 1, n + 1) +
                 vyp.narrow(1, 1, n).narrow(2, 0, n + 1) + vyp.narrow(1, 1, n).narrow(2, 1, n + 1)) / 4;
  auto vxp = at::constant_pad_nd(st.vx, {0, 0, 1, 1}, 0);  // (B, n + 2, n + 1)
  auto u_at_v = (vxp.narrow(1, 0, n + 1).narrow(2, 0, n) + vxp.narrow(1, 0, n + 1).narrow(2, 1, n) +
                 vxp.narrow(1, 1, n + 1).narrow(2, 0, n) + vxp.narrow(1, 1, n + 1).narrow(2, 1, n)) / 4;
  State out{st.s, sample(st.vx, 0.0, 0.5 * dx, dx, Xu - dt * st.vx, Yu - dt * v_at_u, false),
            sample(st.vy, 0.5 * dx, 0.0, dx, Xv - dt * u_at_v, Yv - dt * st.vy, false)};
  zero_wall_columns(out.vx);
  zero_wall_rows(out.vy);
  return out;
}

State diffuse(const State& st, double nu, double dt, double dx) {
  check_state(st.vx, st.vy);
  State out{st.s, st.vx + nu * dt * laplacian_zero_outside(st.vx, dx), st.vy + nu * dt * laplacian_zero_outside(st.vy, dx)};
  zero_wall_columns(out.vx);
  zero_wall_rows(out.vy);
  return out;
}

namespace {
// The whole step per trajectory in the fused CPU kernel (ns2d_kernels.h); the tensor path below is the
// reference (tests compare them) and the GPU path. The transforms run on plans made here under FFTW's
// planner lock, executed concurrently on each worker's own arrays (new-array execute is thread safe).
template <typename T>
void step_fused_t(const at::Tensor& s, const at::Tensor& vx, const at::Tensor& vy, const at::Tensor& b, const StepOptions& o,
                  double dx, State& out) {
  const int64_t B = s.size(0), n = s.size(1);
  const DctPlans<T> plans(n);
  detail::step_cpu<T>(B, n, dx, o.dt, o.nu, s.template data_ptr<T>(), vx.template data_ptr<T>(), vy.template data_ptr<T>(), b.template data_ptr<double>(),
                      out.s.template data_ptr<T>(), out.vx.template data_ptr<T>(), out.vy.template data_ptr<T>(), plans.forward(), plans.inverse(),
                      at::get_num_threads());
}

State step_fused(const State& st, const at::Tensor& buoyancy, const StepOptions& o, double dx) {
  auto s = st.s.contiguous(), vx = st.vx.contiguous(), vy = st.vy.contiguous();
  auto b = buoyancy.to(at::kCPU, at::kDouble).contiguous();
  if (b.numel() != s.size(0)) throw std::invalid_argument("ns2d: one buoyancy per trajectory");
  State out{at::empty_like(s), at::empty_like(vx), at::empty_like(vy)};
  if (s.scalar_type() == at::kFloat) step_fused_t<float>(s, vx, vy, b, o, dx, out);
  else step_fused_t<double>(s, vx, vy, b, o, dx, out);
  return out;
}
}  // namespace

State step(const State& st, const at::Tensor& buoyancy, const StepOptions& o, const Grid& g) {
  const double dx = g.dx();
  if (!(o.dt > 0) || !(o.nu >= 0)) throw std::invalid_argument("ns2d: dt must be positive and nu non-negative");
  if (st.s.dim() != 3 || st.s.size(1) != g.n || st.s.size(2) != g.n) throw std::invalid_argument("ns2d: smoke must be (B, n, n)");
  const int64_t n = g.n;
  check_state(st.vx, st.vy);
  if (st.vx.size(1) != n) throw std::invalid_argument("ns2d: the velocities do not match the grid");
  if (fused_ok({st.s, st.vx, st.vy}) && n >= 2) return step_fused(st, buoyancy, o, dx);
  State x = st;
  x.s = advect_smoke(st.s, st.vx, st.vy, o.dt, dx);                           // 1
  // 2: the buoyancy force at the horizontal faces from the advected smoke (zero-gradient at the walls).
  auto sp = at::cat({x.s.narrow(1, 0, 1), x.s, x.s.narrow(1, n - 1, 1)}, 1);  // (B, n + 2, n)
  auto s_faces = (sp.narrow(1, 0, n + 1) + sp.narrow(1, 1, n + 1)) / 2;        // (B, n + 1, n)
  auto b = buoyancy.to(st.vy.options()).view({-1, 1, 1});
  x = advect_velocity(x, o.dt, dx);                                            // 3
  x.vy = zero_wall_rows(x.vy + o.dt * b * s_faces);
  x = diffuse(x, o.nu, o.dt, dx);                                              // 4
  return project(x, dx);                                                       // 5
}

at::Tensor smoke_noise(int64_t n, double length, double scale, double smoothness, uint64_t seed) {
  if (n < 4) throw std::invalid_argument("ns2d: the grid needs at least 4 cells per side");
  Rng r(seed, 0x5A0CE, 0);
  auto re = at::empty({n, n}, at::kDouble), im = at::empty({n, n}, at::kDouble);
  double* pr = re.data_ptr<double>();
  double* pi = im.data_ptr<double>();
  for (int64_t i = 0; i < n * n; ++i) {  // Box–Muller: two standard normals per cell
    const double u1 = std::max(r.uniform(), 1e-300), u2 = r.uniform();
    const double rad = std::sqrt(-2 * std::log(u1));
    pr[i] = rad * std::cos(2 * M_PI * u2);
    pi[i] = rad * std::sin(2 * M_PI * u2);
  }
  auto k = at::fft_fftfreq(n, 1.0, at::TensorOptions().dtype(at::kDouble)) * (double(n) / length);
  auto kappa = (k.view({n, 1}).pow(2) + k.view({1, n}).pow(2)) * (scale * scale);
  auto amp = at::where(kappa > 0.1, kappa.clamp_min(1e-12).pow(-smoothness), at::zeros_like(kappa));
  auto spec = at::complex(re * amp, im * amp);
  auto field = at::real(at::fft_ifft2(spec));
  field = field / field.std();
  return field - field.mean();
}

}  // namespace jess::pde::ns2d
