// jess vision augment: parse and call jess::vision.
#include <ATen/ATen.h>

#include <cstdio>
#include <memory>

#include "app/commands.h"
#include "jess/core/config.h"
#include "jess/vision/augment.h"
#include "jess/vision/idx.h"
#include "jess/vision/ssl.h"
#include "jess/core/progress.h"

namespace jess::app {

void add_vision_commands(CLI::App& app, GlobalOptions& global) {
  auto* vision = app.add_subcommand("vision", "Image datasets and augmentations (Fashion-MNIST; SSL methods follow)");
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
            "\nOutputs in --out: checkpoint.pt, metrics (online k-NN / linear probe accuracy and RankMe each epoch),\n"
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
    configure(schema, a->config, a->words);
    if (a->seed >= 0) o.seed = a->seed;
    if (a->print_config) {
      o.resolve();
      std::printf("%s", o.config_yaml.c_str());
      return;
    }
    auto s = vision::pretrain_vision(o, a->out, a->restart);
    std::printf("%s%s: %lld steps in %s (%.0f images/s); test k-NN top-1 %.2f %%, online linear probe %.2f %%, RankMe %.1f -> %s\n",
                o.method.c_str(), s.train.resumed ? " (resumed)" : "", (long long)s.train.global_step,
                format_duration(s.train.seconds).c_str(), s.train.samples_per_second, 100 * s.knn_top1,
                100 * s.probe_top1, s.rankme, s.train.checkpoint.c_str());
  });
  (void)global;
}

}  // namespace jess::app
