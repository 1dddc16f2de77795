// Conditioned neural time-stepping on 2-D Navier–Stokes smoke (ns2d_timestep.h).
#include "jess/pde/ns2d_timestep.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/utils.h>

#include <cmath>
#include <cstdio>

#include "jess/dist/dist.h"
#include "jess/core/config.h"
#include "jess/core/device.h"
#include "jess/core/files.h"
#include "jess/core/rng.h"
#include "jess/pde/neural_solvers.h"
#include "jess/pde/ns2d_ssl.h"
#include "jess/pde/ns2d_views.h"

namespace jess::pde::ns2d {

TimestepOptions::TimestepOptions() {
  // A CPU budget: 10 epochs of 2 windows per trajectory at width 32 take ~2.5 min for 1,024 trajectories
  // (width 64 and 4 windows: 93 s per epoch); docs/pde.md gives the measured rollout errors.
  train.epochs = 10;
  train.optimizer = "adam";
  train.lr = 1e-3;
  train.weight_decay = 0;
  train.schedule = "warmup_cosine";
  train.warmup_epochs = 1;
}

void TimestepOptions::describe(ConfigSchema& s) {
  s.add("data", data, "HDF5 file from `jess pde generate equation=ns2d` (train and test splits)");
  s.add("n_train", n_train, "training trajectories (0: the whole split)", check::int_at_least(0));
  s.add("n_test", n_test, "test trajectories rolled out (0: all)", check::int_at_least(0));
  s.add("pool", pool, "average-pool the fields by this factor (condition ssl: the encoder's)", check::positive_int());
  s.add("time_history", time_history, "frames the solver reads", check::positive_int());
  s.add("time_future", time_future, "frames it predicts per call", check::positive_int());
  s.add("width", width, "channels of the residual network", check::positive_int());
  s.add("blocks", blocks, "residual blocks (two 3x3 convolutions each, the condition injected before each)",
        check::positive_int());
  s.add("condition", condition, "none | ssl (frozen SSL representation of the observed window) | coefficient (true b)",
        check::one_of({"none", "ssl", "coefficient"}));
  s.add("injection", injection, "add | film (zero-initialised: starts as the unconditioned solver)",
        check::one_of({"add", "film"}));
  s.add("encoder", encoder, "pretraining checkpoint for condition=ssl (`jess pde pretrain` on ns2d data)");
  s.add("observed", observed, "frames observed before the rollout (condition ssl: the encoder's crop_t)",
        check::positive_int());
  s.add("batch", batch, "windows per batch", check::int_at_least(2));
  s.add("windows_per_trajectory", windows_per_trajectory, "training windows drawn per trajectory and epoch",
        check::positive());
  s.add("seed", seed, "seed of the initialisation and the windows", check::int_at_least(0));
  s.add("bootstrap", bootstrap, "bootstrap resamples of the test trajectories", check::positive_int());
  s.add("device", device, "auto | cpu | cuda", check::one_of({"auto", "cpu", "cuda"}));
  train.describe(s, "train.");
}

void TimestepOptions::resolve() {
  if (data.empty()) throw ConfigError("config key 'data': no dataset given (`jess pde generate equation=ns2d`)");
  if (!file_exists(data)) throw ConfigError("config key 'data': '" + data + "' does not exist");
  if (!is_ns2d_file(data)) throw ConfigError("config key 'data': '" + data + "' holds no ns2d trajectories");
  if (condition == "ssl") {
    if (encoder.empty()) throw ConfigError("condition=ssl needs 'encoder': a checkpoint of `jess pde pretrain` on ns2d data");
    auto info = encoder_info(encoder);
    pool = info.pool;
    observed = info.crop_t;
  }
  if (observed < time_history)
    throw ConfigError("config key 'observed': " + std::to_string(observed) + " frames, fewer than time_history");
  if (train.schedule == "warmup_cosine" && train.warmup_epochs >= double(train.epochs))
    train.warmup_epochs = 0.1 * double(train.epochs);
  train.validate();
  ConfigSchema s;
  describe(s);
  config_yaml = "equation: ns2d\n" + s.to_yaml();
}

namespace {

// A 2-D residual network: 3x3 lift, `blocks` pre-activation residual blocks (GroupNorm-GELU-conv x 2,
// the condition added or FiLM-ed in before each), 3x3 output of the change of every predicted frame.
class SolverImpl : public torch::nn::Module {
 public:
  SolverImpl(int64_t in, int64_t out, int64_t width, int64_t blocks, int64_t condition_dim, bool film) {
    using namespace torch::nn;
    lift = register_module("lift", Conv2d(Conv2dOptions(in, width, 3).padding(1)));
    for (int64_t b = 0; b < blocks; ++b) {
      Block k;
      const std::string n = "block" + std::to_string(b);
      k.norm1 = register_module(n + "_norm1", GroupNorm(GroupNormOptions(std::min<int64_t>(8, width), width)));
      k.conv1 = register_module(n + "_conv1", Conv2d(Conv2dOptions(width, width, 3).padding(1)));
      k.norm2 = register_module(n + "_norm2", GroupNorm(GroupNormOptions(std::min<int64_t>(8, width), width)));
      k.conv2 = register_module(n + "_conv2", Conv2d(Conv2dOptions(width, width, 3).padding(1)));
      if (condition_dim > 0) k.inject = register_module(n + "_inject", ConditionInjection(width, width, film));
      blocks_.push_back(k);
    }
    if (condition_dim > 0) embed = register_module("condition_embed", Linear(condition_dim, width));
    head = register_module("head", Conv2d(Conv2dOptions(width, out, 3).padding(1)));
    torch::NoGradGuard ng;  // start near the persistence forecast
    head->weight.mul_(0.1);
    head->bias.zero_();
  }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& condition) {
    auto h = lift(x);
    at::Tensor e;
    if (embed) e = at::gelu(embed(condition));
    for (auto& b : blocks_) {
      auto r = e.defined() ? b.inject(h, e) : h;
      r = b.conv1(at::gelu(b.norm1(r)));
      r = b.conv2(at::gelu(b.norm2(r)));
      h = h + r;
    }
    return head(at::gelu(h));
  }

 private:
  struct Block {
    torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
    ConditionInjection inject{nullptr};
  };
  torch::nn::Conv2d lift{nullptr}, head{nullptr};
  torch::nn::Linear embed{nullptr};
  std::vector<Block> blocks_;
};
TORCH_MODULE(Solver);

// (N, 3, T, S, S) frames [t0, t0 + n) of rows -> (N, 3 n, S, S).
at::Tensor frames_as_channels(const at::Tensor& x) {
  return x.reshape({x.size(0), x.size(1) * x.size(2), x.size(3), x.size(4)});
}

// One call: the next tf frames = the last input frame + the predicted change.
at::Tensor predict(Solver& net, const at::Tensor& window, const at::Tensor& condition, int64_t tf) {
  const int64_t B = window.size(0), S = window.size(3);
  auto delta = net->forward(frames_as_channels(window), condition).view({B, 3, tf, S, S});
  return window.narrow(2, window.size(2) - 1, 1) + delta;
}

class Task : public train::TrainTask {
 public:
  Task(const TimestepOptions& o, const Fields& f, at::Tensor condition, at::Device device)
      : o_(o), f_(f), condition_(std::move(condition)), device_(device) {
    torch::manual_seed(uint64_t(o.seed));
    net_ = Solver(3 * o.time_history, 3 * o.time_future, o.width, o.blocks,
                  condition_.defined() ? condition_.size(1) : 0, o.injection == "film");
    net_->to(device_);
  }
  torch::nn::Module& model() override { return *net_; }
  int64_t steps_per_epoch() const override {
    return std::max<int64_t>(1, int64_t(double(f_.x.size(0)) * o_.windows_per_trajectory) / o_.batch);
  }
  void seek(int64_t, int64_t) override {}
  train::StepOutput step(int64_t epoch, int64_t step) override {
    const int64_t N = f_.x.size(0), T = f_.x.size(2), th = o_.time_history, tf = o_.time_future;
    std::vector<at::Tensor> xs, ys;
    std::vector<int64_t> rows;
    const auto shard = dist::shard_of(o_.batch);  // data-parallel: this rank's rows of the global batch
    for (int64_t k = shard.begin; k < shard.end; ++k) {
      Rng r(uint64_t(o_.seed), 0x75E9ull, uint64_t((epoch * steps_per_epoch() + step) * o_.batch + k));
      const int64_t row = r.integer(0, N - 1), t0 = r.integer(0, T - th - tf);
      rows.push_back(row);
      xs.push_back(f_.x[row].narrow(1, t0, th + tf));
    }
    auto w = at::stack(xs).to(device_);
    at::Tensor c;
    if (condition_.defined()) c = condition_.index_select(0, at::tensor(rows, at::kLong)).to(device_);
    auto pred = predict(net_, w.narrow(2, 0, th), c, tf);
    return {at::mse_loss(pred, w.narrow(2, th, tf)), {}, shard.size()};
  }
  Solver& net() { return net_; }

 private:
  TimestepOptions o_;
  const Fields& f_;
  at::Tensor condition_;
  at::Device device_;
  Solver net_{nullptr};
};

// The condition of each trajectory of a split: its observed window's frozen SSL representation, or b.
at::Tensor condition_of(const TimestepOptions& o, const std::string& split, const Fields& f, double b_mean, double b_std) {
  if (o.condition == "none") return {};
  if (o.condition == "coefficient") return ((f.buoyancy - b_mean) / b_std).to(at::kFloat).view({-1, 1});
  auto z = embed_window(o.encoder, o.data, split, f.x.size(0), 0);
  return z;
}

}  // namespace

TimestepRun timestep(TimestepOptions o, const std::string& out_dir, bool restart) {
  o.resolve();
  make_directories(out_dir);
  const at::Device device = pick_device(o.device);
  FieldStats stats;
  Fields train = load_fields(o.data, "train", o.n_train, o.pool, &stats, true);
  Fields test = load_fields(o.data, "test", o.n_test, o.pool, &stats, false);
  const int64_t T = train.x.size(2), th = o.time_history, tf = o.time_future;
  if (th + tf > T) throw ConfigError("time_history + time_future exceed the trajectories' " + std::to_string(T) + " frames");
  if (o.observed + tf > test.x.size(2))
    throw ConfigError("config key 'observed': no frames left to roll out after " + std::to_string(o.observed));
  const double b_mean = train.buoyancy.mean().item<double>();
  const double b_std = std::max(train.buoyancy.std().item<double>(), 1e-12);
  auto c_train = condition_of(o, "train", train, b_mean, b_std);
  auto c_test = condition_of(o, "test", test, b_mean, b_std);
  if (c_train.defined()) {  // standardise the representation with the training set's statistics
    auto mu = c_train.mean(0, true), sd = c_train.std(0, true, true).clamp_min(1e-6);
    c_train = (c_train - mu) / sd;
    c_test = (c_test - mu) / sd;
  }
  Task task(o, train, c_train, device);
  train::TrainOptions to = o.train;
  if (restart && dist::is_main()) std::remove((out_dir + "/checkpoint.pt").c_str());
  to.resume = !restart;
  TimestepRun run;
  run.condition = o.condition;
  run.seed = o.seed;
  run.dir = out_dir;
  run.train = train::train(task, to, out_dir, o.config_yaml, "timestep ns2d " + o.condition);

  // Rollout from the observed window to the last frame, blocks of tf (the last block may overrun: cut).
  torch::NoGradGuard ng;
  task.net()->eval();
  const int64_t N = test.x.size(0), S = test.x.size(3), steps = T - o.observed;
  auto prediction = at::empty({N, 3, steps, S, S}, at::kFloat);
  for (int64_t i = 0; i < N; i += 32) {
    const int64_t m = std::min<int64_t>(32, N - i);
    auto window = test.x.narrow(0, i, m).narrow(2, o.observed - th, th).to(device);
    at::Tensor c = c_test.defined() ? c_test.narrow(0, i, m).to(device) : at::Tensor();
    int64_t done = 0;
    while (done < steps) {
      auto next = predict(task.net(), window, c, tf);
      const int64_t keep = std::min(tf, steps - done);
      prediction.narrow(0, i, m).narrow(2, done, keep).copy_(next.narrow(2, 0, keep).to(at::kCPU));
      window = at::cat({window, next}, 2).narrow(2, tf, th);
      done += keep;
    }
  }
  auto truth = test.x.narrow(2, o.observed, steps);
  auto flat = [&](const at::Tensor& x) { return x.permute({0, 2, 1, 3, 4}).reshape({N, steps, 3 * S * S}); };
  std::vector<int64_t> idx;
  for (int64_t s = 0; s < steps; ++s) idx.push_back(o.observed + s);
  run.test = rollout_report(flat(prediction), flat(truth), idx, o.bootstrap, uint64_t(o.seed));
  if (dist::is_main()) {  // data-parallel: rank 0 alone writes
    write_rollout_json(run, "ns2d", N, out_dir);
    if (o.train.plots) plot_error_vs_time(run, "ns2d", out_dir);
  }
  return run;
}

TimestepComparison compare_timestep(const TimestepOptions& base, const std::vector<std::string>& conditions,
                                    int64_t seeds, const std::vector<std::string>& encoders, const std::string& out_dir,
                                    bool restart) {
  validate_conditions(conditions, seeds, !encoders.empty() || !base.encoder.empty());
  // Every condition rolls out from the same frame: the SSL encoder's window when one is compared.
  TimestepOptions common = base;
  const std::string first_encoder = !encoders.empty() ? encoders.front() : base.encoder;
  if (!first_encoder.empty()) {
    auto info = encoder_info(first_encoder);
    common.pool = info.pool;
    common.observed = info.crop_t;
  }
  auto run_one = [&](const std::string& c, int64_t k) {
    TimestepOptions o = common;
    o.condition = c;
    o.seed = base.seed + k;
    if (c == "ssl" && !encoders.empty()) o.encoder = encoders[size_t(k) % encoders.size()];
    return timestep(o, out_dir + "/" + c + "_seed" + std::to_string(o.seed), restart);
  };
  return compare_runs(conditions, seeds, run_one, "ns2d", out_dir, base.train.plots);
}

}  // namespace jess::pde::ns2d
