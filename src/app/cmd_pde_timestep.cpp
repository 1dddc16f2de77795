// jess pde timestep: parse and call jess::pde (timestep.h).
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "app/commands.h"
#include "jess/core/config.h"
#include "jess/pde/ns2d_timestep.h"
#include "jess/pde/timestep.h"

namespace jess::app {

namespace {
std::vector<std::string> split_commas(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& s : items) {
    std::istringstream in(s);
    std::string w;
    while (std::getline(in, w, ','))
      if (!w.empty()) out.push_back(w);
  }
  return out;
}
}  // namespace

void add_pde_timestep_command(CLI::App& pde, GlobalOptions& global) {
  struct Args {
    std::string config, out = "runs/pde-timestep";
    std::vector<std::string> conditions, encoders, words;
    int64_t seeds = 1;
    bool restart = false, print_config = false, json = false;
  };
  auto a = std::make_shared<Args>();
  static pde::TimestepOptions defaults;
  auto* c = pde.add_subcommand(
      "timestep", "Neural time-stepping (CNN/ResNet solvers), optionally conditioned on frozen SSL representations");
  c->footer(schema_help([](ConfigSchema& s) { defaults.describe(s); }) +
            "\nEach --conditions entry x --seeds seed trains one solver in --out/<condition>_seed<k>/ (checkpoint.pt,\n"
            "metrics, rollout.json, error_vs_time.png, trajectory.png: truth, rollout and error in space-time), then\n"
            "prints the table of the normalised rollout error (sum over predicted steps of mean_x err^2 / mean_x u^2,\n"
            "rolled out from the window [th, 2 th) to the end of each test trajectory; mean over trajectories,\n"
            "bootstrap interval per run, mean ± std over seeds) and writes --out/timestep.json and error_vs_time.png.\n"
            "condition=ssl uses a pretraining checkpoint whose encoder reads windows of time_history steps\n"
            "(pretrain with augment.crop_t=20 for the default); give one per seed with --encoder.\n"
            "\nExample:\n  jess pde timestep kdv.h5 --conditions none,ssl,coefficient --seeds 3 \\\n"
            "      --encoder runs/kdv20_s0/checkpoint.pt,runs/kdv20_s1/checkpoint.pt,runs/kdv20_s2/checkpoint.pt\n"
            "\n2-D Navier-Stokes data (detected from DATA): a 2-D residual network on time_history frames of (smoke,\n"
            "vx, vy) predicting the next time_future; condition ssl = the frozen representation of the observed window\n"
            "(the encoder's crop_t first frames), coefficient = the true buoyancy; rolled out from the end of that\n"
            "window to the last frame. Keys:\n" +
            schema_help([](ConfigSchema& s) { static pde::ns2d::TimestepOptions d; d.describe(s); }));
  c->add_option("--config", a->config, "YAML file of configuration keys")->check(CLI::ExistingFile);
  c->add_option("--out,-o", a->out, "output directory");
  c->add_option("--conditions", a->conditions, "none, ssl, coefficient (comma-separated or repeated; default: the condition key)")
      ->delimiter(',')
      ->allow_extra_args(false);
  c->add_option("--seeds", a->seeds, "solvers trained per condition (seeds seed, seed+1, ...)")->check(CLI::PositiveNumber);
  c->add_option("--encoder,-e", a->encoders, "SSL checkpoints for condition ssl, one per seed (cycled; comma-separated or repeated)")
      ->check(CLI::ExistingFile)
      ->delimiter(',')
      ->allow_extra_args(false);
  c->add_flag("--restart", a->restart, "retrain runs whose directories hold checkpoints");
  c->add_flag("--print-config", a->print_config, "print the effective configuration and exit");
  c->add_flag("--json", a->json, "print JSON instead of the table");
  c->add_option("args", a->words, "DATA.h5 and key=value overrides");
  c->callback([a] {
    if (names_ns2d_data(a->words)) {
      pde::ns2d::TimestepOptions o;
      ConfigSchema schema;
      o.describe(schema);
      auto plain = configure(schema, a->config, a->words, 1, "one dataset file and key=value options");
      if (!plain.empty()) o.data = plain[0];
      auto conditions = split_commas(a->conditions);
      if (conditions.empty()) conditions.push_back(o.condition);
      if (!a->encoders.empty() && o.encoder.empty()) o.encoder = a->encoders.front();
      if (a->print_config) {
        o.resolve();
        std::printf("%s", o.config_yaml.c_str());
        return;
      }
      auto cmp = pde::ns2d::compare_timestep(o, conditions, a->seeds, a->encoders, a->out, a->restart);
      std::printf("%s", a->json ? (cmp.json() + "\n").c_str() : cmp.table().c_str());
      if (!a->json) std::printf("wrote %s/timestep.json, %s/error_vs_time.png\n", a->out.c_str(), a->out.c_str());
      return;
    }
    pde::TimestepOptions o;
    ConfigSchema schema;
    o.describe(schema);
    auto plain = configure(schema, a->config, a->words, 1, "one dataset file and key=value options");
    if (!plain.empty()) o.data = plain[0];
    auto conditions = split_commas(a->conditions);
    if (conditions.empty()) conditions.push_back(o.condition);  // the configuration's `condition` key
    if (!a->encoders.empty() && o.encoder.empty()) o.encoder = a->encoders.front();
    if (a->print_config) {
      o.resolve();
      std::printf("%s", o.config_yaml.c_str());
      return;
    }
    auto cmp = pde::compare_timestep(o, conditions, a->seeds, a->encoders, a->out, a->restart);
    std::printf("%s", a->json ? (cmp.json() + "\n").c_str() : cmp.table().c_str());
    if (!a->json) std::printf("wrote %s/timestep.json, %s/error_vs_time.png\n", a->out.c_str(), a->out.c_str());
  });
  (void)global;
}

}  // namespace jess::app
