#pragma once
// Joint-embedding SSL on images (issue 7): a backbone (ResNet-18 with the CIFAR stem, any width),
// projector, and a method: any registered criterion on (projector(view 1), projector(view 2)) -
// vicreg, simclr, barlow_twins, the duality variants - or the self-distillation methods byol (EMA
// teacher, predictor; momentum 0.996 -> 1 by a cosine over training) and simsiam (predictor,
// stop-gradient); or `supervised`, the same backbone and views trained by cross-entropy (the robustness
// benchmark's baseline). Multi-crop: each global view is also paired with every local view. An online
// linear probe on the detached backbone features trains alongside (stop-gradient); each epoch ends
// with the online probe's and a weighted k-NN's (k = 20, T = 0.07) test accuracy and RankMe.
// Optimiser and schedule from the shared trainer (default: LARS, lr = base_lr * batch / 256,
// warm-up + cosine).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "jess/train/trainer.h"
#include "jess/vision/augment.h"
#include "jess/vision/factors.h"

namespace jess {
class ConfigSchema;
}

namespace jess::vision {

struct VisionSslOptions {
  std::string data;                   // MNIST-layout IDX directory (default: Debian's Fashion-MNIST)
  int64_t n_train = 0;                // training images (0: all)
  int64_t n_bank = 5000, n_monitor = 2000;  // k-NN bank (train) and monitored test images per epoch
  std::string method = "vicreg";      // registered criterion | byol | simsiam | supervised (the baseline)
  std::string loss;                   // the criterion's hyperparameters: "temperature=0.2,..." (see --help)
  std::string backbone = "resnet18_cifar";
  int64_t width = 16;                 // first-stage channels (64: the standard ResNet-18)
  std::string projector = "1024-1024-1024";
  std::string predictor = "256";      // byol / simsiam hidden size(s); the output matches the projector
  double ema_start = 0.996, ema_end = 1.0;
  int64_t batch = 256;
  bool joint_views = false;           // views of one size through the network as one batch (BN over both)
  bool channels_last = true;          // convolution weights and activations in NHWC (nn::to_channels_last)
  double base_lr = 0.3;               // lr = base_lr * batch / 256
  int64_t seed = 0;
  std::string device = "auto";
  AugmentConfig augment;
  VariationOptions variation;         // training on canvases, a fraction of instances under a factor (robustness)
  train::TrainOptions train;
  std::string config_yaml;

  VisionSslOptions();
  void describe(ConfigSchema& schema);
  void resolve();
};

struct VisionSslSummary {
  train::TrainResult train;
  double knn_top1 = 0, probe_top1 = 0, rankme = 0;  // last epoch
};

VisionSslSummary pretrain_vision(VisionSslOptions options, const std::string& out_dir, bool restart = false);

// Offline evaluation of a trained model (or a random initialisation) on frozen features: a linear
// probe (L-BFGS, weight decay chosen on a validation split of the labelled images), a weighted k-NN
// (k = 20, T = 0.07) and RankMe, at every layer: the stem, each backbone stage (global average pooled;
// the last is the representation) and each projector layer - the Guillotine sweep (Bordes et al.
// 2023: the backbone beats the projector output by a wide margin). Features of un-augmented images,
// normalised with the training run's statistics.
struct VisionEvalOptions {
  int64_t n_train = 10000;   // labelled training images for the probes (0: all)
  int64_t n_test = 0;        // test images (0: all)
  bool all_layers = true;    // false: the representation only
  bool knn = true;
  std::string device = "auto";
  uint64_t seed = 0;         // the probe's validation split
};

struct VisionLayerResult {
  std::string name;
  int64_t dim = 0;
  double linear_top1 = 0, knn_top1 = 0, rankme = 0;
  bool representation = false;  // the backbone output (what SSL papers report)
};

struct VisionEvalReport {
  std::string source, method;   // checkpoint path (or "random init"), the run's method
  int64_t n_train = 0, n_test = 0;
  std::vector<VisionLayerResult> layers;
  const VisionLayerResult& representation() const;
  std::string table() const;
  std::string json() const;
};

// `checkpoint`: a checkpoint.pt written by jess train, or its run directory.
VisionEvalReport evaluate_vision(const std::string& checkpoint, const VisionEvalOptions& options);
// The same evaluation of the untrained model a configuration describes (seeded initialisation).
VisionEvalReport evaluate_vision_random_init(VisionSslOptions config, const VisionEvalOptions& options);
// Accuracy against depth, one curve per report (linear probe solid; k-NN too when `knn`).
void plot_guillotine(const std::vector<VisionEvalReport>& reports, const std::string& path, bool knn);

// The frozen representation of a jess train checkpoint (or run directory): images (B, C, H, W) float in
// [0, 1] -> (B, D) backbone features, normalised with the run's input statistics, eval mode, no grad.
struct FrozenVisionEncoder {
  std::function<at::Tensor(const at::Tensor&)> features;
  std::function<at::Tensor(const at::Tensor&)> classify;  // supervised models: their own head's predictions
  std::string method, checkpoint;
  int64_t channels = 1, dim = 0;
};
FrozenVisionEncoder load_vision_encoder(const std::string& checkpoint, const std::string& device = "auto");

// The method names accepted by `method`, and each criterion's hyperparameter help.
std::vector<std::string> vision_method_names();
std::string vision_method_help();

}  // namespace jess::vision
