// `jess pde generate equation=ns2d`: batched smoke trajectories into HDF5 (ns2d.h).
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "jess/core/config.h"
#include "jess/core/hdf5_file.h"
#include "jess/core/plot.h"
#include "jess/core/progress.h"
#include "jess/core/rng.h"
#include "jess/pde/dataset.h"
#include "jess/pde/ns2d.h"

namespace jess::pde::ns2d {

void GenerateOptions::describe(ConfigSchema& s) {
  s.add("equation", equation, "ns2d (2-D Navier-Stokes with buoyancy-driven smoke)", check::one_of({"ns2d"}));
  s.add("seed", seed, "seed: a trajectory depends only on (seed, split, index)", check::int_at_least(0));
  s.add("n_train", n_train, "train trajectories", check::int_at_least(0));
  s.add("n_valid", n_valid, "valid trajectories", check::int_at_least(0));
  s.add("n_test", n_test, "test trajectories", check::int_at_least(0));
  s.add("n", n, "cells per side (even, >= 8; PDEArena: 128)", check::int_at_least(8));
  s.add("length", length, "box side (PDEArena: 32)", check::positive());
  s.add("dt", dt, "time step (PDEArena: 1.5)", check::positive());
  s.add("nu", nu, "kinematic viscosity (PDEArena: 0.01)", check::non_negative());
  s.add("steps", steps, "simulated steps (PDEArena: 64)", check::positive_int());
  s.add("skip", skip, "first states dropped (PDEArena: 8)", check::int_at_least(0));
  s.add("buoyancy_min", buoyancy_min, "buoyancy b ~ U(min, max)", check::non_negative());
  s.add("buoyancy_max", buoyancy_max, "buoyancy b ~ U(min, max)", check::non_negative());
  s.add("noise_scale", noise_scale, "initial smoke: phiflow Noise scale (PDEArena: 11)", check::positive());
  s.add("noise_smoothness", noise_smoothness, "initial smoke: phiflow Noise smoothness (PDEArena: 6)", check::positive());
  s.add("precision", precision, "simulation dtype: float32 | float64 (stored as float32)", check::one_of({"float32", "float64"}));
  s.add("batch", batch, "trajectories simulated together", check::positive_int());
  s.add("shard_index", shard_index, "this shard (0-based)", check::int_at_least(0));
  s.add("shard_count", shard_count, "shards the splits are cut into", check::positive_int());
  s.add("compression", compression, "gzip level of the fields (0-9)", check::int_in(0, 9));
}

void GenerateOptions::resolve() {
  if (n % 2 != 0) throw ConfigError("config key 'n' must be even, got " + std::to_string(n));
  if (skip >= steps) throw ConfigError("config key 'skip' (" + std::to_string(skip) + ") must be below 'steps'");
  if (buoyancy_max < buoyancy_min) throw ConfigError("config key 'buoyancy_max' is below 'buoyancy_min'");
  if (shard_index >= shard_count) throw ConfigError("config key 'shard_index' must be below 'shard_count'");
  if (n_train + n_valid + n_test == 0) throw ConfigError("no trajectories: n_train, n_valid and n_test are all 0");
  const double h = length / double(n), r = nu * dt / (h * h);
  if (r > 0.25)
    throw ConfigError("explicit diffusion is unstable: nu dt / dx^2 = " + std::to_string(r) +
                      " > 1/4 (lower 'nu' or 'dt', or use fewer cells 'n'); PDEArena's setting gives 0.24");
  ConfigSchema s;
  describe(s);
  config_yaml = s.to_yaml();
}

namespace {
// The largest |value| of a float tensor, or NaN when any value is not finite: one pass, no temporary
// (the blow-up check of every batch; isfinite().all() and abs().max() cost 10 % of generation). Sixteen
// independent lanes so that the loop vectorises; p - p is 0 for a finite value and NaN otherwise.
double max_abs_or_nan(const at::Tensor& t) {
  const auto c = t.contiguous();
  const float* p = c.data_ptr<float>();
  const int64_t count = c.numel();
  constexpr int kLanes = 16;
  float largest[kLanes] = {}, poison[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const float a = std::fabs(p[i + j]);
      largest[j] = a > largest[j] ? a : largest[j];
      poison[j] += p[i + j] - p[i + j];
    }
  double m = 0, z = 0;
  for (; i < count; ++i) m = std::max(m, double(std::fabs(p[i]))), z += double(p[i]) - double(p[i]);
  for (int j = 0; j < kLanes; ++j) m = std::max(m, double(largest[j])), z += double(poison[j]);
  return m + z;
}
}  // namespace

GenerateSummary generate(const GenerateOptions& in, const std::string& path) {
  GenerateOptions o = in;
  o.resolve();
  const auto start = std::chrono::steady_clock::now();
  const int64_t n = o.n, frames = o.steps - o.skip;
  const double dx = o.length / double(n);
  const auto dtype = o.precision == "float64" ? at::kDouble : at::kFloat;
  Grid grid{n, o.length};
  StepOptions so{o.dt, o.nu};
  H5Writer w(path);
  w.attr("/", "equation", std::string("ns2d"));
  w.attr("/", "seed", o.seed);
  w.attr("/", "config", o.config_yaml);
  w.attr("/", "shard_index", o.shard_index);
  w.attr("/", "shard_count", o.shard_count);
  struct Split {
    const char* name;
    int64_t count;
    uint64_t stream;
  };
  const Split splits[] = {{"train", o.n_train, 1}, {"valid", o.n_valid, 2}, {"test", o.n_test, 3}};
  int64_t total = 0;
  for (const auto& sp : splits) total += (sp.count * (o.shard_index + 1)) / o.shard_count - (sp.count * o.shard_index) / o.shard_count;
  Progress bar("ns2d", total, "traj");
  GenerateSummary sum;
  for (const auto& sp : splits) {
    const int64_t first = (sp.count * o.shard_index) / o.shard_count, last = (sp.count * (o.shard_index + 1)) / o.shard_count;
    const int64_t N = last - first;
    const std::string g = std::string("/") + sp.name;
    w.create_group(g);
    w.attr(g, "first_index", first);
    w.attr(g, "total", sp.count);
    const uint64_t un = uint64_t(N), uf = uint64_t(frames), us = uint64_t(n);
    for (const char* f : {"u", "vx", "vy"}) w.create_f32(g + "/" + f, {un, uf, us, us}, int(o.compression));
    std::vector<double> t(static_cast<size_t>(N * frames)), x(static_cast<size_t>(N * n)), dts(static_cast<size_t>(N), o.dt),
        dxs(static_cast<size_t>(N), dx), buo(static_cast<size_t>(N));
    for (int64_t k = 0; k < N; ++k) {
      for (int64_t f = 0; f < frames; ++f) t[size_t(k * frames + f)] = o.dt * double(o.skip + f + 1);
      for (int64_t i = 0; i < n; ++i) x[size_t(k * n + i)] = (double(i) + 0.5) * dx;
    }
    at::Tensor U_all, VX_all, VY_all;
    for (int64_t b0 = 0; b0 < N; b0 += o.batch) {
      const int64_t B = std::min(o.batch, N - b0);
      std::vector<at::Tensor> s0;
      std::vector<double> b(static_cast<size_t>(B));
      for (int64_t k = 0; k < B; ++k) {
        const uint64_t index = uint64_t(first + b0 + k);
        Rng r(uint64_t(o.seed), 0xB0A + sp.stream, index);
        b[size_t(k)] = r.uniform(o.buoyancy_min, o.buoyancy_max);
        buo[size_t(b0 + k)] = b[size_t(k)];
        const uint64_t noise_seed = Rng::mix(Rng::mix(uint64_t(o.seed) ^ (sp.stream << 40)) ^ index);
        s0.push_back(smoke_noise(n, o.length, o.noise_scale, o.noise_smoothness, noise_seed).abs());
      }
      State st{at::stack(s0).to(dtype), at::zeros({B, n, n + 1}, dtype), at::zeros({B, n + 1, n}, dtype)};
      auto bt = at::tensor(b, at::kDouble).to(dtype);
      // The frame buffers are made once and reused (fresh 60 MB buffers per batch cost page faults).
      if (!U_all.defined()) U_all = at::empty({o.batch, frames, n, n}, at::kFloat), VX_all = at::empty_like(U_all), VY_all = at::empty_like(U_all);
      auto U = U_all.narrow(0, 0, B), VX = VX_all.narrow(0, 0, B), VY = VY_all.narrow(0, 0, B);
      for (int64_t k = 1; k <= o.steps; ++k) {
        st = step(st, bt, so, grid);
        if (k > o.skip) {
          const int64_t f = k - o.skip - 1;
          U.select(1, f).copy_(st.s);
          VX.select(1, f).copy_(st.vx.narrow(2, 0, n));  // the staggered arrays, last column / row cropped
          VY.select(1, f).copy_(st.vy.narrow(1, 0, n));
        }
      }
      // A velocity that crosses the box in one step is a blow-up, whether or not it overflowed yet.
      const double vx_max = max_abs_or_nan(VX), vy_max = max_abs_or_nan(VY);
      const double vmax = std::isnan(vx_max) ? vx_max : std::max(vx_max, vy_max);  // NaN when any is
      if (std::isnan(max_abs_or_nan(U)) || !(vmax * o.dt < o.length))
        throw std::runtime_error(std::string("ns2d: the ") + sp.name + " trajectories " + std::to_string(first + b0) + ".." +
                                 std::to_string(first + b0 + B - 1) + " blew up (non-finite values); lower dt or the buoyancy");
      w.write_rows(g + "/u", uint64_t(b0), uint64_t(B), U.contiguous().data_ptr<float>());
      w.write_rows(g + "/vx", uint64_t(b0), uint64_t(B), VX.contiguous().data_ptr<float>());
      w.write_rows(g + "/vy", uint64_t(b0), uint64_t(B), VY.contiguous().data_ptr<float>());
      bar.advance(B);
    }
    w.write_f64(g + "/t", {un, uf}, t.data());
    w.write_f64(g + "/x", {un, us}, x.data());
    w.write_f64(g + "/y", {un, us}, x.data());
    w.write_f64(g + "/dt", {un}, dts.data());
    w.write_f64(g + "/dx", {un}, dxs.data());
    w.write_f64(g + "/dy", {un}, dxs.data());
    w.write_f64(g + "/buo_y", {un}, buo.data());
    sum.trajectories += N;
  }
  bar.finish();
  w.commit();
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  sum.path = path;
  return sum;
}

void merge_shards(const std::vector<std::string>& shard_paths, const std::string& path) {
  auto shards = pde::open_shards(shard_paths);
  const H5Reader& r0 = *shards[0];
  const auto o = pde::unsharded_options<GenerateOptions>(r0);
  H5Writer w(path);  // the attributes and datasets in the order generate() writes them: the same bytes
  w.attr("/", "equation", std::string("ns2d"));
  w.attr("/", "seed", o.seed);
  w.attr("/", "config", o.config_yaml);
  w.attr("/", "shard_index", o.shard_index);
  w.attr("/", "shard_count", o.shard_count);
  for (const char* split : {"train", "valid", "test"}) {
    const std::string g = std::string("/") + split;
    const int64_t total = r0.attr_int(g, "total");
    const auto shape = r0.shape(g + "/u");
    const uint64_t frames = shape[1], n = shape[2];
    w.create_group(g);
    w.attr(g, "first_index", int64_t(0));
    w.attr(g, "total", total);
    for (const char* f : {"u", "vx", "vy"}) w.create_f32(g + "/" + f, {uint64_t(total), frames, n, n}, int(o.compression));
    std::map<std::string, std::vector<double>> rest;
    int64_t next = 0;
    for (auto& sh : shards) {
      if (sh->attr_int(g, "first_index") != next)
        throw std::invalid_argument(sh->path() + ": split " + split + " does not continue at trajectory " + std::to_string(next));
      const int64_t m = int64_t(sh->shape(g + "/u")[0]);
      for (int64_t i = 0; i < m; i += 8) {  // bounded memory
        const int64_t k = std::min<int64_t>(8, m - i);
        for (const char* f : {"u", "vx", "vy"}) {
          auto d = sh->read_rows(g + "/" + f, uint64_t(i), uint64_t(k));
          std::vector<float> fl(d.begin(), d.end());
          w.write_rows(g + "/" + f, uint64_t(next + i), uint64_t(k), fl.data());
        }
      }
      for (const char* f : {"t", "x", "y", "dt", "dx", "dy", "buo_y"}) {
        auto d = sh->read_f64(g + "/" + f);
        rest[f].insert(rest[f].end(), d.begin(), d.end());
      }
      next += m;
    }
    if (next != total) throw std::invalid_argument(std::string("split ") + split + ": the shards hold " + std::to_string(next) +
                                                   " of " + std::to_string(total) + " trajectories");
    const uint64_t N = uint64_t(total);
    w.write_f64(g + "/t", {N, frames}, rest["t"].data());
    w.write_f64(g + "/x", {N, n}, rest["x"].data());
    w.write_f64(g + "/y", {N, n}, rest["y"].data());
    for (const char* f : {"dt", "dx", "dy", "buo_y"}) w.write_f64(g + "/" + f, {N}, rest[f].data());
  }
  w.commit();
}

std::string plot_file(const std::string& h5_path, const std::string& split, int64_t count, int64_t frames,
                      const std::string& output) {
  H5Reader r(h5_path);
  const std::string g = "/" + split;
  if (!r.exists(g + "/u")) throw std::invalid_argument(h5_path + " has no ns2d split '" + split + "'");
  const auto shape = r.shape(g + "/u");
  const int64_t N = std::min<int64_t>(count, int64_t(shape[0])), T = int64_t(shape[1]), n = int64_t(shape[2]);
  if (N < 1) throw std::invalid_argument(h5_path + ": split '" + split + "' is empty");
  const int64_t F = std::max<int64_t>(1, std::min(frames, T));
  const auto u = r.read_rows(g + "/u", 0, uint64_t(N)), vx = r.read_rows(g + "/vx", 0, uint64_t(N)),
             vy = r.read_rows(g + "/vy", 0, uint64_t(N)), t = r.read_rows(g + "/t", 0, uint64_t(N)),
             b = r.read_rows(g + "/buo_y", 0, uint64_t(N)), dxs = r.read_rows(g + "/dx", 0, uint64_t(N));
  std::vector<plot::Heatmap> panels;
  for (int64_t i = 0; i < N; ++i) {
    const double dx = dxs[size_t(i)], L = dx * double(n);
    for (int kind = 0; kind < 2; ++kind)
      for (int64_t k = 0; k < F; ++k) {
        const int64_t f = F == 1 ? T - 1 : k * (T - 1) / (F - 1);
        const size_t base = size_t((i * T + f) * n * n);
        plot::Heatmap h;
        h.x_min = 0, h.x_max = L, h.y_min = 0, h.y_max = L;
        h.x_label = "x", h.y_label = "y";
        std::ostringstream title;
        title << (kind == 0 ? "smoke" : "vorticity") << "  b=" << std::setprecision(3) << b[size_t(i)] << "  t=" << t[size_t(i * T + f)];
        h.title = title.str();
        if (kind == 0) {
          h.rows = h.cols = n;
          h.values.assign(u.begin() + long(base), u.begin() + long(base + size_t(n * n)));
        } else {  // dvy/dx - dvx/dy at the inner cell corners
          h.rows = h.cols = n - 1;
          for (int64_t y = 0; y < n - 1; ++y)
            for (int64_t x = 0; x < n - 1; ++x) {
              const double dvy = vy[base + size_t(y * n + x + 1)] - vy[base + size_t(y * n + x)];
              const double dvx = vx[base + size_t((y + 1) * n + x)] - vx[base + size_t(y * n + x)];
              h.values.push_back((dvy - dvx) / dx);
            }
        }
        panels.push_back(std::move(h));
      }
  }
  plot::HeatmapOptions ho;
  ho.title = h5_path + " (" + split + "): smoke and vorticity frames";
  ho.columns = int(F);
  ho.colorbar_label = "";
  ho.panel_width = 230, ho.panel_height = 210;
  const std::string path = output.empty() ? h5_path + ".png" : output;
  plot::heatmaps(panels, ho, path);
  return path;
}

}  // namespace jess::pde::ns2d
