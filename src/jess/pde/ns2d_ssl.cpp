// SSL on 2-D Navier–Stokes smoke: VICReg pretraining on symmetry views, frozen features, and the
// buoyancy regression with its baselines (ns2d_ssl.h).
#include "jess/pde/ns2d_ssl.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "jess/core/config.h"
#include "jess/core/device.h"
#include "jess/core/files.h"
#include "jess/core/hdf5_file.h"
#include "jess/core/rng.h"
#include "jess/dist/dist.h"
#include "jess/pde/ns2d.h"
#include "jess/pde/ns2d_views.h"
#include "jess/pde/ssl_model.h"
#include "jess/ssl/loss.h"
#include "jess/ssl/vicreg.h"

namespace jess::pde::ns2d {

using detail::SslModel;

namespace {

ViewOptions view_options(const SslViewOptions& a) {
  ViewOptions v;
  v.crop_t = a.crop_t, v.crop = a.crop, v.rotation = a.rotation, v.boost = a.boost, v.quad_boost = a.quad_boost,
  v.scaling = a.scaling;
  return v;
}

// The encoder reads a window's frames of (smoke, vx, vy) as channels: (B, 3, T, C, C) -> (B, 3 T, C, C).
at::Tensor encoder_input(const at::Tensor& w, at::Device device) {
  return w.reshape({w.size(0), w.size(1) * w.size(2), w.size(3), w.size(4)}).to(device);
}

void check_arch(const EncoderConfig& e) {
  if (e.arch == "resnet1d")
    throw ConfigError("config key 'encoder.arch': ns2d needs a 2-D encoder (cnn2d or resnet18), not resnet1d");
}

// Features of rows [0, N) of f: the encoder output averaged over the evaluation windows, in batches.
at::Tensor window_features(nn::EncoderBase& enc, const Fields& f, int64_t crop_t, int64_t windows, at::Device device) {
  torch::NoGradGuard ng;
  const bool was_training = enc.is_training();
  enc.eval();
  const int64_t N = f.x.size(0), chunk = 64;
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < N; i += chunk) {
    const int64_t m = std::min(chunk, N - i);
    at::Tensor acc;
    for (int64_t k = 0; k < windows; ++k) {
      auto h = enc.forward(encoder_input(eval_window(f, i, m, crop_t, k, windows), device)).to(at::kCPU, at::kFloat);
      acc = acc.defined() ? acc + h : h;
    }
    out.push_back(acc / double(windows));
  }
  enc.train(was_training);
  return at::cat(out);
}

}  // namespace

// ------------------------------------------------------------------ configuration

PretrainOptions::PretrainOptions() {
  // Adam with warm-up then cosine (the 1-D schedule, docs/pde.md) at 1e-3 for the batches of 64. The
  // views' defaults are the best of the ablation in docs/pde.md ("SSL on Navier-Stokes"): linear and
  // quadratic boosts of half the velocity's rms on 16-frame windows of the whole box; 20 epochs beat 100
  // (the buoyancy probe degrades as VICReg trains on).
  train.epochs = 20;
  train.optimizer = "adam";
  train.lr = 1e-3;
  train.weight_decay = 0;
  train.schedule = "warmup_cosine";
  train.warmup_epochs = 1;
  train.final_lr_fraction = 0;
  encoder.arch = "cnn2d";
  encoder.width = 32;
  augment.boost = 0.5;
  augment.quad_boost = 0.5;
}

void PretrainOptions::describe(ConfigSchema& s) {
  s.add("data", data, "HDF5 file from `jess pde generate equation=ns2d`");
  s.add("train_split", train_split, "split used for pretraining (labels are never read)");
  s.add("n_train", n_train, "trajectories used (0: the whole split)", check::int_at_least(0));
  s.add("pool", pool, "average-pool the fields by this factor (4: 128^2 -> 32^2 on a CPU; 1: the paper's resolution)",
        check::positive_int());
  s.add("seed", seed, "seed of the initialisation, the data order and the views", check::int_at_least(0));
  s.add("batch", batch, "trajectories per batch (two views each)", check::int_at_least(2));
  encoder.describe(s, "encoder.");
  s.add("projector", projector, "projector sizes, Linear-BN-ReLU blocks then a Linear");
  s.add("method", method, "SSL criterion (registered name)", check::one_of(ssl::loss_names()));
  s.add("vicreg.invariance", vicreg_invariance, "VICReg invariance weight", check::non_negative());
  s.add("vicreg.variance", vicreg_variance, "VICReg variance weight", check::non_negative());
  s.add("vicreg.covariance", vicreg_covariance, "VICReg covariance weight", check::non_negative());
  s.add("vicreg.epsilon", vicreg_epsilon, "VICReg epsilon inside the std", check::positive());
  s.add("augment.crop_t", augment.crop_t, "frames per view (a random window: time translation)", check::int_at_least(2));
  s.add("augment.crop", augment.crop,
        "side of the view's square in pooled cells at a random position (space translation; 0: the whole box)",
        check::int_at_least(0));
  s.add("augment.rotation", augment.rotation, "rotation angle ~ U(-r, r) radians (broken by the vertical buoyancy)",
        check::non_negative());
  s.add("augment.boost", augment.boost, "linear boosts beta ~ U(-s, s) velocity rms, each axis", check::non_negative());
  s.add("augment.quad_boost", augment.quad_boost, "quadratic boosts: 2 q t at the window's end ~ U(-s, s) velocity rms",
        check::non_negative());
  s.add("augment.scaling", augment.scaling, "log lambda ~ U(-s, s); label-changing (b -> b / lambda^3)",
        check::non_negative());
  train.describe(s, "train.");
  s.add("monitor", monitor, "valid-split trajectories embedded for RankMe each epoch", check::int_at_least(0));
  s.add("windows", windows, "evaluation: features averaged over this many evenly spaced windows", check::positive_int());
  s.add("device", device, "auto (CUDA when available) | cpu | cuda", check::one_of({"auto", "cpu", "cuda"}));
}

void PretrainOptions::resolve() {
  if (data.empty()) throw ConfigError("config key 'data': no dataset given (`jess pde generate equation=ns2d`)");
  if (!file_exists(data)) throw ConfigError("config key 'data': '" + data + "' does not exist");
  if (!is_ns2d_file(data)) throw ConfigError("config key 'data': '" + data + "' holds no ns2d trajectories");
  check_arch(encoder);
  H5Reader r(data);
  const std::string g = "/" + train_split + "/u";
  if (!r.exists(g)) throw ConfigError("config key 'train_split': '" + data + "' has no split '" + train_split + "'");
  const auto shape = r.shape(g);
  if (int64_t(shape[2]) % pool != 0)
    throw ConfigError("config key 'pool': " + std::to_string(pool) + " does not divide the grid's " +
                      std::to_string(shape[2]) + " cells");
  view_options(augment).validate(int64_t(shape[1]), int64_t(shape[2]) / pool);
  if (train.schedule == "warmup_cosine" && train.warmup_epochs >= double(train.epochs))
    train.warmup_epochs = 0.1 * double(train.epochs);
  nn::parse_layer_sizes(projector);
  train.validate();
  ConfigSchema s;
  describe(s);
  config_yaml = "equation: ns2d\n" + s.to_yaml();
}

bool is_ns2d_file(const std::string& path) {
  try {
    H5Reader r(path);
    return r.has_attr("/", "equation") && r.attr_string("/", "equation") == "ns2d";
  } catch (const std::exception&) {
    return false;
  }
}

// ------------------------------------------------------------------ pretraining

namespace {

class Ns2dSslTask : public train::TrainTask {
 public:
  Ns2dSslTask(const PretrainOptions& o, Fields data, Fields monitor, const FieldStats& stats, at::Device device)
      : o_(o), view_(view_options(o.augment)), data_(std::move(data)), monitor_(std::move(monitor)), stats_(stats),
        device_(device) {
    torch::manual_seed(uint64_t(o.seed));
    model_ = SslModel(o.encoder, 3 * o.augment.crop_t, o.projector);
    loss_ = ssl::make_loss(o.method);
    if (auto* v = dynamic_cast<ssl::VICRegLoss*>(loss_.get()))
      v->options() = {o.vicreg_invariance, o.vicreg_variance, o.vicreg_covariance, o.vicreg_epsilon};
    // Data-parallel: the variance/covariance terms see the global batch (an all-gather with gradient).
    if (dist::active()) loss_->set_gather([](const at::Tensor& z) { return dist::all_gather_with_grad(z); });
    model_->to(device_);
  }
  torch::nn::Module& model() override { return *model_; }
  int64_t steps_per_epoch() const override { return data_.x.size(0) / o_.batch; }
  void seek(int64_t, int64_t) override {}  // batches depend only on (epoch, step)
  train::StepOutput step(int64_t epoch, int64_t step) override {
    const int64_t n = data_.x.size(0);
    auto order = seeded_permutation(n, uint64_t(o_.seed), 0x125Dull, uint64_t(epoch));
    const auto shard = dist::shard_of(o_.batch);  // this rank's rows of the global batch, with their draws
    std::vector<int64_t> rows(order.begin() + step * o_.batch + shard.begin, order.begin() + step * o_.batch + shard.end);
    auto t0 = std::chrono::steady_clock::now();
    auto views = make_views(data_, rows, view_, uint64_t(o_.seed), uint64_t(epoch * n + step * o_.batch + shard.begin));
    const double view_ms = 1000 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto z1 = model_->projector(model_->encoder->forward(encoder_input(views.first, device_)));
    auto z2 = model_->projector(model_->encoder->forward(encoder_input(views.second, device_)));
    ssl::LossTerms t = (*loss_)(z1, z2);
    t.parts.emplace_back("views_ms", view_ms);
    return {t.loss, t.parts, int64_t(rows.size())};
  }
  std::vector<std::pair<std::string, double>> end_of_epoch(int64_t) override {
    if (!monitor_.x.defined() || monitor_.x.size(0) < 2) return {};
    auto r = window_features(*model_->encoder, monitor_, o_.augment.crop_t, o_.windows, device_);
    torch::NoGradGuard ng;
    model_->projector->eval();
    auto z = model_->projector(r.to(device_));
    model_->projector->train();
    return {{"rankme", detail::rankme_of(r)}, {"rankme_embedding", detail::rankme_of(z)}};
  }
  std::map<std::string, at::Tensor> extra_state() const override { return {{"field_stats", stats_.tensor()}}; }

 private:
  PretrainOptions o_;
  ViewOptions view_;
  Fields data_, monitor_;
  FieldStats stats_;
  at::Device device_;
  SslModel model_{nullptr};
  std::unique_ptr<ssl::JointLoss> loss_;
};

struct LoadedNs2d {
  PretrainOptions config;
  SslModel model{nullptr};
  FieldStats stats;
};

LoadedNs2d load_checkpoint(const std::string& path, at::Device device) {
  auto ck = train::load_checkpoint(path);
  if (ck.config.rfind("equation: ns2d\n", 0) != 0)
    throw std::invalid_argument(path + " is not an ns2d pretraining checkpoint (`jess pde pretrain` on ns2d data)");
  LoadedNs2d le;
  ConfigSchema s;
  le.config.describe(s);
  s.load_stored_yaml(ck.config.substr(std::string("equation: ns2d\n").size()), path);
  le.model = SslModel(le.config.encoder, 3 * le.config.augment.crop_t, le.config.projector);
  train::load_state_dict(*le.model, ck.model, path);
  le.model->to(device);
  le.model->eval();
  auto it = ck.extra.find("field_stats");
  if (it == ck.extra.end()) throw std::invalid_argument(path + " has no field statistics");
  le.stats = FieldStats::from(it->second);
  return le;
}

}  // namespace

PretrainSummary pretrain(PretrainOptions o, const std::string& out_dir, bool restart) {
  o.resolve();
  FieldStats stats;
  Fields data = load_fields(o.data, o.train_split, o.n_train, o.pool, &stats, /*compute_stats=*/true);
  if (o.batch > data.x.size(0))
    throw ConfigError("config key 'batch': " + std::to_string(o.batch) + " is larger than the " +
                      std::to_string(data.x.size(0)) + " training trajectories");
  Fields monitor;
  if (o.monitor > 1) {
    H5Reader r(o.data);
    if (r.exists("/valid/u")) monitor = load_fields(o.data, "valid", o.monitor, o.pool, &stats, false);
  }
  Ns2dSslTask task(o, std::move(data), std::move(monitor), stats, pick_device(o.device));
  train::TrainOptions to = o.train;
  if (restart && dist::is_main()) std::remove((out_dir + "/checkpoint.pt").c_str());
  to.resume = !restart;
  PretrainSummary s;
  s.train = train::train(task, to, out_dir, o.config_yaml, "pretrain ns2d");
  s.checkpoint = s.train.checkpoint;
  for (const auto& kv : s.train.last_epoch_metrics)
    if (kv.first == "rankme") s.rankme = kv.second;
  return s;
}

at::Tensor embed(const std::string& checkpoint, const std::string& data, const std::string& split, int64_t limit,
                 int64_t windows) {
  const at::Device device = pick_device("auto");
  auto le = load_checkpoint(checkpoint, device);
  auto st = le.stats;
  Fields f = load_fields(data, split, limit, le.config.pool, &st, false);
  return window_features(*le.model->encoder, f, le.config.augment.crop_t, windows > 0 ? windows : le.config.windows,
                         device);
}

EncoderInfo encoder_info(const std::string& checkpoint) {
  auto le = load_checkpoint(checkpoint, at::kCPU);
  return {le.config.pool, le.config.augment.crop_t, le.model->encoder->output_dim()};
}

at::Tensor embed_window(const std::string& checkpoint, const std::string& data, const std::string& split, int64_t limit,
                        int64_t t0) {
  const at::Device device = pick_device("auto");
  auto le = load_checkpoint(checkpoint, device);
  auto st = le.stats;
  Fields f = load_fields(data, split, limit, le.config.pool, &st, false);
  const int64_t ct = le.config.augment.crop_t;
  if (t0 < 0 || t0 + ct > f.x.size(2))
    throw std::invalid_argument("window [" + std::to_string(t0) + ", " + std::to_string(t0 + ct) + ") exceeds the " +
                                std::to_string(f.x.size(2)) + " frames");
  f.x = f.x.narrow(2, t0, ct);
  return window_features(*le.model->encoder, f, ct, 1, device);
}

// ------------------------------------------------------------------ regression

void RegressOptions::describe(ConfigSchema& s) {
  s.add("data", data, "HDF5 file from `jess pde generate equation=ns2d`");
  s.add("labelled", labelled, "labelled trajectories (train split) for the heads and the supervised baseline",
        check::int_at_least(8));
  s.add("test_split", test_split, "split the heads are scored on");
  s.add("validation_fraction", validation_fraction,
        "part of the labelled set held out to choose the supervised baseline's and the MLP heads' epochs",
        check::in_range(0.05, 0.5));
  s.add("windows", windows, "features averaged over this many evenly spaced windows (0: the checkpoint's, else 4)",
        check::int_at_least(0));
  s.add("seeds", seeds, "seeds of the baselines (supervised, random-init encoder)", check::positive_int());
  s.add("seed", seed, "first seed", check::int_at_least(0));
  s.add("supervised", supervised, "train the supervised baseline");
  s.add("supervised_epochs", supervised_epochs, "supervised baseline: epochs (the best on validation is kept)",
        check::positive_int());
  s.add("supervised_lr", supervised_lr, "supervised baseline: Adam learning rate (cosine decay to 0)", check::positive());
  s.add("supervised_batch", supervised_batch, "supervised baseline: batch size", check::int_at_least(2));
  encoder.describe(s, "encoder.");
  s.add("pool", pool, "field pooling without a checkpoint (0: 4)", check::int_at_least(0));
  s.add("crop_t", crop_t, "frames per window without a checkpoint (0: 16)", check::int_at_least(0));
  s.add("device", device, "auto | cpu | cuda", check::one_of({"auto", "cpu", "cuda"}));
}

namespace {

double mse_of(const at::Tensor& p, const at::Tensor& y) {
  return (p.to(at::kDouble).view(-1) - y.to(at::kDouble).view(-1)).pow(2).mean().item<double>();
}

// An MLP head (Linear-ReLU-Linear, 256 hidden) on standardised frozen features: Adam 1e-3 full batch,
// weight decay 1e-4, the step with the best validation MSE kept (validation = the labelled set's tail).
at::Tensor mlp_predict(const at::Tensor& ftr, const at::Tensor& ytr, int64_t n_fit, const at::Tensor& fte,
                       uint64_t seed) {
  auto a = ftr.to(at::kFloat), b = fte.to(at::kFloat);
  auto mu = a.narrow(0, 0, n_fit).mean(0, true), sd = a.narrow(0, 0, n_fit).std(0, true, true).clamp_min(1e-6);
  a = (a - mu) / sd, b = (b - mu) / sd;
  auto y = ytr.to(at::kFloat).view({-1, 1});
  auto ym = y.narrow(0, 0, n_fit).mean(), ys = y.narrow(0, 0, n_fit).std().clamp_min(1e-12);
  auto yz = (y - ym) / ys;
  torch::manual_seed(seed);
  torch::nn::Sequential net(torch::nn::Linear(a.size(1), 256), torch::nn::ReLU(), torch::nn::Linear(256, 1));
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3).weight_decay(1e-4));
  auto xf = a.narrow(0, 0, n_fit), yf = yz.narrow(0, 0, n_fit);
  auto xv = a.narrow(0, n_fit, a.size(0) - n_fit), yv = yz.narrow(0, n_fit, a.size(0) - n_fit);
  double best = INFINITY;
  std::vector<at::Tensor> best_state;
  for (int it = 0; it < 2000; ++it) {
    opt.zero_grad();
    auto loss = at::mse_loss(net->forward(xf), yf);
    loss.backward();
    opt.step();
    if (it % 20 == 19) {
      torch::NoGradGuard ng;
      const double v = at::mse_loss(net->forward(xv), yv).item<double>();
      if (v < best) {
        best = v;
        best_state.clear();
        for (auto& p : net->parameters()) best_state.push_back(p.detach().clone());
      }
    }
  }
  torch::NoGradGuard ng;
  auto params = net->parameters();
  for (size_t i = 0; i < params.size(); ++i) params[i].copy_(best_state[i]);
  return (net->forward(b) * ys + ym).to(at::kDouble);
}

// The supervised baseline: the same encoder + a linear head trained end to end on random windows of
// the labelled fitting set (standardised b, MSE, no symmetry: the reference's protocol), the epoch with
// the best validation MSE kept.
class SupervisedTask : public train::TrainTask {
 public:
  SupervisedTask(const Fields& fit, const Fields& val, const EncoderConfig& enc, int64_t crop_t, int64_t windows,
                 int64_t batch, uint64_t seed, at::Device device)
      : fit_(fit), val_(val), crop_t_(crop_t), windows_(windows), batch_(batch), seed_(seed), device_(device) {
    y_mean_ = fit.buoyancy.mean().item<double>();
    y_std_ = std::max(fit.buoyancy.std().item<double>(), 1e-12);
    torch::manual_seed(seed);
    model_ = std::make_shared<Net>(SslModel(enc, 3 * crop_t, "512"), 1);
    model_->to(device_);
    view_.crop_t = crop_t;
  }
  using Net = detail::SupervisedNet;
  torch::nn::Module& model() override { return *model_; }
  int64_t steps_per_epoch() const override { return fit_.x.size(0) / batch_; }
  void seek(int64_t, int64_t) override {}
  train::StepOutput step(int64_t epoch, int64_t step) override {
    const int64_t n = fit_.x.size(0);
    auto order = seeded_permutation(n, seed_, 0x5E1Full, uint64_t(epoch));
    const auto shard = dist::shard_of(batch_);  // data-parallel: this rank's rows, drawn from their positions
    std::vector<int64_t> rows(order.begin() + step * batch_ + shard.begin, order.begin() + step * batch_ + shard.end);
    auto v = make_views(fit_, rows, view_, seed_, uint64_t(epoch * n + step * batch_ + shard.begin), /*single=*/true).first;
    auto y = ((fit_.buoyancy.index_select(0, at::tensor(rows, at::kLong)) - y_mean_) / y_std_).to(at::kFloat);
    auto pred = model_->head(model_->body->encoder->forward(encoder_input(v, device_))).view(-1);
    return {at::mse_loss(pred, y.to(device_)), {}, int64_t(rows.size())};
  }
  at::Tensor predict(const Fields& f) {
    auto h = frozen_features(f);
    torch::NoGradGuard ng;
    return model_->head(h.to(device_)).to(at::kCPU, at::kDouble).view(-1) * y_std_ + y_mean_;
  }
  std::vector<std::pair<std::string, double>> end_of_epoch(int64_t epoch) override {
    const double m = mse_of(predict(val_), val_.buoyancy);
    if (m < best_) {
      best_ = m;
      best_state_ = train::state_dict(*model_);
    }
    return {{"validation_mse", m}};
  }
  void restore_best() {
    if (!best_state_.empty()) train::load_state_dict(*model_, best_state_, "best validation epoch");
  }
  at::Tensor frozen_features(const Fields& f) {
    return window_features(*model_->body->encoder, f, crop_t_, windows_, device_);
  }

 private:
  const Fields& fit_;
  const Fields& val_;
  int64_t crop_t_, windows_, batch_;
  uint64_t seed_;
  at::Device device_;
  ViewOptions view_;
  double y_mean_ = 0, y_std_ = 1;
  std::shared_ptr<Net> model_;
  double best_ = INFINITY;
  std::map<std::string, at::Tensor> best_state_;
};

Fields rows_of(const Fields& f, int64_t first, int64_t n) {
  Fields r = f;
  r.x = f.x.narrow(0, first, n);
  r.buoyancy = f.buoyancy.narrow(0, first, n);
  return r;
}

}  // namespace

RegressReport regress(const RegressOptions& o, const std::vector<std::string>& checkpoints, const std::string& out_dir) {
  if (o.data.empty()) throw ConfigError("config key 'data': no dataset given");
  if (!file_exists(o.data)) throw ConfigError("config key 'data': '" + o.data + "' does not exist");
  if (!is_ns2d_file(o.data)) throw ConfigError("config key 'data': '" + o.data + "' holds no ns2d trajectories");
  check_arch(o.encoder);
  if (dist::is_main()) make_directories(out_dir);
  const at::Device device = pick_device(o.device);
  std::vector<LoadedNs2d> ssl;
  for (const auto& c : checkpoints) ssl.push_back(load_checkpoint(c, device));
  EncoderConfig enc = o.encoder;
  int64_t pool = o.pool > 0 ? o.pool : 4, crop_t = o.crop_t > 0 ? o.crop_t : 16, windows = o.windows > 0 ? o.windows : 4;
  if (!ssl.empty()) {
    const auto& c = ssl.front().config;
    enc = c.encoder, pool = c.pool, crop_t = c.augment.crop_t;
    if (o.windows == 0) windows = c.windows;
    for (const auto& s : ssl)
      if (s.config.pool != pool || s.config.augment.crop_t != crop_t)
        throw std::invalid_argument("the checkpoints differ in pool or crop_t; regress them separately");
  }
  // Fields standardised by the first checkpoint's statistics (each SSL encoder sees its own below).
  FieldStats stats;
  const bool own = ssl.empty();
  if (!own) stats = ssl.front().stats;
  Fields lab = load_fields(o.data, "train", o.labelled, pool, &stats, own);
  Fields test = load_fields(o.data, o.test_split, 0, pool, &stats, false);
  const int64_t n_lab = lab.x.size(0);
  const int64_t n_val = std::max<int64_t>(2, int64_t(std::llround(o.validation_fraction * double(n_lab))));
  const int64_t n_fit = n_lab - n_val;
  if (n_fit < 4) throw ConfigError("config key 'labelled': too few trajectories to fit and validate");
  const auto& ytr = lab.buoyancy;
  const auto& yte = test.buoyancy;

  RegressReport rep;
  rep.equation = "ns2d";
  rep.target = "buoyancy b";
  rep.metric = "MSE";
  rep.labelled = n_lab;
  rep.test = test.x.size(0);
  auto score = [&](const at::Tensor& p, std::vector<double>& v, std::vector<double>& r2) {
    v.push_back(mse_of(p, yte));
    r2.push_back(detail::r2_of(p.view({-1, 1}), yte.view({-1, 1})));
  };
  auto y2 = ytr.view({-1, 1});
  std::vector<double> sup, sup_r2, refit, refit_r2, rnd, rnd_r2, rnd_mlp, rnd_mlp_r2, lin, lin_r2, mlp, mlp_r2;
  for (int64_t k = 0; k < o.seeds; ++k) {
    const uint64_t seed = uint64_t(o.seed + k);
    {
      torch::manual_seed(seed + 1000);
      SslModel m(enc, 3 * crop_t, "512");
      m->to(device);
      auto ftr = window_features(*m->encoder, lab, crop_t, windows, device);
      auto fte = window_features(*m->encoder, test, crop_t, windows, device);
      score(detail::ridge_predict(ftr, y2, fte, seed), rnd, rnd_r2);
      score(mlp_predict(ftr, ytr, n_fit, fte, seed), rnd_mlp, rnd_mlp_r2);
    }
    if (o.supervised) {
      if (n_fit < o.supervised_batch)
        throw ConfigError("labelled (" + std::to_string(n_lab) + ") leaves fewer fitting trajectories than supervised_batch");
      Fields fit = rows_of(lab, 0, n_fit), val = rows_of(lab, n_fit, n_val);
      SupervisedTask task(fit, val, enc, crop_t, windows, o.supervised_batch, seed, device);
      train::TrainOptions to;
      to.epochs = o.supervised_epochs;
      to.optimizer = "adam";
      to.lr = o.supervised_lr;
      to.schedule = "warmup_cosine", to.warmup_epochs = 0;
      to.weight_decay = 0;
      to.resume = false;
      const std::string dir = out_dir + "/supervised_seed" + std::to_string(seed);
      if (dist::is_main()) std::remove((dir + "/checkpoint.pt").c_str());
      train::train(task, to, dir, "supervised ns2d baseline\nseed: " + std::to_string(seed) + "\n", "supervised ns2d");
      task.restore_best();
      score(task.predict(test), sup, sup_r2);
      score(detail::ridge_predict(task.frozen_features(lab), y2, task.frozen_features(test), seed), refit, refit_r2);
    }
  }
  for (size_t i = 0; i < ssl.size(); ++i) {
    auto& le = ssl[i];
    auto st = le.stats;
    Fields l = i == 0 ? lab : load_fields(o.data, "train", o.labelled, pool, &st, false);
    Fields t = i == 0 ? test : load_fields(o.data, o.test_split, 0, pool, &st, false);
    auto ftr = window_features(*le.model->encoder, l, crop_t, windows, device);
    auto fte = window_features(*le.model->encoder, t, crop_t, windows, device);
    score(detail::ridge_predict(ftr, y2, fte, uint64_t(o.seed) + i), lin, lin_r2);
    score(mlp_predict(ftr, ytr, n_fit, fte, uint64_t(o.seed) + i), mlp, mlp_r2);
  }
  using detail::summarise;
  if (!sup.empty()) rep.rows.push_back(summarise("supervised (end to end)", sup, sup_r2));
  if (!refit.empty()) rep.rows.push_back(summarise("supervised, head refit by the probe", refit, refit_r2));
  if (!lin.empty()) rep.rows.push_back(summarise("SSL repr. + linear head", lin, lin_r2));
  if (!mlp.empty()) rep.rows.push_back(summarise("SSL repr. + MLP head", mlp, mlp_r2));
  rep.rows.push_back(summarise("random-init encoder + linear head", rnd, rnd_r2));
  rep.rows.push_back(summarise("random-init encoder + MLP head", rnd_mlp, rnd_mlp_r2));
  auto mean_y = at::full({test.x.size(0)}, ytr.mean().item<double>(), at::kDouble);
  rep.rows.push_back(summarise("constant (mean of labels)", {mse_of(mean_y, yte)}, {detail::r2_of(mean_y.view({-1, 1}), yte.view({-1, 1}))}));
  {  // the law's variance: what predicting the mean scores with infinitely many labels
    GenerateOptions g;
    ConfigSchema gs;
    g.describe(gs);
    H5Reader r(o.data);
    gs.load_yaml_string(r.attr_string("/", "config"), o.data);
    const double w = g.buoyancy_max - g.buoyancy_min;
    rep.rows.push_back(summarise("variance of b's law, (max-min)^2/12", {w * w / 12.0}, {0.0}));
  }
  return rep;
}

}  // namespace jess::pde::ns2d
