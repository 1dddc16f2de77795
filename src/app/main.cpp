// jess: joint-embedding self-supervised learning. The CLI parses arguments and calls the library.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "app/commands.h"
#include "jess/core/config.h"
#include "jess/core/runtime.h"
#include "jess/core/version.h"

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines reach a log file as they happen
  CLI::App app{
      "jess " JESS_VERSION " - joint-embedding self-supervised learning in C++.\n"
      "PDE data from fast batched spectral solvers, Lie point symmetry views of it, VICReg pretraining and\n"
      "coefficient regression from frozen features (jess pde), and label-free and probe evaluation of\n"
      "embeddings (jess eval). Start with `jess quickstart`.\n"
      "Run `jess COMMAND --help` for each command."};
  app.set_version_flag("--version", "jess " JESS_VERSION);
  jess::app::GlobalOptions global;
  app.add_option("--threads", global.threads, "worker threads (default: all hardware threads; env JESS_THREADS)")
      ->check(CLI::NonNegativeNumber);
  app.require_subcommand(1);
  // Initialise the runtime (allocator, threads, BLAS check) before any command runs.
  app.parse_complete_callback([&] { jess::init_runtime(global.threads); });
  jess::app::add_pde_commands(app, global);
  jess::app::add_eval_commands(app, global);
  jess::app::add_vision_commands(app, global);
  jess::app::add_train_command(app, global);
  jess::app::add_cells_commands(app, global);
  jess::app::add_render_commands(app, global);
  jess::app::add_equivariance_commands(app, global);
  jess::app::add_robustness_commands(app, global);
  jess::app::add_quickstart_command(app, global);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const jess::ConfigError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
