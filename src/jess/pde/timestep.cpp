#include "jess/pde/timestep.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <memory>
#include <numeric>
#include <sstream>

#include "jess/dist/dist.h"
#include "jess/core/config.h"
#include "jess/core/device.h"
#include "jess/core/files.h"
#include "jess/core/hdf5_file.h"
#include "jess/core/npy.h"
#include "jess/core/plot.h"
#include "jess/core/rng.h"
#include "jess/pde/neural_solvers.h"
#include "jess/pde/solvers.h"
#include "jess/pde/ssl.h"
#include "jess/pde/views.h"

namespace jess::pde {

// ------------------------------------------------------------------ configuration

TimestepOptions::TimestepOptions() {
  // LPSDA: AdamW, MultiStepLR at epochs [unrolling, 5, 10, 15] with gamma 0.4, 20 epochs, batch 16.
  // Its lr of 1e-4 goes with 2 nt passes over the data per epoch; at the CPU scale here (one window
  // per trajectory and epoch) 1e-3 reaches lower errors.
  train.epochs = 20;
  train.optimizer = "adamw";
  train.lr = 1e-3;
  train.weight_decay = 1e-2;  // torch.optim.AdamW's default, as in the reference
  train.schedule = "step";
  train.lr_milestones = "5,10,15";
  train.lr_gamma = 0.4;
}

void TimestepOptions::describe(ConfigSchema& s) {
  s.add("data", data, "HDF5 dataset written by `jess pde generate` (train and test splits; valid for monitoring)");
  s.add("equation", equation, "equation of the data (filled from the file; checked when given)");
  s.add("n_train", n_train, "training trajectories (0: the whole train split)", check::int_at_least(0));
  s.add("n_test", n_test, "test trajectories rolled out (0: all)", check::int_at_least(0));
  s.add("n_valid", n_valid, "valid-split trajectories rolled out after each epoch (0: none)", check::int_at_least(0));
  s.add("time_history", time_history, "input time steps of the solver", check::positive_int());
  s.add("time_future", time_future, "time steps predicted per solver call", check::positive_int());
  s.add("arch", arch, "cnn (8 residual circular convolutions) | resnet (1-D ResNet, 4 stages)",
        check::one_of({"cnn", "resnet"}));
  s.add("width", width, "hidden channels (0: the reference's, cnn 128 / resnet 256)", check::int_at_least(0));
  s.add("resnet_blocks", resnet_blocks, "resnet: BasicBlocks per stage", check::positive_int());
  s.add("condition", condition,
        "none (baseline) | ssl (frozen SSL representation of the input window) | coefficient (true nu / IC amplitudes: oracle)",
        check::one_of({"none", "ssl", "coefficient"}));
  s.add("injection", injection, "how the condition enters each block: add | film (scale and shift)",
        check::one_of({"add", "film"}));
  s.add("encoder", encoder, "pretraining checkpoint (`jess pde pretrain`) for condition=ssl");
  s.add("coefficient", coefficient, "condition=coefficient: auto | log_nu | ic_spectrum",
        check::one_of({"auto", "log_nu", "ic_spectrum"}));
  s.add("unrolling", unrolling,
        "push-forward: up to min(epoch, unrolling) no-grad solver calls before the trained one (drawn per batch)",
        check::int_at_least(0));
  s.add("batch", batch, "windows per batch", check::positive_int());
  s.add("windows_per_trajectory", windows_per_trajectory, "training windows per trajectory and epoch",
        check::positive());
  s.add("seed", seed, "seed of the initialisation and the window draws", check::int_at_least(0));
  s.add("bootstrap", bootstrap, "bootstrap resamples of the test trajectories", check::positive_int());
  s.add("save_rollout", save_rollout, "write the test rollouts as rollout.npy (N, steps, nx) float32");
  s.add("device", device, "auto (CUDA when available) | cpu | cuda", check::one_of({"auto", "cpu", "cuda"}));
  train.describe(s, "train.");
}

void TimestepOptions::resolve() {
  if (data.empty()) throw ConfigError("config key 'data': no dataset given (an HDF5 file from `jess pde generate`)");
  if (!file_exists(data)) throw ConfigError("config key 'data': '" + data + "' does not exist");
  std::string eq;
  {
    H5Reader r(data);
    if (!r.has_attr("/", "equation")) throw ConfigError("'" + data + "' has no 'equation' attribute (not a jess dataset?)");
    eq = r.attr_string("/", "equation");
    if (!r.exists("/test")) throw ConfigError("'" + data + "' has no test split to roll out on");
  }
  if (!equation.empty() && equation != eq)
    throw ConfigError("config key 'equation': " + equation + ", but '" + data + "' holds " + eq + " data");
  equation = eq;
  if (coefficient == "auto") coefficient = (eq == "burgers" || eq == "heat") ? "log_nu" : "ic_spectrum";
  if (coefficient == "log_nu" && (eq == "kdv" || eq == "ks"))
    throw ConfigError("config key 'coefficient': " + eq + " has no viscosity; use ic_spectrum");
  if (condition == "ssl") {
    if (encoder.empty()) throw ConfigError("condition=ssl needs 'encoder': a checkpoint from `jess pde pretrain`");
    if (!file_exists(encoder)) throw ConfigError("config key 'encoder': '" + encoder + "' does not exist");
  }
  train.validate();
  ConfigSchema s;
  describe(s);
  config_yaml = s.to_yaml();
}

std::string condition_label(const std::string& c) {
  if (c == "none") return "baseline (no conditioning)";
  if (c == "ssl") return "+ SSL repr. conditioning";
  if (c == "coefficient") return "+ true coefficient (oracle)";
  return c;
}

// ------------------------------------------------------------------ metric

at::Tensor normalised_rollout_error(const at::Tensor& prediction, const at::Tensor& truth) {
  if (prediction.sizes() != truth.sizes() || prediction.dim() != 3)
    throw std::invalid_argument("rollout error: prediction and truth must both be (N, steps, nx)");
  auto p = prediction.to(at::kDouble), u = truth.to(at::kDouble);
  auto err = (p - u).pow(2).mean(-1);  // (N, S): mean_x err^2
  auto norm = u.pow(2).mean(-1);       // mean_x u^2
  return (err / norm).sum(1);
}

BootstrapSummary bootstrap_mean(const std::vector<double>& v, int64_t resamples, uint64_t seed) {
  if (v.empty()) throw std::invalid_argument("bootstrap of no values");
  BootstrapSummary b;
  b.mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  std::vector<double> means(size_t(std::max<int64_t>(1, resamples)));
  Rng r(seed, 0xB0075ull, 0);
  for (auto& m : means) {
    double s = 0;
    for (size_t i = 0; i < v.size(); ++i) s += v[size_t(r.integer(0, int64_t(v.size()) - 1))];
    m = s / double(v.size());
  }
  const double mm = std::accumulate(means.begin(), means.end(), 0.0) / double(means.size());
  double var = 0;
  for (double m : means) var += (m - mm) * (m - mm);
  b.std = means.size() > 1 ? std::sqrt(var / double(means.size() - 1)) : 0.0;
  std::sort(means.begin(), means.end());
  auto pct = [&](double q) {  // linear interpolation between order statistics
    const double pos = q * double(means.size() - 1);
    const size_t i = size_t(pos);
    const double f = pos - double(i);
    return i + 1 < means.size() ? means[i] * (1 - f) + means[i + 1] * f : means[i];
  };
  b.lo = pct(0.025);
  b.hi = pct(0.975);
  return b;
}

at::Tensor autoregressive_rollout(NeuralSolverBase& solver, const at::Tensor& window, const at::Tensor& grid,
                                  const at::Tensor& condition, int64_t blocks) {
  torch::NoGradGuard ng;
  const int64_t th = window.size(1);
  std::vector<at::Tensor> out;
  at::Tensor x = window;
  for (int64_t k = 0; k < blocks; ++k) {
    auto p = solver.forward(x, grid, condition);
    out.push_back(p);
    x = at::cat({x, p}, 1);  // the next input: the latest th steps, predicted ones included
    x = x.narrow(1, x.size(1) - th, th);
  }
  return at::cat(out, 1);
}

// ------------------------------------------------------------------ data, conditions, rollout

namespace {

// Normalisation of the solver's inputs and of the condition, from the training split.
struct Normaliser {
  double u_mean = 0, u_std = 1, ldx_mean = 0, ldx_scale = 1, ldt_mean = 0, ldt_scale = 1;
  at::Tensor cond_mean, cond_std;  // (D,) or undefined

  at::Tensor u(const at::Tensor& raw) const { return (raw.to(at::kFloat) - u_mean) / u_std; }
  at::Tensor u_back(const at::Tensor& n) const { return n.to(at::kFloat) * u_std + u_mean; }
  at::Tensor grid(const at::Tensor& dx, const at::Tensor& dt) const {
    auto a = (dx.to(at::kDouble).log() - ldx_mean) / ldx_scale;
    auto b = (dt.to(at::kDouble).log() - ldt_mean) / ldt_scale;
    return at::stack({a, b}, 1).to(at::kFloat);
  }
  at::Tensor cond(const at::Tensor& c) const {
    return c.defined() ? ((c.to(at::kFloat) - cond_mean) / cond_std) : c;
  }
  std::map<std::string, at::Tensor> state() const {
    std::map<std::string, at::Tensor> m{
        {"input_stats", at::tensor({u_mean, u_std, ldx_mean, ldx_scale, ldt_mean, ldt_scale}, at::kDouble)}};
    if (cond_mean.defined()) m["condition_mean"] = cond_mean, m["condition_std"] = cond_std;
    return m;
  }
};

Normaliser fit_normaliser(const GridBatch& b) {
  Normaliser n;
  auto u = b.u.to(at::kDouble);
  n.u_mean = u.mean().item<double>();
  n.u_std = std::max(1e-12, u.std().item<double>());
  auto ldx = b.dx.to(at::kDouble).log(), ldt = b.dt.to(at::kDouble).log();
  n.ldx_mean = ldx.mean().item<double>();
  n.ldt_mean = ldt.mean().item<double>();
  // Constant grids (Burgers) give zero channels; jittered ones (KdV/KS) unit-scale channels.
  n.ldx_scale = std::max(0.05, b.dx.numel() > 1 ? ldx.std().item<double>() : 0.0);
  n.ldt_scale = std::max(0.05, b.dt.numel() > 1 ? ldt.std().item<double>() : 0.0);
  return n;
}

void fit_condition(Normaliser& n, const at::Tensor& c) {
  n.cond_mean = c.to(at::kFloat).mean(0);
  n.cond_std = c.numel() > c.size(1) ? c.to(at::kFloat).std(0).clamp_min(1e-4) : at::ones_like(n.cond_mean);
}

GridBatch rows(const GridBatch& b, int64_t n) {
  n = std::min<int64_t>(n, b.u.size(0));
  return {b.u.narrow(0, 0, n), b.dx.narrow(0, 0, n), b.dt.narrow(0, 0, n), b.nu.narrow(0, 0, n)};
}

// What the solver is told about each trajectory besides its window.
class ConditionSource {
 public:
  ConditionSource(const TimestepOptions& o) : o_(o) {
    if (o.condition == "ssl") {
      encoder_ = std::make_unique<FrozenEncoder>(o.encoder, o.device);
      if (encoder_->equation() != o.equation)
        throw ConfigError("config key 'encoder': the checkpoint was pretrained on " + encoder_->equation() +
                          " data, this is " + o.equation);
      if (encoder_->arch() == "resnet1d" && encoder_->crop_t() > o.time_history)
        throw ConfigError("config key 'encoder': it was pretrained on crops of " + std::to_string(encoder_->crop_t()) +
                          " time steps, more than time_history = " + std::to_string(o.time_history) +
                          " (pretrain with augment.crop_t=" + std::to_string(o.time_history) + ")");
    }
  }
  int64_t dim(int64_t coefficient_dim) const {
    if (o_.condition == "ssl") return encoder_->dim();
    if (o_.condition == "coefficient") return coefficient_dim;
    return 0;
  }
  // Raw condition of windows (B, th, nx) of the trajectories `index` of `split` (coefficients: `y`).
  at::Tensor operator()(const at::Tensor& windows, const at::Tensor& dx, const at::Tensor& dt,
                        const at::Tensor& index, const at::Tensor& y) {
    if (o_.condition == "ssl") {
      at::Tensor out;
      const int64_t n = windows.size(0);
      for (int64_t f = 0; f < n; f += 256) {  // bounded memory for large test sets
        const int64_t m = std::min<int64_t>(256, n - f);
        auto e = (*encoder_)(windows.narrow(0, f, m), dx.narrow(0, f, m), dt.narrow(0, f, m));
        if (!out.defined()) out = at::empty({n, e.size(1)}, at::kFloat);
        out.narrow(0, f, m).copy_(e);
      }
      return out;
    }
    if (o_.condition == "coefficient") return y.index_select(0, index).to(at::kFloat);
    return {};
  }

 private:
  const TimestepOptions& o_;
  std::unique_ptr<FrozenEncoder> encoder_;
};

at::Tensor windows_at(const at::Tensor& u, int64_t start, int64_t length) { return u.narrow(1, start, length); }

struct Rollout {
  at::Tensor prediction;  // (N, S, nx) in data units
  at::Tensor truth;
  std::vector<int64_t> steps;
};

// Autoregressive rollout from the window [th, 2 th): blocks of tf steps until the trajectory ends.
Rollout rollout(NeuralSolverBase& solver, const Normaliser& nz, const GridBatch& b, const at::Tensor& condition,
                int64_t th, int64_t tf, at::Device device) {
  torch::NoGradGuard ng;
  solver.eval();
  const int64_t N = b.u.size(0), nt = b.u.size(1);
  const int64_t blocks = (nt - 2 * th) / tf;
  if (blocks < 1)
    throw std::invalid_argument("trajectories of " + std::to_string(nt) + " steps are too short to roll out from [" +
                                std::to_string(th) + ", " + std::to_string(2 * th) + ") in blocks of " +
                                std::to_string(tf));
  Rollout r;
  for (int64_t s = 0; s < blocks * tf; ++s) r.steps.push_back(2 * th + s);
  r.truth = b.u.narrow(1, 2 * th, blocks * tf).to(at::kFloat);
  r.prediction = at::empty_like(r.truth);
  for (int64_t f = 0; f < N; f += 128) {
    const int64_t m = std::min<int64_t>(128, N - f);
    auto grid = nz.grid(b.dx.narrow(0, f, m), b.dt.narrow(0, f, m)).to(device);
    auto cond = condition.defined() ? nz.cond(condition.narrow(0, f, m)).to(device) : at::Tensor();
    auto x = nz.u(b.u.narrow(0, f, m).narrow(1, th, th)).to(device);
    r.prediction.narrow(0, f, m).copy_(nz.u_back(autoregressive_rollout(solver, x, grid, cond, blocks)).to(at::kCPU));
  }
  return r;
}


// ------------------------------------------------------------------ the training task

class TimestepTask : public train::TrainTask {
 public:
  TimestepTask(const TimestepOptions& o, GridBatch data, at::Tensor y_train, ConditionSource& source,
               GridBatch valid, at::Tensor valid_condition, at::Device device)
      : o_(o), data_(std::move(data)), y_(std::move(y_train)), source_(source), valid_(std::move(valid)),
        valid_condition_(std::move(valid_condition)), device_(device) {
    nz_ = fit_normaliser(data_);
    const int64_t n = data_.u.size(0);
    auto all = at::arange(n, at::kLong);
    if (o.condition != "none") {
      // Condition statistics: of the observed windows [th, 2 th) (ssl) or of the labels.
      auto c = source_(windows_at(data_.u, o.time_history, o.time_history), data_.dx, data_.dt, all, y_);
      fit_condition(nz_, c);
    }
    torch::manual_seed(uint64_t(o.seed));
    NeuralSolverOptions so;
    so.arch = o.arch;
    so.time_history = o.time_history;
    so.time_future = o.time_future;
    so.width = o.width;
    so.resnet_blocks = o.resnet_blocks;
    so.condition_dim = source_.dim(y_.defined() ? y_.size(1) : 0);
    so.injection = o.injection;
    solver_ = make_neural_solver(so);
    solver_->to(device_);
    steps_ = std::max<int64_t>(1, int64_t(std::llround(double(n) * o.windows_per_trajectory / double(o.batch))));
  }
  torch::nn::Module& model() override { return *solver_; }
  NeuralSolverBase& solver() { return *solver_; }
  const Normaliser& normaliser() const { return nz_; }
  int64_t steps_per_epoch() const override { return steps_; }
  void seek(int64_t, int64_t) override {}  // batches are a pure function of (epoch, step)

  train::StepOutput step(int64_t epoch, int64_t step) override {
    const int64_t n = data_.u.size(0), nt = data_.u.size(1), th = o_.time_history, tf = o_.time_future;
    Rng r(uint64_t(o_.seed), 0x75E9ull, uint64_t(epoch * steps_ + step));
    // Push-forward curriculum (LPSDA): up to min(epoch, unrolling) unrolled calls, drawn per batch.
    const int64_t max_pf = std::min(epoch, o_.unrolling);
    const int64_t pf = max_pf > 0 ? r.integer(0, max_pf) : 0;
    const int64_t max_start = nt - th - tf * (1 + pf);
    std::vector<int64_t> idx;
    std::vector<at::Tensor> inputs, targets;
    const auto shard = dist::shard_of(o_.batch);  // data-parallel: this rank's rows; every row's draw is made
    for (int64_t j = 0; j < o_.batch; ++j) {      // in order, so the shards together are the whole batch
      // Every trajectory once per pass over the data, in an order drawn per (epoch, pass).
      const int64_t k = step * o_.batch + j, pass = k / n;
      const int64_t row = permutation(epoch, pass)[size_t(k % n)];
      const int64_t t0 = r.integer(0, max_start);
      if (j < shard.begin || j >= shard.end) continue;
      idx.push_back(row);
      inputs.push_back(data_.u[row].narrow(0, t0, th));
      targets.push_back(data_.u[row].narrow(0, t0 + th + pf * tf, tf));
    }
    auto index = at::tensor(idx, at::kLong);
    auto raw = at::stack(inputs);
    auto dx = data_.dx.index_select(0, index), dt = data_.dt.index_select(0, index);
    auto cond = source_(raw, dx, dt, index, y_);
    cond = cond.defined() ? nz_.cond(cond).to(device_) : cond;
    auto grid = nz_.grid(dx, dt).to(device_);
    auto x = nz_.u(raw).to(device_);
    if (pf > 0) {  // push-forward (Brandstetter et al. 2022): the input is the solver's own prediction
      x = at::cat({x, autoregressive_rollout(*solver_, x, grid, cond, pf)}, 1);
      x = x.narrow(1, x.size(1) - th, th);
    }
    auto target = nz_.u(at::stack(targets)).to(device_);
    auto loss = (solver_->forward(x, grid, cond) - target).pow(2).mean();
    return {loss, {{"unroll", double(pf)}}, shard.size()};
  }

  std::vector<std::pair<std::string, double>> end_of_epoch(int64_t) override {
    if (!valid_.u.defined() || valid_.u.size(0) == 0) return {};
    auto r = rollout(*solver_, nz_, valid_, valid_condition_, o_.time_history, o_.time_future, device_);
    auto e = normalised_rollout_error(r.prediction, r.truth);
    return {{"rollout_valid", e.mean().item<double>()}};
  }
  std::map<std::string, at::Tensor> extra_state() const override { return nz_.state(); }

 private:
  const std::vector<int64_t>& permutation(int64_t epoch, int64_t pass) {
    if (perm_epoch_ != epoch || perm_pass_ != pass) {
      perm_ = seeded_permutation(data_.u.size(0), uint64_t(o_.seed), 0x9E4Dull, uint64_t(epoch * 1000003 + pass));
      perm_epoch_ = epoch, perm_pass_ = pass;
    }
    return perm_;
  }

  const TimestepOptions& o_;
  GridBatch data_;
  at::Tensor y_;
  ConditionSource& source_;
  GridBatch valid_;
  at::Tensor valid_condition_;
  at::Device device_;
  Normaliser nz_;
  std::shared_ptr<NeuralSolverBase> solver_;
  int64_t steps_ = 1;
  std::vector<int64_t> perm_;
  int64_t perm_epoch_ = -1, perm_pass_ = -1;
};

std::string json_list(const std::vector<double>& v) {
  std::ostringstream s;
  s << std::setprecision(8) << "[";
  for (size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  s << "]";
  return s.str();
}

void plot_trajectory(const Rollout& r, const GridBatch& b, int64_t i, const std::string& title, const std::string& path) {
  const int64_t S = r.truth.size(1), nx = r.truth.size(2);
  auto panel = [&](const at::Tensor& m, const std::string& name) {
    plot::Heatmap h;
    auto c = m.to(at::kDouble).contiguous();
    h.rows = S, h.cols = nx;
    h.values.assign(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
    h.title = name;
    const double dx = b.dx[i].item<double>(), dt = b.dt[i].item<double>();
    h.x_min = 0, h.x_max = dx * double(nx);
    h.y_min = dt * double(r.steps.front()), h.y_max = dt * double(r.steps.back());
    return h;
  };
  plot::HeatmapOptions ho;
  ho.title = title;
  ho.columns = 3;
  plot::heatmaps({panel(r.truth[i], "truth"), panel(r.prediction[i], "rollout"),
                  panel(r.prediction[i] - r.truth[i], "rollout - truth")},
                 ho, path);
}

}  // namespace

// ------------------------------------------------------------------ one run

RolloutReport rollout_report(const at::Tensor& prediction, const at::Tensor& truth, std::vector<int64_t> steps,
                             int64_t resamples, uint64_t seed) {
  RolloutReport rep;
  auto e = normalised_rollout_error(prediction, truth).contiguous();
  rep.per_trajectory.assign(e.data_ptr<double>(), e.data_ptr<double>() + e.numel());
  auto per_step = ((prediction.to(at::kDouble) - truth.to(at::kDouble)).pow(2).mean(-1) /
                   truth.to(at::kDouble).pow(2).mean(-1))
                      .mean(0)
                      .contiguous();
  rep.per_step.assign(per_step.data_ptr<double>(), per_step.data_ptr<double>() + per_step.numel());
  rep.steps = std::move(steps);
  rep.summary = bootstrap_mean(rep.per_trajectory, resamples, seed);
  auto sorted = rep.per_trajectory;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  rep.median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return rep;
}

void write_rollout_json(const TimestepRun& run, const std::string& equation, int64_t test_trajectories,
                        const std::string& out_dir) {
  std::ostringstream js;
  js << std::setprecision(8) << "{\"equation\": \"" << equation << "\", \"condition\": \"" << run.condition
     << "\", \"seed\": " << run.seed << ", \"test_trajectories\": " << test_trajectories
     << ", \"rollout_error\": " << run.test.summary.mean << ", \"bootstrap_std\": " << run.test.summary.std
     << ", \"ci95\": [" << run.test.summary.lo << ", " << run.test.summary.hi << "], \"median\": " << run.test.median
     << ", \"per_step\": " << json_list(run.test.per_step) << ", \"first_step\": " << run.test.steps.front()
     << ", \"per_trajectory\": " << json_list(run.test.per_trajectory) << "}\n";
  write_text_atomic(out_dir + "/rollout.json", js.str());
}

void plot_error_vs_time(const TimestepRun& run, const std::string& equation, const std::string& out_dir) {
  plot::Series s;
  for (size_t k = 0; k < run.test.steps.size(); ++k) s.x.push_back(double(run.test.steps[k]));
  s.y = run.test.per_step;
  s.label = condition_label(run.condition);
  plot::LineOptions lo;
  lo.title = equation + ": rollout error against time";
  lo.x_label = "time step";
  lo.y_label = "mean_x err^2 / mean_x u^2";
  lo.log_y = true;
  plot::lines({s}, lo, out_dir + "/error_vs_time.png");
}

TimestepRun timestep(TimestepOptions o, const std::string& out_dir, bool restart) {
  o.resolve();
  if (dist::is_main()) make_directories(out_dir);
  const at::Device device = pick_device(o.device);
  Equation eq;
  GridBatch train_all = load_split(o.data, "train", &eq);
  GridBatch data = o.n_train > 0 ? rows(train_all, o.n_train) : train_all;
  GridBatch test = load_split(o.data, "test");
  if (o.n_test > 0) test = rows(test, o.n_test);
  const int64_t nt = data.u.size(1), th = o.time_history, tf = o.time_future;
  if (th + tf * (1 + o.unrolling) > nt)
    throw ConfigError("time_history + time_future x (1 + unrolling) = " + std::to_string(th + tf * (1 + o.unrolling)) +
                      " exceeds the " + std::to_string(nt) + " time steps of the trajectories");
  if (2 * th + tf > test.u.size(1))
    throw ConfigError("the test trajectories (" + std::to_string(test.u.size(1)) +
                      " steps) are too short to roll out from [th, 2 th) = [" + std::to_string(th) + ", " +
                      std::to_string(2 * th) + ") in blocks of " + std::to_string(tf));
  const int64_t n = data.u.size(0);
  if (o.batch > n * 64) throw ConfigError("config key 'batch' is far larger than the training set");
  at::Tensor y_train, y_test, y_valid;
  if (o.condition == "coefficient") {
    y_train = regression_target(o.data, "train", o.coefficient, n);
    y_test = regression_target(o.data, "test", o.coefficient, test.u.size(0));
  }
  ConditionSource source(o);
  GridBatch valid;
  at::Tensor valid_condition;
  if (o.n_valid > 0) {
    H5Reader r(o.data);
    if (r.exists("/valid")) {
      valid = rows(load_split(o.data, "valid"), o.n_valid);
      if (valid.u.size(1) < 2 * th + tf) valid = GridBatch{};
      if (valid.u.defined() && o.condition == "coefficient")
        y_valid = regression_target(o.data, "valid", o.coefficient, valid.u.size(0));
      if (valid.u.defined())
        valid_condition = source(windows_at(valid.u, th, th), valid.dx, valid.dt,
                                 at::arange(valid.u.size(0), at::kLong), y_valid);
    }
  }
  TimestepTask task(o, data, y_train, source, valid, valid_condition, device);
  train::TrainOptions to = o.train;
  if (restart && dist::is_main()) std::remove((out_dir + "/checkpoint.pt").c_str());
  to.resume = !restart;
  TimestepRun run;
  run.condition = o.condition;
  run.seed = o.seed;
  run.dir = out_dir;
  run.train = train::train(task, to, out_dir, o.config_yaml, "timestep " + o.equation + " " + o.condition);

  // Test rollout: the condition of the observed window [th, 2 th), held for the whole rollout.
  auto test_condition = source(windows_at(test.u, th, th), test.dx, test.dt, at::arange(test.u.size(0), at::kLong), y_test);
  Rollout r = rollout(task.solver(), task.normaliser(), test, test_condition, th, tf, device);
  run.test = rollout_report(r.prediction, r.truth, r.steps, o.bootstrap, uint64_t(o.seed));
  if (!dist::is_main()) return run;  // data-parallel: rank 0 alone writes
  write_rollout_json(run, o.equation, test.u.size(0), out_dir);
  if (o.save_rollout) {
    auto p = r.prediction.contiguous();
    write_npy_f32(out_dir + "/rollout.npy", p.data_ptr<float>(), {p.size(0), p.size(1), p.size(2)});
  }
  if (o.train.plots) {
    plot_error_vs_time(run, o.equation, out_dir);
    plot_trajectory(r, test, 0, o.equation + " test trajectory 0, " + condition_label(o.condition),
                    out_dir + "/trajectory.png");
  }
  return run;
}

// ------------------------------------------------------------------ comparison

std::string TimestepComparison::table() const {
  std::ostringstream s;
  s << equation << ": normalised rollout error over " << predicted_steps << " predicted steps, " << test_trajectories
    << " test trajectories (mean over trajectories, ± std over seeds; median over trajectories; lower is better)\n";
  size_t w = 0;
  for (const auto& r : rows) w = std::max(w, r.label.size());
  for (const auto& r : rows) {
    s << "  " << std::left << std::setw(int(w) + 2) << r.label << std::fixed << std::setprecision(4) << r.mean
      << " ± " << r.std << "   median " << r.median << "   (seeds:";
    for (double v : r.values) s << " " << std::setprecision(4) << v;
    s << ")\n";
  }
  return s.str();
}

std::string TimestepComparison::json() const {
  std::ostringstream s;
  s << std::setprecision(8) << "{\"equation\": \"" << equation << "\", \"metric\": \"normalised rollout error\", "
    << "\"test\": " << test_trajectories << ", \"predicted_steps\": " << predicted_steps << ", \"rows\": [";
  for (size_t i = 0; i < rows.size(); ++i)
    s << (i ? ", " : "") << "{\"condition\": \"" << rows[i].condition << "\", \"name\": \"" << rows[i].label
      << "\", \"mean\": " << rows[i].mean << ", \"std\": " << rows[i].std << ", \"median\": " << rows[i].median
      << ", \"values\": " << json_list(rows[i].values) << ", \"medians\": " << json_list(rows[i].medians) << "}";
  s << "]}";
  return s.str();
}

void validate_conditions(const std::vector<std::string>& conditions, int64_t seeds, bool has_encoder) {
  if (conditions.empty()) throw ConfigError("no conditions to compare (none, ssl, coefficient)");
  if (seeds < 1) throw ConfigError("seeds must be at least 1");
  for (const auto& c : conditions) {
    if (c != "none" && c != "ssl" && c != "coefficient")
      throw ConfigError("condition '" + c + "' is not one of none, ssl, coefficient");
    if (c == "ssl" && !has_encoder)
      throw ConfigError("condition=ssl needs 'encoder': checkpoints from `jess pde pretrain` (--encoder A,B,C: one per seed)");
  }
}

TimestepComparison compare_runs(const std::vector<std::string>& conditions, int64_t seeds,
                                const std::function<TimestepRun(const std::string&, int64_t)>& run_one,
                                const std::string& equation, const std::string& out_dir, bool plots) {
  if (dist::is_main()) make_directories(out_dir);
  TimestepComparison cmp;
  cmp.equation = equation;
  std::vector<plot::Series> curves;
  for (const auto& c : conditions) {
    TimestepComparison::Row row;
    row.condition = c;
    row.label = condition_label(c);
    std::vector<double> curve;
    for (int64_t k = 0; k < seeds; ++k) {
      auto run = run_one(c, k);
      std::printf("[timestep %s] %s, seed %lld: rollout error %.4f (bootstrap std %.4f, 95%% CI [%.4f, %.4f])\n",
                  equation.c_str(), row.label.c_str(), (long long)run.seed, run.test.summary.mean, run.test.summary.std,
                  run.test.summary.lo, run.test.summary.hi);
      cmp.test_trajectories = int64_t(run.test.per_trajectory.size());
      cmp.predicted_steps = int64_t(run.test.steps.size());
      row.values.push_back(run.test.summary.mean);
      row.medians.push_back(run.test.median);
      row.median += run.test.median / double(seeds);
      if (curve.empty()) curve.assign(run.test.per_step.size(), 0.0);
      for (size_t s = 0; s < curve.size(); ++s) curve[s] += run.test.per_step[s] / double(seeds);
      if (curves.empty() || curves.back().label != row.label) {
        plot::Series s;
        for (int64_t t : run.test.steps) s.x.push_back(double(t));
        s.label = row.label;
        curves.push_back(s);
      }
      cmp.runs.push_back(std::move(run));
    }
    curves.back().y = curve;
    row.mean = std::accumulate(row.values.begin(), row.values.end(), 0.0) / double(row.values.size());
    double v = 0;
    for (double x : row.values) v += (x - row.mean) * (x - row.mean);
    row.std = row.values.size() > 1 ? std::sqrt(v / double(row.values.size() - 1)) : 0.0;
    cmp.rows.push_back(row);
  }
  if (plots) {
    plot::LineOptions lo;
    lo.title = equation + ": rollout error against time (mean over seeds)";
    lo.x_label = "time step";
    lo.y_label = "mean_x err^2 / mean_x u^2";
    lo.log_y = true;
    if (dist::is_main()) plot::lines(curves, lo, out_dir + "/error_vs_time.png");
  }
  if (dist::is_main()) write_text_atomic(out_dir + "/timestep.json", cmp.json() + "\n");
  return cmp;
}

TimestepComparison compare_timestep(const TimestepOptions& base, const std::vector<std::string>& conditions,
                                    int64_t seeds, const std::vector<std::string>& encoders, const std::string& out_dir,
                                    bool restart) {
  validate_conditions(conditions, seeds, !encoders.empty() || !base.encoder.empty());
  TimestepOptions probe = base;
  probe.resolve();  // the equation, for the messages
  auto run_one = [&](const std::string& c, int64_t k) {
    TimestepOptions o = base;
    o.condition = c;
    o.seed = base.seed + k;
    if (c == "ssl" && !encoders.empty()) o.encoder = encoders[size_t(k) % encoders.size()];
    o.resolve();
    return timestep(o, out_dir + "/" + c + "_seed" + std::to_string(o.seed), restart);
  };
  return compare_runs(conditions, seeds, run_one, probe.equation, out_dir, base.train.plots);
}

}  // namespace jess::pde
