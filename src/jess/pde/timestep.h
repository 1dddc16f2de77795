#pragma once
// Neural time-stepping conditioned on SSL representations (Mialon et al. 2023 §5.2, on the setup of
// Brandstetter et al.'s LPSDA): a neural solver (pde/neural_solvers.h) maps the previous
// `time_history` steps to the next `time_future` ones, optionally told more about the trajectory:
//  * condition = none: the baseline;
//  * condition = ssl: the frozen SSL encoder's representation of the observed input window;
//  * condition = coefficient: the true characteristic (log nu for Burgers/heat, the initial
//    condition's Fourier amplitudes for KdV/KS) - the oracle upper bound.
// Training draws random window starts (and optional push-forward unrolling) and uses the shared
// trainer; evaluation rolls out autoregressively from the window [th, 2 th) to the end of each test
// trajectory and reports the normalised rollout error (LPSDA's `test_unrolled_losses`)
//   E = sum over predicted steps s of mean_x (u_pred - u)^2 / mean_x u^2,
// averaged over trajectories, with a bootstrap interval over trajectories. During the rollout the
// representation is the one of the observed window [th, 2 th), held fixed (it describes the
// trajectory, like the coefficient); in training it is the one of the true input window.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "jess/train/trainer.h"

namespace jess {
class ConfigSchema;
}

namespace jess::pde {

struct TimestepOptions {
  std::string data;                    // HDF5 file from `jess pde generate` (train, test, optional valid)
  std::string equation;                // filled from the data; checked when given
  int64_t n_train = 512;               // training trajectories (0: the whole split)
  int64_t n_test = 0;                  // test trajectories rolled out (0: all)
  int64_t n_valid = 64;                // valid-split trajectories rolled out at each epoch end (0: none)
  int64_t time_history = 20, time_future = 20;
  std::string arch = "cnn";            // cnn | resnet
  int64_t width = 0;                   // 0: the reference's (cnn 128, resnet 256)
  int64_t resnet_blocks = 2;
  std::string condition = "none";      // none | ssl | coefficient
  std::string injection = "add";       // add | film
  std::string encoder;                 // pretraining checkpoint (condition = ssl)
  std::string coefficient = "auto";    // auto | log_nu | ic_spectrum (condition = coefficient)
  int64_t unrolling = 1;               // push-forward: up to min(epoch, unrolling) no-grad solver calls first
  int64_t batch = 16;
  double windows_per_trajectory = 1;   // training windows drawn per trajectory and epoch
  int64_t seed = 0;
  int64_t bootstrap = 64;              // resamples of the test trajectories
  bool save_rollout = false;           // also write the test rollouts as rollout.npy (N, steps, nx)
  std::string device = "auto";
  train::TrainOptions train;
  std::string config_yaml;             // effective configuration (set by resolve)

  TimestepOptions();
  void describe(ConfigSchema& schema);
  void resolve();
};

// Per-trajectory normalised rollout error of predictions against the truth, both (N, S, nx):
// sum_s mean_x (p - u)^2 / mean_x u^2, as (N,) float64.
at::Tensor normalised_rollout_error(const at::Tensor& prediction, const at::Tensor& truth);

class NeuralSolverBase;
// `blocks` autoregressive solver calls from `window` (N, th, nx), each call's input being the latest
// th steps (predictions included): (N, blocks * tf, nx), without gradients.
at::Tensor autoregressive_rollout(NeuralSolverBase& solver, const at::Tensor& window, const at::Tensor& grid,
                                  const at::Tensor& condition, int64_t blocks);

struct BootstrapSummary {
  double mean = 0, std = 0;  // mean of the values; std of the resampled means
  double lo = 0, hi = 0;     // 2.5 % and 97.5 % percentiles of the resampled means
};
BootstrapSummary bootstrap_mean(const std::vector<double>& values, int64_t resamples, uint64_t seed);

struct RolloutReport {
  std::vector<double> per_trajectory;  // E per test trajectory
  std::vector<int64_t> steps;          // time indices of the predicted steps
  std::vector<double> per_step;        // mean over trajectories of mean_x err^2 / mean_x u^2 at each step
  BootstrapSummary summary;
  double median = 0;                   // over trajectories (robust to a few unstable rollouts)
};

struct TimestepRun {
  std::string condition, dir;
  int64_t seed = 0;
  RolloutReport test;
  train::TrainResult train;
};

// Trains one solver into out_dir (resuming a checkpoint there unless restart) and rolls it out on the
// test split: rollout.json, error_vs_time.png, trajectory.png (and rollout.npy when save_rollout).
TimestepRun timestep(TimestepOptions options, const std::string& out_dir, bool restart = false);

// Each condition x seed on the same data (runs in out_dir/<condition>_seed<k>), the table of rollout
// errors (mean +- std over seeds) and one error-against-time plot. `encoders`: the SSL checkpoints
// for condition ssl, one per seed (cycled when fewer).
struct TimestepComparison {
  std::string equation;
  int64_t test_trajectories = 0, predicted_steps = 0;
  std::vector<TimestepRun> runs;
  struct Row {
    std::string condition, label;
    std::vector<double> values;   // mean rollout error per seed
    std::vector<double> medians;  // median over trajectories per seed
    double mean = 0, std = 0, median = 0;  // median: mean over seeds of the medians
  };
  std::vector<Row> rows;
  std::string table() const;
  std::string json() const;
};
TimestepComparison compare_timestep(const TimestepOptions& base, const std::vector<std::string>& conditions,
                                    int64_t seeds, const std::vector<std::string>& encoders,
                                    const std::string& out_dir, bool restart = false);

// The table's wording of a condition ("baseline (no conditioning)", ...).
std::string condition_label(const std::string& condition);

// The report of a rollout: prediction and truth (N, S, X) (X: the flattened spatial and field axes),
// `steps` the time indices of the S predicted steps; bootstrap over trajectories.
RolloutReport rollout_report(const at::Tensor& prediction, const at::Tensor& truth, std::vector<int64_t> steps,
                             int64_t resamples, uint64_t seed);
// rollout.json and error_vs_time.png of one run in out_dir.
void write_rollout_json(const TimestepRun& run, const std::string& equation, int64_t test_trajectories,
                        const std::string& out_dir);
void plot_error_vs_time(const TimestepRun& run, const std::string& equation, const std::string& out_dir);
// ConfigError unless conditions is a non-empty list of none | ssl | coefficient, seeds >= 1, and an
// encoder is given when ssl is compared.
void validate_conditions(const std::vector<std::string>& conditions, int64_t seeds, bool has_encoder);
// Each condition x seed through run_one(condition, k), the table and one error-against-time plot
// (the 1-D and the 2-D time-steppers share it).
TimestepComparison compare_runs(const std::vector<std::string>& conditions, int64_t seeds,
                                const std::function<TimestepRun(const std::string&, int64_t)>& run_one,
                                const std::string& equation, const std::string& out_dir, bool plots);

}  // namespace jess::pde
