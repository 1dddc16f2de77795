#pragma once
// Conditioned neural time-stepping on 2-D Navier–Stokes smoke (PDEArena's conditioned task; Mialon et
// al. §5.2): a 2-D residual network maps the last `time_history` frames of (smoke, vx, vy) to the next
// `time_future` ones, told nothing more (condition none), the frozen SSL representation of the observed
// window (ssl), or the true buoyancy (coefficient: the oracle). Test trajectories are rolled out
// autoregressively from the end of the observed window (the SSL encoder's crop_t frames, or
// time_history when there is no encoder) to the last frame; the error is that of the 1-D time-stepper
// (pde/timestep.h) on the standardised fields: sum over predicted steps of mean err^2 / mean u^2.
// `jess pde timestep` calls this on ns2d files.
#include <cstdint>
#include <string>
#include <vector>

#include "jess/pde/timestep.h"
#include "jess/train/trainer.h"

namespace jess {
class ConfigSchema;
}

namespace jess::pde::ns2d {

struct TimestepOptions {
  std::string data;
  int64_t n_train = 0, n_test = 0;  // 0: the whole split
  int64_t pool = 4;                 // as the SSL encoder's (taken from it when condition = ssl)
  int64_t time_history = 4, time_future = 1;  // PDEArena's conditioned NS task
  int64_t width = 32, blocks = 4;   // residual blocks of two 3x3 convolutions (width 64: 4x the cost)
  std::string condition = "none";   // none | ssl | coefficient
  std::string injection = "add";    // add | film
  std::string encoder;              // pretraining checkpoint (condition = ssl)
  int64_t observed = 16;            // frames observed before the rollout (the SSL window; >= time_history)
  int64_t batch = 32;
  double windows_per_trajectory = 2;
  int64_t seed = 0;
  int64_t bootstrap = 64;
  std::string device = "auto";
  train::TrainOptions train;
  std::string config_yaml;

  TimestepOptions();
  void describe(ConfigSchema& schema);
  void resolve();
};

TimestepRun timestep(TimestepOptions options, const std::string& out_dir, bool restart = false);

TimestepComparison compare_timestep(const TimestepOptions& base, const std::vector<std::string>& conditions,
                                    int64_t seeds, const std::vector<std::string>& encoders,
                                    const std::string& out_dir, bool restart = false);

}  // namespace jess::pde::ns2d
