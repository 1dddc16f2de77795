// jess vision augment: parse and call jess::vision.
#include <ATen/ATen.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <memory>

#include "app/commands.h"
#include "jess/core/config.h"
#include "jess/core/files.h"
#include "jess/vision/augment.h"
#include "jess/vision/idx.h"
#include "jess/vision/recipes.h"
#include "jess/vision/ssl.h"
#include "jess/core/progress.h"

namespace jess::app {

namespace {
// An eval.json written by `jess vision eval` (one report; --json writes an array of them), read back for
// plotting.
std::vector<vision::VisionEvalReport> read_eval_reports(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot read " + path);
  nlohmann::json j;
  try {
    in >> j;
    std::vector<vision::VisionEvalReport> out;
    for (const auto& one : j.is_array() ? j : nlohmann::json::array({j})) {
      vision::VisionEvalReport r;
      r.source = one.at("source").get<std::string>();
      r.method = one.at("method").get<std::string>();
      r.n_train = one.at("n_train").get<int64_t>();
      r.n_test = one.at("n_test").get<int64_t>();
      for (const auto& l : one.at("layers"))
        r.layers.push_back({l.at("layer").get<std::string>(), l.at("dim").get<int64_t>(), l.at("linear_top1").get<double>(),
                            l.at("knn_top1").get<double>(), l.at("rankme").get<double>(), l.at("representation").get<bool>()});
      out.push_back(std::move(r));
    }
    if (out.empty()) throw std::invalid_argument("no reports in it");
    return out;
  } catch (const std::exception& e) {
    throw std::invalid_argument(path + " is not an evaluation report of jess vision eval (" + e.what() + ")");
  }
}
}  // namespace

void add_vision_commands(CLI::App& app, GlobalOptions& global) {
  auto* vision = app.add_subcommand("vision", "Image datasets, augmentations and offline evaluation (Fashion-MNIST, rendered sets; training: jess train)");
  vision->require_subcommand(1);
  struct AugmentArgs {
    std::string dir = vision::default_fashion_mnist_dir(), split = "train", out = "augment.png";
    int64_t index = 0, count = 4, views = 3, seed = 0;
    bool show = false;
    std::vector<std::string> words;
  };
  auto a = std::make_shared<AugmentArgs>();
  static vision::AugmentConfig defaults;
  auto* aug = vision->add_subcommand("augment", "Show the SSL augmentation pipeline on dataset images");
  aug->footer(schema_help([](ConfigSchema& s) { defaults.describe(s, ""); }) +
              "\nExample:\n  jess vision augment --show --count 4 local_crops=2 view2.solarize=1 --out views.png\n");
  aug->add_flag("--show", a->show, "write a PNG grid: each image, then its views (required)")->required();
  aug->add_option("--data", a->dir, "directory of IDX files in the MNIST layout (default: Debian's Fashion-MNIST)");
  aug->add_option("--split", a->split, "train | test");
  aug->add_option("--index", a->index, "first image")->check(CLI::NonNegativeNumber);
  aug->add_option("--count", a->count, "images (rows)")->check(CLI::Range(1, 64));
  aug->add_option("--views", a->views, "draws of each view kind per image")->check(CLI::Range(1, 16));
  aug->add_option("--seed", a->seed, "seed of the draws");
  aug->add_option("--out,-o", a->out, "PNG or SVG file");
  aug->add_option("args", a->words, "key=value overrides");
  aug->callback([a] {
    vision::AugmentConfig c;
    ConfigSchema schema;
    c.describe(schema, "");
    configure(schema, "", a->words);
    c.validate();
    auto set = vision::load_mnist_layout(a->dir, a->split);
    if (a->index + a->count > set.n)
      throw ConfigError("--index " + std::to_string(a->index) + " + --count " + std::to_string(a->count) + " exceeds the " +
                        std::to_string(set.n) + " images of the " + a->split + " split");
    auto all = at::from_blob(set.pixels.data(), {set.n, set.channels, set.height, set.width}, at::kByte);
    auto images = all.narrow(0, a->index, a->count).to(at::kFloat) / 255.0;
    auto path = vision::show_image_augmentations(images, c, uint64_t(a->seed), a->views, a->out);
    std::printf("wrote %s (%lld images x (1 + %lld views))\n", path.c_str(), (long long)a->count,
                (long long)(a->views * (2 + c.local_crops)));
  });

  // ---- eval: offline probes of trained models at every layer (Guillotine)
  struct EvalArgs {
    std::vector<std::string> runs;
    std::string random_init, plot, json;
    int64_t n_train = 10000, n_test = 0, seed = 0;
    bool representation_only = false, no_knn = false;
  };
  auto e = std::make_shared<EvalArgs>();
  auto* ev = vision->add_subcommand("eval", "Linear probe, k-NN and RankMe of trained models at every layer (Guillotine)");
  ev->footer("\nEach RUN is a run directory of jess train (or its checkpoint.pt). Features of the un-augmented\n"
             "images at the stem, every backbone stage (pooled; the last is the representation) and every\n"
             "projector layer; a linear probe (L-BFGS, weight decay chosen on a validation split of the\n"
             "labelled images), a weighted k-NN (k = 20, T = 0.07) and RankMe on the test images, per layer.\n"
             "Writes RUN/eval.json unless --json says otherwise.\n"
             "\nExamples:\n  jess vision eval runs/fmnist/vicreg --plot guillotine.png\n"
             "  jess vision eval --random-init configs/fmnist/vicreg.yaml     (the untrained baseline)\n");
  ev->add_option("runs", e->runs, "run directories or checkpoints (or eval.json files, to plot them together)");
  ev->add_option("--random-init", e->random_init, "also evaluate the untrained model of this config (YAML)")->check(CLI::ExistingFile);
  ev->add_option("--n-train", e->n_train, "labelled training images for the probes (0: all 60,000)")->check(CLI::NonNegativeNumber);
  ev->add_option("--n-test", e->n_test, "test images (0: all)")->check(CLI::NonNegativeNumber);
  ev->add_option("--seed", e->seed, "seed of the probe's validation split and of --random-init");
  ev->add_flag("--representation-only", e->representation_only, "probe the backbone output only (no Guillotine sweep)");
  ev->add_flag("--no-knn", e->no_knn, "skip the k-NN classifier");
  ev->add_option("--plot", e->plot, "accuracy against depth, one curve per run (.png/.svg)");
  ev->add_option("--json", e->json, "write all reports to this JSON file (default: RUN/eval.json each)");
  ev->callback([e] {
    if (e->runs.empty() && e->random_init.empty()) throw ConfigError("give run directories (or --random-init CONFIG)");
    vision::VisionEvalOptions o;
    o.n_train = e->n_train;
    o.n_test = e->n_test;
    o.all_layers = !e->representation_only;
    o.knn = !e->no_knn;
    o.seed = uint64_t(e->seed);
    std::vector<vision::VisionEvalReport> reports;
    if (!e->random_init.empty()) {
      vision::VisionSslOptions c;
      ConfigSchema schema;
      c.describe(schema);
      configure(schema, e->random_init, {});
      c.seed = e->seed;
      reports.push_back(vision::evaluate_vision_random_init(c, o));
      reports.back().method = "random init";
      std::printf("%s", reports.back().table().c_str());
    }
    for (const auto& run : e->runs) {
      if (run.size() > 5 && run.substr(run.size() - 5) == ".json") {  // a stored report: plot it, no recomputation
        for (auto& r : read_eval_reports(run)) reports.push_back(std::move(r));
        continue;
      }
      reports.push_back(vision::evaluate_vision(run, o));
      std::printf("%s", reports.back().table().c_str());
      if (e->json.empty() && is_directory(run)) {
        write_text_atomic(run + "/eval.json", reports.back().json());
      }
    }
    if (!e->json.empty()) {
      std::string all = "[";
      for (size_t i = 0; i < reports.size(); ++i) all += (i ? ",\n" : "") + reports[i].json();
      write_text_atomic(e->json, all + "]\n");
    }
    if (!e->plot.empty()) {
      vision::plot_guillotine(reports, e->plot, !e->no_knn && reports.size() <= 3);
      std::printf("wrote %s\n", e->plot.c_str());
    }
  });
  (void)global;
}

void add_train_command(CLI::App& app, GlobalOptions& global) {
  struct Args {
    std::string config, out = "runs/ssl";
    int64_t seed = -1;
    bool restart = false, print_config = false;
    std::vector<std::string> words;
  };
  auto a = std::make_shared<Args>();
  static vision::VisionSslOptions defaults;
  auto* t = app.add_subcommand("train", "Joint-embedding SSL on images (VICReg, SimCLR, Barlow Twins, BYOL, SimSiam, ...)");
  t->footer(schema_help([](ConfigSchema& s) { defaults.describe(s); }) + "\nCriterion keys (config key 'loss'):\n" +
            vision::vision_method_help() +
            "\nWithout --config, Fashion-MNIST runs start from the method's recipe (configs/fmnist/<method>.yaml, built\n"
            "in; the defaults listed above apply to other data and to the keys a recipe leaves out).\n"
            "\nOutputs in --out: checkpoint.pt, metrics each epoch (k-NN and a logistic-regression probe fitted on the\n"
            "n_bank training images, the online SGD probe, RankMe, all on n_monitor test images),\n"
            "training_*.png. Resumed exactly when --out holds a checkpoint of the same configuration.\n"
            "\nExamples:\n  jess train --config configs/fmnist/simclr.yaml\n  jess train method=barlow_twins train.epochs=5 --out runs/bt\n");
  t->add_option("--config", a->config, "YAML file of configuration keys")->check(CLI::ExistingFile);
  t->add_option("--out,-o", a->out, "run directory");
  t->add_option("--seed", a->seed, "seed (overrides the config's)");
  t->add_flag("--restart", a->restart, "start afresh even if --out holds a checkpoint");
  t->add_flag("--print-config", a->print_config, "print the effective configuration and exit");
  t->add_option("args", a->words, "key=value overrides");
  t->callback([a] {
    vision::VisionSslOptions o;
    ConfigSchema schema;
    o.describe(schema);
    if (a->config.empty()) {
      // No --config: on Fashion-MNIST the method's shipped recipe is the starting point (the overrides are
      // read once first to learn the method and the data).
      vision::VisionSslOptions given;
      ConfigSchema first;
      given.describe(first);
      configure(first, "", a->words);
      const std::string recipe = vision::fmnist_recipe(given.method);
      if (!recipe.empty() && given.data == vision::default_fashion_mnist_dir()) {
        schema.load_yaml_string(recipe, "the built-in recipe configs/fmnist/" + given.method + ".yaml");
        if (!a->print_config)
          std::fprintf(stderr, "jess train: %s on Fashion-MNIST with its recipe (configs/fmnist/%s.yaml, built in; --config "
                               "or key=value to change it)\n", given.method.c_str(), given.method.c_str());
      }
    }
    configure(schema, a->config, a->words);
    if (a->seed >= 0) o.seed = a->seed;
    if (a->print_config) {
      o.resolve();
      std::printf("%s", o.config_yaml.c_str());
      return;
    }
    auto s = vision::pretrain_vision(o, a->out, a->restart);
    std::printf("%s%s: %lld steps in %s (%.0f images/s); test k-NN top-1 %.2f %%, linear probe %.2f %% (on the k-NN bank), RankMe %.1f -> %s\n",
                o.method.c_str(), s.train.resumed ? " (resumed)" : "", (long long)s.train.global_step,
                format_duration(s.train.seconds).c_str(), s.train.samples_per_second, 100 * s.knn_top1,
                100 * s.probe_top1, s.rankme, s.train.checkpoint.c_str());
  });
  (void)global;
}

}  // namespace jess::app
