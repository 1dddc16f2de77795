#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "app/commands.h"
#include "jess/core/files.h"
#include "jess/core/plot.h"
#include "jess/eval/correlation.h"
#include "jess/eval/probes.h"
#include "jess/eval/rankme.h"
#include "jess/core/npy.h"

#include <ATen/ATen.h>

namespace jess::app {
namespace {

// A run directory's name for titles and legends: its last path component ("runs/sweep/cov_1/" -> "cov_1").
std::string run_name(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path.substr(path.find_last_of('/') + 1);
}

}  // namespace

void add_eval_commands(CLI::App& app, GlobalOptions& global) {
  auto* ev = app.add_subcommand("eval", "Judge embeddings: RankMe, run selection, linear/MLP/ridge probes, k-NN, Guillotine layer sweep");
  ev->require_subcommand(1);
  struct RankArgs {
    std::string file, plot;
    double eps = 1e-7, rtol = 0;
    int64_t chunk = 4096;
    bool json = false;
  };
  auto a = std::make_shared<RankArgs>();
  auto* rk = ev->add_subcommand("rankme", "RankMe (effective rank) of embeddings Z (N x K) in an .npy file");
  rk->footer("\nRankMe(Z) = exp(-sum_k p_k log p_k), p_k = sigma_k/||sigma||_1 + eps, on the uncentred Z; the\n"
             "singular values come from the float64 Gram matrix accumulated over row blocks (N may exceed memory).\n"
             "Compare RankMe across runs of the same method only.\n");
  rk->add_option("file", a->file, "embeddings .npy (2-D, float32/float64)")->required()->check(CLI::ExistingFile);
  rk->add_option("--eps", a->eps, "epsilon added to each p_k")->check(CLI::NonNegativeNumber);
  rk->add_option("--rtol", a->rtol, "relative tolerance of the numerical rank (default: NumPy's rule, >= 1e-7)");
  rk->add_option("--chunk", a->chunk, "rows read per block")->check(CLI::PositiveNumber);
  rk->add_option("--plot", a->plot, "write the singular-value spectrum as .png or .svg");
  rk->add_flag("--json", a->json, "print the result as JSON");
  rk->callback([a] {
    const auto t0 = std::chrono::steady_clock::now();
    auto s = eval::spectrum_from_npy(a->file, a->chunk);
    const double score = eval::rankme(s.singular_values, a->eps);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const int64_t rank = eval::numerical_rank(s, a->rtol);
    if (!a->plot.empty()) {
      plot::Series series;
      for (size_t i = 0; i < s.singular_values.size(); ++i) {
        series.x.push_back(double(i + 1));
        series.y.push_back(std::max(s.singular_values[i], 1e-300));
      }
      series.label = "singular values";
      plot::LineOptions lo;
      lo.title = "spectrum of " + a->file + " (RankMe " + std::to_string(score).substr(0, 8) + ")";
      lo.x_label = "index k";
      lo.y_label = "sigma_k";
      lo.log_y = true;
      plot::lines({series}, lo, a->plot);
    }
    if (a->json) {
      nlohmann::json j = {{"file", a->file}, {"n", s.n}, {"k", s.k}, {"rankme", score}, {"eps", a->eps},
                          {"numerical_rank", rank}, {"sigma_max", s.singular_values.front()}, {"seconds", seconds},
                          {"singular_values", s.singular_values}};
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("%s: N=%lld K=%lld  RankMe %.4f  numerical rank %lld  sigma_max %.4g\n", a->file.c_str(),
                  (long long)s.n, (long long)s.k, score, (long long)rank, s.singular_values.front());
      if (!a->plot.empty()) std::printf("wrote %s\n", a->plot.c_str());
    }
  });
  // ---- probes on frozen features from .npy files
  struct ProbeArgs {
    std::vector<std::string> train, test;
    std::string task = "classify";
    int64_t seeds = 3, hidden = 0;
    std::vector<int64_t> ks{20, 200};
    double temperature = 0.07;
    bool json = false;
  };
  auto load_xy = [](const std::vector<std::string>& files, const char* what) {
    if (files.size() != 2) throw std::invalid_argument(std::string("--") + what + " takes FEATURES.npy LABELS.npy");
    auto x = read_npy(files[0]), y = read_npy(files[1]);
    if (x.shape.size() != 2) throw std::invalid_argument(files[0] + ": features must be 2-D (N, D)");
    auto X = at::from_blob(x.data.data(), {x.shape[0], x.shape[1]}, at::kDouble).clone();
    auto Y = at::from_blob(y.data.data(), {int64_t(y.data.size())}, at::kDouble).clone();
    if (y.shape.size() == 2) Y = Y.view({y.shape[0], y.shape[1]});
    return std::make_pair(X, Y);
  };
  auto pa = std::make_shared<ProbeArgs>();
  auto* pr = ev->add_subcommand("probe", "Linear (or MLP) classifier or ridge-regression probe on frozen features");
  pr->add_option("--train", pa->train, "FEATURES.npy LABELS.npy")->required()->expected(2);
  pr->add_option("--test", pa->test, "FEATURES.npy LABELS.npy")->required()->expected(2);
  pr->add_option("--task", pa->task, "classify (labels are class indices) or regress")
      ->check(CLI::IsMember({"classify", "regress"}));
  pr->add_option("--seeds", pa->seeds, "repetitions with different validation splits (mean +- 95% CI)")
      ->check(CLI::PositiveNumber);
  pr->add_option("--hidden", pa->hidden, "classify: hidden width of an MLP probe (0: linear)")->check(CLI::NonNegativeNumber);
  pr->add_flag("--json", pa->json, "print JSON");
  pr->callback([pa, load_xy] {
    auto [xtr, ytr] = load_xy(pa->train, "train");
    auto [xte, yte] = load_xy(pa->test, "test");
    nlohmann::json j = {{"task", pa->task}, {"seeds", pa->seeds}};
    if (pa->task == "classify") {
      std::vector<double> t1, t5;
      for (int64_t s = 0; s < pa->seeds; ++s) {
        eval::ClassifierOptions o;
        o.seed = uint64_t(s);
        o.hidden = pa->hidden;
        auto r = eval::classification_probe(xtr, ytr, xte, yte, o);
        t1.push_back(r.top1);
        t5.push_back(r.top5);
      }
      auto a = eval::mean_ci95(t1), b = eval::mean_ci95(t5);
      j["top1"] = {{"mean", a.first}, {"ci95", a.second}, {"values", t1}};
      j["top5"] = {{"mean", b.first}, {"ci95", b.second}, {"values", t5}};
      if (!pa->json)
        std::printf("%s probe: top-1 %.2f%% +- %.2f, top-5 %.2f%% +- %.2f (%lld seeds, 95%% CI)\n",
                    pa->hidden ? "MLP" : "linear", 100 * a.first, 100 * a.second, 100 * b.first, 100 * b.second,
                    (long long)pa->seeds);
    } else {
      auto r = eval::ridge_probe(xtr, ytr, xte, yte, {});
      j["alpha"] = r.alpha;
      j["mse"] = r.test.mse;
      j["nmse"] = r.test.nmse;
      j["relative_error"] = r.test.relative_error;
      j["r2"] = r.test.r2;
      if (!pa->json)
        std::printf("ridge probe (alpha %.3g by 5-fold CV): MSE %.4g  NMSE %.4g  relative error %.4g  R2 %.4f\n", r.alpha,
                    r.test.mse, r.test.nmse, r.test.relative_error, r.test.r2);
    }
    if (pa->json) std::printf("%s\n", j.dump(2).c_str());
  });

  auto ka = std::make_shared<ProbeArgs>();
  auto* kn = ev->add_subcommand("knn", "Weighted k-NN classifier (cosine, exp(s/T) votes) on frozen features");
  kn->add_option("--train", ka->train, "FEATURES.npy LABELS.npy")->required()->expected(2);
  kn->add_option("--test", ka->test, "FEATURES.npy LABELS.npy")->required()->expected(2);
  kn->add_option("--k", ka->ks, "neighbour counts")->delimiter(',');
  kn->add_option("--temperature", ka->temperature, "vote temperature T")->check(CLI::PositiveNumber);
  kn->add_flag("--json", ka->json, "print JSON");
  kn->callback([ka, load_xy] {
    auto [xtr, ytr] = load_xy(ka->train, "train");
    auto [xte, yte] = load_xy(ka->test, "test");
    const auto t0 = std::chrono::steady_clock::now();
    auto rs = eval::knn_probe(xtr, ytr.to(at::kLong), xte, yte.to(at::kLong), ka->ks, ka->temperature);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json j = nlohmann::json::array();
    for (const auto& r : rs) {
      j.push_back({{"k", r.k}, {"top1", r.top1}, {"top5", r.top5}, {"temperature", ka->temperature},
                   {"seconds_all_k", seconds}});
      if (!ka->json) std::printf("k-NN k=%lld T=%g: top-1 %.2f%%  top-5 %.2f%%\n", (long long)r.k, ka->temperature,
                                 100 * r.top1, 100 * r.top5);
    }
    if (ka->json) std::printf("%s\n", j.dump(2).c_str());
  });

  // ---- Guillotine: probe every layer of a model (backbone stages, projector layers)
  struct GuillotineArgs {
    std::vector<std::string> layers, labels;
    std::string plot;
    bool knn = false, json = false;
  };
  auto ga = std::make_shared<GuillotineArgs>();
  auto* gu = ev->add_subcommand("guillotine", "Probe the features of every layer and plot accuracy against depth");
  gu->footer("\nGive the layers in depth order, each as NAME=TRAIN_FEATURES.npy,TEST_FEATURES.npy, e.g.\n"
             "  jess eval guillotine --labels ytr.npy yte.npy --layer stage4=a.npy,b.npy --layer proj1=c.npy,d.npy\n"
             "Guillotine regularisation: the backbone usually beats the projector output by a wide margin.\n");
  gu->add_option("--layer", ga->layers, "NAME=TRAIN.npy,TEST.npy (repeat, in depth order)")->required();
  gu->add_option("--labels", ga->labels, "TRAIN_LABELS.npy TEST_LABELS.npy")->required()->expected(2);
  gu->add_option("--plot", ga->plot, "write accuracy vs depth (.png/.svg)");
  gu->add_flag("--knn", ga->knn, "also k-NN (k = 20, T = 0.07) per layer");
  gu->add_flag("--json", ga->json, "print JSON");
  gu->callback([ga] {
    auto ytr = read_npy(ga->labels[0]), yte = read_npy(ga->labels[1]);
    auto Ytr = at::from_blob(ytr.data.data(), {int64_t(ytr.data.size())}, at::kDouble).to(at::kLong);
    auto Yte = at::from_blob(yte.data.data(), {int64_t(yte.data.size())}, at::kDouble).to(at::kLong);
    plot::Series lin, nn;
    lin.label = "linear probe top-1";
    lin.markers = nn.markers = true;
    nn.label = "k-NN (k=20) top-1";
    nlohmann::json j = nlohmann::json::array();
    std::printf("%-4s %-16s %8s %10s%s\n", "#", "layer", "dim", "linear", ga->knn ? "     k-NN" : "");
    for (size_t i = 0; i < ga->layers.size(); ++i) {
      const std::string& spec = ga->layers[i];
      auto eq = spec.find('='), comma = spec.find(',', eq == std::string::npos ? 0 : eq);
      if (eq == std::string::npos || comma == std::string::npos)
        throw std::invalid_argument("--layer '" + spec + "' is not NAME=TRAIN.npy,TEST.npy");
      const std::string name = spec.substr(0, eq);
      auto a = read_npy(spec.substr(eq + 1, comma - eq - 1)), b = read_npy(spec.substr(comma + 1));
      if (a.shape.size() != 2 || b.shape.size() != 2)
        throw std::invalid_argument("layer " + name + ": features must be 2-D (N, D)");
      auto Xtr = at::from_blob(a.data.data(), {a.shape[0], a.shape[1]}, at::kDouble).clone();
      auto Xte = at::from_blob(b.data.data(), {b.shape[0], b.shape[1]}, at::kDouble).clone();
      auto r = eval::classification_probe(Xtr, Ytr, Xte, Yte, {});
      lin.x.push_back(double(i + 1));
      lin.y.push_back(100 * r.top1);
      nlohmann::json row = {{"layer", name}, {"depth", i + 1}, {"dim", a.shape[1]}, {"linear_top1", r.top1}};
      double knn = NAN;
      if (ga->knn) {
        knn = eval::knn_probe(Xtr, Ytr, Xte, Yte, {20})[0].top1;
        nn.x.push_back(double(i + 1));
        nn.y.push_back(100 * knn);
        row["knn_top1"] = knn;
      }
      j.push_back(row);
      if (!ga->json) {
        std::printf("%-4zu %-16s %8lld %9.2f%%", i + 1, name.c_str(), (long long)a.shape[1], 100 * r.top1);
        if (ga->knn) std::printf(" %8.2f%%", 100 * knn);
        std::printf("\n");
      }
    }
    if (!ga->plot.empty()) {
      plot::LineOptions lo;
      lo.title = "Guillotine: probe accuracy by layer (1 = first layer given)";
      lo.x_label = "layer (depth order)";
      lo.y_label = "top-1 accuracy (%)";
      std::vector<plot::Series> series{lin};
      if (ga->knn) series.push_back(nn);
      plot::lines(series, lo, ga->plot);
      if (!ga->json) std::printf("wrote %s\n", ga->plot.c_str());
    }
    if (ga->json) std::printf("%s\n", j.dump(2).c_str());
  });

  // ---- RankMe-based selection among runs of one method
  struct SelectArgs {
    std::vector<std::string> runs;
    bool json = false;
    std::string plot;
  };
  auto sa = std::make_shared<SelectArgs>();
  auto* se = ev->add_subcommand("select", "Rank runs by RankMe and choose the highest (and, given accuracies, judge the choice)");
  se->footer("\nEach run is Z.npy or METHOD:Z.npy (embeddings), or a run directory holding eval.json (written by\n"
             "`jess vision eval`): then the representation's RankMe and probe accuracies are read from it, and the\n"
             "Spearman correlation between RankMe and accuracy and the accuracy lost by choosing with RankMe\n"
             "instead of labels are printed (RankMe paper: < 0.5 point on ImageNet). RankMe selects among runs\n"
             "of the same method only: comparing different methods prints a warning. --plot draws linear and\n"
             "k-NN accuracy against RankMe, one marker per run, to see whether a higher rank means a better run.\n"
             "\nExample:\n  jess eval select runs/sweep/cov_* --plot rankme_selection.png\n");
  se->add_option("runs", sa->runs, "embedding files or run directories")->required();
  se->add_flag("--json", sa->json, "print JSON");
  se->add_option("--plot", sa->plot, "PNG or SVG: accuracy against RankMe (run directories with eval.json only)");
  se->callback([sa] {
    struct Row {
      std::string method, path;
      double score, linear = NAN, knn = NAN;
    };
    std::vector<Row> rows;
    std::set<std::string> methods;
    for (const auto& r : sa->runs) {
      if (is_directory(r)) {
        const std::string f = r + "/eval.json";
        std::ifstream in(f);
        if (!in) throw std::invalid_argument(r + " holds no eval.json: run `jess vision eval " + r + "` first");
        nlohmann::json j;
        try {
          in >> j;
        } catch (const std::exception& e) {
          throw std::invalid_argument(f + ": not valid JSON (" + e.what() + ")");
        }
        bool found = false;
        for (const auto& l : j.at("layers"))
          if (l.value("representation", false)) {
            rows.push_back({j.value("method", std::string()), r, l.at("rankme").get<double>(), l.at("linear_top1").get<double>(),
                            l.at("knn_top1").get<double>()});
            found = true;
          }
        if (!found) throw std::invalid_argument(f + ": no representation layer");
        methods.insert(rows.back().method);
        continue;
      }
      auto colon = r.find(':');
      std::string method = colon == std::string::npos ? "" : r.substr(0, colon);
      std::string path = colon == std::string::npos ? r : r.substr(colon + 1);
      rows.push_back({method, path, eval::rankme(eval::spectrum_from_npy(path).singular_values)});
      methods.insert(method);
    }
    if (methods.size() > 1)
      std::fprintf(stderr, "warning: runs of different methods are compared; RankMe ranks runs of one method\n");
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.score > b.score; });
    const bool judged = std::all_of(rows.begin(), rows.end(), [](const Row& r) { return !std::isnan(r.linear); });
    if (!sa->plot.empty() && !judged)
      throw std::invalid_argument("--plot needs accuracies: give run directories holding eval.json (`jess vision eval RUN`)");
    nlohmann::json j = nlohmann::json::array();
    for (const auto& r : rows) {
      nlohmann::json row = {{"run", r.path}, {"method", r.method}, {"rankme", r.score}};
      if (judged) row["linear_top1"] = r.linear, row["knn_top1"] = r.knn;
      j.push_back(row);
    }
    nlohmann::json summary;
    if (judged && rows.size() >= 2) {
      std::vector<double> score, lin, knn;
      for (const auto& r : rows) score.push_back(r.score), lin.push_back(r.linear), knn.push_back(r.knn);
      const double best_lin = *std::max_element(lin.begin(), lin.end()), best_knn = *std::max_element(knn.begin(), knn.end());
      summary = {{"spearman_rankme_linear", eval::spearman(score, lin)},
                 {"spearman_rankme_knn", eval::spearman(score, knn)},
                 {"selected", rows[0].path},
                 {"linear_lost_points", 100 * (best_lin - rows[0].linear)},
                 {"knn_lost_points", 100 * (best_knn - rows[0].knn)}};
    }
    if (!sa->plot.empty()) {
      // One marker per run and probe: a cloud rising to the right is RankMe ranking the runs as labels would.
      plot::Scatter points;
      for (const auto& r : rows)
        for (const auto& [probe, accuracy] : {std::pair<const char*, double>{"linear probe", r.linear}, {"k-NN", r.knn}})
          points.x.push_back(r.score), points.y.push_back(100 * accuracy), points.categories.push_back(probe);
      plot::ScatterOptions so;
      const std::string chosen = run_name(rows[0].path);
      char title[256];
      if (summary.is_null())
        std::snprintf(title, sizeof title, "RankMe picks %s", chosen.c_str());
      else
        std::snprintf(title, sizeof title, "RankMe picks %s: it loses %.2f linear, %.2f k-NN points to labels", chosen.c_str(),
                      std::abs(summary["linear_lost_points"].get<double>()), std::abs(summary["knn_lost_points"].get<double>()));
      so.title = title;
      so.x_label = "RankMe of the representation";
      so.y_label = "accuracy (%)";
      so.equal_aspect = false;
      so.point_radius = 4.5;
      so.width = 760;
      so.height = 460;
      plot::scatter(points, so, sa->plot);
      if (sa->json) std::fprintf(stderr, "wrote %s\n", sa->plot.c_str());
    }
    if (sa->json) {
      std::printf("%s\n", (summary.is_null() ? j : nlohmann::json{{"runs", j}, {"summary", summary}}).dump(2).c_str());
      return;
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      std::printf("%2zu. RankMe %10.3f", i + 1, rows[i].score);
      if (judged) std::printf("   linear %6.2f %%   k-NN %6.2f %%", 100 * rows[i].linear, 100 * rows[i].knn);
      std::printf("  %s%s\n", rows[i].path.c_str(), i == 0 ? "   <- selected" : "");
    }
    if (!summary.is_null())
      std::printf("Spearman(RankMe, linear) = %.3f, Spearman(RankMe, k-NN) = %.3f; choosing by RankMe instead of labels "
                  "loses %.2f points (linear) and %.2f points (k-NN)\n",
                  summary["spearman_rankme_linear"].get<double>(), summary["spearman_rankme_knn"].get<double>(),
                  summary["linear_lost_points"].get<double>(), summary["knn_lost_points"].get<double>());
    if (!sa->plot.empty()) std::printf("wrote %s\n", sa->plot.c_str());
  });

  // ---- training curves of several runs in one plot
  struct CurveArgs {
    std::vector<std::string> runs;
    std::string metric = "knn_top1", out = "curves.png", title;
  };
  auto ca = std::make_shared<CurveArgs>();
  auto* cu = ev->add_subcommand("curves", "Plot one per-epoch metric of several training runs (their epochs.csv) together");
  cu->footer("\nEach RUN is a run directory (epochs.csv) or NAME=RUN. Metrics: the columns of epochs.csv, e.g. loss,\n"
             "knn_top1, probe_top1, rankme.\n\nExample:\n  jess eval curves runs/fmnist/* --metric knn_top1 --out curves.png\n");
  cu->add_option("runs", ca->runs, "run directories")->required();
  cu->add_option("--metric", ca->metric, "column of epochs.csv");
  cu->add_option("--out,-o", ca->out, "PNG or SVG file");
  cu->add_option("--title", ca->title, "plot title");
  cu->callback([ca] {
    std::vector<plot::Series> series;
    const bool percent = ca->metric.find("top") != std::string::npos;
    for (const auto& spec : ca->runs) {
      auto eq = spec.find('=');
      const std::string name = eq == std::string::npos ? run_name(spec) : spec.substr(0, eq);
      const std::string dir = eq == std::string::npos ? spec : spec.substr(eq + 1);
      if (!is_directory(dir)) continue;  // e.g. the logs beside run directories in a glob
      std::ifstream in(dir + "/epochs.csv");
      if (!in) throw std::invalid_argument(dir + " has no epochs.csv (not a training run?)");
      std::string line;
      std::getline(in, line);
      std::vector<std::string> head;
      std::stringstream hs(line);
      for (std::string c; std::getline(hs, c, ',');) head.push_back(c);
      auto col = std::find(head.begin(), head.end(), ca->metric), ep = std::find(head.begin(), head.end(), "epoch");
      if (col == head.end() || ep == head.end())
        throw std::invalid_argument(dir + "/epochs.csv has no column '" + ca->metric + "' (columns: " + line + ")");
      plot::Series s;
      s.label = name;
      s.markers = true;
      while (std::getline(in, line)) {
        std::vector<std::string> cells;
        std::stringstream ls(line);
        for (std::string c; std::getline(ls, c, ',');) cells.push_back(c);
        if (cells.size() != head.size()) continue;
        s.x.push_back(std::stod(cells[size_t(ep - head.begin())]) + 1);
        s.y.push_back(std::stod(cells[size_t(col - head.begin())]) * (percent ? 100 : 1));
      }
      series.push_back(s);
    }
    if (series.empty()) throw std::invalid_argument("no run directories among the arguments");
    plot::LineOptions lo;
    lo.title = ca->title.empty() ? ca->metric + " during training" : ca->title;
    lo.x_label = "epoch";
    lo.y_label = ca->metric + (percent ? " (%)" : "");
    lo.width = 820;
    lo.height = 480;
    plot::lines(series, lo, ca->out);
    std::printf("wrote %s (%zu runs)\n", ca->out.c_str(), series.size());
  });
  (void)global;
}

}  // namespace jess::app
