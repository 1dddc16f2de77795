#pragma once
// Equivariant SSL on rendered pairs (jess equivariance train): a ResNet-18 backbone, a registered
// method (SIE and its variants, EquiMod, the invariant baselines) and an online evaluator trained on
// detached representations (linear classifiers on the representation and its invariant part, MLP
// regressors of the relative rotation from concat(y1, y2) and from the equivariant parts), with the
// shared trainer's checkpoints, exact resume and NaN guard.
// Data: pairs of two distinct views of one object (RenderedPairLoader: jess render dataset output or a
// 3DIEBench folder), no image augmentation; g = the relative rotation R1^-1 R2 as scipy's quaternion
// (x, y, z, w) with scipy's sign, optionally made canonical (w >= 0), plus the floor and light hue
// changes for sie_rot_color. Recipe (the reference's): Adam, lr 1e-3 constant, weight decay 1e-6.
// Light header.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "jess/equivariance/method_options.h"
#include "jess/train/trainer.h"

namespace jess {
class ConfigSchema;
}

namespace jess::equivariance {

struct EquivariantTrainOptions {
  std::string data;                // dataset.h5 or a folder (jess render dataset output, 3DIEBench)
  bool prefer_folder = false;      // a folder with both layouts: read the JPEG/PNG views
  std::string method = "sie";
  MethodOptions method_options;    // config keys equi, mlp, predictor, hypernetwork, loss.*
  std::string backbone = "resnet18";  // resnet18 (7x7 stem + max-pool, 3DIEBench's) | resnet18_cifar (3x3 stem)
  int64_t width = 64;              // first-stage channels (64: ResNet-18; representation 8 x width)
  int64_t batch = 64;              // objects per batch (two views each)
  bool canonical_sign = false;     // q -> -q where w < 0 (W(-q) = -W(q): the sign is not free)
  int64_t n_monitor = 512;         // validation pairs evaluated at each epoch end
  int64_t seed = 0;
  std::string device = "auto";
  train::TrainOptions train;
  std::string config_yaml;

  EquivariantTrainOptions();
  void describe(ConfigSchema& schema);
  void resolve();
};

struct EquivariantTrainSummary {
  train::TrainResult train;
  std::vector<std::pair<std::string, double>> last_epoch;  // online evaluator's validation metrics
};

EquivariantTrainSummary train_equivariant(EquivariantTrainOptions options, const std::string& out_dir,
                                          bool restart = false);

// The frozen representation of a checkpoint (or run directory) of jess equivariance train: images
// (B, 3, H, W) float in [0, 1] -> (B, D), eval mode, no grad, in blocks (other tools: jess robustness).
struct FrozenEquivariantEncoder {
  std::function<at::Tensor(const at::Tensor&)> features;
  std::string method, checkpoint;
  int64_t dim = 0;
};
FrozenEquivariantEncoder load_equivariant_encoder(const std::string& checkpoint, const std::string& device = "auto");
// Whether `path` is such a checkpoint (or a run directory holding one), without loading the weights.
bool is_equivariant_checkpoint(const std::string& path);

}  // namespace jess::equivariance
