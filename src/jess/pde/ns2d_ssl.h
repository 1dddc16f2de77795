#pragma once
// Self-supervised learning on 2-D Navier–Stokes smoke (the flagship paper's 2-D half): VICReg on
// pairs of symmetry views (ns2d_views.h) of crop_t-frame windows, a 2-D encoder reading the window's
// frames of (smoke, vx, vy) as channels, RankMe per epoch; and the buoyancy regression from frozen
// features against the supervised network, a random-init encoder and the mean predictor.
// `jess pde pretrain` / `jess pde regress` call these when the data file holds ns2d trajectories.
#include <cstdint>
#include <string>
#include <vector>

#include "jess/pde/ssl.h"
#include "jess/train/trainer.h"

namespace jess {
class ConfigSchema;
}

namespace jess::pde::ns2d {

struct SslViewOptions {  // mirrors ViewOptions (ns2d_views.h) without its header; defaults set by PretrainOptions
  int64_t crop_t = 16, crop = 0;
  double rotation = 0, boost = 0, quad_boost = 0, scaling = 0;
};

struct PretrainOptions {
  std::string data;
  std::string train_split = "train";
  int64_t n_train = 0;   // 0: the whole split
  int64_t pool = 4;      // average-pool the 128^2 fields to 32^2 (CPU budget; 1: the paper's resolution)
  int64_t seed = 0;
  int64_t batch = 64;
  EncoderConfig encoder;
  std::string projector = "512-512-512";
  std::string method = "vicreg";
  double vicreg_invariance = 25, vicreg_variance = 25, vicreg_covariance = 1, vicreg_epsilon = 1e-4;
  SslViewOptions augment;
  train::TrainOptions train;
  int64_t monitor = 256;  // valid-split trajectories embedded for RankMe each epoch
  int64_t windows = 4;    // evaluation: features averaged over this many evenly spaced windows
  std::string device = "auto";
  std::string config_yaml;

  PretrainOptions();
  void describe(ConfigSchema& schema);
  void resolve();
};

PretrainSummary pretrain(PretrainOptions options, const std::string& out_dir, bool restart = false);

// Frozen features (N, D) of a split: the mean over `windows` evenly spaced crop_t-frame windows of the
// whole box (no symmetry).
at::Tensor embed(const std::string& checkpoint, const std::string& data, const std::string& split, int64_t limit,
                 int64_t windows = 0 /* 0: the checkpoint's */);

// What a pretraining checkpoint reads: pooling, window length, representation size.
struct EncoderInfo {
  int64_t pool = 0, crop_t = 0, dim = 0;
};
EncoderInfo encoder_info(const std::string& checkpoint);
// Frozen features (N, D) of the window [t0, t0 + crop_t) of each of the first `limit` trajectories
// (0: all) of a split (the time-stepper's condition).
at::Tensor embed_window(const std::string& checkpoint, const std::string& data, const std::string& split, int64_t limit,
                        int64_t t0);

struct RegressOptions {
  std::string data;
  int64_t labelled = 512;            // labelled trajectories (train split)
  std::string test_split = "test";
  double validation_fraction = 0.2;  // of the labelled set: epochs of the supervised baseline and the MLP heads
  int64_t windows = 0;               // 0: the checkpoint's (4 without one)
  int64_t seeds = 3;
  int64_t seed = 0;
  bool supervised = true;
  int64_t supervised_epochs = 30;
  double supervised_lr = 1e-3;
  int64_t supervised_batch = 32;
  EncoderConfig encoder;             // the baselines' encoder without a checkpoint
  int64_t pool = 0, crop_t = 0;      // 0: the checkpoint's (4 and 16 without one)
  std::string device = "auto";
  void describe(ConfigSchema& schema);
};

// Rows: SSL + linear (ridge) and + MLP head per checkpoint; supervised end to end and its head refit;
// random-init encoder + linear and MLP heads; the training labels' mean. Metric MSE of b (and R^2).
RegressReport regress(const RegressOptions& options, const std::vector<std::string>& checkpoints,
                      const std::string& out_dir);

// True when `path` is an HDF5 file written by `jess pde generate equation=ns2d`.
bool is_ns2d_file(const std::string& path);

}  // namespace jess::pde::ns2d
