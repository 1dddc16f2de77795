// RankMe against matrices with known spectra, invariances, rank-r data, and streaming vs in-memory.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>

#include "jess/core/npy.h"
#include "jess/core/runtime.h"
#include "jess/eval/rankme.h"

using namespace jess::eval;

namespace {
const bool kRuntime = (jess::init_runtime(2, false), true);

at::Tensor orthogonal(int64_t n, int64_t seed) {
  at::manual_seed(uint64_t(seed));
  return std::get<0>(at::linalg_qr(at::randn({n, n}, at::kDouble)));
}

// Z = U diag(s) V^T with random orthogonal U (n x n), V (k x k).
at::Tensor with_spectrum(const std::vector<double>& s, int64_t n, int64_t k, int64_t seed) {
  auto D = at::zeros({n, k}, at::kDouble);
  for (size_t i = 0; i < s.size(); ++i) D[int64_t(i)][int64_t(i)] = s[i];
  return orthogonal(n, seed).mm(D).mm(orthogonal(k, seed + 1).t()).contiguous();
}

double closed_form(const std::vector<double>& s, double eps) {
  double l1 = 0, h = 0;
  for (double v : s) l1 += v;
  for (double v : s) h -= (v / l1 + eps) * std::log(v / l1 + eps);
  return std::exp(h);
}

Spectrum spec(const at::Tensor& z) { return spectrum_from_rows(z.data_ptr<double>(), z.size(0), z.size(1)); }
}  // namespace

TEST(RankMe, EqualsTheClosedFormOnKnownSpectra) {
  std::vector<double> s{5, 3, 2, 1, 0.5, 0.25, 0.1, 0.01};
  for (auto dims : {std::pair<int64_t, int64_t>{40, 8}, {8, 40}, {30, 12}}) {
    auto z = with_spectrum(s, dims.first, dims.second, 3);
    auto sp = spec(z);
    std::vector<double> expect = s;
    expect.resize(size_t(std::min(dims.first, dims.second)), 0.0);
    ASSERT_EQ(sp.singular_values.size(), expect.size());
    for (size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(sp.singular_values[i], s[i], 1e-8) << i;
    // Zero singular values contribute eps log eps terms: compare with the closed form over min(N,K).
    EXPECT_NEAR(rankme(sp.singular_values), closed_form(expect, 1e-7), 1e-6);
    EXPECT_NEAR(rankme(sp.singular_values, 0.0), closed_form(s, 0.0), 1e-6);
  }
}

TEST(RankMe, InvariantToOrthogonalRotationsOfRowsAndColumns) {
  at::manual_seed(5);
  auto z = at::randn({50, 10}, at::kDouble) * at::linspace(0.1, 3, 10, at::kDouble);
  const double base = rankme(spec(z).singular_values);
  auto rotated = orthogonal(50, 7).mm(z).mm(orthogonal(10, 9)).contiguous();
  EXPECT_NEAR(rankme(spec(rotated).singular_values), base, 1e-9);
  // Not invariant to centring: RankMe is computed on the uncentred Z (a large mean changes it).
  auto shifted = (z + 10.0).contiguous();
  EXPECT_GT(std::abs(rankme(spec(shifted).singular_values) - base), 0.5);
}

TEST(RankMe, RankRDataWithEqualSingularValuesGivesR) {
  for (int64_t r : {1, 3, 7}) {
    std::vector<double> s(size_t(r), 2.0);
    auto z = with_spectrum(s, 64, 16, r);
    auto sp = spec(z);
    EXPECT_NEAR(rankme(sp.singular_values), double(r), 1e-3 * r) << r;
    EXPECT_EQ(numerical_rank(sp), r);
  }
}

TEST(RankMe, StreamingFromNpyEqualsInMemory) {
  char tmpl[] = "/tmp/jess_eval_XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  at::manual_seed(11);
  auto z = (at::randn({1000, 24}, at::kDouble) * at::linspace(0.01, 2, 24, at::kDouble)).contiguous();
  jess::write_npy(dir + "/z.npy", z.data_ptr<double>(), {1000, 24});
  auto zf = z.to(at::kFloat).contiguous();
  jess::write_npy_f32(dir + "/zf.npy", zf.data_ptr<float>(), {1000, 24});
  auto mem = spec(z);
  for (int64_t chunk : {1, 7, 128, 5000}) {
    auto st = spectrum_from_npy(dir + "/z.npy", chunk);
    ASSERT_EQ(st.singular_values.size(), mem.singular_values.size());
    for (size_t i = 0; i < st.singular_values.size(); ++i)
      EXPECT_NEAR(st.singular_values[i], mem.singular_values[i], 1e-10 * mem.singular_values[0]);
    EXPECT_NEAR(rankme(st.singular_values), rankme(mem.singular_values), 1e-9);
  }
  auto f32 = spectrum_from_npy(dir + "/zf.npy", 64);
  EXPECT_EQ(f32.dtype, "<f4");
  EXPECT_NEAR(rankme(f32.singular_values), rankme(mem.singular_values), 1e-4);
  // N < K goes through Z Z^T.
  auto wide = at::randn({6, 30}, at::kDouble).contiguous();
  jess::write_npy(dir + "/w.npy", wide.data_ptr<double>(), {6, 30});
  EXPECT_NEAR(rankme(spectrum_from_npy(dir + "/w.npy").singular_values), rankme(spec(wide).singular_values), 1e-9);
  std::vector<double> bad(20, 1.0);
  bad[7] = NAN;
  jess::write_npy(dir + "/nan.npy", bad.data(), {4, 5});
  EXPECT_THROW(spectrum_from_npy(dir + "/nan.npy"), std::invalid_argument);
  std::vector<double> v3(8, 1.0);
  jess::write_npy(dir + "/v3.npy", v3.data(), {2, 2, 2});
  EXPECT_THROW(spectrum_from_npy(dir + "/v3.npy"), jess::NpyError);
  std::system(("rm -rf " + dir).c_str());
}

#include "jess/eval/correlation.h"
#include "jess/eval/probes.h"

TEST(Probes, LogisticProbeSeparatesSeparableData) {
  at::manual_seed(21);
  auto w = at::randn({6}, at::kDouble);
  auto make = [&](int64_t n) {
    auto x = at::randn({3 * n, 6}, at::kDouble);
    auto m = x.mv(w);
    auto keep = (m.abs() > 0.5).nonzero().squeeze(1).slice(0, 0, n);  // a margin
    return std::make_pair(x.index_select(0, keep), (m.index_select(0, keep) > 0).to(at::kLong));
  };
  auto [xtr, ytr] = make(800);
  auto [xte, yte] = make(2000);
  ClassifierOptions o;
  auto r = classification_probe(xtr, ytr, xte, yte, o);
  EXPECT_GT(r.top1, 0.99);
  EXPECT_DOUBLE_EQ(r.top5, 1.0);  // two classes
}

TEST(Probes, LogisticProbeReachesBayesAccuracyOnGaussianMixture) {
  // Classes N(+mu, I) and N(-mu, I) with |mu| = 1: the Bayes-optimal accuracy is Phi(1) = 0.8413.
  at::manual_seed(22);
  auto make = [&](int64_t n) {
    auto y = at::randint(0, 2, {n}, at::kLong);
    auto x = at::randn({n, 8}, at::kDouble);
    x.select(1, 0).add_(y.to(at::kDouble) * 2 - 1);
    return std::make_pair(x, y);
  };
  auto [xtr, ytr] = make(4000);
  auto [xte, yte] = make(20000);
  const double bayes = 0.5 * std::erfc(-1.0 / std::sqrt(2.0));
  ClassifierOptions o;
  auto r = classification_probe(xtr, ytr, xte, yte, o);
  EXPECT_NEAR(r.top1, bayes, 0.012) << "bayes " << bayes;
  ClassifierOptions mlp = o;
  mlp.hidden = 32;
  mlp.epochs = 20;
  mlp.weight_decays = {1e-4};
  EXPECT_NEAR(classification_probe(xtr, ytr, xte, yte, mlp).top1, bayes, 0.02);
}

TEST(Probes, RidgeEqualsTheNormalEquations) {
  at::manual_seed(23);
  auto x = at::randn({50, 5}, at::kDouble) + 0.7, y = at::randn({50, 2}, at::kDouble);
  const double alpha = 0.37;
  auto [w, b] = ridge_fit(x, y, alpha);
  // [X 1] beta = y with penalty alpha on the weights only: (A^T A + P) beta = A^T y.
  auto A = at::cat({x, at::ones({50, 1}, at::kDouble)}, 1);
  auto P = at::eye(6, at::kDouble) * alpha;
  P[5][5] = 0;
  auto beta = at::linalg_solve(A.t().mm(A) + P, A.t().mm(y));
  EXPECT_LT((w - beta.slice(0, 0, 5)).abs().max().item<double>(), 1e-10);
  EXPECT_LT((b - beta[5]).abs().max().item<double>(), 1e-10);
  // Noiseless linear targets: cross-validation picks a small alpha and R^2 ~ 1.
  auto yt = x.mv(at::arange(1, 6, at::kDouble)) + 2.0;
  auto xq = at::randn({40, 5}, at::kDouble), yq = xq.mv(at::arange(1, 6, at::kDouble)) + 2.0;
  auto r = ridge_probe(x, yt, xq, yq, {});
  EXPECT_LE(r.alpha, 1e-2);
  EXPECT_GT(r.test.r2, 0.9999);
  EXPECT_LT(r.test.nmse, 1e-4);
}

TEST(Probes, KnnVotesMatchHandComputation) {
  auto train = at::tensor({1.0, 0.0, 0.9, 0.1, 0.0, 1.0, -1.0, 0.0}, at::kDouble).view({4, 2});
  auto labels = at::tensor({int64_t(0), int64_t(0), int64_t(1), int64_t(2)});
  auto query = at::tensor({1.0, 0.2}, at::kDouble).view({1, 2});
  const double T = 0.5, qn = std::sqrt(1.04);
  const double s1 = 1.0 / qn, s2 = 0.92 / (qn * std::sqrt(0.82)), s3 = 0.2 / qn;  // cosines to the first three
  auto scores = knn_scores(train, labels, query, 3, T, 3);
  EXPECT_NEAR(scores[0][0].item<double>(), std::exp(s1 / T) + std::exp(s2 / T), 1e-5);
  EXPECT_NEAR(scores[0][1].item<double>(), std::exp(s3 / T), 1e-5);
  EXPECT_EQ(scores[0][2].item<double>(), 0.0);  // the fourth point is not among the 3 nearest
  auto r = knn_probe(train, labels, query, at::tensor({int64_t(0)}), {1, 3});
  EXPECT_DOUBLE_EQ(r[0].top1, 1.0);
  // Blocked queries equal one block.
  at::manual_seed(24);
  auto bank = at::randn({300, 16}), ql = at::randn({50, 16});
  auto lab = at::randint(0, 5, {300}, at::kLong);
  EXPECT_TRUE(at::allclose(knn_scores(bank, lab, ql, 20, 0.07, 5, 7), knn_scores(bank, lab, ql, 20, 0.07, 5, 1000)));
}

TEST(Probes, ConfidenceIntervalAndMetrics) {
  auto [m, h] = mean_ci95({1.0, 2.0, 3.0});
  EXPECT_DOUBLE_EQ(m, 2.0);
  EXPECT_NEAR(h, 4.303 * 1.0 / std::sqrt(3.0), 1e-12);
  auto met = regression_metrics(at::tensor({1.0, 2.0, 4.0}, at::kDouble), at::tensor({1.0, 2.0, 2.0}, at::kDouble));
  EXPECT_NEAR(met.mse, 4.0 / 3, 1e-12);
  EXPECT_NEAR(met.relative_error, (0 + 0 + 1.0) / 3, 1e-12);
  EXPECT_NEAR(met.r2, 1 - 4.0 / (2.0 / 3), 1e-12);
  auto scores = at::tensor({0.1, 0.5, 0.4, 0.9, 0.05, 0.05}, at::kDouble).view({2, 3});
  EXPECT_DOUBLE_EQ(topk_accuracy(scores, at::tensor({int64_t(2), int64_t(0)}), 1), 0.5);
  EXPECT_DOUBLE_EQ(topk_accuracy(scores, at::tensor({int64_t(2), int64_t(1)}), 2), 1.0);
}

// ---- rank correlation (RankMe selection sweeps; cells metrics)
TEST(Spearman, AverageRanksOfTies) {
  EXPECT_EQ(jess::eval::average_ranks({3, 1, 3, 2, 3}), (std::vector<double>{4, 1, 4, 2, 4}));
}

TEST(Spearman, EqualsScipyOnTiedData) {
  // scipy.stats.spearmanr on the same vectors: 0.8207826816681233 and 0.6323529411764706.
  EXPECT_NEAR(jess::eval::spearman({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7}), 0.8207826816681233, 1e-12);
  EXPECT_NEAR(jess::eval::spearman({0.1, 0.4, 0.4, 0.9, 0.2, 0.3}, {10, 30, 20, 20, 5, 1}), 0.6323529411764706, 1e-12);
  EXPECT_DOUBLE_EQ(jess::eval::spearman({1, 2, 3}, {30, 20, 10}), -1.0);
  EXPECT_TRUE(std::isnan(jess::eval::spearman({1, 1, 1}, {1, 2, 3})));
  EXPECT_THROW(jess::eval::spearman({1, 2}, {1, 2, 3}), std::invalid_argument);
}
