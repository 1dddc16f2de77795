// jess pde pretrain | regress | embed: parse and call jess::pde (ssl.h).
#include <ATen/ATen.h>

#include <cstdio>
#include <fstream>

#include "app/commands.h"
#include "jess/core/files.h"
#include "jess/core/config.h"
#include "jess/core/npy.h"
#include "jess/core/plot.h"
#include "jess/core/progress.h"
#include "jess/dist/dist.h"
#include "jess/pde/ns2d_ssl.h"
#include "jess/pde/ssl.h"

namespace jess::app {

// The data file named on the command line (the first word without '=', or data=PATH): ns2d files take
// the 2-D pipeline's keys (pde/ns2d_ssl.h).
bool names_ns2d_data(const std::vector<std::string>& words) {
  for (const auto& w : words) {
    if (w.rfind("data=", 0) == 0) return pde::ns2d::is_ns2d_file(w.substr(5));
    if (w.find('=') == std::string::npos) return pde::ns2d::is_ns2d_file(w);
  }
  return false;
}

void add_pde_ssl_commands(CLI::App& pde, GlobalOptions& global) {
  // ---- pretrain
  struct PretrainArgs {
    std::string config, out = "runs/pde-ssl";
    int64_t seed = -1;
    bool restart = false, print_config = false;
    std::vector<std::string> words;
  };
  auto pa = std::make_shared<PretrainArgs>();
  static pde::PretrainOptions pretrain_defaults;
  auto* pt = pde.add_subcommand("pretrain", "Self-supervised pretraining (VICReg) on Lie-point-symmetry views of a dataset");
  pt->footer(schema_help([](ConfigSchema& s) { pretrain_defaults.describe(s); }) +
             "\nOutputs in --out: checkpoint.pt (torch.load-able: model state dict, optimiser, data position),\n"
             "metrics.jsonl, steps.csv, epochs.csv (RankMe of held-out embeddings each epoch), training_*.png.\n"
             "A run directory with a checkpoint is resumed exactly (same configuration); --restart overwrites it.\n"
             "Defaults (the best measured on Burgers against a minimal PyTorch implementation, docs/pde.md): the\n"
             "2-D CNN encoder, Adam 2.5e-3 with one epoch of warm-up (a tenth of a shorter run) and cosine decay,\n"
             "batch 128, views of half the trajectory (crop 0 = auto), the Galilean strength a fraction of std(u).\n"
             "\nExamples:\n  jess pde pretrain burgers.h5 --out runs/burgers train.epochs=20\n"
             "  jess pde pretrain --config configs/pde/pretrain_paper.yaml data=kdv.h5\n"
             "\n2-D Navier-Stokes data (`jess pde generate equation=ns2d`, detected from the DATA argument) takes these\n"
             "keys instead: VICReg on two symmetry views of crop_t-frame windows (time, space, rotation, linear and\n"
             "quadratic boosts, scaling: exact maps, docs/pde.md), the frames of (smoke, vx, vy) as encoder channels.\n" +
             schema_help([](ConfigSchema& s) { static pde::ns2d::PretrainOptions d; d.describe(s); }) +
             "  jess pde pretrain ns2d.h5 --out runs/ns2d train.epochs=20\n");
  pt->add_option("--config", pa->config, "YAML file of configuration keys")->check(CLI::ExistingFile);
  pt->add_option("--out,-o", pa->out, "run directory");
  pt->add_option("--seed", pa->seed, "seed (overrides the config's)");
  pt->add_flag("--restart", pa->restart, "start afresh even if --out holds a checkpoint");
  pt->add_flag("--print-config", pa->print_config, "print the effective configuration and exit");
  pt->add_option("args", pa->words, "DATA.h5 and key=value overrides");
  // The same steps for the 1-D and the ns2d options: parse, --print-config, pretrain, summary.
  auto run_pretrain = [pa](auto options, auto pretrain_fn) {
    ConfigSchema schema;
    options.describe(schema);
    auto plain = configure(schema, pa->config, pa->words, 1, "one dataset file and key=value options");
    if (!plain.empty()) options.data = plain[0];
    if (pa->seed >= 0) options.seed = pa->seed;
    if (pa->print_config) {
      options.resolve();
      std::printf("%s", options.config_yaml.c_str());
      return;
    }
    auto s = pretrain_fn(options, pa->out, pa->restart);
    std::printf("pretrained %s%s: %lld steps in %s (%.0f samples/s); held-out RankMe %.1f -> %s\n",
                options.data.c_str(), s.train.resumed ? " (resumed)" : "", (long long)s.train.global_step,
                format_duration(s.train.seconds).c_str(), s.train.samples_per_second, s.rankme, s.checkpoint.c_str());
  };
  pt->callback([pa, run_pretrain] {
    if (names_ns2d_data(pa->words))
      run_pretrain(pde::ns2d::PretrainOptions{}, [](pde::ns2d::PretrainOptions o, const std::string& out, bool restart) {
        return pde::ns2d::pretrain(std::move(o), out, restart);
      });
    else
      run_pretrain(pde::PretrainOptions{}, [](pde::PretrainOptions o, const std::string& out, bool restart) {
        return pde::pretrain(std::move(o), out, restart);
      });
  });

  // ---- regress
  struct RegressArgs {
    std::string config, out = "runs/pde-regress";
    std::vector<std::string> checkpoints, words;
    bool json = false;
  };
  auto ra = std::make_shared<RegressArgs>();
  static pde::RegressOptions regress_defaults;
  auto* rg = pde.add_subcommand("regress", "Regress PDE coefficients from frozen SSL features, against supervised and floor baselines");
  rg->footer(schema_help([](ConfigSchema& s) { regress_defaults.describe(s); }) +
             "\nRows: supervised (same encoder + linear head trained end to end, epoch chosen on a validation split\n"
             "of the labelled set), supervised with its head refit by the probe protocol, SSL representation +\n"
             "linear head (one row entry per --checkpoint), random-init encoder + linear head, constant predictor.\n"
             "Linear heads: ridge on standardised features, alpha by 5-fold CV on the labelled set.\n"
             "Burgers: nu from a head on log nu (relative error %); KdV/KS: the amplitudes |c_l| of the initial\n"
             "condition's Fourier modes (translation invariant, hence identifiable from any view), NMSE.\n"
             "Features: one view per trajectory, its first crop_t frames at the full width, averaged over `shifts`\n"
             "periodic shifts of the width (view=start; view=crops: the mean over `crops` random crops).\n"
             "\nExample:\n  jess pde regress burgers.h5 --checkpoint runs/b0/checkpoint.pt runs/b1/checkpoint.pt labelled=512\n"
             "\n2-D Navier-Stokes data (detected from DATA): the buoyancy b from frozen features averaged over evenly\n"
             "spaced windows, linear (ridge) and MLP heads; supervised end to end (+ head refit), random-init encoder,\n"
             "the labels' mean and the variance of b's law beside; MSE and R^2. Keys:\n" +
             schema_help([](ConfigSchema& s) { static pde::ns2d::RegressOptions d; d.describe(s); }));
  rg->add_option("--config", ra->config, "YAML file of configuration keys")->check(CLI::ExistingFile);
  rg->add_option("--checkpoint,-c", ra->checkpoints, "pretraining checkpoints (one per seed)")->check(CLI::ExistingFile);
  rg->add_option("--out,-o", ra->out, "directory for the baselines' runs and regression.json");
  rg->add_flag("--json", ra->json, "print JSON instead of the table");
  rg->add_option("args", ra->words, "DATA.h5 and key=value overrides");
  rg->callback([ra] {
    pde::RegressReport rep;
    if (names_ns2d_data(ra->words)) {
      pde::ns2d::RegressOptions o;
      ConfigSchema schema;
      o.describe(schema);
      auto plain = configure(schema, ra->config, ra->words, 1, "one dataset file and key=value options");
      if (!plain.empty()) o.data = plain[0];
      rep = pde::ns2d::regress(o, ra->checkpoints, ra->out);
    } else {
      pde::RegressOptions o;
      ConfigSchema schema;
      o.describe(schema);
      auto plain = configure(schema, ra->config, ra->words, 1, "one dataset file and key=value options");
      if (!plain.empty()) o.data = plain[0];
      rep = pde::regress(o, ra->checkpoints, ra->out);
    }
    if (jess::dist::is_main()) jess::write_text_atomic(ra->out + "/regression.json", rep.json() + "\n");  // rank 0 writes
    std::printf("%s\n", ra->json ? rep.json().c_str() : rep.table().c_str());
  });

  // ---- guillotine
  struct GuillotineArgs {
    std::string checkpoint, plot;
    std::vector<std::string> words;
    bool json = false;
  };
  auto ga = std::make_shared<GuillotineArgs>();
  auto* gu = pde.add_subcommand("guillotine", "Probe every encoder block and projector layer of a checkpoint (Guillotine sweep)");
  gu->footer("\nThe regression probe of `jess pde regress` (ridge, alpha by 5-fold CV on the labelled set) on the output\n"
             "of each encoder block (pooled) and each projector layer, shallow to deep; the table, and a PNG of the\n"
             "metric against depth with --plot. Guillotine regularisation predicts the backbone beats the projector.\n"
             "Keys: those of `jess pde regress` (labelled, view, crops, target, seed, device).\n"
             "\nExample:\n  jess pde guillotine runs/b0/checkpoint.pt burgers.h5 --plot guillotine.png\n");
  gu->add_option("checkpoint", ga->checkpoint, "pretraining checkpoint")->required()->check(CLI::ExistingFile);
  gu->add_option("--plot", ga->plot, "write the metric against depth (.png/.svg)");
  gu->add_flag("--json", ga->json, "print JSON");
  gu->add_option("args", ga->words, "DATA.h5 and key=value overrides")->required();
  gu->callback([ga] {
    pde::RegressOptions o;
    ConfigSchema schema;
    o.describe(schema);
    auto plain = configure(schema, "", ga->words, 1, "one dataset file and key=value options");
    if (!plain.empty()) o.data = plain[0];
    auto rep = pde::guillotine(ga->checkpoint, o);
    if (ga->json) {
      std::printf("{\"equation\": \"%s\", \"metric\": \"%s\", \"layers\": [", rep.equation.c_str(), rep.metric.c_str());
      for (size_t i = 0; i < rep.rows.size(); ++i)
        std::printf("%s{\"layer\": \"%s\", \"depth\": %zu, \"dim\": %lld, \"metric\": %.8g, \"r2\": %.8g}", i ? ", " : "",
                    rep.rows[i].layer.c_str(), i + 1, (long long)rep.rows[i].dim, rep.rows[i].metric, rep.rows[i].r2);
      std::printf("]}\n");
    } else {
      std::printf("%s: %s of a linear probe on each layer (%s)\n%-4s %-12s %6s %12s %8s\n", rep.equation.c_str(),
                  rep.metric.c_str(), rep.target.c_str(), "#", "layer", "dim", rep.metric == "NMSE" ? "NMSE" : "rel.err %", "R2");
      for (size_t i = 0; i < rep.rows.size(); ++i)
        std::printf("%-4zu %-12s %6lld %12.4f %8.3f\n", i + 1, rep.rows[i].layer.c_str(), (long long)rep.rows[i].dim,
                    rep.rows[i].metric, rep.rows[i].r2);
    }
    if (!ga->plot.empty()) {
      plot::Series sr;
      sr.label = rep.metric;
      sr.markers = true;
      for (size_t i = 0; i < rep.rows.size(); ++i) sr.x.push_back(double(i + 1)), sr.y.push_back(rep.rows[i].metric);
      plot::LineOptions lo;
      lo.title = rep.equation + ": probe on each layer (1 = stem ... projector output)";
      lo.x_label = "depth (encoder blocks, then projector layers)";
      lo.y_label = rep.metric;
      lo.log_y = rep.metric == "NMSE";
      plot::lines({sr}, lo, ga->plot);
      std::fprintf(stderr, "wrote %s\n", ga->plot.c_str());
    }
  });

  // ---- embed
  struct EmbedArgs {
    std::string checkpoint, data, out;
    pde::EmbedOptions o;
  };
  auto ea = std::make_shared<EmbedArgs>();
  auto* em = pde.add_subcommand("embed", "Write frozen-encoder representations of a split to .npy (for jess eval)");
  em->footer("\nExample:\n  jess pde embed runs/b0/checkpoint.pt burgers.h5 --split test --out z.npy && jess eval rankme z.npy\n");
  em->add_option("checkpoint", ea->checkpoint, "pretraining checkpoint")->required()->check(CLI::ExistingFile);
  em->add_option("data", ea->data, "HDF5 dataset")->required()->check(CLI::ExistingFile);
  em->add_option("--out,-o", ea->out, "output .npy (N, D) float32")->required();
  em->add_option("--split", ea->o.split, "train, valid or test");
  em->add_option("--view", ea->o.view, "start (first crop_t frames, full width; the regression's default) | crops")
      ->check(CLI::IsMember({"start", "crops"}));
  em->add_option("--crops", ea->o.crops, "--view crops: crops per trajectory (features averaged)")->check(CLI::PositiveNumber);
  em->add_option("--shifts", ea->o.shifts,
                 "--view start: features averaged over this many equally spaced periodic shifts of the width")
      ->check(CLI::PositiveNumber);
  em->add_option("--seed", ea->o.seed, "seed of the crop positions");
  em->add_option("--limit", ea->o.limit, "first N trajectories only (0: all)")->check(CLI::NonNegativeNumber);
  em->add_option("--layer", ea->o.layer, "encoder block (stem, stage1.., or layer1..; default: the output)");
  em->callback([ea] {
    auto z = (pde::ns2d::is_ns2d_file(ea->data)
                  ? pde::ns2d::embed(ea->checkpoint, ea->data, ea->o.split, ea->o.limit)
                  : pde::embed(ea->checkpoint, ea->data, ea->o))
                 .contiguous();
    write_npy_f32(ea->out, z.data_ptr<float>(), {z.size(0), z.size(1)});
    std::printf("wrote %s: %lld x %lld representations\n", ea->out.c_str(), (long long)z.size(0), (long long)z.size(1));
  });
  (void)global;
}

}  // namespace jess::app
