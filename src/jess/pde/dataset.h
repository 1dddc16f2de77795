#pragma once
// PDE datasets in the layout of the reference generators (LPSDA): an HDF5 file with a group per split
// (train, valid, test), each holding `pde_{nt}-{nx}` (N, nt, nx) plus x, t, dx, dt and the sampled
// parameters as labels (L, T, nu, amplitudes, phases, wavenumbers), because downstream tasks regress
// them. Torch-free header.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "jess/core/config.h"

#include "jess/core/hdf5_file.h"

namespace jess::pde {

struct GenerateOptions {
  std::string equation = "kdv";
  int64_t seed = 0;
  int64_t n_train = 512, n_valid = 128, n_test = 128;
  int64_t nx = 256;
  int64_t nt = 140;        // saved time steps (the last nt of nt_total)
  int64_t nt_total = 0;    // 0: equation default (kdv 250, ks 500, burgers 180, heat 180)
  double L = 0;            // 0: equation default (kdv 128, ks 64, burgers/heat 2 pi)
  double T = 0;            // 0: equation default (kdv 100, ks 100, burgers 18 * similarity, heat 16)
  double jitter = -1;      // relative jitter of L and T per trajectory; <0: 0.1 for kdv/ks, 0 otherwise
  int64_t n_sines = 0;     // 0: 10 for kdv/ks, 20 for burgers/heat
  int64_t ell_min = 1;
  int64_t ell_max = 0;     // 0: 2 for kdv/ks, 6 for burgers/heat (inclusive)
  double amplitude = 0.5;  // A_k ~ U(-amplitude, amplitude)
  double nu_min = -1, nu_max = -1;  // <0: burgers [0.001, 0.007], heat [0.01, 0.01]
  double similarity = 50;  // burgers: u0 / s and T * s (equivalent to nu * s at unit scale)
  std::string method = "auto";    // solver method (see SolveSpec)
  std::string backend = "auto";
  int64_t solve_nx = 0;    // burgers/heat fine grid; 0: 2 nx for burgers, nx for heat
  double cole_hopf_tolerance = 1e-7;  // largest accepted Cole-Hopf error estimate
  int64_t substeps = 0;    // ETDRK4 steps per output interval; 0 = chosen for accuracy
  double tolerance = 2e-5; // target relative L2 error of the time integration when substeps = 0
  int64_t probe = 16;      // trajectories used to choose substeps (the worst one decides: KS is chaotic)
  int64_t batch = 128;     // trajectories solved together (larger batches cost page faults)
  int64_t shard_index = 0, shard_count = 1;
  int64_t compression = 0; // gzip level of the trajectory datasets (0 = none)

  void describe(ConfigSchema& schema);
  void resolve();  // fills equation defaults and checks cross-field constraints (ConfigError)
  std::string config_yaml;  // effective configuration, recorded in the file
};

struct GenerateSummary {
  int64_t trajectories = 0;
  double seconds = 0;
  int64_t substeps = 0;
  double estimated_step_error = 0;     // time stepping (Richardson), at the chosen step
  double estimated_spatial_error = 0;  // the grid's (nx against 2 nx), which the step cannot remove
  double step_target = 0;              // max(tolerance, half the spatial error)
  double cole_hopf_error_estimate = 0;
  std::string path;
};

// Generates the splits (or this shard's part of them) and writes `path` atomically.
GenerateSummary generate(const GenerateOptions& options, const std::string& path);

// Concatenates shard files written with the same configuration (shard_count > 1) into one file equal
// in content to an unsharded run. Checks that the shards are complete and consistent.
void merge_shards(const std::vector<std::string>& shard_paths, const std::string& path);
// The shard files of one configuration, opened and sorted by shard_index; every shard present once and
// written with the same configuration apart from its index (std::invalid_argument otherwise).
std::vector<std::unique_ptr<H5Reader>> open_shards(const std::vector<std::string>& shard_paths);
// The options of the unsharded run a shard belongs to: its stored configuration with shard 0 of 1,
// resolved (either generator's options type: 1-D or ns2d).
template <typename Options>
Options unsharded_options(const H5Reader& shard) {
  Options o;
  ConfigSchema schema;
  o.describe(schema);
  schema.load_yaml_string(shard.attr_string("/", "config"), "shard configuration");
  o.shard_index = 0;
  o.shard_count = 1;
  o.resolve();
  return o;
}

struct PlotOptions {
  std::string split = "train";
  int64_t count = 6;
  std::string output;  // default: <file>.png
};
std::string plot_dataset(const std::string& h5_path, const PlotOptions& options);

struct SolveFileOptions {
  std::string equation = "kdv";
  double L = 128, T = 10, nu = 0.01;
  int64_t nt = 101;
  int64_t nt_keep = 0;  // 0: all
  std::string method = "auto";
  int64_t substeps = 0;
  double tolerance = 1e-8;
  int64_t solve_nx = 0;
  void describe(ConfigSchema& schema);
};
// Integrates the initial condition(s) in an .npy file ((nx,) or (B, nx)); writes .h5 or .npy.
void solve_file(const SolveFileOptions& options, const std::string& u0_npy, const std::string& out_path);

}  // namespace jess::pde
