// jess quickstart: the README's main job on built-in defaults. Generates Burgers (varying viscosity)
// and KdV data, pretrains VICReg encoders on Lie-point-symmetry views (one per seed), and regresses
// the coefficients from frozen features against the supervised baseline and the floors, printing a
// table in the shape of Table 1 of Mialon et al. (2023).
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "app/commands.h"
#include "jess/core/config.h"
#include "jess/core/files.h"
#include "jess/core/progress.h"
#include "jess/pde/dataset.h"
#include "jess/pde/ns2d.h"
#include "jess/pde/ns2d_ssl.h"
#include "jess/pde/ns2d_timestep.h"
#include "jess/pde/ssl.h"
#include "jess/pde/timestep.h"
#include "jess/pde/views.h"

namespace jess::app {

namespace {
struct QuickstartArgs {
  std::string out = "runs/quickstart";
  int64_t seed = 0, seeds = 3;
  int64_t n = 1024;
  int64_t epochs = 30;
  int64_t labelled = 512;
  int64_t supervised_epochs = 30;
  // Time-stepping (Mialon et al. §5.2) at CPU scale: see docs/pde.md for the measured trade-off.
  int64_t timestep_epochs = 10;
  int64_t timestep_width = 64;
  double timestep_windows = 4;
  int64_t timestep_test = 256;
  std::vector<std::string> equations = {"burgers", "kdv"};
  // --equations ns2d (about 15 minutes on 2 cores: docs/pde.md).
  int64_t ns2d_n = 512;
  int64_t ns2d_epochs = 20;  // the pretraining default (docs/pde.md: 20 epochs beat 100)
};


std::string cell(const pde::RegressRow* r, const std::string& metric) {
  if (!r) return "-";
  std::ostringstream s;
  s << std::fixed << std::setprecision(metric == "NMSE" ? 3 : metric == "MSE" ? 5 : 2) << r->mean << " ± " << r->std;
  return s.str();
}

std::string cell(const pde::TimestepComparison::Row* r) {
  if (!r) return "-";
  std::ostringstream s;
  const int digits = r->mean >= 10 ? 1 : r->mean >= 1 ? 2 : 3;
  s << std::fixed << std::setprecision(digits) << r->mean << " ± " << r->std;
  return s.str();
}
// The 2-D Navier-Stokes pipeline at CPU scale (docs/pde.md, "Navier-Stokes"): PDEArena-layout data at
// 128^2, VICReg on symmetry views of 16-frame windows of the 32^2-pooled fields, the buoyancy regression
// with its baselines, and time-stepping without / with the SSL representation / with the true b.
std::pair<pde::RegressReport, pde::TimestepComparison> run_ns2d(const QuickstartArgs& a) {
  pde::ns2d::GenerateOptions g;
  g.seed = a.seed;
  g.n_train = a.ns2d_n;
  g.n_valid = std::max<int64_t>(16, a.ns2d_n / 8);
  g.n_test = std::max<int64_t>(16, a.ns2d_n / 4);
  const std::string path = a.out + "/ns2d.h5";
  if (!file_exists(path)) {
    auto s = pde::ns2d::generate(g, path);
    std::printf("[ns2d] %lld trajectories in %s -> %s\n", (long long)s.trajectories, format_duration(s.seconds).c_str(),
                path.c_str());
  }
  std::string png = pde::ns2d::plot_file(path, "train", 3, 8, a.out + "/ns2d.png");
  std::printf("[ns2d] frames of smoke and vorticity: %s\n", png.c_str());
  std::vector<std::string> checkpoints;
  for (int64_t k = 0; k < a.seeds; ++k) {
    pde::ns2d::PretrainOptions p;
    p.data = path;
    p.seed = a.seed + k;
    p.train.epochs = a.ns2d_epochs;
    p.batch = std::min<int64_t>(p.batch, std::max<int64_t>(2, a.ns2d_n / 4));
    const std::string dir = a.out + "/ns2d_ssl_seed" + std::to_string(p.seed);
    auto r = pde::ns2d::pretrain(p, dir, /*restart=*/false);
    std::printf("[ns2d] SSL seed %lld: %lld steps in %s (%.0f samples/s), held-out RankMe %.1f -> %s\n", (long long)p.seed,
                (long long)r.train.global_step, format_duration(r.train.seconds).c_str(), r.train.samples_per_second,
                r.rankme, r.checkpoint.c_str());
    checkpoints.push_back(r.checkpoint);
  }
  pde::ns2d::RegressOptions ro;
  ro.data = path;
  ro.labelled = std::min<int64_t>(a.labelled, a.ns2d_n);
  ro.seeds = a.seeds;
  ro.seed = a.seed;
  ro.supervised_epochs = a.supervised_epochs;
  ro.supervised_batch = std::min<int64_t>(ro.supervised_batch, std::max<int64_t>(2, ro.labelled * 8 / 10 / 2));
  auto rep = pde::ns2d::regress(ro, checkpoints, a.out + "/ns2d_regress");
  jess::write_text_atomic(a.out + "/ns2d_regress/regression.json", rep.json() + "\n");
  std::printf("%s\n", rep.table().c_str());
  pde::TimestepComparison cmp;
  if (a.timestep_epochs > 0) {
    pde::ns2d::TimestepOptions t;
    t.data = path;
    t.seed = a.seed;
    t.train.epochs = a.timestep_epochs;
    cmp = pde::ns2d::compare_timestep(t, {"none", "ssl", "coefficient"}, a.seeds, checkpoints, a.out + "/ns2d_timestep");
    std::printf("%s\n", cmp.table().c_str());
  }
  return {rep, cmp};
}
}  // namespace

void add_quickstart_command(CLI::App& app, GlobalOptions& global) {
  auto a = std::make_shared<QuickstartArgs>();
  auto* q = app.add_subcommand(
      "quickstart",
      "The main job on built-in defaults: generate Burgers and KdV data, pretrain VICReg on Lie-symmetry views, "
      "regress the coefficients against the supervised baseline (the paper's Table 1, at CPU scale)");
  q->footer(
      "\nSteps (outputs in --out): burgers.h5/kdv.h5 (+ PNGs of trajectories and symmetry views); per equation and\n"
      "seed a pretraining run <eq>_ssl_seed<k>/ (checkpoint.pt, metrics, loss/RankMe plots); <eq>_regress/ (the\n"
      "supervised baselines' runs, regression.json); then time-stepping: per seed an encoder on 20-step views\n"
      "<eq>_ssl20_seed<k>/ and <eq>_timestep/ (CNN solvers without conditioning, with the SSL representation, with\n"
      "the true coefficient; rollout plots); table.md and results.json.\n"
      "Pretraining and regression run on the defaults of `jess pde pretrain` and `jess pde regress` (the 2-D CNN\n"
      "encoder, Adam with warm-up and cosine decay, views of 32 time steps x half the width, the start view for\n"
      "the probe); only the budget (--epochs, --n) is the quickstart's.\n");
  q->add_option("--out,-o", a->out, "output directory");
  q->add_option("--seed", a->seed, "first seed");
  q->add_option("--seeds", a->seeds, "pretraining runs and baseline seeds per equation")->check(CLI::PositiveNumber);
  q->add_option("--n", a->n, "train trajectories per equation (valid: n/4, test: n/2)")->check(CLI::Range(64, 1000000));
  q->add_option("--epochs", a->epochs, "pretraining epochs")->check(CLI::PositiveNumber);
  q->add_option("--labelled", a->labelled, "labelled trajectories for the regression")->check(CLI::Range(16, 1000000));
  q->add_option("--supervised-epochs", a->supervised_epochs, "supervised baseline epochs (best on validation kept)")
      ->check(CLI::PositiveNumber);
  q->add_option("--equations", a->equations, "equations to run (burgers, kdv, ks; ns2d: 2-D Navier-Stokes smoke, ~15 min)");
  q->add_option("--ns2d-n", a->ns2d_n, "ns2d: train trajectories (valid n/8, test n/4; 11 MB each at 128^2)")
      ->check(CLI::Range(16, 1000000));
  q->add_option("--ns2d-epochs", a->ns2d_epochs, "ns2d: pretraining epochs")->check(CLI::PositiveNumber);
  q->add_option("--timestep-epochs", a->timestep_epochs, "time-stepping solver epochs (0: skip the time-stepping rows)")
      ->check(CLI::NonNegativeNumber);
  q->add_option("--timestep-width", a->timestep_width, "time-stepping CNN width (the reference: 128)")
      ->check(CLI::PositiveNumber);
  q->add_option("--timestep-windows", a->timestep_windows, "training windows per trajectory and epoch")
      ->check(CLI::PositiveNumber);
  q->add_option("--timestep-test", a->timestep_test, "test trajectories rolled out")->check(CLI::PositiveNumber);
  q->callback([a] {
    make_directories(a->out);
    const bool only_ns2d = a->equations.size() == 1 && a->equations.front() == "ns2d";
    std::printf("jess quickstart -> %s  (%lld seeds, %lld trajectories, %lld pretraining epochs)\n", a->out.c_str(),
                (long long)a->seeds, (long long)(only_ns2d ? a->ns2d_n : a->n),
                (long long)(only_ns2d ? a->ns2d_epochs : a->epochs));
    std::vector<pde::RegressReport> reports;
    std::vector<pde::TimestepComparison> steppers;
    for (const auto& eq : a->equations) {
      if (eq == "ns2d") {
        auto out = run_ns2d(*a);
        reports.push_back(out.first);
        if (out.second.rows.size()) steppers.push_back(out.second);
        continue;
      }
      if (eq != "burgers" && eq != "kdv" && eq != "ks")
        throw ConfigError("--equations: '" + eq + "' has no regression target (burgers, kdv, ks, ns2d)");
      pde::GenerateOptions g;
      g.equation = eq;
      if (eq == "burgers") g.method = "cole_hopf", g.solve_nx = 512;
      g.seed = a->seed;
      g.n_train = a->n;
      g.n_valid = std::max<int64_t>(8, a->n / 4);
      g.n_test = std::max<int64_t>(8, a->n / 2);
      const std::string path = a->out + "/" + eq + ".h5";
      auto s = pde::generate(g, path);
      pde::PlotOptions po;
      std::string png = pde::plot_dataset(path, po);
      pde::AugmentOptions ao;
      std::string aug = pde::show_augmentations(path, "train", 0, ao, uint64_t(a->seed), "");
      std::printf("[%s] %lld trajectories in %s -> %s (%s, %s)\n", eq.c_str(), (long long)s.trajectories,
                  format_duration(s.seconds).c_str(), path.c_str(), png.c_str(), aug.c_str());
      // One VICReg encoder per seed on views of crop_t time steps (32 for the regression, 20 for
      // time-stepping), every other setting the pretraining defaults.
      auto pretrain_seeds = [&](int64_t crop_t, int64_t epochs, const std::string& tag) {
        std::vector<std::string> checkpoints;
        for (int64_t k = 0; k < a->seeds; ++k) {
          pde::PretrainOptions p;
          p.data = path;
          p.seed = a->seed + k;
          p.train.epochs = epochs;
          p.augment.crop_t = crop_t;
          p.batch = std::min<int64_t>(p.batch, std::max<int64_t>(2, a->n / 4));  // small --n still runs
          const std::string dir = a->out + "/" + eq + "_" + tag + "_seed" + std::to_string(p.seed);
          auto r = pde::pretrain(p, dir, /*restart=*/false);
          std::printf("[%s] SSL seed %lld (%lld-step views): %lld steps in %s (%.0f samples/s), held-out RankMe %.1f -> %s\n",
                      eq.c_str(), (long long)p.seed, (long long)crop_t, (long long)r.train.global_step,
                      format_duration(r.train.seconds).c_str(), r.train.samples_per_second, r.rankme,
                      r.checkpoint.c_str());
          checkpoints.push_back(r.checkpoint);
        }
        return checkpoints;
      };
      const std::vector<std::string> checkpoints = pretrain_seeds(32, a->epochs, "ssl");
      pde::RegressOptions ro;
      ro.data = path;
      ro.labelled = a->labelled;
      ro.seeds = a->seeds;
      ro.seed = a->seed;
      ro.supervised_epochs = a->supervised_epochs;
      // The fitting part of the labelled set (80 %) must hold a batch: small --labelled still runs.
      ro.supervised_batch = std::min<int64_t>(ro.supervised_batch, std::max<int64_t>(2, a->labelled * 8 / 10 / 2));
      auto rep = pde::regress(ro, checkpoints, a->out + "/" + eq + "_regress");
      jess::write_text_atomic(a->out + "/" + eq + "_regress/regression.json", rep.json() + "\n");
      std::printf("%s\n", rep.table().c_str());
      reports.push_back(rep);
      if (a->timestep_epochs > 0) {
        // Time-stepping: SSL encoders whose views span the solver's input window (20 steps), then the
        // solver without conditioning, with the SSL representation, and with the true coefficient.
        const auto encoders = pretrain_seeds(20, std::max<int64_t>(1, a->epochs / 2), "ssl20");
        pde::TimestepOptions t;
        t.data = path;
        t.seed = a->seed;
        // n_train stays at the reference's 512 training trajectories (LPSDA); --n sets the SSL data.
        t.n_test = a->timestep_test;
        t.width = a->timestep_width;
        t.windows_per_trajectory = a->timestep_windows;
        t.train.epochs = a->timestep_epochs;
        // The step decay at 40 %, 70 % and 90 % of training (the reference: epochs 5, 10, 15 of 20).
        const int64_t E = a->timestep_epochs;
        t.train.lr_milestones = std::to_string(std::max<int64_t>(1, E * 4 / 10)) + "," +
                                std::to_string(std::max<int64_t>(1, E * 7 / 10)) + "," +
                                std::to_string(std::max<int64_t>(1, E * 9 / 10));
        auto cmp = pde::compare_timestep(t, {"none", "ssl", "coefficient"}, a->seeds, encoders,
                                         a->out + "/" + eq + "_timestep");
        std::printf("%s\n", cmp.table().c_str());
        steppers.push_back(cmp);
      }
    }
    // Table 1 shape: methods as rows, equations as columns.
    std::ostringstream t;
    t << "| | ";
    for (const auto& r : reports) t << r.equation << " (" << r.metric << ") | ";
    t << "\n|---|";
    for (size_t i = 0; i < reports.size(); ++i) t << "---|";
    t << "\n";
    const char* rows[] = {"supervised (end to end)", "supervised, head refit by the probe", "SSL repr. + linear head",
                          "SSL repr. + MLP head", "random-init encoder + linear head", "constant (mean of labels)",
                          "variance of b's law, (max-min)^2/12"};
    for (const char* name : rows) {
      bool any = false;
      for (const auto& r : reports)
        for (const auto& x : r.rows) any = any || x.name == name;
      if (!any) continue;
      t << "| " << name << " | ";
      for (const auto& r : reports) {
        const pde::RegressRow* row = nullptr;
        for (const auto& x : r.rows)
          if (x.name == name) row = &x;
        t << cell(row, r.metric) << " | ";
      }
      t << "\n";
    }
    if (!steppers.empty()) {
      t << "| *time-stepping: normalised rollout error* | ";
      for (size_t i = 0; i < reports.size(); ++i) t << " | ";
      t << "\n";
      for (const char* c : {"none", "ssl", "coefficient"}) {
        t << "| " << pde::condition_label(c) << " | ";
        for (const auto& r : reports) {
          const pde::TimestepComparison::Row* row = nullptr;
          for (const auto& cmp : steppers)
            if (cmp.equation == r.equation)
              for (const auto& x : cmp.rows)
                if (x.condition == c) row = &x;
          t << cell(row) << " | ";
        }
        t << "\n";
      }
    }
    jess::write_text_atomic(a->out + "/table.md", t.str());
    std::ostringstream js;
    js << "[";
    for (size_t i = 0; i < reports.size(); ++i) js << (i ? ",\n " : "") << reports[i].json();
    for (const auto& cmp : steppers) js << ",\n " << cmp.json();
    js << "]\n";
    jess::write_text_atomic(a->out + "/results.json", js.str());
    std::printf("Regression from frozen features and time-stepping, mean ± std over %lld seeds (lower is better):\n%s\nwrote %s/table.md, "
                "%s/results.json\n",
                (long long)a->seeds, t.str().c_str(), a->out.c_str(), a->out.c_str());
  });
  (void)global;
}

}  // namespace jess::app
