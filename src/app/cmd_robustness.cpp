// `jess robustness eval | export`: top-1 under one factor of variation at a time (Fashion-MNIST 2-D factors
// or rendered factor sets), for jess checkpoints or features given as .npy files.
#include <cstdio>
#include <memory>

#include "app/commands.h"
#include "jess/core/config.h"
#include "jess/core/files.h"
#include "jess/core/npy.h"
#include "jess/equivariance/train.h"
#include "jess/vision/robustness.h"
#include "jess/vision/ssl.h"

#include <ATen/ATen.h>

namespace jess::app {

namespace {
struct SetArgs {
  vision::RobustnessSetOptions o;
  std::vector<std::string> words;
};
void add_set_options(CLI::App* cmd, SetArgs& a) {
  cmd->add_option("--data", a.o.data, "fmnist (Fashion-MNIST with 2-D factors) or a `jess render factors` file");
  cmd->add_option("--probe", a.o.probe, "rendered sets: factor-set file of training objects whose canonical images fit the probe");
  cmd->add_option("--n-test", a.o.n_test, "fmnist: test images per level")->check(CLI::PositiveNumber);
  cmd->add_option("--n-probe", a.o.n_probe, "fmnist: canonical training images for the linear probe")->check(CLI::PositiveNumber);
  cmd->add_option("--factors", a.o.factors, "comma-separated subset of the factors (default: all)");
  cmd->add_option("--seed", a.o.seed, "seed of the textures and the probe's validation split");
}
std::string levels_help() {
  return schema_help([](ConfigSchema& s) {
    static vision::Factor2dLevels d;
    d.describe(s, "");
  });
}
vision::RobustnessSet build_set(SetArgs& a) {
  ConfigSchema s;
  a.o.levels.describe(s, "");
  configure(s, "", a.words);
  return vision::make_robustness_set(a.o);
}
at::Tensor npy_tensor(const std::string& path) {
  auto a = read_npy(path);
  std::vector<int64_t> shape(a.shape.begin(), a.shape.end());
  return at::tensor(a.data, at::kDouble).view(shape);
}
}  // namespace

void add_robustness_commands(CLI::App& app, GlobalOptions& global) {
  auto* rb = app.add_subcommand("robustness", "Robustness to controlled natural variation: one factor at a time (eval, export)");
  rb->require_subcommand(1);

  // ---- eval
  struct EvalArgs {
    SetArgs set;
    std::vector<std::string> runs;
    std::string embeddings, json, plots, out, device = "auto";
    bool per_class = false, refit = false;
  };
  auto e = std::make_shared<EvalArgs>();
  auto* ev = rb->add_subcommand("eval", "Top-1 per factor and level, drop and relative drop against canonical images");
  ev->footer(levels_help() +
             "\nEach RUN is a jess train run (or checkpoint): its frozen representation, a linear probe fitted on canonical\n"
             "images (L-BFGS logistic regression, weight decay chosen on a validation split), then every image of the set;\n"
             "a supervised run (jess train method=supervised) answers with its own classifier; a run of jess equivariance\n"
             "train (SIE and its baselines) is probed like an SSL run.\n"
             "--embeddings DIR evaluates features computed elsewhere on the images of `jess robustness export`: DIR holds\n"
             "probe.npy (P x D) and test.npy (N x D) in the exported order.\n"
             "\nExamples:\n  jess robustness eval runs/vicreg runs/simclr --plots plots --json robust.json\n"
             "  jess robustness eval runs/vicreg --factors rotation,scale rotation=30,60,90 --per-class\n"
             "  jess render factors --out test.h5 && jess render factors --out probe.h5 first_object=0\n"
             "  jess robustness eval runs/r --data test.h5 --probe probe.h5\n");
  ev->add_option("args", e->set.words, "RUN... (jess train run directories or checkpoints) and factor levels key=value");
  add_set_options(ev, e->set);
  ev->add_option("--embeddings", e->embeddings, "a folder with probe.npy and test.npy (features of the exported images)");
  ev->add_flag("--per-class", e->per_class, "also top-1 per class");
  ev->add_flag("--refit-probe", e->refit, "supervised models too: a linear probe on canonical images instead of their own head");
  ev->add_option("--json", e->json, "write every report to this file (a JSON list)");
  ev->add_option("--plots", e->plots, "folder for robustness_<factor>.png (top-1 against level, one curve per model)");
  ev->add_option("--out", e->out, "folder for the predictions: <i>_predictions.npy, labels.npy, groups.npy, group_names.npy");
  ev->add_option("--device", e->device, "auto | cpu | cuda");
  ev->callback([e] {
    std::vector<std::string> levels;
    split_overrides(std::vector<std::string>(e->set.words), levels, e->runs);
    e->set.words = levels;
    if (e->runs.empty() && e->embeddings.empty()) throw ConfigError("give at least one RUN or --embeddings DIR");
    auto set = build_set(e->set);
    std::vector<vision::RobustnessReport> reports;
    std::vector<std::pair<std::string, at::Tensor>> predictions;
    for (const auto& run : e->runs) {
      if (equivariance::is_equivariant_checkpoint(run)) {  // SIE and its baselines: representation + probe
        auto enc = equivariance::load_equivariant_encoder(run, e->device);
        if (set.images.size(1) != 3) throw ConfigError(run + " takes RGB images; the set has grey ones (use a rendered set)");
        predictions.emplace_back(enc.method + " (" + run + ")", vision::probe_predictions(enc.features, set, e->set.o.seed));
        continue;
      }
      auto enc = vision::load_vision_encoder(run, e->device);
      if (enc.channels != set.images.size(1))
        throw ConfigError(run + " takes " + std::to_string(enc.channels) + "-channel images; the set has " +
                          std::to_string(set.images.size(1)));
      if (enc.classify && !e->refit)  // a supervised model answers with its own classifier
        predictions.emplace_back(enc.method + " (" + run + ")", enc.classify(set.images));
      else
        predictions.emplace_back(enc.method + " (" + run + ")", vision::probe_predictions(enc.features, set, e->set.o.seed));
    }
    if (!e->embeddings.empty()) {
      auto px = npy_tensor(e->embeddings + "/probe.npy"), tx = npy_tensor(e->embeddings + "/test.npy");
      if (px.dim() != 2 || px.size(0) != set.probe_labels.size(0))
        throw ConfigError(e->embeddings + "/probe.npy has " + std::to_string(px.dim() == 2 ? px.size(0) : -1) + " rows; the set's probe has " +
                          std::to_string(set.probe_labels.size(0)) + " images (export them with the same options)");
      if (tx.dim() != 2 || tx.size(0) != set.labels.size(0))
        throw ConfigError(e->embeddings + "/test.npy has " + std::to_string(tx.dim() == 2 ? tx.size(0) : -1) + " rows; the set has " +
                          std::to_string(set.labels.size(0)) + " images (export them with the same options)");
      predictions.emplace_back("embeddings (" + e->embeddings + ")",
                               vision::probe_predictions_from_features(px.to(at::kFloat), set.probe_labels, tx.to(at::kFloat), e->set.o.seed));
    }
    const int64_t classes = std::max(set.labels.max().item<int64_t>(), set.probe_labels.max().item<int64_t>()) + 1;
    std::string all = "[";
    for (size_t i = 0; i < predictions.size(); ++i) {
      auto rep = vision::robustness_report(predictions[i].second, set.labels, set.group, set.groups, classes);
      rep.model = predictions[i].first;
      rep.class_names = set.class_names;
      std::printf("%s", rep.table(e->per_class).c_str());
      all += (i ? ",\n" : "") + rep.json();
      reports.push_back(rep);
      if (!e->out.empty()) {
        make_directories(e->out);
        auto p = predictions[i].second.to(at::kLong).contiguous();
        write_npy_i64(e->out + "/" + std::to_string(i) + "_predictions.npy", p.data_ptr<int64_t>(), {p.size(0)});
      }
    }
    if (!e->out.empty()) {
      auto y = set.labels.contiguous(), g = set.group.contiguous();
      write_npy_i64(e->out + "/labels.npy", y.data_ptr<int64_t>(), {y.size(0)});
      write_npy_i64(e->out + "/groups.npy", g.data_ptr<int64_t>(), {g.size(0)});
      std::vector<std::string> names;
      for (const auto& gr : set.groups) names.push_back(gr.factor + (gr.level.empty() ? "" : ":" + gr.level));
      write_npy_strings(e->out + "/group_names.npy", names);
    }
    if (!e->json.empty()) write_text_atomic(e->json, all + "]\n");
    if (!e->plots.empty())
      for (const auto& p : vision::plot_robustness(reports, e->plots)) std::printf("wrote %s\n", p.c_str());
  });

  // ---- export
  struct ExportArgs {
    SetArgs set;
    std::string out;
  };
  auto x = std::make_shared<ExportArgs>();
  auto* ex = rb->add_subcommand("export", "Write the benchmark's images as .npy (to embed them with any model, then eval --embeddings)");
  ex->footer(levels_help() +
             "\nWrites OUT/probe_images.npy (P, C, S, S uint8), probe_labels.npy, test_images.npy (N, C, S, S uint8), labels.npy,\n"
             "groups.npy (group of each test image) and group_names.npy (\"factor:level\", group 0 canonical).\n");
  add_set_options(ex, x->set);
  ex->add_option("--out,-o", x->out, "output folder")->required();
  ex->add_option("levels", x->set.words, "factor levels, e.g. rotation=15,45,90 (key=value)");
  ex->callback([x, &global] {
    auto set = build_set(x->set);
    make_directories(x->out);
    auto u8 = [](const at::Tensor& t) { return t.mul(255).round().clamp(0, 255).to(at::kByte).contiguous(); };
    auto pi = u8(set.probe_images), ti = u8(set.images);
    auto shape = [](const at::Tensor& t) { return std::vector<int64_t>(t.sizes().begin(), t.sizes().end()); };
    write_npy_u8(x->out + "/probe_images.npy", pi.data_ptr<uint8_t>(), shape(pi));
    write_npy_u8(x->out + "/test_images.npy", ti.data_ptr<uint8_t>(), shape(ti));
    auto pl = set.probe_labels.contiguous(), y = set.labels.contiguous(), g = set.group.contiguous();
    write_npy_i64(x->out + "/probe_labels.npy", pl.data_ptr<int64_t>(), {pl.size(0)});
    write_npy_i64(x->out + "/labels.npy", y.data_ptr<int64_t>(), {y.size(0)});
    write_npy_i64(x->out + "/groups.npy", g.data_ptr<int64_t>(), {g.size(0)});
    std::vector<std::string> names;
    for (const auto& gr : set.groups) names.push_back(gr.factor + (gr.level.empty() ? "" : ":" + gr.level));
    write_npy_strings(x->out + "/group_names.npy", names);
    if (!global.quiet)
      std::printf("wrote %s: %lld probe images, %lld test images in %zu groups\n", x->out.c_str(), (long long)pi.size(0),
                  (long long)ti.size(0), set.groups.size());
  });
}

}  // namespace jess::app
