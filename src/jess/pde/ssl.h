#pragma once
// Self-supervised learning on PDE trajectories (Mialon et al. 2023): VICReg pretraining on pairs of
// Lie-point-symmetry views, frozen-encoder embeddings, and the downstream coefficient regression with
// its baselines (supervised end to end, supervised with its head refit, random-init encoder, constant).
//
// Encoder input: a view u (crop_t x crop_x) standardised with the training split's mean and std, plus
// its grid as two constant channels, (log dx - mean) / scale and (log dt - mean) / scale, so that the
// encoder sees the view's scale (a scaling symmetry changes dx and dt). resnet1d reads time as channels
// ((crop_t + 2) x crop_x); the 2-D encoders (cnn2d, the default, and resnet18) read a 3-channel (t, x)
// image. Grid channels are off by default (zeros): docs/pde.md explains the shortcut they open.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "jess/pde/symmetries.h"
#include "jess/train/trainer.h"

namespace jess {
class ConfigSchema;
}

namespace jess::pde {

struct EncoderConfig {
  std::string arch = "cnn2d";  // cnn2d (2-D over (t, x)) | resnet1d (time as channels) | resnet18 (paper)
  int64_t width = 32;          // first-stage channels
  int64_t blocks = 1;             // resnet1d: BasicBlocks per stage
  void describe(ConfigSchema& schema, const std::string& prefix);
};

struct PretrainOptions {
  std::string data;                  // HDF5 file from `jess pde generate`
  std::string equation;               // read from the data; if given, it must match
  std::string train_split = "train";
  int64_t n_train = 0;               // 0: the whole split
  int64_t seed = 0;
  int64_t batch = 128;
  EncoderConfig encoder;
  std::string projector = "512-512-512";
  bool grid_channels = false;        // log dx, log dt as input channels (off: a shortcut, docs/pde.md)
  std::string method = "vicreg";     // registered SSL criterion
  double vicreg_invariance = 25, vicreg_variance = 25, vicreg_covariance = 1, vicreg_epsilon = 1e-4;
  AugmentOptions augment;
  train::TrainOptions train;
  int64_t monitor = 512;             // held-out (valid split) trajectories for RankMe each epoch
  std::string device = "auto";       // auto (cuda when available) | cpu | cuda
  std::string config_yaml;           // effective configuration (set by resolve)

  PretrainOptions();
  void describe(ConfigSchema& schema);
  void resolve();  // reads the equation from the data, validates, records config_yaml
};

struct PretrainSummary {
  train::TrainResult train;
  std::string checkpoint;
  double rankme = 0;
};

PretrainSummary pretrain(PretrainOptions options, const std::string& out_dir, bool restart = false);

// Representations of a split (N, D) from a pretraining checkpoint, of the evaluation view (no
// symmetries): view "start", the first crop_t frames of each trajectory at the full width; view
// "crops", the mean over `crops` seeded crops of crop_t x crop_x; view "start" averages over `shifts`
// equally spaced periodic shifts of the width. layer: "" for the encoder output, or
// a block name (see `jess pde embed --help`).
struct EmbedOptions {
  std::string split = "test";
  std::string view = "start";
  int64_t crops = 1;
  int64_t shifts = 8;  // view=start: features averaged over this many periodic shifts of the width
  int64_t seed = 0;
  int64_t limit = 0;  // 0: all trajectories
  std::string layer;
};
at::Tensor embed(const std::string& checkpoint, const std::string& data, const EmbedOptions& options);

// A pretraining checkpoint's frozen encoder applied to windows of trajectories (time-stepping
// conditioning, pde/timestep.h). The window (B, t, x) is standardised with the checkpoint's statistics;
// resnet1d reads its last crop_t time steps as channels (t >= crop_t required) over any x length (the
// encoder is convolutional with global pooling); the 2-D encoders read the whole (t, x) window.
class FrozenEncoder {
 public:
  FrozenEncoder(const std::string& checkpoint, const std::string& device = "auto");
  ~FrozenEncoder();
  FrozenEncoder(const FrozenEncoder&) = delete;
  FrozenEncoder& operator=(const FrozenEncoder&) = delete;
  at::Tensor operator()(const at::Tensor& window, const at::Tensor& dx, const at::Tensor& dt);  // (B, D) float32, CPU
  int64_t dim() const;
  int64_t crop_t() const;
  const std::string& equation() const;
  const std::string& arch() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Downstream regression of a coefficient from frozen features, against its baselines.
struct RegressOptions {
  std::string data;
  int64_t labelled = 512;           // labelled trajectories from the train split
  double validation_fraction = 0.2; // of the labelled set, for the supervised baseline's epochs
  std::string view = "start";       // evaluation view: start (first crop_t frames, full width) | crops
  int64_t crops = 4;                // view=crops: crops per trajectory averaged at evaluation
  int64_t shifts = 8;               // view=start: features averaged over periodic shifts of the width
  std::string target = "auto";      // auto | log_nu | ic_spectrum
  int64_t seeds = 3;                // baselines trained per seed
  int64_t seed = 0;
  bool supervised = true;
  int64_t supervised_epochs = 100;  // cosine decay: 60 -> 100 epochs gives 2.75 -> 2.31 % (docs/pde.md)
  double supervised_lr = 1e-3;
  std::string supervised_schedule = "cosine";  // cosine (to 0 over the epochs) | constant
  int64_t supervised_batch = 50;
  std::string supervised_augment = "auto";  // auto (the checkpoint's views less label-changing ones) | crops | all
  EncoderConfig encoder;            // for the baselines when no checkpoint is given
  int64_t crop_t = 0, crop_x = 0;  // 0: half the trajectory's (when no checkpoint fixes them)
  std::string device = "auto";
  void describe(ConfigSchema& schema);
};

struct RegressRow {
  std::string name;
  std::vector<double> values;  // the headline metric per seed
  std::vector<double> r2;      // R^2 per seed
  double mean = 0, std = 0;
};

struct RegressReport {
  std::string equation, target, metric;  // metric: "relative error %" or "NMSE"
  int64_t labelled = 0, test = 0;
  std::vector<RegressRow> rows;
  std::string table() const;  // aligned text
  std::string json() const;
};

// The regression target of the first n trajectories of a split: log_nu -> (n, 1) log viscosity;
// ic_spectrum -> (n, l_max - l_min + 1) amplitudes |c_l|, c_l = sum_{j: l_j = l} A_j e^{i phi_j}, of
// the initial condition's Fourier modes (the wave numbers present in the train split).
at::Tensor regression_target(const std::string& path, const std::string& split, const std::string& kind, int64_t n);

// `checkpoints`: one pretraining checkpoint per seed (may be empty: baselines only).
RegressReport regress(const RegressOptions& options, const std::vector<std::string>& checkpoints,
                      const std::string& out_dir);

// Guillotine sweep (Bordes et al. 2023) for a pretraining checkpoint: the regression probe of
// `regress` on the output of every encoder block and every projector layer, shallow to deep.
struct GuillotineRow {
  std::string layer;
  int64_t dim = 0;
  double metric = 0, r2 = 0;
};
struct GuillotineReport {
  std::string equation, target, metric;
  std::vector<GuillotineRow> rows;
};
GuillotineReport guillotine(const std::string& checkpoint, const RegressOptions& options);

}  // namespace jess::pde
