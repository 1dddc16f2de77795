#include "jess/pde/views.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <sstream>

#include "jess/core/hdf5_file.h"
#include "jess/core/plot.h"
#include "jess/core/rng.h"

namespace jess::pde {

GridBatch load_split(const std::string& path, const std::string& split, Equation* equation) {
  H5Reader r(path);
  const std::string g = "/" + split;
  if (!r.exists(g)) throw std::invalid_argument(path + " has no split '" + split + "'");
  std::string dn;
  for (const auto& c : r.children(g))
    if (c.rfind("pde_", 0) == 0) dn = c;
  if (dn.empty()) throw std::invalid_argument(path + ": split '" + split + "' holds no pde_* dataset");
  auto shape = r.shape(g + "/" + dn);
  if (shape.size() != 3) throw std::invalid_argument(path + ": " + dn + " is not (N, nt, nx)");
  const int64_t n = int64_t(shape[0]), nt = int64_t(shape[1]), nx = int64_t(shape[2]);
  GridBatch b;
  b.u = at::empty({n, nt, nx}, at::kFloat);
  float* dst = b.u.data_ptr<float>();
  for (int64_t i = 0; i < n; i += 256) {  // bounded temporary memory
    const int64_t m = std::min<int64_t>(256, n - i);
    auto rows = r.read_rows(g + "/" + dn, uint64_t(i), uint64_t(m));
    for (size_t k = 0; k < rows.size(); ++k) {
      // A NaN/Inf in the data would train a NaN model far from its cause: name the trajectory instead.
      if (!std::isfinite(rows[k])) {
        const int64_t at = int64_t(k), traj = i + at / (nt * nx), t = (at / nx) % nt, x = at % nx;
        throw std::invalid_argument(path + ": split '" + split + "', " + dn + " trajectory " + std::to_string(traj) +
                                    " holds a non-finite value (" + std::to_string(rows[k]) + ") at time step " +
                                    std::to_string(t) + ", point " + std::to_string(x) +
                                    "; repair or drop that trajectory (e.g. regenerate the file)");
      }
      dst[size_t(i * nt * nx) + k] = float(rows[k]);
    }
  }
  auto vec = [&](const std::string& name, double fallback) {
    if (!r.exists(g + "/" + name)) return at::full({n}, fallback, at::kDouble);
    auto v = r.read_f64(g + "/" + name);
    return at::tensor(v, at::kDouble);
  };
  b.dx = vec("dx", 1.0);
  b.dt = vec("dt", 1.0);
  b.nu = vec("nu", 1.0);
  if (equation) *equation = parse_equation(r.has_attr("/", "equation") ? r.attr_string("/", "equation") : "kdv");
  return b;
}

ViewBatch make_views(Equation eq, const GridBatch& t, const AugmentOptions& o, uint64_t seed, uint64_t stream,
                     bool single_view, int64_t first) {
  const int64_t B = t.u.size(0);
  // Trajectories stay in their storage precision here; each chunk is converted to float64 by the
  // symmetry code (a whole-batch float64 copy is ~70 MiB, above the mmap threshold).
  const GridBatch& d = t;
  ViewBatch out;
  // Both views in one call: element v acts on trajectory v % B, so each trajectory's row spectra are
  // computed once for its two views.
  auto elements = sample_elements(o, B, seed, 2 * stream, first);
  if (single_view) {
    auto v = apply_symmetries(eq, d, elements, o.crop_t, o.crop_x, /*single_precision=*/true);
    out.view1 = v.u;
    out.dx1 = v.dx, out.dt1 = v.dt;
    return out;
  }
  auto e2 = sample_elements(o, B, seed, 2 * stream + 1, first);
  elements.insert(elements.end(), e2.begin(), e2.end());
  auto v = apply_symmetries(eq, d, elements, o.crop_t, o.crop_x, /*single_precision=*/true);
  auto u = v.u;
  out.view1 = u.slice(0, 0, B);
  out.view2 = u.slice(0, B, 2 * B);
  out.dx1 = v.dx.slice(0, 0, B), out.dt1 = v.dt.slice(0, 0, B);
  out.dx2 = v.dx.slice(0, B, 2 * B), out.dt2 = v.dt.slice(0, B, 2 * B);
  return out;
}

double velocity_scale(const GridBatch& t) { return std::max(1e-12, t.u.to(at::kDouble).std().item<double>()); }

PdeViewLoader::PdeViewLoader(GridBatch data, Equation eq, ViewLoaderOptions options)
    : data_(std::move(data)), eq_(eq), options_(std::move(options)) {
  if (options_.prefetch < 0) throw std::invalid_argument("prefetch must be >= 0 (0: batches made by next())");
  if (options_.batch < 1 || options_.batch > data_.u.size(0))
    throw std::invalid_argument("batch size " + std::to_string(options_.batch) + " must be in [1, " +
                                std::to_string(data_.u.size(0)) + "] (trajectories in the split)");
  options_.augment.resolve();
  if (options_.augment.velocity_scale <= 0) options_.augment.velocity_scale = velocity_scale(data_);
  next_epoch_ = options_.start_epoch;
  next_step_ = options_.start_step;
  if (options_.prefetch > 0) worker_ = std::thread([this] { run(); });
}

PdeViewLoader::~PdeViewLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

int64_t PdeViewLoader::steps_per_epoch() const { return data_.u.size(0) / options_.batch; }

ViewBatch PdeViewLoader::produce(int64_t epoch, int64_t step) {
  const auto t0 = std::chrono::steady_clock::now();
  // The epoch's order is a seeded permutation (Fisher-Yates with the counter-seeded generator).
  const int64_t n = data_.u.size(0);
  const auto order = seeded_permutation(n, options_.seed, 0xE90C4ull, uint64_t(epoch));
  const int64_t first = options_.shard_size > 0 ? options_.shard_begin : 0;
  const int64_t rows = options_.shard_size > 0 ? options_.shard_size : options_.batch;
  auto idx = at::tensor(std::vector<int64_t>(order.begin() + step * options_.batch + first,
                                             order.begin() + step * options_.batch + first + rows),
                        at::kLong);
  GridBatch b{data_.u.index_select(0, idx), data_.dx.index_select(0, idx), data_.dt.index_select(0, idx),
              data_.nu.index_select(0, idx)};
  ViewBatch v = make_views(eq_, b, options_.augment, options_.seed, uint64_t(epoch) * 1000003ull + uint64_t(step),
                           options_.single_view, first);
  v.index = idx;
  v.epoch = epoch;
  v.step = step;
  v.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return v;
}

void PdeViewLoader::run() {
  try {
    for (int64_t epoch = options_.start_epoch;; ++epoch)
      for (int64_t step = epoch == options_.start_epoch ? options_.start_step : 0; step < steps_per_epoch(); ++step) {
        {
          std::unique_lock<std::mutex> lock(mutex_);
          cv_.wait(lock, [&] { return stop_ || int64_t(queue_.size()) < options_.prefetch; });
          if (stop_) return;
        }
        ViewBatch v = produce(epoch, step);
        {
          std::lock_guard<std::mutex> lock(mutex_);
          queue_.push_back(std::move(v));
        }
        cv_.notify_all();
      }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
    cv_.notify_all();
  }
}

ViewBatch PdeViewLoader::next() {
  if (options_.prefetch == 0) {  // inline: made by the caller, with every thread, between its steps
    if (next_step_ >= steps_per_epoch()) ++next_epoch_, next_step_ = 0;
    return produce(next_epoch_, next_step_++);
  }
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return !queue_.empty() || error_; });
  if (queue_.empty() && error_) std::rethrow_exception(error_);
  ViewBatch v = std::move(queue_.front());
  queue_.pop_front();
  lock.unlock();
  cv_.notify_all();
  return v;
}

std::string show_augmentations(const std::string& path, const std::string& split, int64_t index,
                               const AugmentOptions& options, uint64_t seed, const std::string& out_path) {
  Equation eq;
  GridBatch all = load_split(path, split, &eq);
  if (index < 0 || index >= all.u.size(0))
    throw std::invalid_argument("trajectory index " + std::to_string(index) + " is outside the split (" +
                                std::to_string(all.u.size(0)) + " trajectories)");
  AugmentOptions o = options;
  o.equation = equation_name(eq);
  o.resolve();
  if (o.velocity_scale <= 0) o.velocity_scale = velocity_scale(all);
  auto sel = at::tensor({index}, at::kLong);
  GridBatch one{all.u.index_select(0, sel).to(at::kDouble), all.dx.index_select(0, sel), all.dt.index_select(0, sel),
                all.nu.index_select(0, sel)};
  const int64_t nt = one.u.size(1), nx = one.u.size(2);
  const int64_t ct = o.crop_t > 0 ? std::min(o.crop_t, nt) : nt / 2, cx = o.crop_x > 0 ? std::min(o.crop_x, nx) : nx / 2;
  std::vector<plot::Heatmap> panels;
  auto add = [&](const Views& v, const std::string& title) {
    plot::Heatmap h;
    h.rows = v.u.size(1);
    h.cols = v.u.size(2);
    auto c = v.u[0].contiguous();
    h.values.assign(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
    h.x_max = v.dx.item<double>() * double(h.cols);
    h.y_max = v.dt.item<double>() * double(h.rows - 1);
    h.title = title;
    panels.push_back(std::move(h));
  };
  auto elem = [](std::vector<Factor> f) {
    GroupElement e;
    e.factors = std::move(f);
    e.crop_t_fraction = 0.5;
    e.crop_x_fraction = 0;
    return e;
  };
  add(apply_symmetries(eq, one, {elem({})}, nt, nx), "original (" + std::to_string(nt) + "x" + std::to_string(nx) + ")");
  for (Generator g : symmetry_generators(eq)) {
    double s = g == Generator::x_shift ? o.x_shift : g == Generator::galilean ? o.galilean
             : g == Generator::scaling ? o.scaling : g == Generator::projective ? o.projective
             : g == Generator::psi_scaling ? o.psi_scaling : g == Generator::heat_galilean ? o.heat_galilean
             : o.superposition;
    if (s <= 0) continue;
    for (double e : {-s, s}) {
      if (g == Generator::superposition && e < 0) continue;
      // The Galilean strength is a fraction of std(u): the panel applies (and names) the absolute boost.
      const double applied = g == Generator::galilean ? e * o.velocity_scale : e;
      Factor f{g, applied, g == Generator::superposition && eq == Equation::burgers ? 0.37 : 2.0, 0.4};
      std::ostringstream t;
      t.precision(3);
      t << generator_name(g) << " e=" << e;
      if (g == Generator::galilean) t << " std(u) = " << applied;
      try {
        add(apply_symmetries(eq, one, {elem({f})}, ct, cx), t.str());
      } catch (const std::invalid_argument&) {
        // A strength whose view does not fit inside the data is skipped in the picture.
      }
    }
  }
  auto composed = sample_elements(o, 3, seed, 7);
  for (int k = 0; k < 3; ++k) {
    Views v = apply_symmetries(eq, one, {composed[size_t(k)]}, ct, cx);
    add(v, "composed view " + std::to_string(k + 1));
  }
  plot::HeatmapOptions ho;
  ho.title = equation_name(eq) + " trajectory " + std::to_string(index) + ": Lie point symmetry views (" +
             o.splitting + ", " + std::to_string(o.steps) + " steps)";
  ho.columns = 4;
  ho.panel_width = 240;
  ho.panel_height = 180;
  std::string out = out_path;
  if (out.empty()) {
    out = path;
    if (out.size() > 3 && out.substr(out.size() - 3) == ".h5") out.resize(out.size() - 3);
    out += ".augment.png";
  }
  plot::heatmaps(panels, ho, out);
  return out;
}

}  // namespace jess::pde
