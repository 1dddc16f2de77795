#pragma once
// Sub-command registration for the jess CLI. Each domain adds its commands to the app; the commands
// only parse arguments and call the library.
#include <CLI/CLI.hpp>

namespace jess::app {

struct GlobalOptions {
  int threads = 0;  // 0: all hardware threads
  bool quiet = false;
};

void add_pde_commands(CLI::App& app, GlobalOptions& global);
void add_quickstart_command(CLI::App& app, GlobalOptions& global);
void add_eval_commands(CLI::App& app, GlobalOptions& global);

// Splits positional words into key=value overrides and plain arguments.
void split_overrides(const std::vector<std::string>& words, std::vector<std::string>& overrides,
                     std::vector<std::string>& plain);

}  // namespace jess::app
