#include <nlohmann/json.hpp>

#include <cstdio>

#include "app/commands.h"
#include "jess/core/plot.h"
#include "jess/eval/rankme.h"

namespace jess::app {

void add_eval_commands(CLI::App& app, GlobalOptions& global) {
  auto* ev = app.add_subcommand("eval", "Judge representations: RankMe (more probes follow)");
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
    auto s = eval::spectrum_from_npy(a->file, a->chunk);
    const double score = eval::rankme(s.singular_values, a->eps);
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
                          {"numerical_rank", rank}, {"sigma_max", s.singular_values.front()},
                          {"singular_values", s.singular_values}};
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("%s: N=%lld K=%lld  RankMe %.4f  numerical rank %lld  sigma_max %.4g\n", a->file.c_str(),
                  (long long)s.n, (long long)s.k, score, (long long)rank, s.singular_values.front());
      if (!a->plot.empty()) std::printf("wrote %s\n", a->plot.c_str());
    }
  });
  (void)global;
}

}  // namespace jess::app
