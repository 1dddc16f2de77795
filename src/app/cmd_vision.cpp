// jess vision augment: parse and call jess::vision.
#include <ATen/ATen.h>

#include <cstdio>
#include <memory>

#include "app/commands.h"
#include "jess/core/config.h"
#include "jess/vision/augment.h"
#include "jess/vision/idx.h"

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

}  // namespace jess::app
