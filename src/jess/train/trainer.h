#pragma once
// The shared training loop of every jess method (SSL pretraining, supervised baselines, neural
// solvers). A task supplies the model, the batches and the loss; the trainer owns everything else:
//  * AdamW/Adam (no weight decay on biases and normalisation parameters), constant or linear-warmup +
//    cosine learning rate per step, optional gradient-norm clipping;
//  * checkpoints every N steps and at every epoch end, written atomically (temp file + rename) in the
//    format of Python's torch.save: {"model": state dict, "optimizer": LibTorch archive bytes,
//    "epoch", "step", "global_step", "rng", "config", "extra": task tensors};
//  * exact resume: the model, optimiser, torch generator and the data position (epoch, step) are
//    restored and the task's batches depend only on (epoch, step), so a killed and resumed run ends with
//    the weights of an uninterrupted one; the metric logs are cut back to the checkpoint;
//  * a NaN/Inf guard (loss and gradient norm) that stops with a clear message before the bad update,
//    keeping the last good checkpoint;
//  * metrics as JSON lines and CSV, a progress bar with loss and throughput, per-epoch task metrics
//    (e.g. RankMe of held-out embeddings), and PNG plots of the loss and the epoch metrics.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "jess/train/checkpoint_file.h"  // Checkpoint, load_checkpoint

namespace torch::nn {
class Module;
}
namespace jess {
class ConfigSchema;
}

namespace jess::train {

struct TrainOptions {
  int64_t epochs = 30;
  std::string optimizer = "adamw";   // adamw | adam | lars
  double momentum = 0.9;             // lars
  double lars_eta = 0.001;           // lars trust coefficient
  double lr = 3e-4;
  double weight_decay = 1e-6;
  std::string schedule = "constant";  // constant | warmup_cosine | step
  double warmup_epochs = 0;
  double final_lr_fraction = 0;       // cosine floor as a fraction of lr
  std::string lr_milestones = "5,10,15";  // step schedule: epochs at which lr is multiplied by lr_gamma
  double lr_gamma = 0.4;
  double clip_grad_norm = 0;          // 0: no clipping
  int64_t checkpoint_every = 0;       // steps between checkpoints (0: only at epoch ends)
  int64_t log_every = 10;             // steps between metric rows
  bool resume = true;                 // continue from out_dir/checkpoint.pt when it exists
  bool plots = true;
  int64_t stop_after_steps = 0;       // >0: return after this global step (tests; like being killed)

  void describe(ConfigSchema& schema, const std::string& prefix = "train.");
  void validate() const;
  std::vector<int64_t> milestones() const;  // parsed lr_milestones (ConfigError when malformed)
};

struct StepOutput {
  at::Tensor loss;                                      // scalar with graph
  std::vector<std::pair<std::string, double>> metrics;  // logged with the step
  int64_t samples = 0;                                  // for the throughput
};

class TrainTask {
 public:
  virtual ~TrainTask() = default;
  virtual torch::nn::Module& model() = 0;  // everything trained and checkpointed
  virtual int64_t steps_per_epoch() const = 0;
  // Positions the data stream so the next step() call is (epoch, step).
  virtual void seek(int64_t epoch, int64_t step) = 0;
  virtual StepOutput step(int64_t epoch, int64_t step) = 0;
  // Label-free (or validation) metrics at the end of an epoch, in eval mode and without gradients.
  virtual std::vector<std::pair<std::string, double>> end_of_epoch(int64_t epoch) { return {}; }
  // Parameters without weight decay (and, under LARS, without the trust ratio): by default biases and
  // normalisation parameters (dimension <= 1); a task may add e.g. an online probe's weights.
  virtual bool plain_parameter(const std::string& name, const at::Tensor& p) const { return p.dim() <= 1; }
  // Extra tensors stored with the checkpoint (e.g. input normalisation statistics).
  virtual std::map<std::string, at::Tensor> extra_state() const { return {}; }
};

class TrainingDiverged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TrainResult {
  int64_t global_step = 0, epochs_done = 0;
  bool resumed = false, completed = false;
  double seconds = 0, samples_per_second = 0;
  double last_loss = 0;
  std::vector<std::pair<std::string, double>> last_epoch_metrics;
  std::string checkpoint;  // path of the final (or last) checkpoint
};

// Trains `task` into `out_dir` (created if needed). `config_yaml` is stored in every checkpoint.
TrainResult train(TrainTask& task, const TrainOptions& options, const std::string& out_dir,
                  const std::string& config_yaml, const std::string& label = "train");

// The learning rate of global step g (0-based): constant, or linear warm-up to lr over warmup_epochs
// then a cosine to final_lr_fraction * lr at the last step.
double learning_rate(const TrainOptions& options, int64_t g, int64_t steps_per_epoch);

// Copies a state dict into the module's parameters and buffers; every key and shape must match.
void load_state_dict(torch::nn::Module& module, const std::map<std::string, at::Tensor>& state,
                     const std::string& origin);
std::map<std::string, at::Tensor> state_dict(const torch::nn::Module& module);

// Writes a file atomically (temp file in the same directory, fsync, rename).
void write_file_atomic(const std::string& path, const std::vector<char>& bytes);

}  // namespace jess::train
