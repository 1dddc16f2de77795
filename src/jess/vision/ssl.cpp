#include "jess/vision/ssl.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>
#include <iomanip>
#include <numeric>
#include <sstream>

#include "jess/core/config.h"
#include "jess/core/device.h"
#include "jess/core/files.h"
#include "jess/core/plot.h"
#include "jess/core/progress.h"
#include "jess/core/rng.h"
#include "jess/dist/dist.h"
#include "jess/eval/probes.h"
#include "jess/eval/rankme.h"
#include "jess/nn/encoders.h"
#include "jess/ssl/criteria.h"
#include "jess/ssl/loss.h"
#include "jess/vision/factors.h"
#include "jess/vision/idx.h"
#include "jess/vision/ssl_model.h"

namespace jess::vision {

std::vector<std::string> vision_method_names() {
  auto names = ssl::loss_names();
  names.push_back("byol");
  names.push_back("simsiam");
  names.push_back("supervised");
  return names;
}

std::string vision_method_help() {
  std::ostringstream s;
  for (const auto& n : ssl::loss_names()) {
    ConfigSchema schema;
    ssl::make_loss(n)->describe(schema, "");
    s << "  " << n << ":";
    for (const auto& k : schema.keys()) s << " " << k;
    s << "\n";
  }
  s << "  byol, simsiam: (no criterion keys; predictor, ema_start, ema_end)\n";
  s << "  supervised: (no criterion keys; cross-entropy of the classifier on both views: the supervised baseline)\n";
  return s.str();
}

VisionSslOptions::VisionSslOptions() {
  data = default_fashion_mnist_dir();
  train.epochs = 10;
  train.optimizer = "lars";
  train.weight_decay = 1e-6;
  train.schedule = "warmup_cosine";
  train.warmup_epochs = 1;
  train.final_lr_fraction = 0.001;
}

void VisionSslOptions::describe(ConfigSchema& s) {
  s.add("data", data, "MNIST-layout IDX directory (default: Debian's Fashion-MNIST), a rendered dataset (jess render "
        "dataset: every view of the train / val objects, RGB), or a factor-set file (jess render factors: each object "
        "canonical, varied instances also under variation.factor)");
  s.add("n_train", n_train, "training images (0: all)", check::int_at_least(0));
  s.add("n_bank", n_bank, "train images in the per-epoch k-NN bank (and the fitted probe's training set)", check::positive_int());
  s.add("n_monitor", n_monitor, "test images evaluated each epoch (k-NN, probes, RankMe)", check::positive_int());
  s.add("method", method, "SSL method", check::one_of(vision_method_names()));
  s.add("loss", loss, "the criterion's hyperparameters, e.g. \"temperature=0.2\" or \"invariance=25,covariance=1\"");
  s.add("backbone", backbone,
        "resnet18_cifar (3x3 stem, no max-pool) | resnet18 (ImageNet stem) | resnet_small (3x3 stem, three stages of one "
        "BasicBlock: width, 2 width, 4 width)",
        check::one_of({"resnet18_cifar", "resnet18", "resnet_small"}));
  s.add("width", width, "first-stage channels (resnet18_cifar: 64 standard, output 8 x width; resnet_small: output 4 x width)",
        check::positive_int());
  s.add("projector", projector, "projector sizes, Linear-BN-ReLU blocks then a Linear");
  s.add("predictor", predictor, "byol/simsiam: predictor hidden sizes (its output matches the projector)");
  s.add("ema_start", ema_start, "byol: teacher momentum at the first step", check::in_range(0, 1));
  s.add("ema_end", ema_end, "byol: teacher momentum at the last step (cosine schedule)", check::in_range(0, 1));
  s.add("batch", batch, "images per batch (two views each)", check::int_at_least(2));
  s.add("joint_views", joint_views,
        "views of one size go through the network as one batch (SimCLR's original; BatchNorm statistics then "
        "span both views; fewer, larger operations and half the SyncBatchNorm meetings)");
  s.add("channels_last", channels_last,
        "convolution weights and activations in the channels-last (NHWC) layout: the same results up to float "
        "rounding, ~15 % faster steps on CPU at width 32");
  s.add("base_lr", base_lr, "learning rate per 256 images: lr = base_lr * batch / 256", check::positive());
  s.add("seed", seed, "seed of the initialisation, the data order and the augmentations", check::int_at_least(0));
  s.add("device", device, "auto (CUDA when available) | cpu | cuda", check::one_of({"auto", "cpu", "cuda"}));
  augment.describe(s, "augment.");
  variation.describe(s, "variation.");
  train.describe(s, "train.");
}

namespace {
std::unique_ptr<ssl::JointLoss> make_criterion(const std::string& method, const std::string& overrides) {
  auto c = ssl::make_loss(method);
  ConfigSchema s;
  c->describe(s, "");
  std::vector<std::string> kv;
  std::istringstream in(overrides);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) kv.push_back(item);
  s.apply_overrides(kv);
  c->validate();
  return c;
}
}  // namespace

void VisionSslOptions::resolve() {
  augment.validate();
  if (is_factor_set_file(data)) {  // its variation factor is one of the file's sets, checked when it is read
    if (variation.canvas > 0) throw ConfigError("config key 'variation.canvas' applies to grey images, not to factor-set files");
    if (!(variation.fraction >= 0 && variation.fraction <= 1)) throw ConfigError("config key 'variation.fraction' must be in [0, 1]");
  } else {
    variation.validate();
  }
  // Training on canvases: views of the canvas's size unless the sizes were changed from the default.
  if (variation.canvas > 0 && augment.view1.size == 28 && augment.view2.size == 28)
    augment.view1.size = augment.view2.size = variation.canvas;
  train.validate();
  nn::parse_layer_sizes(projector);
  nn::parse_layer_sizes(predictor);
  const bool distill = method == "byol" || method == "simsiam" || method == "supervised";
  if (distill && !loss.empty()) throw ConfigError("config key 'loss': " + method + " has no criterion hyperparameters");
  if (!distill) {
    try {
      make_criterion(method, loss);
    } catch (const ConfigError& e) {
      throw ConfigError(std::string("config key 'loss' (") + method + "): " + e.what());
    }
  }
  if (ema_start > ema_end) throw ConfigError("config key 'ema_start' must not exceed 'ema_end'");
  train.lr = base_lr * double(batch) / 256.0;  // Goyal et al.'s linear scaling, as the SSL recipes
  ConfigSchema s;
  describe(s);
  config_yaml = s.to_yaml();
}

// Features of every layer for images (N, C, H, W) uint8, in blocks; (name, (N, D) float) shallow to deep.
nn::NamedOutputs layer_features(VisionSslModelImpl& model, const at::Tensor& images, double mean, double std_dev,
                                bool all_layers, at::Device device, Progress* bar) {
  torch::NoGradGuard ng;
  model.eval();
  std::vector<nn::NamedOutputs> parts;
  for (int64_t f = 0; f < images.size(0); f += 512) {
    const int64_t m = std::min<int64_t>(512, images.size(0) - f);
    auto x = ((images.narrow(0, f, m).to(at::kFloat) / 255.0 - mean) / std_dev).to(device);
    nn::NamedOutputs outs;
    if (all_layers) {
      outs = model.backbone->forward_blocks(x);
      auto proj = model.projector->forward_layers(outs.back().second);
      outs.insert(outs.end(), proj.begin(), proj.end());
    } else {
      outs.emplace_back("representation", model.backbone->forward(x));
    }
    for (auto& kv : outs) kv.second = kv.second.to(at::kCPU);
    parts.push_back(std::move(outs));
    if (bar) bar->advance(m);
  }
  nn::NamedOutputs out;
  for (size_t i = 0; i < parts[0].size(); ++i) {
    std::vector<at::Tensor> cols;
    for (auto& p : parts) cols.push_back(p[i].second);
    out.emplace_back(parts[0][i].first, at::cat(cols));
  }
  return out;
}

namespace {

class VisionSslTask : public train::TrainTask {
 public:
  VisionSslTask(const VisionSslOptions& o, ImageSet train, ImageSet test, at::Device device)
      : o_(o), train_(std::move(train)), test_(std::move(test)), device_(device) {
    images_ = at::from_blob(train_.pixels.data(), {train_.n, train_.channels, train_.height, train_.width}, at::kByte);
    labels_ = at::tensor(train_.labels, at::kLong);
    if (!train_.instance.empty()) {
      index_factor_set();
    } else {
      varied_ = varied_instances(train_.labels, o.variation, uint64_t(o.seed));
    }
    auto f = o.variation.canvas > 0 ? canonical_canvas(images_, o.variation.canvas) : images_.to(at::kFloat) / 255.0;
    mean_ = f.mean().item<double>();
    std_ = f.std().item<double>();
    torch::manual_seed(uint64_t(o.seed));
    model_ = VisionSslModel(o, train_.channels, train_.classes);
    model_->to(device_);
    if (o.method != "byol" && o.method != "simsiam" && o.method != "supervised") criterion_ = make_criterion(o.method, o.loss);
    // Data-parallel: batch-statistic terms see the global batch (an all-gather that keeps gradients).
    if (criterion_ && dist::active()) criterion_->set_gather([](const at::Tensor& z) { return dist::all_gather_with_grad(z); });
    steps_ = (train_.instance.empty() ? train_.n : int64_t(canonical_row_.size())) / o.batch;
    if (steps_ < 1) throw ConfigError("config key 'batch' exceeds the training instances");
  }
  torch::nn::Module& model() override { return *model_; }
  int64_t steps_per_epoch() const override { return steps_; }
  void seek(int64_t, int64_t) override {}

  train::StepOutput step(int64_t epoch, int64_t step) override {
    const int64_t g = epoch * steps_ + step;
    if (o_.method == "byol" && g > 0) {
      // EMA after the previous optimiser step; momentum by a cosine from ema_start to ema_end (BYOL).
      const double total = double(o_.train.epochs * steps_);
      const double m = o_.ema_end - (o_.ema_end - o_.ema_start) * (std::cos(M_PI * double(g - 1) / total) + 1) / 2;
      model_->copy_into_teacher(1 - m);
    }
    // Data-parallel: this rank's share of the global batch; every draw is numbered by the image's position
    // in the global batch, so the shards together are the one-process batch.
    const auto shard = dist::shard_of(o_.batch);
    auto index = batch_indices(epoch, step).narrow(0, shard.begin, shard.size());
    if (!train_.instance.empty()) index = factor_set_rows(index, g, shard.begin);  // instances -> one image each
    const auto t0 = std::chrono::steady_clock::now();
    auto x = train_.instance.empty()
                 ? training_canvases(images_.index_select(0, index).to(at::kFloat) / 255.0, index, varied_, o_.variation,
                                     uint64_t(o_.seed), g, shard.begin)
                 : images_.index_select(0, index).to(at::kFloat) / 255.0;
    auto views = make_image_views(x, o_.augment, uint64_t(o_.seed), g, shard.begin);
    const double augment_ms = 1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<at::Tensor> inputs, feats, z, targets(views.size());
    for (auto& v : views) inputs.push_back(((v - mean_) / std_).to(device_));
    bool joint = o_.joint_views && views.size() > 1;
    for (const auto& in : inputs) joint = joint && in.sizes() == inputs[0].sizes();
    if (joint) {  // one pass over the views stacked along the batch, then split back per view
      auto f = model_->backbone->forward(at::cat(inputs, 0));
      auto p = model_->projector->forward(f);
      feats = f.chunk(int64_t(views.size()), 0);
      z = p.chunk(int64_t(views.size()), 0);
    } else {
      for (const auto& in : inputs) {
        feats.push_back(model_->backbone->forward(in));
        z.push_back(model_->projector->forward(feats.back()));
      }
    }
    auto teacher = [&](size_t k) -> const at::Tensor& {  // BYOL target of view k, computed once
      if (!targets[k].defined()) {
        torch::NoGradGuard ng;
        targets[k] = model_->teacher_projector->forward(model_->teacher_backbone->forward(inputs[k]));
      }
      return targets[k];
    };
    at::Tensor loss;
    std::vector<std::pair<std::string, double>> parts;
    int64_t pairs = 0;
    auto add = [&](const at::Tensor& l) {
      loss = loss.defined() ? loss + l : l;
      ++pairs;
    };
    auto y = labels_.index_select(0, index).to(device_);
    if (o_.method == "supervised") {  // the baseline: the classifier trained through the backbone, both views
      auto ce = (at::cross_entropy_loss(model_->probe->forward(feats[0]), y) +
                 at::cross_entropy_loss(model_->probe->forward(feats[1]), y)) / 2;
      parts.emplace_back("probe_loss", ce.item<double>());
      parts.emplace_back("augment_ms", augment_ms);
      return {ce, parts, shard.size()};
    }
    for (size_t a = 0; a < 2; ++a)
      for (size_t b = a + 1; b < views.size(); ++b) {
        if (o_.method == "byol" || o_.method == "simsiam") {
          auto pa = model_->predictor->forward(z[a]), pb = model_->predictor->forward(z[b]);
          if (o_.method == "byol") {
            const auto& ta = teacher(a);
            const auto& tb = teacher(b);
            add(ssl::byol_criterion(pa, tb) + ssl::byol_criterion(pb, ta));
          } else {
            add((ssl::simsiam_criterion(pa, z[b]) + ssl::simsiam_criterion(pb, z[a])) / 2);
          }
        } else {
          auto t = (*criterion_)(z[a], z[b]);
          add(t.loss);
          if (parts.empty()) parts = t.parts;
        }
      }
    loss = loss / double(pairs);
    // Online linear probe on the detached backbone features of the first view (stop-gradient).
    auto logits = model_->probe->forward(feats[0].detach());
    auto ce = at::cross_entropy_loss(logits, y);
    parts.emplace_back("ssl_loss", loss.item<double>());
    parts.emplace_back("probe_loss", ce.item<double>());
    parts.emplace_back("augment_ms", augment_ms);  // data pipeline time of this batch (benchmarks report its share)
    return {loss + ce, parts, shard.size()};
  }

  std::vector<std::pair<std::string, double>> end_of_epoch(int64_t) override {
    auto bank = features(images_, std::min<int64_t>(o_.n_bank, train_.n));
    auto test_images = at::from_blob(test_.pixels.data(), {test_.n, test_.channels, test_.height, test_.width}, at::kByte);
    const int64_t q = std::min<int64_t>(o_.n_monitor, test_.n);
    auto query = features(test_images, q);
    auto test_labels = at::tensor(test_.labels, at::kLong).narrow(0, 0, q);
    auto scores = eval::knn_scores(bank, labels_.narrow(0, 0, bank.size(0)), query, 20, 0.07, train_.classes);
    const double knn = eval::topk_accuracy(scores, test_labels, 1);
    torch::NoGradGuard ng;
    auto pred = model_->probe->forward(query.to(device_)).argmax(1).to(at::kCPU);
    const double online = pred.eq(test_labels).to(at::kDouble).mean().item<double>();
    // probe_top1: the offline protocol in miniature (L-BFGS logistic regression on the bank's clean-image
    // features, weight decay chosen on a validation split). The online probe, trained by SGD on augmented
    // views of a representation that moves under it, trails the offline probe by 7-13 points on short
    // schedules (docs/vision.md), so it is reported beside it, not as "the probe". The supervised
    // baseline's probe is its classifier: both columns are its accuracy.
    double probe = online;
    if (o_.method != "supervised") {
      eval::ClassifierOptions po;
      po.seed = uint64_t(o_.seed);
      probe = eval::classification_probe(bank, labels_.narrow(0, 0, bank.size(0)), query, test_labels, po).top1;
    }
    auto d = query.to(at::kDouble).contiguous();
    const double rm = eval::rankme(eval::spectrum_from_rows(d.data_ptr<double>(), d.size(0), d.size(1)).singular_values);
    return {{"knn_top1", knn}, {"probe_top1", probe}, {"online_probe_top1", online}, {"rankme", rm}};
  }
  std::map<std::string, at::Tensor> extra_state() const override {
    return {{"input_stats", at::tensor({mean_, std_}, at::kDouble)}};
  }
  // The online probe learns at the plain rate (no trust ratio, no decay), as solo-learn's classifier.
  bool plain_parameter(const std::string& name, const at::Tensor& p) const override {
    return p.dim() <= 1 || name.rfind("probe.", 0) == 0;
  }
 private:
  at::Tensor batch_indices(int64_t epoch, int64_t step) {
    if (perm_epoch_ != epoch) {  // a permutation per epoch, drawn from (seed, epoch) only
      const int64_t n = train_.instance.empty() ? train_.n : int64_t(canonical_row_.size());
      perm_ = seeded_permutation(n, uint64_t(o_.seed), 0x1A6Eull, uint64_t(epoch));
      perm_epoch_ = epoch;
    }
    return at::tensor(std::vector<int64_t>(perm_.begin() + step * o_.batch, perm_.begin() + (step + 1) * o_.batch), at::kLong);
  }
  // Factor-set files: each object is an instance; a varied one shows its canonical image or one of the
  // variation factor's images (drawn from (seed, step, slot)), the others always the canonical one.
  void index_factor_set() {
    const int64_t objects = *std::max_element(train_.instance.begin(), train_.instance.end()) + 1;
    canonical_row_.assign(size_t(objects), -1);
    rows_.assign(size_t(objects), {});
    int64_t factor_set = -1;
    for (size_t k = 0; k < train_.set_names.size(); ++k)
      if (train_.set_names[k] == o_.variation.factor) factor_set = int64_t(k);
    if (o_.variation.active() && factor_set < 1) {
      std::string known;
      for (size_t k = 1; k < train_.set_names.size(); ++k) known += (known.empty() ? "" : ", ") + train_.set_names[k];
      throw ConfigError("config key 'variation.factor': '" + o_.variation.factor + "' is not a factor of " + o_.data + " (" + known + ")");
    }
    for (int64_t i = 0; i < train_.n; ++i) {
      const auto inst = size_t(train_.instance[size_t(i)]);
      if (train_.set[size_t(i)] == 0) canonical_row_[inst] = i, rows_[inst].push_back(i);
      else if (train_.set[size_t(i)] == factor_set) rows_[inst].push_back(i);
    }
    if (o_.variation.active() && std::count(train_.set.begin(), train_.set.end(), factor_set) == 0)
      throw ConfigError("config key 'variation.factor': " + o_.data + " holds no images of factor '" + o_.variation.factor +
                        "' (render them with its levels)");
    std::vector<int64_t> instance_labels(size_t(objects), 0);
    for (size_t k = 0; k < size_t(objects); ++k) {
      if (canonical_row_[k] < 0) throw ConfigError(o_.data + ": object " + std::to_string(k) + " has no canonical image");
      instance_labels[k] = train_.labels[size_t(canonical_row_[k])];
    }
    varied_ = varied_instances(instance_labels, o_.variation, uint64_t(o_.seed));
  }
  at::Tensor factor_set_rows(const at::Tensor& instances, int64_t g, int64_t first_position) const {
    std::vector<int64_t> rows;
    const int64_t* p = instances.data_ptr<int64_t>();
    for (int64_t k = 0; k < instances.size(0); ++k) {
      const auto inst = size_t(p[k]);
      if (!varied_[inst]) {
        rows.push_back(canonical_row_[inst]);
      } else {
        Rng r(uint64_t(o_.seed), 0x7A83, uint64_t(g) * 1000003ull + uint64_t(first_position + k));
        rows.push_back(rows_[inst][size_t(r.integer(0, int64_t(rows_[inst].size()) - 1))]);
      }
    }
    return at::tensor(rows, at::kLong);
  }
  // The representation of the first n images (eval mode; back to training mode after).
  at::Tensor features(const at::Tensor& images, int64_t n) {
    auto imgs = images.narrow(0, 0, n);
    if (o_.variation.canvas > 0) imgs = canonical_canvas(imgs, o_.variation.canvas) * 255.0;  // canonical canvases
    auto out = layer_features(*model_, imgs, mean_, std_, false, device_, nullptr)[0].second;
    model_->train();
    return out;
  }

  const VisionSslOptions& o_;
  ImageSet train_, test_;
  at::Tensor images_, labels_;
  at::Device device_;
  double mean_ = 0, std_ = 1;
  VisionSslModel model_{nullptr};
  std::unique_ptr<ssl::JointLoss> criterion_;
  int64_t steps_ = 1;
  std::vector<int64_t> perm_;
  std::vector<uint8_t> varied_;  // training instances shown under the variation factor
  std::vector<int64_t> canonical_row_;             // factor-set files: each object's canonical image
  std::vector<std::vector<int64_t>> rows_;         // and its canonical + variation-factor images
  int64_t perm_epoch_ = -1;
};

}  // namespace

VisionSslSummary pretrain_vision(VisionSslOptions o, const std::string& out_dir, bool restart) {
  o.resolve();
  ImageSet train = load_image_set(o.data, "train", o.n_train), test = load_image_set(o.data, "test");
  if (o.n_train > 0 && o.n_train < train.n) {
    const int64_t per = train.channels * train.height * train.width;
    train.pixels.resize(size_t(o.n_train * per));
    train.labels.resize(size_t(o.n_train));
    train.n = o.n_train;
  }
  if (o.batch > train.n) throw ConfigError("config key 'batch' exceeds the " + std::to_string(train.n) + " training images");
  VisionSslTask task(o, std::move(train), std::move(test), pick_device(o.device));
  train::TrainOptions to = o.train;
  if (restart && dist::is_main()) std::remove((out_dir + "/checkpoint.pt").c_str());
  to.resume = !restart;
  VisionSslSummary s;
  s.train = train::train(task, to, out_dir, o.config_yaml, "ssl " + o.method);
  for (const auto& kv : s.train.last_epoch_metrics) {
    if (kv.first == "knn_top1") s.knn_top1 = kv.second;
    if (kv.first == "probe_top1") s.probe_top1 = kv.second;
    if (kv.first == "rankme") s.rankme = kv.second;
  }
  return s;
}

}  // namespace jess::vision
