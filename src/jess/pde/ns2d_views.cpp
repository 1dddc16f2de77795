// Navier–Stokes SSL data: fields at the cell centres, standardisation, symmetry views (ns2d_views.h).
#include "jess/pde/ns2d_views.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

#include "jess/core/config.h"
#include "jess/core/hdf5_file.h"
#include "jess/core/rng.h"

namespace jess::pde::ns2d {

at::Tensor FieldStats::tensor() const { return at::tensor({smoke_mean, smoke_std, velocity_rms}, at::kDouble); }

FieldStats FieldStats::from(const at::Tensor& t) {
  auto c = t.to(at::kDouble).contiguous();
  if (c.numel() != 3) throw std::invalid_argument("ns2d field statistics must hold 3 numbers");
  const double* p = c.data_ptr<double>();
  return {p[0], p[1], p[2]};
}

namespace {

void require_ns2d(const H5Reader& r, const std::string& path, const std::string& split) {
  if (!r.has_attr("/", "equation") || r.attr_string("/", "equation") != "ns2d")
    throw std::invalid_argument("'" + path + "' is not an ns2d dataset (`jess pde generate equation=ns2d`)");
  if (!r.exists("/" + split + "/u")) throw std::invalid_argument("'" + path + "' has no split '" + split + "'");
}

}  // namespace

int64_t split_size(const std::string& path, const std::string& split) {
  H5Reader r(path);
  require_ns2d(r, path, split);
  return int64_t(r.shape("/" + split + "/u")[0]);
}

Fields load_fields(const std::string& path, const std::string& split, int64_t limit, int64_t pool, FieldStats* stats,
                   bool compute_stats) {
  H5Reader r(path);
  require_ns2d(r, path, split);
  const std::string g = "/" + split;
  const auto shape = r.shape(g + "/u");
  const int64_t N = limit > 0 ? std::min<int64_t>(limit, int64_t(shape[0])) : int64_t(shape[0]);
  const int64_t T = int64_t(shape[1]), n = int64_t(shape[2]);
  if (pool < 1 || n % pool != 0)
    throw std::invalid_argument("pool " + std::to_string(pool) + " must divide the grid's " + std::to_string(n) + " cells");
  const int64_t S = n / pool;
  Fields f;
  f.x = at::empty({N, 3, T, S, S}, at::kFloat);
  const int64_t chunk = 8;
  for (int64_t i0 = 0; i0 < N; i0 += chunk) {
    const int64_t m = std::min(chunk, N - i0);
    auto read = [&](const char* name) {
      auto v = r.read_rows(g + "/" + name, uint64_t(i0), uint64_t(m));
      return at::from_blob(v.data(), {m, T, n, n}, at::kDouble).to(at::kFloat);
    };
    auto s = read("u");
    // vx is stored on the left faces x = i dx; the right wall's face (zero in the closed box) is cropped.
    auto vx = read("vx");
    auto vx_c = 0.5 * (vx + at::constant_pad_nd(vx, {0, 1}).narrow(3, 1, n));
    auto vy = read("vy");
    auto vy_c = 0.5 * (vy + at::constant_pad_nd(vy, {0, 0, 0, 1}).narrow(2, 1, n));
    auto stack = at::stack({s, vx_c, vy_c}, 1);  // (m, 3, T, n, n)
    if (pool > 1) stack = at::avg_pool2d(stack.view({m * 3 * T, 1, n, n}), {pool, pool}).view({m, 3, T, S, S});
    f.x.narrow(0, i0, m).copy_(stack);
  }
  if (!at::isfinite(f.x).all().item<bool>()) {  // name the first bad trajectory, not just the file
    const auto bad = at::logical_not(at::isfinite(f.x)).view({f.x.size(0), -1}).any(1).nonzero();
    throw std::invalid_argument("'" + path + "' split '" + split + "': trajectory " + std::to_string(bad[0][0].item<int64_t>()) +
                                " (of " + std::to_string(bad.size(0)) + " bad ones) holds non-finite field values; "
                                "repair or drop it (e.g. regenerate the file)");
  }
  auto b = r.read_f64(g + "/buo_y");
  f.buoyancy = at::tensor(std::vector<double>(b.begin(), b.begin() + N), at::kDouble);
  f.dx = r.read_f64(g + "/dx").at(0) * double(pool);
  f.dt = r.read_f64(g + "/dt").at(0);
  if (compute_stats) {
    auto smoke = f.x.select(1, 0).to(at::kDouble);
    stats->smoke_mean = smoke.mean().item<double>();
    stats->smoke_std = std::max(smoke.std().item<double>(), 1e-12);
    stats->velocity_rms = std::max(f.x.narrow(1, 1, 2).to(at::kDouble).pow(2).mean().sqrt().item<double>(), 1e-12);
  }
  f.velocity_rms = stats->velocity_rms;
  f.x.select(1, 0).sub_(stats->smoke_mean).div_(stats->smoke_std);
  f.x.narrow(1, 1, 2).div_(stats->velocity_rms);
  return f;
}

void ViewOptions::describe(ConfigSchema& s, const std::string& p) {
  s.add(p + "crop_t", crop_t, "frames per view (a random window: time translation)", check::int_at_least(2));
  s.add(p + "crop", crop, "side of the view's square in (pooled) cells at a random position in the box (0: the whole box)",
        check::int_at_least(0));
  s.add(p + "rotation", rotation, "rotation angle ~ U(-r, r) radians (the vertical buoyancy breaks it)", check::non_negative());
  s.add(p + "boost", boost, "linear boosts beta_x, beta_y ~ U(-s, s) in units of the velocity's rms", check::non_negative());
  s.add(p + "quad_boost", quad_boost, "quadratic boosts: 2 q t at the window's end ~ U(-s, s) velocity rms",
        check::non_negative());
  s.add(p + "scaling", scaling, "log lambda ~ U(-s, s) (changes the buoyancy b -> b / lambda^3: label-changing)",
        check::non_negative());
}

void ViewOptions::validate(int64_t frames, int64_t side) const {
  if (crop_t > frames)
    throw ConfigError("config key 'augment.crop_t': " + std::to_string(crop_t) + " frames, but trajectories have " +
                      std::to_string(frames));
  if (crop > side)
    throw ConfigError("config key 'augment.crop': " + std::to_string(crop) + " cells, but the (pooled) box has " +
                      std::to_string(side));
  if (scaling > 0 && double(crop_t - 1) * std::exp(2 * scaling) > double(frames - 1))
    throw ConfigError("config key 'augment.scaling': the slowest scaling needs more than the trajectory's frames");
}

ViewDraw draw_view(const Fields& f, const ViewOptions& o, Rng& rng) {
  const int64_t T = f.x.size(2), S = f.x.size(3);
  const int64_t C = o.crop > 0 ? o.crop : S;
  ViewDraw d;
  d.log_lambda = o.scaling > 0 ? rng.uniform(-o.scaling, o.scaling) : 0.0;
  d.theta = o.rotation > 0 ? rng.uniform(-o.rotation, o.rotation) : 0.0;
  d.bx = o.boost > 0 ? rng.uniform(-o.boost, o.boost) : 0.0;
  d.by = o.boost > 0 ? rng.uniform(-o.boost, o.boost) : 0.0;
  d.qx = o.quad_boost > 0 ? rng.uniform(-o.quad_boost, o.quad_boost) : 0.0;
  d.qy = o.quad_boost > 0 ? rng.uniform(-o.quad_boost, o.quad_boost) : 0.0;
  d.t0 = rng.integer(0, T - frames_needed(o.crop_t, d.log_lambda, T));
  // The square's centre (cells): uniform over the positions that keep the untransformed square inside.
  const double half = 0.5 * double(C);
  d.cx = C < S ? rng.uniform(half, double(S) - half) : 0.5 * double(S);
  d.cy = C < S ? rng.uniform(half, double(S) - half) : 0.5 * double(S);
  return d;
}

int64_t frames_needed(int64_t crop_t, double log_lambda, int64_t frames) {
  // Source frames t0 + tau / lambda^2, tau = 0..crop_t-1.
  const double span = double(crop_t - 1) * std::exp(-2 * log_lambda);
  return std::min<int64_t>(frames, int64_t(std::ceil(span - 1e-9)) + 1);
}

at::Tensor apply_view(const Fields& f, int64_t row, const ViewOptions& o, const ViewDraw& d) {
  const int64_t T = f.x.size(2), S = f.x.size(3);
  const int64_t C = o.crop > 0 ? o.crop : S;
  const double lambda = std::exp(d.log_lambda);
  const int64_t need = frames_needed(o.crop_t, d.log_lambda, T);
  const int64_t t0 = d.t0;
  const double half = 0.5 * double(C), cx = d.cx, cy = d.cy;
  const double bx = d.bx, by = d.by, qx = d.qx, qy = d.qy;
  const double window = double(o.crop_t - 1) * f.dt;  // physical duration of the view
  const double rms_cells_per_time = f.velocity_rms / f.dx;  // a velocity of beta rms moves beta rms t / dx cells
  const double cs = std::cos(d.theta), sn = std::sin(d.theta);

  // Sampling grid (1, crop_t, C, C, 3) of (x, y, t) in grid_sample's normalised coordinates
  // (align_corners = false: cell j's centre is (2 j + 1) / size - 1).
  auto grid = at::empty({1, o.crop_t, C, C, 3}, at::kFloat);
  auto g = grid.accessor<float, 5>();
  std::vector<double> shift_x(size_t(o.crop_t)), shift_y(size_t(o.crop_t));
  for (int64_t tau = 0; tau < o.crop_t; ++tau) {
    const double t = double(tau) * f.dt;
    const double qt = window > 0 ? t * t / window : 0.0;  // q t^2 with q in rms / (2 window): 2 q t = rms at t = window
    shift_x[size_t(tau)] = (bx * t + 0.5 * qx * qt) * rms_cells_per_time;
    shift_y[size_t(tau)] = (by * t + 0.5 * qy * qt) * rms_cells_per_time;
    const double ts = double(tau) / (lambda * lambda);  // source frame relative to t0
    const float tn = float((2.0 * ts + 1.0) / double(need) - 1.0);
    for (int64_t i = 0; i < C; ++i)
      for (int64_t j = 0; j < C; ++j) {
        // p: offset from the square's centre (cells, y down the rows), less the boosts' displacement.
        const double px = (double(j) + 0.5 - half) - shift_x[size_t(tau)];
        const double py = (double(i) + 0.5 - half) - shift_y[size_t(tau)];
        const double sx = cx + (cs * px + sn * py) / lambda;  // R^-1 p / lambda
        const double sy = cy + (-sn * px + cs * py) / lambda;
        g[0][tau][i][j][0] = float(2.0 * sx / double(S) - 1.0);
        g[0][tau][i][j][1] = float(2.0 * sy / double(S) - 1.0);
        g[0][tau][i][j][2] = tn;
      }
  }
  auto src = f.x.select(0, row).narrow(1, t0, need).unsqueeze(0);  // (1, 3, need, S, S)
  auto v = at::grid_sampler(src, grid, /*bilinear*/ 0, /*border*/ 1, /*align_corners=*/false).squeeze(0);
  // Velocity values: R v / lambda + beta + 2 q t (in rms units).
  auto vx = v.select(0, 1).clone(), vy = v.select(0, 2).clone();
  v.select(0, 1).copy_((cs * vx - sn * vy) / lambda);
  v.select(0, 2).copy_((sn * vx + cs * vy) / lambda);
  if (bx != 0 || by != 0 || qx != 0 || qy != 0) {
    auto tt = at::arange(o.crop_t, at::kDouble) * f.dt;
    auto ramp = window > 0 ? tt / window : at::zeros_like(tt);  // 2 q t in rms units = q_s * t / window
    auto add_x = (bx + qx * ramp).to(at::kFloat).view({o.crop_t, 1, 1});
    auto add_y = (by + qy * ramp).to(at::kFloat).view({o.crop_t, 1, 1});
    v.select(0, 1).add_(add_x);
    v.select(0, 2).add_(add_y);
  }
  return v;
}

std::pair<at::Tensor, at::Tensor> make_views(const Fields& f, const std::vector<int64_t>& rows, const ViewOptions& o,
                                             uint64_t seed, uint64_t draw_index, bool single) {
  std::vector<at::Tensor> a, b;
  for (size_t k = 0; k < rows.size(); ++k) {
    Rng r1(seed, 0xA5201ull, draw_index + k);
    a.push_back(apply_view(f, rows[k], o, draw_view(f, o, r1)));
    if (!single) {
      Rng r2(seed, 0xA5202ull, draw_index + k);
      b.push_back(apply_view(f, rows[k], o, draw_view(f, o, r2)));
    }
  }
  return {at::stack(a), single ? at::Tensor() : at::stack(b)};
}

at::Tensor eval_window(const Fields& f, int64_t first, int64_t m, int64_t crop_t, int64_t k, int64_t windows) {
  const int64_t T = f.x.size(2);
  const int64_t t0 = windows > 1 ? (k * (T - crop_t)) / (windows - 1) : 0;
  return f.x.narrow(0, first, m).narrow(2, t0, crop_t);
}

}  // namespace jess::pde::ns2d
