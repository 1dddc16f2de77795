#include <sys/stat.h>

#include <cstdio>

#include "app/commands.h"
#include "jess/core/progress.h"
#include "jess/pde/dataset.h"
#include "jess/pde/views.h"

namespace jess::app {

namespace {
struct QuickstartArgs {
  std::string out = "runs/quickstart";
  int64_t seed = 0;
  int64_t n = 256;
};
}  // namespace

void add_quickstart_command(CLI::App& app, GlobalOptions& global) {
  auto a = std::make_shared<QuickstartArgs>();
  auto* q = app.add_subcommand("quickstart",
                               "The main job on built-in defaults: generate small KdV, KS and Burgers datasets, plot them and their Lie-symmetry views");
  q->add_option("--out,-o", a->out, "output directory");
  q->add_option("--seed", a->seed, "seed of every random draw");
  q->add_option("--n", a->n, "train trajectories per equation (valid/test get a quarter each)")->check(CLI::PositiveNumber);
  q->callback([a] {
    mkdir("runs", 0755);
    if (mkdir(a->out.c_str(), 0755) != 0 && errno != EEXIST)
      throw std::runtime_error("cannot create output directory '" + a->out + "'");
    std::printf("jess quickstart -> %s\n", a->out.c_str());
    for (const char* eq : {"kdv", "ks", "burgers"}) {
      pde::GenerateOptions o;
      o.equation = eq;
      o.seed = a->seed;
      o.n_train = a->n;
      o.n_valid = o.n_test = std::max<int64_t>(1, a->n / 4);
      const std::string path = a->out + "/" + eq + ".h5";
      auto s = pde::generate(o, path);
      pde::PlotOptions po;
      std::string png = pde::plot_dataset(path, po);
      std::printf("  %-8s %5lld trajectories in %7s (%6.1f traj/s) -> %s, %s\n", eq, (long long)s.trajectories,
                  format_duration(s.seconds).c_str(), s.trajectories / std::max(1e-9, s.seconds), path.c_str(),
                  png.c_str());
      // What the Lie point symmetry augmentations do to one trajectory of each equation.
      pde::AugmentOptions ao;
      std::string aug = pde::show_augmentations(path, "train", 0, ao, uint64_t(a->seed), "");
      std::printf("  %-8s symmetry views -> %s\n", eq, aug.c_str());
    }
  });
  (void)global;
}

}  // namespace jess::app
