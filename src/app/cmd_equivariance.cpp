// `jess equivariance train | eval`: equivariant SSL (SIE and baselines) on rendered pairs, and the
// 3DIEBench metrics.
#include <cstdio>
#include <memory>

#include "app/commands.h"
#include "jess/core/config.h"
#include "jess/core/files.h"
#include "jess/core/progress.h"
#include "jess/equivariance/evaluate.h"
#include "jess/equivariance/train.h"

namespace jess::app {

void add_equivariance_commands(CLI::App& app, GlobalOptions& global) {
  auto* eq = app.add_subcommand(
      "equivariance", "Equivariant SSL on rendered 3-D objects: SIE and its baselines (train), the 3DIEBench metrics (eval)");
  eq->require_subcommand(1);

  // ---- train
  struct TrainArgs {
    std::string config, out = "runs/sie";
    int64_t seed = -1;
    bool restart = false, print_config = false;
    std::vector<std::string> words;
  };
  auto a = std::make_shared<TrainArgs>();
  static equivariance::EquivariantTrainOptions defaults;
  auto* t = eq->add_subcommand("train", "Train SIE (or a variant or baseline) on pairs of views of rendered objects");
  t->footer(schema_help([](ConfigSchema& s) { defaults.describe(s); }) +
            "\nMethods: sie (split invariant-equivariant, hypernetwork predictor), sie_only_equi, sie_no_var, sie_rot_color\n"
            "(g also holds the floor and light hue changes), equimod (VICReg-based EquiMod), vicreg, simclr,\n"
            "simclr_augself, rotation_regression (supervised reference: the backbone trained to regress g alone). Pairs: two distinct views of one object, no image augmentation; g = scipy's relative\n"
            "rotation R1^-1 R2 as (x, y, z, w). Data: `jess render dataset` output or a 3DIEBench folder.\n"
            "Outputs in --out: checkpoint.pt, metrics (loss terms; each epoch the online evaluator's val top-1 and\n"
            "rotation R^2, RankMe), training_*.png. Resumed exactly when --out holds a checkpoint.\n"
            "\nExamples:\n  jess render dataset --out ie objects_per_class=100 image_size=64\n"
            "  jess equivariance train data=ie --out runs/sie width=16 train.epochs=20\n"
            "  jess equivariance train data=ie --out runs/vicreg method=vicreg width=16\n"
            "  jess equivariance eval runs/sie --plots runs/sie/plots\n");
  t->add_option("--config", a->config, "YAML file of configuration keys")->check(CLI::ExistingFile);
  t->add_option("--out,-o", a->out, "run directory");
  t->add_option("--seed", a->seed, "seed (overrides the config's)");
  t->add_flag("--restart", a->restart, "start afresh even if --out holds a checkpoint");
  t->add_flag("--print-config", a->print_config, "print the effective configuration and exit");
  t->add_option("args", a->words, "key=value overrides");
  t->callback([a, &global] {
    equivariance::EquivariantTrainOptions o;
    ConfigSchema schema;
    o.describe(schema);
    configure(schema, a->config, a->words);
    if (a->seed >= 0) o.seed = a->seed;
    if (a->print_config) {
      o.resolve();
      std::printf("%s", o.config_yaml.c_str());
      return;
    }
    auto s = equivariance::train_equivariant(o, a->out, a->restart);
    if (global.quiet) return;
    std::printf("%s%s: %lld steps in %s (%.0f pairs/s)", o.method.c_str(), s.train.resumed ? " (resumed)" : "",
                (long long)s.train.global_step, format_duration(s.train.seconds).c_str(), s.train.samples_per_second);
    for (const auto& kv : s.last_epoch) std::printf(", %s %.4g", kv.first.c_str(), kv.second);
    std::printf(" -> %s\n", s.train.checkpoint.c_str());
  });

  // ---- eval
  struct EvalArgs {
    std::vector<std::string> runs;
    equivariance::EquivariantEvalOptions o;
    std::string json;
  };
  auto e = std::make_shared<EvalArgs>();
  auto* ev = eq->add_subcommand("eval", "The 3DIEBench metrics of trained models: top-1, rotation/colour R^2, MRR, H@k, PRE");
  ev->footer(
      "\nEach RUN is a run directory of jess equivariance train (or its checkpoint.pt). Representations of every view\n"
      "of the train and val objects (backbone in eval mode), then:\n"
      "  classification top-1 (val, every view) from the whole representation and, for SIE, its invariant and\n"
      "    equivariant parts; linear and MLP (1024-1024) heads, one random view per object per epoch;\n"
      "  rotation and colour R^2 from an MLP on concat(y(v1), y(v2)) (the reference's R^2 with the scalar target\n"
      "    mean, and the per-dimension R^2);\n"
      "  MRR, H@1/2/5/10: view 0's embedding through the predictor for each view j, ranked among the object's views;\n"
      "  PRE: 1 - <q_true, q_nn>^2 for the nearest neighbour among all val embeddings (sampled queries).\n"
      "Writes <RUN>/equivariance_eval.json unless --json names one file for all runs.\n"
      "\nExample:\n  jess equivariance eval runs/sie runs/vicreg --epochs 50 --plots runs/plots\n");
  ev->add_option("runs", e->runs, "run directories or checkpoints")->required();
  ev->add_option("--data", e->o.data, "rendered dataset (default: the one each run trained on)");
  ev->add_option("--train-objects", e->o.train_objects, "train objects used (0: all)")->check(CLI::NonNegativeNumber);
  ev->add_option("--val-objects", e->o.val_objects, "val objects used (0: all)")->check(CLI::NonNegativeNumber);
  ev->add_option("--epochs", e->o.epochs, "probe training epochs (the reference: 300)")->check(CLI::PositiveNumber);
  ev->add_option("--pairs", e->o.pairs_per_object, "val view pairs per object for R^2")->check(CLI::PositiveNumber);
  ev->add_option("--pre-queries", e->o.pre_queries, "PRE: predictions sampled (0: all)")->check(CLI::NonNegativeNumber);
  ev->add_flag("!--no-mlp", e->o.mlp_heads, "linear classification heads only");
  ev->add_flag("--layers", e->o.layers, "also a linear probe at every backbone stage (stem, layer1..4: the Guillotine sweep)");
  ev->add_option("--plots", e->o.plots, "folder for rotation_prediction.png and retrieval.png (per run: <dir>/<i>_...)");
  ev->add_option("--json", e->json, "write every report to this file (a JSON list)");
  ev->add_option("--device", e->o.device, "auto | cpu | cuda");
  ev->add_option("--seed", e->o.seed, "seed of the probes and the sampled pairs");
  ev->callback([e] {
    std::string all = "[";
    for (size_t i = 0; i < e->runs.size(); ++i) {
      auto o = e->o;
      if (!o.plots.empty() && e->runs.size() > 1) o.plots += "/" + std::to_string(i);
      auto rep = equivariance::evaluate_equivariant(e->runs[i], o);
      std::printf("%s", rep.table().c_str());
      all += (i ? ",\n" : "") + rep.json();
      if (e->json.empty() && is_directory(e->runs[i])) write_text_atomic(e->runs[i] + "/equivariance_eval.json", rep.json());
    }
    if (!e->json.empty()) write_text_atomic(e->json, all + "]\n");
  });
}

}  // namespace jess::app
