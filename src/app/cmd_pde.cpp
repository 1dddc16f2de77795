#include <yaml-cpp/yaml.h>

#include <cstdio>

#include "app/commands.h"
#include "jess/core/config.h"
#include "jess/core/progress.h"
#include "jess/core/runtime.h"
#include "jess/pde/dataset.h"
#include "jess/pde/ns2d.h"
#include "jess/pde/views.h"

namespace jess::app {

void split_overrides(const std::vector<std::string>& words, std::vector<std::string>& overrides,
                     std::vector<std::string>& plain) {
  for (const auto& w : words) (w.find('=') != std::string::npos ? overrides : plain).push_back(w);
}

namespace {

struct GenerateArgs {
  std::string config, out;
  int64_t seed = -1;
  bool print_config = false;
  std::vector<std::string> words;
};

struct SolveArgs {
  std::string out;
  std::vector<std::string> words;
};

struct PlotArgs {
  std::string file, split = "train", out;
  int64_t count = 6;
};

struct MergeArgs {
  std::string out;
  std::vector<std::string> shards;
};

}  // namespace

// Fills `schema` from an optional YAML file, then the key=value words; any other word is an error.
std::vector<std::string> configure(ConfigSchema& schema, const std::string& yaml_file,
                                   const std::vector<std::string>& words, size_t max_plain, const std::string& what) {
  std::vector<std::string> overrides, plain;
  split_overrides(words, overrides, plain);
  if (plain.size() > max_plain)
    throw ConfigError("unexpected argument '" + plain[max_plain] + "' (" +
                      (max_plain == 0 ? std::string("configuration is given as key=value") : "expected " + what) + ")");
  if (!yaml_file.empty()) schema.load_yaml_file(yaml_file);
  schema.apply_overrides(overrides);
  return plain;
}

std::string schema_help(const std::function<void(ConfigSchema&)>& describe) {
  ConfigSchema s;
  describe(s);
  return "\nConfiguration keys (set in a YAML file with --config, or as key=value):\n" + s.describe();
}

void add_pde_commands(CLI::App& app, GlobalOptions& global) {
  auto* pde = app.add_subcommand("pde", "PDE data and SSL: generate, solve, plot, merge, augment; pretrain, regress, guillotine, embed");
  pde->require_subcommand(1);

  // ---- generate
  auto g = std::make_shared<GenerateArgs>();
  static pde::GenerateOptions defaults;
  auto* gen = pde->add_subcommand(
      "generate", "Generate train/valid/test trajectories of KdV, KS, Burgers or heat into HDF5 (LPSDA layout), or of 2-D "
                  "Navier-Stokes smoke with equation=ns2d (PDEArena layout)");
  gen->footer(schema_help([](ConfigSchema& s) { defaults.describe(s); }) +
              "\nExamples:\n  jess pde generate --out kdv.h5 equation=kdv n_train=1000\n"
              "  jess pde generate --config configs/pde/burgers.yaml --out burgers.h5 --seed 3\n"
              "  jess pde generate --out part0.h5 shard_count=4 shard_index=0   (then: jess pde merge)\n"
              "\nequation=ns2d (2-D Navier-Stokes, buoyancy-driven smoke) has its own keys:" +
              schema_help([](ConfigSchema& s) {
                static pde::ns2d::GenerateOptions d;
                d.describe(s);
              }).substr(1) +
              "  jess pde generate --out ns.h5 equation=ns2d n_train=64 n=64\n");
  gen->add_option("--config", g->config, "YAML file of configuration keys")->check(CLI::ExistingFile);
  gen->add_option("--out,-o", g->out, "output HDF5 file (written atomically)");
  gen->add_option("--seed", g->seed, "seed of every random draw (overrides the config's seed)");
  gen->add_flag("--print-config", g->print_config, "print the effective configuration and exit");
  gen->add_option("overrides", g->words, "key=value configuration overrides");
  gen->callback([g] {
    // equation=ns2d (on the command line or in the YAML file) has its own keys (pde/ns2d.h).
    bool ns2d = false;
    for (const auto& w : g->words) ns2d = ns2d || w == "equation=ns2d";
    if (!g->config.empty() && !ns2d) {
      try {
        const YAML::Node y = YAML::LoadFile(g->config);
        ns2d = y.IsMap() && y["equation"] && y["equation"].as<std::string>() == "ns2d";
      } catch (const std::exception&) {  // malformed files are reported by the schema below
      }
    }
    // Either generator's options: configured, seeded, validated; false when only the configuration was asked for.
    auto prepare = [&](auto& o) {
      ConfigSchema schema;
      o.describe(schema);
      configure(schema, g->config, g->words);
      if (g->seed >= 0) o.seed = g->seed;
      o.resolve();
      if (g->print_config) {
        std::printf("%s", o.config_yaml.c_str());
        return false;
      }
      if (g->out.empty()) throw ConfigError("--out is required (the HDF5 file to write)");
      return true;
    };
    if (ns2d) {
      pde::ns2d::GenerateOptions o;
      if (!prepare(o)) return;
      auto summary = pde::ns2d::generate(o, g->out);
      std::printf("wrote %s: %lld ns2d trajectories (%lld frames of %lld x %lld) in %s (%.2f traj/s)\n", summary.path.c_str(),
                  (long long)summary.trajectories, (long long)(o.steps - o.skip), (long long)o.n, (long long)o.n,
                  format_duration(summary.seconds).c_str(), summary.trajectories / std::max(1e-9, summary.seconds));
      return;
    }
    pde::GenerateOptions o;
    if (!prepare(o)) return;
    auto summary = pde::generate(o, g->out);
    std::printf("wrote %s: %lld %s trajectories (%lld train, %lld valid, %lld test%s) of %lld x %lld in %s (%.1f traj/s)\n",
                summary.path.c_str(), (long long)summary.trajectories, o.equation.c_str(), (long long)o.n_train,
                (long long)o.n_valid, (long long)o.n_test,
                o.shard_count > 1 ? (", shard " + std::to_string(o.shard_index) + "/" + std::to_string(o.shard_count)).c_str() : "",
                (long long)o.nt, (long long)o.nx, format_duration(summary.seconds).c_str(),
                summary.trajectories / std::max(1e-9, summary.seconds));
    if (summary.substeps > 0 && o.substeps == 0)
      std::printf("  ETDRK4: %lld steps per output interval (h = T/%lld), chosen for an estimated time-stepping "
                  "error of %.2g (target %.2g: the tolerance %.2g, or half the grid's estimated spatial error %.2g "
                  "when larger)\n",
                  (long long)summary.substeps, (long long)(summary.substeps * (o.nt_total - 1)),
                  summary.estimated_step_error, summary.step_target, o.tolerance, summary.estimated_spatial_error);
    else if (summary.substeps > 0)
      std::printf("  ETDRK4: %lld steps per output interval (h = T/%lld), as configured\n", (long long)summary.substeps,
                  (long long)(summary.substeps * (o.nt_total - 1)));
    if (summary.cole_hopf_error_estimate > 0)
      std::printf("  Cole-Hopf on %lld points: estimated relative error <= %.2g\n", (long long)o.solve_nx,
                  summary.cole_hopf_error_estimate);
    std::printf("  %s\n", describe_runtime().c_str());
  });

  // ---- solve
  auto sa = std::make_shared<SolveArgs>();
  static pde::SolveFileOptions solve_defaults;
  auto* sol = pde->add_subcommand("solve", "Integrate your own initial condition(s) from an .npy file ((nx,) or (batch, nx))");
  sol->footer(schema_help([](ConfigSchema& s) { solve_defaults.describe(s); }) +
              "\nExample:\n  jess pde solve u0.npy --out traj.h5 equation=ks L=64 T=50 nt=201\n");
  sol->add_option("--out,-o", sa->out, "output file: .h5 (group 'solution') or .npy (batch, nt, nx)")->required();
  sol->add_option("args", sa->words, "U0.npy followed by key=value options")->required();
  sol->callback([sa] {
    pde::SolveFileOptions o;
    ConfigSchema schema;
    o.describe(schema);
    std::vector<std::string> overrides, plain;
    split_overrides(sa->words, overrides, plain);
    if (plain.size() != 1) throw ConfigError("give exactly one initial-condition .npy file");
    schema.apply_overrides(overrides);
    pde::solve_file(o, plain[0], sa->out);
    std::printf("wrote %s\n", sa->out.c_str());
  });

  // ---- plot
  auto pa = std::make_shared<PlotArgs>();
  auto* plt = pde->add_subcommand("plot", "Write a PNG of space-time images of a few trajectories of a dataset");
  plt->add_option("file", pa->file, "HDF5 dataset written by jess pde generate/solve")->required()->check(CLI::ExistingFile);
  plt->add_option("--split", pa->split, "group to plot (train, valid, test, solution)");
  plt->add_option("--count,-n", pa->count, "number of trajectories")->check(CLI::PositiveNumber);
  plt->add_option("--out,-o", pa->out, "output .png or .svg (default: FILE.<split>.png)");
  plt->callback([pa] {
    pde::PlotOptions o;
    o.split = pa->split;
    o.count = pa->count;
    o.output = pa->out;
    std::printf("wrote %s\n", pde::plot_dataset(pa->file, o).c_str());
  });

  // ---- merge
  auto ma = std::make_shared<MergeArgs>();
  auto* mer = pde->add_subcommand("merge", "Merge shard files (shard_count > 1) into one dataset");
  mer->add_option("--out,-o", ma->out, "merged HDF5 file")->required();
  mer->add_option("shards", ma->shards, "shard files, any order")->required()->check(CLI::ExistingFile);
  mer->callback([ma] {
    pde::merge_shards(ma->shards, ma->out);
    std::printf("wrote %s from %zu shards\n", ma->out.c_str(), ma->shards.size());
  });
  // ---- augment
  struct AugmentArgs {
    std::string file, split = "train", out;
    int64_t index = 0, seed = 0;
    bool show = false;
    std::vector<std::string> words;
  };
  auto aa = std::make_shared<AugmentArgs>();
  static pde::AugmentOptions augment_defaults;
  auto* aug = pde->add_subcommand("augment", "Show what the Lie point symmetry augmentations do to a trajectory");
  aug->footer(schema_help([](ConfigSchema& s) { augment_defaults.describe(s); }) +
              "\nExample:\n  jess pde augment kdv.h5 --show --index 3 galilean=0.6 steps=4\n");
  aug->add_option("file", aa->file, "HDF5 dataset")->required()->check(CLI::ExistingFile);
  aug->add_flag("--show", aa->show, "write a PNG grid: original, each generator alone, composed views");
  aug->add_option("--split", aa->split, "group to read");
  aug->add_option("--index", aa->index, "trajectory to show");
  aug->add_option("--seed", aa->seed, "seed of the composed views");
  aug->add_option("--out,-o", aa->out, "output .png or .svg (default: FILE.augment.png)");
  aug->add_option("overrides", aa->words, "key=value augmentation options");
  aug->callback([aa] {
    pde::AugmentOptions o;
    ConfigSchema schema;
    o.describe(schema);
    configure(schema, "", aa->words);
    if (!aa->show) throw ConfigError("nothing to do: pass --show to write the picture");
    std::printf("wrote %s\n", pde::show_augmentations(aa->file, aa->split, aa->index, o, uint64_t(aa->seed), aa->out).c_str());
  });
  add_pde_ssl_commands(*pde, global);
  add_pde_timestep_command(*pde, global);
}

}  // namespace jess::app
