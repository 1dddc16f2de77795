#pragma once
// Sub-command registration for the jess CLI. Each domain adds its commands to the app; the commands
// only parse arguments and call the library.
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace jess {
class ConfigSchema;
}

namespace jess::app {

struct GlobalOptions {
  int threads = 0;  // 0: all hardware threads
  bool quiet = false;
};

void add_pde_commands(CLI::App& app, GlobalOptions& global);
void add_quickstart_command(CLI::App& app, GlobalOptions& global);
void add_eval_commands(CLI::App& app, GlobalOptions& global);
void add_vision_commands(CLI::App& app, GlobalOptions& global);
void add_train_command(CLI::App& app, GlobalOptions& global);  // jess train (image SSL)
void add_cells_commands(CLI::App& app, GlobalOptions& global);
void add_render_commands(CLI::App& app, GlobalOptions& global);  // jess render (3-D scenes)
void add_equivariance_commands(CLI::App& app, GlobalOptions& global);  // jess equivariance (SIE)
void add_robustness_commands(CLI::App& app, GlobalOptions& global);    // jess robustness

void add_pde_ssl_commands(CLI::App& pde, GlobalOptions& global);  // pretrain | regress | embed
void add_pde_timestep_command(CLI::App& pde, GlobalOptions& global);

// Splits positional words into key=value overrides and plain arguments.
void split_overrides(const std::vector<std::string>& words, std::vector<std::string>& overrides,
                     std::vector<std::string>& plain);
// Fills `schema` from an optional YAML file, then the key=value words, and returns the other (plain)
// words: at most `max_plain` of them (`what` names them in the error), none by default.
std::vector<std::string> configure(ConfigSchema& schema, const std::string& yaml_file,
                                   const std::vector<std::string>& words, size_t max_plain = 0,
                                   const std::string& what = "");
// "Configuration keys ..." help text of a schema.
// True when the dataset among the command's words (first word without '=', or data=PATH) holds ns2d data.
bool names_ns2d_data(const std::vector<std::string>& words);
std::string schema_help(const std::function<void(ConfigSchema&)>& describe);

}  // namespace jess::app
