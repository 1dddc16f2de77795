// jess equivariance train: the model (backbone + method + online evaluator), the training task on
// rendered pairs, and checkpoints read back.
#include "jess/equivariance/train.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/activation.h>
#include <torch/utils.h>

#include <cstdio>
#include <sstream>

#include "jess/core/config.h"
#include "jess/core/device.h"
#include "jess/core/files.h"
#include "jess/dist/dist.h"
#include "jess/data/rendered_pairs.h"
#include "jess/equivariance/metrics.h"
#include "jess/equivariance/model.h"
#include "jess/eval/rankme.h"

namespace jess::equivariance {

EquivariantTrainOptions::EquivariantTrainOptions() {
  train.epochs = 20;
  train.optimizer = "adam";
  train.lr = 1e-3;
  train.weight_decay = 1e-6;
  train.schedule = "constant";
}

void EquivariantTrainOptions::describe(ConfigSchema& s) {
  s.add("data", data, "rendered dataset: dataset.h5 or a folder (jess render dataset output, or 3DIEBench)");
  s.add("prefer_folder", prefer_folder, "a folder with both layouts: read the image files, not dataset.h5");
  s.add("method", method, "equivariant method", check::one_of(method_names()));
  method_options.describe(s);
  s.add("backbone", backbone, "resnet18 (7x7 stride-2 stem + max-pool, as 3DIEBench) | resnet18_cifar (3x3 stem)",
        check::one_of({"resnet18", "resnet18_cifar"}));
  s.add("width", width, "first-stage channels (64: ResNet-18; the representation has 8 x width)", check::positive_int());
  s.add("batch", batch, "objects per batch (two views each)", check::int_at_least(2));
  s.add("canonical_sign", canonical_sign,
        "flip q to w >= 0 (scipy's sign otherwise; W(-q) = -W(q)); measured worse on turntable data (docs/equivariance.md)");
  s.add("n_monitor", n_monitor, "validation pairs evaluated at each epoch end (online evaluator, RankMe)",
        check::int_at_least(2));
  s.add("seed", seed, "seed of the initialisation and the pairs", check::int_at_least(0));
  s.add("device", device, "auto (CUDA when available) | cpu | cuda", check::one_of({"auto", "cpu", "cuda"}));
  train.describe(s, "train.");
}

void EquivariantTrainOptions::resolve() {
  if (data.empty()) throw ConfigError("config key 'data': a rendered dataset is required (jess render dataset)");
  train.validate();
  method_options.representation_dim = 8 * width;
  method_options.transform_dim = transform_dim_of(method);
  method_options.validate();
  if (method_options.equi >= method_options.representation_dim)
    throw ConfigError("config key 'equi' (" + std::to_string(method_options.equi) +
                      ") must be below the representation's " + std::to_string(method_options.representation_dim) +
                      " dimensions (8 x width)");
  ConfigSchema s;
  describe(s);
  config_yaml = s.to_yaml();
}

// ------------------------------------------------------------------ model

torch::nn::Sequential pair_regressor(int64_t in, int64_t outputs) {
  torch::nn::Sequential m;
  m->push_back(torch::nn::Linear(in, in));
  m->push_back(torch::nn::ReLU());
  m->push_back(torch::nn::Linear(in, in));
  m->push_back(torch::nn::ReLU());
  m->push_back(torch::nn::Linear(in, outputs));
  return m;
}

EquivariantModelImpl::EquivariantModelImpl(const EquivariantTrainOptions& o, int64_t classes) {
  nn::ResNet18Options r;
  r.in_channels = 3;
  r.width = o.width;
  r.cifar_stem = o.backbone == "resnet18_cifar";
  backbone = register_module("backbone", nn::ResNet18(r).ptr());
  representation_dim = backbone->output_dim();
  MethodOptions mo = o.method_options;
  mo.representation_dim = representation_dim;
  method = register_module("method", make_method(o.method, mo));
  invariant_dims = method->split() ? method->invariant_dims() : 0;
  classifier = register_module("classifier", torch::nn::Linear(representation_dim, classes));
  rotation = register_module("rotation", pair_regressor(2 * representation_dim, 4));
  if (invariant_dims > 0) {
    classifier_inv = register_module("classifier_inv", torch::nn::Linear(invariant_dims, classes));
    rotation_equi = register_module("rotation_equi", pair_regressor(2 * (representation_dim - invariant_dims), 4));
  }
  input_mean = register_buffer("input_mean", at::full({1, 3, 1, 1}, 0.5));
  input_std = register_buffer("input_std", at::full({1, 3, 1, 1}, 0.25));
}

at::Tensor EquivariantModelImpl::input(const at::Tensor& images) const {
  return (images.to(input_mean.device()).to(at::kFloat) / 255.0 - input_mean) / input_std;
}

at::Tensor EquivariantModelImpl::evaluator_loss(const at::Tensor& y1_, const at::Tensor& y2_, const at::Tensor& labels,
                                                const at::Tensor& q, std::vector<std::pair<std::string, double>>& metrics) {
  auto y1 = y1_.detach(), y2 = y2_.detach();
  auto both = at::cat({y1, y2}, 0);
  auto lab = at::cat({labels, labels}, 0);
  auto logits = classifier->forward(both);
  auto loss = at::cross_entropy_loss(logits, lab);
  metrics.emplace_back("top1", logits.argmax(1).eq(lab).to(at::kDouble).mean().item<double>());
  auto qp = rotation->forward(at::cat({y1, y2}, 1));
  loss = loss + at::mse_loss(qp, q);
  if (invariant_dims > 0) {
    const int64_t e = representation_dim - invariant_dims;
    auto li = classifier_inv->forward(both.narrow(1, 0, invariant_dims));
    loss = loss + at::cross_entropy_loss(li, lab);
    metrics.emplace_back("top1_inv", li.argmax(1).eq(lab).to(at::kDouble).mean().item<double>());
    auto qe = rotation_equi->forward(at::cat({y1.narrow(1, invariant_dims, e), y2.narrow(1, invariant_dims, e)}, 1));
    loss = loss + at::mse_loss(qe, q);
  }
  return loss;
}

namespace {

// g of a batch: scipy's relative quaternion (optionally w >= 0), plus the hue changes for rot_color.
at::Tensor transformation(const data::RenderedPairBatch& b, const EquivariantTrainOptions& o, at::Tensor* rotation_out) {
  auto q = b.relative_rotation.clone();
  if (o.canonical_sign) q = q * at::where(q.select(1, 3).lt(0), -1.0, 1.0).unsqueeze(1).to(q.dtype());
  if (rotation_out) *rotation_out = q;
  if (o.method_options.transform_dim == 4 && transform_dim_of(o.method) == 4) return q;
  if (b.factors1.size(1) < 7) throw std::invalid_argument("sie_rot_color: the dataset's views lack the floor and light hues");
  // 3DIEBench's latent order: [rot x, y, z, floor hue, spot theta, spot phi, spot hue]; raw differences.
  auto d = (b.factors2 - b.factors1).to(at::kFloat);
  return at::cat({q, d.select(1, 3).unsqueeze(1), d.select(1, 6).unsqueeze(1)}, 1);
}

class EquivariantTask : public train::TrainTask {
 public:
  EquivariantTask(const EquivariantTrainOptions& o, at::Device device) : o_(o), device_(device) {
    data::RenderedPairOptions po;
    po.path = o.data;
    po.split = "train";
    po.batch = o.batch;
    po.seed = o.seed;
    po.prefer_folder = o.prefer_folder;
    if (dist::active()) {  // this rank's share of every global batch
      const auto sh = dist::shard_of(o.batch);
      po.shard_begin = sh.begin, po.shard_size = sh.size();
    }
    loader_ = std::make_unique<data::RenderedPairLoader>(po);
    // The input statistics come from whole global batches (every rank the same, as in one process).
    data::RenderedPairOptions whole = po;
    whole.shard_begin = whole.shard_size = 0;
    whole.prefetch = 0;
    if (dist::active()) stats_loader_ = std::make_unique<data::RenderedPairLoader>(whole);
    if (transform_dim_of(o.method) == 6 && loader_->factor_count() < 7)
      throw ConfigError("sie_rot_color needs the floor and light hues in the dataset's latents");
    po.split = "val";
    po.shard_begin = po.shard_size = 0;
    po.batch = 1;
    po.prefetch = 0;
    po.drop_last = false;
    try {
      val_ = std::make_unique<data::RenderedPairLoader>(po);
    } catch (const ConfigError&) {
      val_.reset();  // no validation split: the epoch metrics are skipped
    }
    torch::manual_seed(uint64_t(o.seed));
    model_ = EquivariantModel(o, loader_->classes());
    // Data-parallel: the criteria's batch statistics see the global batch (all-gather with gradient).
    if (dist::active()) model_->method->set_gather([](const at::Tensor& z) { return dist::all_gather_with_grad(z); });
    set_input_statistics();
    model_->to(device_);
  }
  torch::nn::Module& model() override { return *model_; }
  int64_t steps_per_epoch() const override { return loader_->steps_per_epoch(); }
  void seek(int64_t epoch, int64_t step) override {
    loader_->start_epoch(epoch, step);
    epoch_ = epoch;
  }

  train::StepOutput step(int64_t epoch, int64_t) override {
    if (epoch != epoch_) seek(epoch, 0);
    data::RenderedPairBatch b;
    if (!loader_->next(b)) {  // the trainer asked past the epoch's end: restart it
      seek(epoch, 0);
      loader_->next(b);
    }
    at::Tensor q;
    auto g = transformation(b, o_, &q).to(device_);
    q = q.to(device_);
    auto y1 = model_->represent(b.view1), y2 = model_->represent(b.view2);
    auto out = model_->method->forward(y1, y2, g);
    std::vector<std::pair<std::string, double>> metrics = out.parts;
    auto eval_loss = model_->evaluator_loss(y1, y2, b.labels.to(device_), q, metrics);
    metrics.emplace_back("ssl_loss", out.loss.item<double>());
    return {out.loss + eval_loss, metrics, b.view1.size(0)};
  }

  std::vector<std::pair<std::string, double>> end_of_epoch(int64_t) override {
    if (!val_) return {};
    torch::NoGradGuard ng;
    model_->eval();
    const int64_t n = std::min<int64_t>(o_.n_monitor, val_->objects());
    std::vector<at::Tensor> y1s, y2s, qs, labels;
    for (int64_t f = 0; f < n; f += 64) {
      const int64_t m = std::min<int64_t>(64, n - f);
      std::vector<at::Tensor> v1, v2, qq, ll;
      for (int64_t k = 0; k < m; ++k) {  // validation pair k: epoch 0, step k of a batch-1 loader (fixed)
        auto b = val_->batch(0, f + k);
        v1.push_back(b.view1), v2.push_back(b.view2), ll.push_back(b.labels);
        at::Tensor q;
        transformation(b, o_, &q);
        qq.push_back(q);
      }
      y1s.push_back(model_->represent(at::cat(v1)));
      y2s.push_back(model_->represent(at::cat(v2)));
      qs.push_back(at::cat(qq));
      labels.push_back(at::cat(ll));
    }
    auto y1 = at::cat(y1s), y2 = at::cat(y2s), q = at::cat(qs), lab = at::cat(labels).to(device_);
    std::vector<std::pair<std::string, double>> r;
    r.emplace_back("val_top1", model_->classifier->forward(y1).argmax(1).eq(lab).to(at::kDouble).mean().item<double>());
    r.emplace_back("val_rotation_r2", r2_scalar_mean(model_->rotation->forward(at::cat({y1, y2}, 1)).cpu(), q));
    if (model_->invariant_dims > 0) {
      const int64_t k = model_->invariant_dims, e = model_->representation_dim - k;
      r.emplace_back("val_top1_inv",
                     model_->classifier_inv->forward(y1.narrow(1, 0, k)).argmax(1).eq(lab).to(at::kDouble).mean().item<double>());
      r.emplace_back("val_rotation_r2_equi",
                     r2_scalar_mean(model_->rotation_equi->forward(at::cat({y1.narrow(1, k, e), y2.narrow(1, k, e)}, 1)).cpu(), q));
    }
    model_->train();
    auto d = y1.to(at::kDouble).cpu().contiguous();
    r.emplace_back("rankme", eval::rankme(eval::spectrum_from_rows(d.data_ptr<double>(), d.size(0), d.size(1)).singular_values));
    return r;
  }

 private:
  // Per-channel mean and std of the training images (the first batches of epoch 0), as buffers, so the
  // checkpoint carries the input normalisation (the reference hard-codes 3DIEBench's).
  void set_input_statistics() {
    std::vector<at::Tensor> imgs;
    const int64_t steps = std::min<int64_t>(4, loader_->steps_per_epoch());
    for (int64_t s = 0; s < steps; ++s) {
      auto b = (stats_loader_ ? stats_loader_ : loader_)->batch(0, s);
      imgs.push_back(b.view1);
      imgs.push_back(b.view2);
    }
    auto x = at::cat(imgs).to(at::kFloat) / 255.0;  // (N, 3, S, S)
    auto mean = x.mean({0, 2, 3}, true), sd = x.std({0, 2, 3}, true, true).clamp_min(1e-3);
    model_->input_mean.copy_(mean);
    model_->input_std.copy_(sd);
  }

  const EquivariantTrainOptions& o_;
  at::Device device_;
  std::unique_ptr<data::RenderedPairLoader> loader_, val_, stats_loader_;
  EquivariantModel model_{nullptr};
  int64_t epoch_ = -1;
};

}  // namespace

EquivariantTrainSummary train_equivariant(EquivariantTrainOptions o, const std::string& out_dir, bool restart) {
  o.resolve();
  EquivariantTask task(o, pick_device(o.device));
  train::TrainOptions to = o.train;
  if (restart && dist::is_main()) std::remove((out_dir + "/checkpoint.pt").c_str());
  to.resume = !restart;
  EquivariantTrainSummary s;
  s.train = train::train(task, to, out_dir, o.config_yaml, "equivariant " + o.method);
  s.last_epoch = s.train.last_epoch_metrics;
  return s;
}

LoadedEquivariantModel load_equivariant_model(const std::string& path) {
  std::string ckpt = is_directory(path) ? path + "/checkpoint.pt" : path;
  auto c = train::load_checkpoint(ckpt);
  if (c.model.count("input_mean") == 0 || c.model.count("rotation.0.weight") == 0 ||
      c.config.find("canonical_sign:") == std::string::npos)
    throw std::invalid_argument(ckpt + " is not a checkpoint of jess equivariance train");
  LoadedEquivariantModel m;
  m.checkpoint = ckpt;
  ConfigSchema s;
  m.config.describe(s);
  s.load_stored_yaml(c.config, ckpt + " (stored configuration)");
  m.config.resolve();
  const int64_t classes = c.model.at("classifier.weight").size(0);
  m.model = EquivariantModel(m.config, classes);
  train::load_state_dict(*m.model, c.model, ckpt);
  m.model->eval();
  return m;
}

FrozenEquivariantEncoder load_equivariant_encoder(const std::string& path, const std::string& device_name) {
  auto loaded = std::make_shared<LoadedEquivariantModel>(load_equivariant_model(path));
  const at::Device device = pick_device(device_name);
  loaded->model->to(device);
  FrozenEquivariantEncoder e;
  e.method = loaded->config.method;
  e.checkpoint = loaded->checkpoint;
  e.dim = loaded->model->representation_dim;
  e.features = [loaded, device](const at::Tensor& images) {
    torch::NoGradGuard ng;
    std::vector<at::Tensor> out;
    for (int64_t f = 0; f < images.size(0); f += 256) {  // input() divides by 255: pass [0, 255]
      auto x = images.narrow(0, f, std::min<int64_t>(256, images.size(0) - f)).to(at::kFloat) * 255.0;
      out.push_back(loaded->model->represent(x.to(device)).to(at::kCPU));
    }
    return at::cat(out);
  };
  return e;
}

bool is_equivariant_checkpoint(const std::string& path) {
  const std::string ckpt = is_directory(path) ? path + "/checkpoint.pt" : path;
  if (!file_exists(ckpt)) return false;
  try {
    const auto c = train::load_checkpoint(ckpt);
    return c.model.count("input_mean") && c.model.count("rotation.0.weight") && c.config.find("canonical_sign:") != std::string::npos;
  } catch (...) {
    return false;
  }
}

}  // namespace jess::equivariance
