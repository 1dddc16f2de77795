// jess: joint-embedding self-supervised learning. The CLI parses arguments and calls the library.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "app/commands.h"
#include "jess/core/config.h"
#include "jess/core/runtime.h"
#include "jess/core/version.h"
#include "jess/dist/dist.h"
#include "jess/dist/launch.h"
#include "jess/nn/batch_norm.h"

namespace {
// The commands whose training runs data-parallel (dist.h); any other refuses several processes rather
// than have every rank do the same work and write the same files.
std::string command_path(const CLI::App& app) {
  std::string path;
  for (const CLI::App* a = &app; a;) {
    auto subs = a->get_subcommands();
    if (subs.empty()) break;
    a = subs[0];
    path += (path.empty() ? "" : " ") + a->get_name();
  }
  return path;
}
bool runs_data_parallel(const CLI::App& app) {
  const std::string path = command_path(app);
  return path == "train" || path == "vision train" || path == "pde pretrain" || path == "pde regress" ||
         path == "pde timestep" || path == "equivariance train";
}
}  // namespace

int main(int argc_in, char** argv_in) {
  jess::choose_openmp_wait_policy(argv_in);  // may re-run this process with OMP_WAIT_POLICY=PASSIVE
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines reach a log file as they happen
  // `jess --nproc N ...` starts N local ranks of the same command (launch.h) and waits for them.
  std::vector<std::string> args(argv_in, argv_in + argc_in);
  try {
    const int nproc = jess::dist::take_nproc_option(args);
    if (nproc > 1) return jess::dist::launch_local(nproc, args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  std::vector<char*> argv_kept;
  for (auto& a : args) argv_kept.push_back(a.data());
  const int argc = int(argv_kept.size());
  char** argv = argv_kept.data();
  CLI::App app{
      "jess " JESS_VERSION " - joint-embedding self-supervised learning in C++.\n"
      "PDE data from fast batched spectral solvers, Lie point symmetry views of it, VICReg pretraining and\n"
      "coefficient regression from frozen features (jess pde), and label-free and probe evaluation of\n"
      "embeddings (jess eval); image SSL (jess train), single cells (jess cells), rendered 3-D objects, equivariance\n"
      "and robustness. Start with `jess quickstart`. From Python: `import jess` (docs/python.md).\n"
      "Run `jess COMMAND --help` for each command."};
  app.set_version_flag("--version", "jess " JESS_VERSION);
  jess::app::GlobalOptions global;
  app.add_option("--threads", global.threads,
                 "worker threads (default: all hardware threads; env JESS_THREADS). On a busy machine (1-minute load "
                 "average >= half the cores at start) OpenMP threads wait passively instead of spinning (measured "
                 "2.4x faster there, 14 % slower idle); OMP_WAIT_POLICY or GOMP_SPINCOUNT in the environment win")
      ->check(CLI::NonNegativeNumber);
  int nproc_help = 0;
  app.add_option("--nproc", nproc_help,
                 "run the command as N data-parallel processes on this machine (training commands: train, vision "
                 "train, pde pretrain, pde regress, pde timestep, equivariance train; torchrun's RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT also work; docs/distributed.md)");
  bool no_sync_bn = false;
  app.add_flag("--no-sync-bn", no_sync_bn,
               "data-parallel runs: BatchNorm statistics per process instead of over the global batch");
  app.require_subcommand(1);
  // Initialise the runtime (allocator, threads, BLAS check) before any command runs; join the process
  // group when launched as one rank of several.
  app.parse_complete_callback([&] {
    jess::init_runtime(global.threads);
    jess::nn::set_sync_batch_norm(!no_sync_bn);
    const auto env = jess::dist::launch_env();
    if (env.present && env.world_size > 1) {
      if (!runs_data_parallel(app))
        throw std::invalid_argument("`jess " + command_path(app) + "` does not run data-parallel; run it in one process "
                                    "(data-parallel commands: train, vision train, pde pretrain, pde regress, pde timestep, equivariance train)");
      jess::dist::init();
    }
  });
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
    jess::dist::shutdown(false);
    return app.exit(e);
  } catch (const jess::ConfigError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    jess::dist::shutdown(false);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    jess::dist::shutdown(false);
    return 1;
  }
  jess::dist::shutdown(true);
  return 0;
}
