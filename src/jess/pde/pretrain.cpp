// Self-supervised pretraining on pairs of Lie-point-symmetry views (`jess pde pretrain`) and the
// frozen representations of a split (`jess pde embed`).
#include "jess/pde/ssl_model.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <memory>
#include <sstream>

#include "jess/core/config.h"
#include "jess/core/device.h"
#include "jess/core/files.h"
#include "jess/dist/dist.h"
#include "jess/core/hdf5_file.h"
#include "jess/core/rng.h"
#include "jess/pde/solvers.h"
#include "jess/ssl/loss.h"
#include "jess/ssl/vicreg.h"

namespace jess::pde {

using namespace detail;

// ------------------------------------------------------------------ configuration

PretrainOptions::PretrainOptions() {
  // Adam 2.5e-3, one epoch of linear warm-up, cosine decay to zero: on Burgers (docs/pde.md, "What
  // limited the PDE results") it beats the PDE reference's constant AdamW 3e-4 and Adam 1e-3. Behind
  // BatchNorm the step that matters is lr / |w|, and torchvision's Kaiming fan-out initialisation
  // makes |w| ~2.4x larger than PyTorch's default.
  train.epochs = 30;
  train.optimizer = "adam";
  train.lr = 2.5e-3;
  train.weight_decay = 0;
  train.schedule = "warmup_cosine";
  train.warmup_epochs = 1;
  train.final_lr_fraction = 0;
  augment.crop_t = augment.crop_x = 0;  // half the trajectory in each direction
}

void PretrainOptions::describe(ConfigSchema& s) {
  s.add("data", data, "HDF5 dataset written by `jess pde generate`");
  s.add("equation", equation, "equation of the data (filled from the file; checked when given)");
  s.add("train_split", train_split, "split used for pretraining (labels are never read)");
  s.add("n_train", n_train, "trajectories used (0: the whole split)", check::int_at_least(0));
  s.add("seed", seed, "seed of the initialisation, the data order and the augmentations", check::int_at_least(0));
  s.add("batch", batch, "trajectories per batch (two views each)", check::int_at_least(2));
  encoder.describe(s, "encoder.");
  s.add("projector", projector, "projector sizes, Linear-BN-ReLU blocks then a Linear (e.g. 512-512-512)");
  s.add("grid_channels", grid_channels, "feed log dx and log dt as constant input channels (false: zeros)");
  s.add("method", method, "SSL criterion (registered name)", check::one_of(ssl::loss_names()));
  s.add("vicreg.invariance", vicreg_invariance, "VICReg invariance weight", check::non_negative());
  s.add("vicreg.variance", vicreg_variance, "VICReg variance weight", check::non_negative());
  s.add("vicreg.covariance", vicreg_covariance, "VICReg covariance weight", check::non_negative());
  s.add("vicreg.epsilon", vicreg_epsilon, "VICReg epsilon inside the std", check::positive());
  augment.describe(s, "augment.");
  train.describe(s, "train.");
  s.add("device", device, "auto (CUDA when available) | cpu | cuda", check::one_of({"auto", "cpu", "cuda"}));
  s.add("monitor", monitor, "held-out (valid split) trajectories whose start views are embedded for RankMe each epoch",
        check::int_at_least(0));
}

namespace {

std::string file_equation(const std::string& path) {
  H5Reader r(path);
  if (!r.has_attr("/", "equation")) throw std::invalid_argument(path + " has no 'equation' attribute (not a jess dataset?)");
  return r.attr_string("/", "equation");
}

}  // namespace

void PretrainOptions::resolve() {
  if (data.empty()) throw ConfigError("config key 'data': no dataset given (an HDF5 file from `jess pde generate`)");
  if (!file_exists(data)) throw ConfigError("config key 'data': '" + data + "' does not exist");
  const std::string eq = file_equation(data);
  if (!equation.empty() && equation != eq)
    throw ConfigError("config key 'equation': " + equation + ", but '" + data + "' holds " + eq + " data");
  equation = augment.equation = eq;
  augment.resolve();
  if (augment.crop_t == 0 || augment.crop_x == 0) {  // views of half the trajectory in each direction
    H5Reader r(data);
    const std::string g = "/" + train_split;
    if (!r.exists(g)) throw ConfigError("config key 'train_split': '" + data + "' has no split '" + train_split + "'");
    for (const auto& c : r.children(g))
      if (c.rfind("pde_", 0) == 0) {
        auto shape = r.shape(g + "/" + c);
        if (shape.size() == 3) {
          if (augment.crop_t == 0) augment.crop_t = std::max<int64_t>(1, int64_t(shape[1]) / 2);
          if (augment.crop_x == 0) augment.crop_x = std::max<int64_t>(1, int64_t(shape[2]) / 2);
        }
      }
    if (augment.crop_t == 0 || augment.crop_x == 0)
      throw ConfigError("config key 'data': '" + data + "' split '" + train_split + "' holds no (N, nt, nx) pde_* dataset");
  }
  // The default warm-up (one epoch) is for runs of many epochs; a shorter run warms up for a tenth of it.
  if (train.schedule == "warmup_cosine" && train.warmup_epochs >= double(train.epochs))
    train.warmup_epochs = 0.1 * double(train.epochs);
  nn::parse_layer_sizes(projector);  // validates
  train.validate();
  ConfigSchema s;
  describe(s);
  config_yaml = s.to_yaml();
}

namespace {

// ------------------------------------------------------------------ pretraining task

class SslTask : public train::TrainTask {
 public:
  SslTask(const PretrainOptions& o, GridBatch data, Equation eq, at::Tensor monitor_x, at::Device device)
      : o_(o), data_(std::move(data)), eq_(eq), monitor_x_(monitor_x.defined() ? monitor_x.to(device) : monitor_x),
        device_(device) {
    stats_ = compute_stats(data_, o.grid_channels);
    torch::manual_seed(uint64_t(o.seed));
    model_ = SslModel(o.encoder, input_channels(o.encoder.arch, o.augment.crop_t), o.projector);
    loss_ = ssl::make_loss(o.method);
    // Data-parallel: the variance/covariance terms see the global batch (an all-gather with gradient).
    if (dist::active()) loss_->set_gather([](const at::Tensor& z) { return dist::all_gather_with_grad(z); });
    if (auto* v = dynamic_cast<ssl::VICRegLoss*>(loss_.get()))
      v->options() = {o.vicreg_invariance, o.vicreg_variance, o.vicreg_covariance, o.vicreg_epsilon};
    model_->to(device_);
  }
  torch::nn::Module& model() override { return *model_; }
  int64_t steps_per_epoch() const override { return data_.u.size(0) / o_.batch; }
  void seek(int64_t epoch, int64_t step) override {
    loader_.reset();
    const auto shard = dist::shard_of(o_.batch);  // this rank's rows of every global batch
    loader_ = loader_at(data_, eq_, o_.augment, o_.batch, uint64_t(o_.seed), epoch, step, /*single_view=*/false,
                        shard.begin, shard.size(), prefetch_for(device_));
  }
  train::StepOutput step(int64_t epoch, int64_t step) override {
    ViewBatch v = loader_->next();
    TORCH_CHECK(v.epoch == epoch && v.step == step, "view loader out of order");
    const auto& arch = o_.encoder.arch;
    auto z1 = model_->projector(model_->encoder->forward(encoder_input(arch, v.view1, v.dx1, v.dt1, stats_, device_)));
    auto z2 = model_->projector(model_->encoder->forward(encoder_input(arch, v.view2, v.dx2, v.dt2, stats_, device_)));
    ssl::LossTerms t = (*loss_)(z1, z2);
    t.parts.emplace_back("views_ms", 1000 * v.seconds);  // data pipeline time of this batch (made ahead)
    return {t.loss, t.parts, v.view1.size(0)};
  }
  std::vector<std::pair<std::string, double>> end_of_epoch(int64_t) override {
    if (!monitor_x_.defined() || monitor_x_.size(0) < 2) return {};
    auto r = model_->encoder->forward(monitor_x_);
    auto z = model_->projector(r);
    return {{"rankme", rankme_of(r)}, {"rankme_embedding", rankme_of(z)}};
  }
  std::map<std::string, at::Tensor> extra_state() const override { return {{"input_stats", stats_.tensor()}}; }
  const InputStats& stats() const { return stats_; }

 private:
  PretrainOptions o_;
  GridBatch data_;
  Equation eq_;
  at::Tensor monitor_x_;
  at::Device device_;
  InputStats stats_;
  SslModel model_{nullptr};
  std::unique_ptr<ssl::JointLoss> loss_;
  std::unique_ptr<PdeViewLoader> loader_;
};

}  // namespace

PretrainSummary pretrain(PretrainOptions o, const std::string& out_dir, bool restart) {
  o.resolve();
  Equation eq;
  GridBatch data = load_split(o.data, o.train_split, &eq);
  if (o.n_train > 0) data = head(data, o.n_train);
  if (o.batch > data.u.size(0))
    throw ConfigError("config key 'batch': " + std::to_string(o.batch) + " is larger than the " +
                      std::to_string(data.u.size(0)) + " training trajectories");
  check_crop_fits(data, o.augment.crop_t, o.augment.crop_x, "augment.crop_t/crop_x");
  at::Tensor monitor_x;
  InputStats stats = compute_stats(data, o.grid_channels);
  if (o.monitor > 1) {
    H5Reader r(o.data);
    if (r.exists("/valid")) {
      GridBatch v = head(load_split(o.data, "valid"), o.monitor);
      if (v.u.size(0) >= 2) {
        // The evaluation's start view, so the RankMe logged is that of the representation probed.
        EvalView view;
        view.ct = o.augment.crop_t;
        monitor_x = encoder_input(o.encoder.arch, view.input(v, 0, v.u.size(0), 0), v.dx, v.dt, stats);
      }
    }
  }
  SslTask task(o, data, eq, monitor_x, pick_device(o.device));
  train::TrainOptions to = o.train;
  if (restart && dist::is_main()) std::remove((out_dir + "/checkpoint.pt").c_str());
  to.resume = !restart;
  PretrainSummary s;
  s.train = train::train(task, to, out_dir, o.config_yaml, "pretrain " + equation_name(eq));
  s.checkpoint = s.train.checkpoint;
  for (const auto& kv : s.train.last_epoch_metrics)
    if (kv.first == "rankme") s.rankme = kv.second;
  return s;
}

at::Tensor embed(const std::string& checkpoint, const std::string& data, const EmbedOptions& o) {
  auto le = load_encoder(checkpoint, pick_device("auto"));
  Equation eq;
  GridBatch b = load_split(data, o.split, &eq);
  if (equation_name(eq) != le.config.augment.equation)
    throw std::invalid_argument("the checkpoint was trained on " + le.config.augment.equation + " data but '" + data +
                                "' holds " + equation_name(eq));
  if (o.limit > 0) b = head(b, o.limit);
  if (o.crops < 1) throw std::invalid_argument("crops must be at least 1");
  if (o.view != "start" && o.view != "crops") throw std::invalid_argument("view must be start or crops, not '" + o.view + "'");
  check_crop_fits(b, le.config.augment.crop_t, le.config.augment.crop_x, data);
  if (o.shifts < 1) throw std::invalid_argument("shifts must be at least 1");
  EvalView view{o.view, o.crops, le.config.augment.crop_t, le.config.augment.crop_x, uint64_t(o.seed), o.shifts};
  return features(*le.model->encoder, le.config.encoder.arch, le.stats, b, view, o.layer);
}

}  // namespace jess::pde
