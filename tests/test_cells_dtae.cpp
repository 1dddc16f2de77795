// DTAE (cells/dtae.h, cells/dtae_model.h): the fine-tuning tree loss against hand-computed values
// and finite differences, the hand-written pretraining step against autograd + torch::optim::Adam,
// pretraining and fine-tuning end to end, and the options' validation.
#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "jess/cells/density_tree.h"
#include "jess/cells/dtae.h"
#include "jess/cells/dtae_model.h"
#include "jess/cells/metrics.h"
#include "jess/cells/synthetic.h"
#include "jess/core/config.h"
#include "jess/core/npy.h"
#include "jess/core/rng.h"
#include "jess/core/runtime.h"

using namespace jess::cells;

namespace {

at::Tensor to_tensor(const Matrix& m, at::ScalarType type = at::kDouble) {
  return at::from_blob(const_cast<double*>(m.data.data()), {m.rows, m.cols}, at::kDouble).to(type).clone();
}

// Uniform in [-scale, scale) from jess::Rng: the same numbers with every standard library.
Matrix random_matrix(int64_t rows, int64_t cols, uint64_t seed, double scale = 1.0) {
  jess::Rng rng(seed);
  Matrix m(rows, cols);
  for (double& v : m.data) v = rng.uniform(-scale, scale);
  return m;
}

// The path 0 - 1 - 2 with ghosts 3 (of leaf 0) and 4 (of leaf 2), built by hand so the test controls
// every stored pair. Triplets (a, i, b) for the degree-2 vertices 0, 1, 2.
DensityTree three_cluster_path(const std::vector<int>& labels, const std::vector<CentroidPair>& pairs) {
  DensityTree t;
  t.num_clusters = 3;
  t.num_ghosts = 2;
  t.centroids = Matrix(5, 1);
  t.labels = labels;
  t.pairs = pairs;
  t.edges = {{0, 1, 1, false}, {1, 2, 1, false}, {0, 3, 0, true}, {2, 4, 0, true}};
  t.neighbours = {{1, 3}, {0, 2}, {1, 4}, {0}, {2}};
  t.hops = hop_distances(t.neighbours);
  t.triplets = {{1, 0, 3}, {0, 1, 2}, {1, 2, 4}};
  t.ghost_leaf = {0, 2};
  return t;
}

// A real density tree: a small synthetic comb, K = 8.
struct SmallTree {
  CellData data;
  DensityTree tree;
};
SmallTree small_tree() {
  SyntheticTreeOptions so;
  so.n_branch = 3;
  so.branch_length = 60;
  so.n_dim = 10;
  so.seed = 5;
  SmallTree s{synthetic_tree(so), {}};
  DensityTreeOptions to;
  to.num_clusters = 8;
  s.tree = build_density_tree(s.data.x, to);
  return s;
}

}  // namespace

// ---- the tree loss --------------------------------------------------------------------------------

// Embedding (2-D), labels and stored pairs P(i):
//   e0 = ( 1,    0)   label 0  P = (0,1)   low-dim centroids: C0 = mean(e0, e1) = (0, 0)
//   e1 = (-1,    0)   label 0  P = (0,3)                      C1 = mean(e2, e3, e6, e7) = (2, 0)
//   e2 = ( 2,    1)   label 1  P = (1,2)                      C2 = mean(e4, e5) = (2, 2)
//   e3 = ( 2,   -1)   label 1  P = (1,2)   ghosts (r = 0.5):  C3 = C0 + (C0 - C1) / 2 = (-1, 0)
//   e4 = ( 2,  2.8)   label 2  P = (2,4)                      C4 = C2 + (C2 - C1) / 2 = ( 2, 3)
//   e5 = ( 2,  1.2)   label 2  P = (1,2)
//   e6 = ( 0.6, 1.5)  label 1  P = (1,2)
//   e7 = ( 3.4, -1.5) label 1  P = (0,1)
// Current two nearest centroids (distance, then the third nearest): e0 {0,1} (1, 1; C3 at 2), e1
// {3,0} (0, 1; 3), e2 {1,2} (1, 1; 2), e3 {1,0} (1, sqrt 5; 3), e4 {4,2} (0.2, 0.8; 2.8), e5 {2,1}
// (0.8, 1.2; 1.8), e6 {2,0} (sqrt 2.21, sqrt 2.61; sqrt 4.21), e7 {1,0} (sqrt 4.21, sqrt 13.81;
// sqrt 14.21): all equal P(i) except e3 (stored (1,2), hop G[0,1] = 1) and e6 (stored (1,2), hop
// G[0,2] = 2).
// Crispness T_i = ((d(C_a, e) + d(C_b, e)) / d(C_a, C_b))^2:
//   e0 ((1 + 1) / 2)^2 = 1; e1 ((1 + sqrt(1e-6)) / 1)^2 = 1.001^2 = 1.002001 (e1 sits on its ghost:
//   the safe distance floor); e2 ((1 + 1) / 2)^2 = 1; e3 ((1 + 3) / 2)^2 = 4; e4 (0.8 + 0.2)^2 = 1;
//   e5 ((1.2 + 0.8) / 2)^2 = 1; e6 ((sqrt 4.21 + sqrt 2.21) / 2)^2; e7 ((sqrt 13.81 + sqrt 4.21) / 2)^2.
// Push-pull: e3: 1 x (4 - ((sqrt 5 + 1) / 2)^2) = 4 - (3 + sqrt 5) / 2 = (5 - sqrt 5) / 2;
//   e6: 2 x (T6 - ((sqrt 2.61 + sqrt 2.21) / 2)^2).
// Cosine over (1,0,3): C0 - C1 = (-2,0) vs C3 - C0 = (-1,0): cos 1 -> 0; (0,1,2): (2,0) vs (0,2): cos 0
// -> 1; (1,2,4): (0,2) vs (0,1) -> 0. Mean 1/3.
// Reconstruction: x = 0, reconstruction = 0.5 everywhere -> MSE 0.25.
TEST(DtaeLoss, HandComputedOnThreeClusters) {
  const DensityTree tree = three_cluster_path({0, 0, 1, 1, 2, 2, 1, 1},
                                              {{0, 1}, {0, 3}, {1, 2}, {1, 2}, {2, 4}, {1, 2}, {1, 2}, {0, 1}});
  const at::Tensor e =
      at::tensor({1.0, 0.0, -1.0, 0.0, 2.0, 1.0, 2.0, -1.0, 2.0, 2.8, 2.0, 1.2, 0.6, 1.5, 3.4, -1.5}, at::kDouble)
          .view({8, 2});
  const at::Tensor x = at::zeros({8, 3}, at::kDouble), reconstruction = at::full({8, 3}, 0.5, at::kDouble);
  DtaeTreeLoss loss(tree, 1.0, 15.0, 0.5);

  const at::Tensor c = loss.centroids(e);
  const std::vector<double> expected_centroids = {0, 0, 2, 0, 2, 2, -1, 0, 2, 3};
  for (int64_t k = 0; k < 10; ++k) EXPECT_NEAR(c.view(-1)[k].item<double>(), expected_centroids[size_t(k)], 1e-12);

  auto square = [](double v) { return v * v; };
  const double t6 = square((std::sqrt(4.21) + std::sqrt(2.21)) / 2);
  const double t7 = square((std::sqrt(13.81) + std::sqrt(4.21)) / 2);
  const std::vector<double> crispness = {1, 1.002001, 1, 4, 1, 1, t6, t7};
  const double pp3 = (5 - std::sqrt(5.0)) / 2, pp6 = 2 * (t6 - square((std::sqrt(2.61) + std::sqrt(2.21)) / 2));
  const std::vector<double> push_pull = {0, 0, 0, pp3, 0, 0, pp6, 0};
  const std::vector<std::pair<int64_t, int64_t>> nearest = {{0, 1}, {0, 3}, {1, 2}, {0, 1},
                                                            {2, 4}, {1, 2}, {0, 2}, {0, 1}};
  const DtaePointTerms terms = loss.point_terms(e);
  for (int64_t i = 0; i < 8; ++i) {
    EXPECT_NEAR(terms.crispness[i].item<double>(), crispness[size_t(i)], 1e-12) << "point " << i;
    EXPECT_NEAR(terms.push_pull[i].item<double>(), push_pull[size_t(i)], 1e-12) << "point " << i;
    EXPECT_EQ(terms.nearest[i][0].item<int64_t>(), nearest[size_t(i)].first) << "point " << i;
    EXPECT_EQ(terms.nearest[i][1].item<int64_t>(), nearest[size_t(i)].second) << "point " << i;
  }

  const double crispness_mean = (9.002001 + t6 + t7) / 8, push_pull_mean = (pp3 + pp6) / 8;
  const DtaeLossParts p = loss(e, reconstruction, x).values();
  EXPECT_NEAR(p.crispness, crispness_mean, 1e-12);
  EXPECT_NEAR(p.push_pull, push_pull_mean, 1e-12);
  EXPECT_NEAR(p.cosine, 1.0 / 3, 1e-12);
  EXPECT_NEAR(p.reconstruction, 0.25, 1e-12);
  EXPECT_NEAR(p.total, crispness_mean + push_pull_mean + 0.25 + 15.0 / 3, 1e-12);

  // The training path (no autograd on the n-sized terms) gives the same values; its total leaves
  // the reconstruction out.
  const DtaeLossParts fused = loss.tree_value_and_gradient(e).parts;
  EXPECT_NEAR(fused.crispness, crispness_mean, 1e-12);
  EXPECT_NEAR(fused.push_pull, push_pull_mean, 1e-12);
  EXPECT_NEAR(fused.cosine, 1.0 / 3, 1e-12);
  EXPECT_NEAR(fused.total, crispness_mean + push_pull_mean + 15.0 / 3, 1e-12);

  // The weights scale their terms only.
  const DtaeLossParts q = DtaeTreeLoss(tree, 2.0, 10.0, 0.5)(e, reconstruction, x).values();
  EXPECT_NEAR(q.total, 2 * (crispness_mean + push_pull_mean) + 0.25 + 10.0 / 3, 1e-12);
}

// push-pull_i = G (T_i - S_i) >= 0 because the current pair minimises the distance sum; it is 0
// exactly when the current pair is the stored one. T_i >= 1 by the triangle inequality.
TEST(DtaeLoss, PushPullNonNegativeAndZeroOnStoredPairs) {
  SmallTree s = small_tree();
  const int64_t n = s.data.x.rows;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const Matrix embedding = random_matrix(n, 2, seed);
    const at::Tensor e = to_tensor(embedding);
    const DtaePointTerms terms = DtaeTreeLoss(s.tree).point_terms(e);
    EXPECT_GE(terms.push_pull.min().item<double>(), 0.0);
    EXPECT_GT(terms.push_pull.max().item<double>(), 0.0) << "a random embedding should disagree with the tree";
    EXPECT_GE(terms.crispness.min().item<double>(), 1.0 - 1e-12);

    // The loss's own selection agrees with the metrics' brute-force two nearest centroids (no ties).
    const std::vector<CentroidPair> current = two_nearest_centroids(embedding, low_dim_centroids(s.tree, embedding, 0.5));
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(terms.nearest[i][0].item<int64_t>(), current[size_t(i)].first);
      ASSERT_EQ(terms.nearest[i][1].item<int64_t>(), current[size_t(i)].second);
    }
    DensityTree agreeing = s.tree;
    agreeing.pairs = current;
    const DtaePointTerms zero = DtaeTreeLoss(agreeing).point_terms(e);
    EXPECT_EQ(zero.push_pull.abs().max().item<double>(), 0.0);
  }
}

// The index selection (a', b') is piecewise constant, so away from ties the loss is smooth in the
// embedding: autograd's gradient must match central differences. Double precision; the
// reconstruction is a fixed linear map of the embedding so the MSE term contributes too.
TEST(DtaeLoss, GradientMatchesFiniteDifferences) {
  SmallTree s = small_tree();
  const int64_t n = s.data.x.rows, features = 10;
  const at::Tensor start = to_tensor(random_matrix(n, 2, 11));
  const at::Tensor decoder = to_tensor(random_matrix(2, features, 12, 0.3));
  const at::Tensor x = to_tensor(random_matrix(n, features, 13));
  const DtaeTreeLoss loss(s.tree);
  auto total = [&](const at::Tensor& e) { return loss(e, e.mm(decoder), x).total; };

  at::Tensor e = start.clone().set_requires_grad(true);
  total(e).backward();
  const at::Tensor grad = e.grad();
  const at::Tensor base_pairs = loss.nearest_pairs(start, loss.centroids(start));

  const double h = 1e-6;
  int checked = 0, skipped = 0;
  double worst = 0;
  for (int64_t i = 0; i < n; i += 7)
    for (int64_t j = 0; j < 2; ++j) {
      at::Tensor plus = start.clone(), minus = start.clone();
      plus[i][j] += h;
      minus[i][j] -= h;
      // A perturbation that changes any point's current pair crosses a tie: not differentiable there.
      if (!loss.nearest_pairs(plus, loss.centroids(plus)).equal(base_pairs) ||
          !loss.nearest_pairs(minus, loss.centroids(minus)).equal(base_pairs)) {
        ++skipped;
        continue;
      }
      const double numeric = (total(plus).item<double>() - total(minus).item<double>()) / (2 * h);
      const double analytic = grad[i][j].item<double>();
      worst = std::max(worst, std::abs(numeric - analytic) / std::max(1.0, std::abs(analytic)));
      ++checked;
    }
  EXPECT_GE(checked, 40);
  EXPECT_LE(skipped, 2);
  EXPECT_LT(worst, 1e-6);
  EXPECT_GT(grad.abs().max().item<double>(), 1e-3);
}

// tree_value_and_gradient (the training path: a hand-derived gradient) against tree_terms +
// autograd, on random embeddings (double) and on the hand case, where a point sits on its ghost (the
// safe distance's floor) and another has two equally near centroids.
TEST(DtaeLoss, TrainingPathMatchesAutograd) {
  SmallTree s = small_tree();
  const int64_t n = s.data.x.rows;
  for (double weight_cosine : {15.0, 0.0}) {
    const DtaeTreeLoss loss(s.tree, 1.3, weight_cosine, 0.5);
    for (uint64_t seed = 31; seed <= 33; ++seed) {
      const at::Tensor e = to_tensor(random_matrix(n, 2, seed)).requires_grad_(true);
      const DtaeLossTensors reference = loss.tree_terms(e);
      reference.total.backward();
      const DtaeTreeGradient fused = loss.tree_value_and_gradient(e);
      const DtaeLossParts want = reference.values();
      EXPECT_NEAR(fused.parts.total, want.total, 1e-12 * std::abs(want.total));
      EXPECT_NEAR(fused.parts.push_pull, want.push_pull, 1e-12 * std::abs(want.total));
      EXPECT_NEAR(fused.parts.crispness, want.crispness, 1e-12 * std::abs(want.total));
      EXPECT_NEAR(fused.parts.cosine, want.cosine, 1e-12);
      const double scale = e.grad().abs().max().item<double>();
      EXPECT_LT((fused.embedding_grad - e.grad()).abs().max().item<double>(), 1e-12 * scale) << "seed " << seed;
      EXPECT_EQ(fused.embedding_grad.scalar_type(), at::kDouble);
    }
  }
  const DensityTree tree = three_cluster_path({0, 0, 1, 1, 2, 2, 1, 1},
                                              {{0, 1}, {0, 3}, {1, 2}, {1, 2}, {2, 4}, {1, 2}, {1, 2}, {0, 1}});
  const at::Tensor e =
      at::tensor({1.0, 0.0, -1.0, 0.0, 2.0, 1.0, 2.0, -1.0, 2.0, 2.8, 2.0, 1.2, 0.6, 1.5, 3.4, -1.5}, at::kDouble)
          .view({8, 2})
          .requires_grad_(true);
  const DtaeTreeLoss loss(tree, 1.0, 15.0, 0.5);
  loss.tree_terms(e).total.backward();
  EXPECT_LT((loss.tree_value_and_gradient(e).embedding_grad - e.grad()).abs().max().item<double>(), 1e-12);
  // Float in, float out (training).
  EXPECT_EQ(loss.tree_value_and_gradient(e.detach().to(at::kFloat)).embedding_grad.scalar_type(), at::kFloat);
}

TEST(DtaeLoss, RejectsEmptyClusters) {
  const DensityTree tree = three_cluster_path({0, 0, 1, 1, 1, 1}, {{0, 1}, {0, 1}, {0, 1}, {0, 1}, {1, 2}, {1, 2}});
  EXPECT_THROW(DtaeTreeLoss(tree, 1, 1, 0.5), std::invalid_argument);
}

// ---- the autoencoder and pretraining -----------------------------------------------------------------

TEST(DtaeAutoencoder, ArchitectureAndAutoDims) {
  EXPECT_EQ(dtae_encoder_dims(100, "auto"), (std::vector<int64_t>{100, 32, 2}));
  EXPECT_EQ(dtae_encoder_dims(2999, "auto"), (std::vector<int64_t>{2999, 512, 64, 2}));
  EXPECT_EQ(dtae_encoder_dims(4999, "auto"), (std::vector<int64_t>{4999, 2048, 256, 32, 2}));
  EXPECT_EQ(dtae_encoder_dims(50, "16-8"), (std::vector<int64_t>{50, 16, 8, 2}));
  EXPECT_THROW(dtae_encoder_dims(50, "16-x"), std::invalid_argument);

  torch::manual_seed(1);
  DtaeAutoencoder model(DtaeAutoencoderOptions{{12, 8, 2}});
  std::vector<std::string> names;
  for (const auto& p : model->named_parameters()) names.push_back(p.key());
  // Python nn.Sequential numbering (Linear, ReLU, Linear): the reference's state-dict layout.
  EXPECT_EQ(names, (std::vector<std::string>{"encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias",
                                             "decoder.0.weight", "decoder.0.bias", "decoder.2.weight",
                                             "decoder.2.bias"}));
  // No activation after the bottleneck: a linear 2-D layer takes negative values.
  at::NoGradGuard no_grad;
  auto [embedding, reconstruction] = model->forward(at::randn({64, 12}));
  EXPECT_EQ(embedding.sizes(), (at::IntArrayRef{64, 2}));
  EXPECT_EQ(reconstruction.sizes(), (at::IntArrayRef{64, 12}));
  EXPECT_LT(embedding.min().item<double>(), 0.0);
  EXPECT_LT(reconstruction.min().item<double>(), 0.0);
}

// The hand-written forward/backward/Adam of DtaeManualTrainer equals autograd + torch::optim::Adam.
TEST(DtaeAutoencoder, HandWrittenStepMatchesAutogradAdam) {
  torch::manual_seed(3);
  const DtaeAutoencoderOptions options{{12, 9, 5, 2}};
  DtaeAutoencoder by_hand(options), reference(options);
  {
    at::NoGradGuard no_grad;
    auto target = reference->parameters();
    auto source = by_hand->parameters();
    for (size_t k = 0; k < target.size(); ++k) target[k].copy_(source[k]);
  }
  const double lr = 1e-2;
  DtaeManualTrainer trainer(by_hand, 40, lr);
  torch::optim::Adam adam(reference->parameters(), torch::optim::AdamOptions(lr));
  for (int step = 0; step < 4; ++step) {
    const at::Tensor batch = at::randn({step == 3 ? 17 : 40, 12});  // the last batch partial
    const double mse = trainer.step(batch);
    const at::Tensor loss = at::mse_loss(reference->forward(batch).second, batch);
    adam.zero_grad();
    loss.backward();
    adam.step();
    EXPECT_NEAR(mse, loss.item<double>(), 1e-5 * loss.item<double>());
  }
  trainer.store(by_hand);
  auto a = by_hand->parameters(), b = reference->parameters();
  for (size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(a[k].allclose(b[k], 1e-4, 1e-6)) << "parameter " << k;
}

// A fine-tuning step as train_dtae takes it (tree_value_and_gradient for the tree terms, the manual
// trainer for the network and the MSE) equals autograd through the whole model with the full
// DtaeTreeLoss and torch::optim::Adam.
TEST(DtaeAutoencoder, HandWrittenFineTuningStepMatchesAutograd) {
  SmallTree s = small_tree();
  const at::Tensor x = to_tensor(s.data.x, at::kFloat);
  torch::manual_seed(8);
  const DtaeAutoencoderOptions options{{x.size(1), 16, 2}};
  DtaeAutoencoder by_hand(options), reference(options);
  {
    at::NoGradGuard no_grad;
    auto target = reference->parameters();
    auto source = by_hand->parameters();
    for (size_t k = 0; k < target.size(); ++k) target[k].copy_(source[k]);
  }
  const DtaeTreeLoss loss(s.tree);
  const double lr = 0.01;
  DtaeManualTrainer trainer(by_hand, x.size(0), lr);
  torch::optim::Adam adam(reference->parameters(), torch::optim::AdamOptions(lr));
  std::vector<at::Tensor> last_gradients;
  for (int step = 0; step < 3; ++step) {
    // Compare each step from identical parameters: Adam turns rounding noise into up to a full step
    // on coordinates whose gradient is ~0, and later nearest-pair choices would then follow it.
    trainer.store(by_hand);
    {
      at::NoGradGuard no_grad;
      auto target = reference->parameters();
      auto source = by_hand->parameters();
      for (size_t k = 0; k < target.size(); ++k) target[k].copy_(source[k]);
    }
    const DtaeTreeGradient tree = loss.tree_value_and_gradient(trainer.forward(x).first);
    const double hand_total = tree.parts.total + trainer.backward_and_step(tree.embedding_grad);

    auto [e, y] = reference->forward(x);
    const DtaeLossTensors full = loss(e, y, x);
    adam.zero_grad();
    full.total.backward();
    EXPECT_NEAR(hand_total, full.total.item<double>(), 1e-5 * full.total.item<double>()) << "step " << step;
    // The same gradient (the parameters still agree to float rounding here).
    std::vector<at::Tensor> flat;
    for (const auto& linear : reference->linear_layers()) {
      flat.push_back(linear->weight.grad().view(-1));
      flat.push_back(linear->bias.grad().view(-1));
    }
    const at::Tensor autograd_gradient = at::cat(flat);
    const double scale = autograd_gradient.abs().max().item<double>();
    EXPECT_LT((trainer.gradients() - autograd_gradient).abs().max().item<double>(), 1e-5 * scale) << "step " << step;
    last_gradients.clear();
    for (const auto& p : reference->parameters()) last_gradients.push_back(p.grad().detach().clone());
    adam.step();
  }
  // Adam normalises each coordinate, so gradient entries that are rounding noise (the tree terms are
  // translation invariant: their bottleneck-bias gradient is 0 up to rounding) still move by up to
  // ~lr in either implementation, in directions set by the noise. Coordinates with a real gradient
  // must agree to a fraction of one step; the noise coordinates only to the size of one Adam step.
  trainer.store(by_hand);
  auto a = by_hand->parameters(), b = reference->parameters();
  double gmax = 0;
  for (const auto& g : last_gradients) gmax = std::max(gmax, g.abs().max().item<double>());
  for (size_t k = 0; k < a.size(); ++k) {
    // The gradients agree to 1e-5 of the largest; where a gradient is within 100x of that, Adam's
    // normalised step inherits a relative error above 1 %.
    const auto real = last_gradients[k].abs() > 1e-3 * gmax;
    const auto diff = (a[k] - b[k]).abs();
    EXPECT_LT(at::where(real, diff, at::zeros_like(diff)).max().item<double>(), 0.05 * lr) << "parameter " << k;
    EXPECT_LT(diff.max().item<double>(), 2 * lr) << "parameter " << k;
  }
}

// Rank-2 data through a 2-D bottleneck: pretraining should explain most of it, and a fixed seed gives
// bit-identical results.
TEST(DtaeTraining, PretrainingReconstructsLowRankDataDeterministically) {
  const int64_t n = 400, features = 16;
  const Matrix latent = random_matrix(n, 2, 21), loadings = random_matrix(2, features, 22, 0.7);
  Matrix x(n, features);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < features; ++j) x(i, j) = latent(i, 0) * loadings(0, j) + latent(i, 1) * loadings(1, j);
  DensityTreeOptions to;
  to.num_clusters = 4;
  to.kmeans.n_init = 2;
  const DensityTree tree = build_density_tree(x, to);

  DtaeOptions o;
  o.pretrain_epochs = 40;
  o.batch = 32;
  o.pretrain_lr = 5e-3;
  o.finetune_steps = 2;
  o.seed = 4;
  // The untrained model's MSE: the same seed gives the same initialisation.
  torch::manual_seed(o.seed);
  DtaeAutoencoder untrained(DtaeAutoencoderOptions{dtae_encoder_dims(features, o.hidden)});
  const at::Tensor xt = to_tensor(x, at::kFloat);
  const double initial = at::mse_loss(untrained->forward(xt).second, xt).item<double>();

  const DtaeResult r = train_dtae(x, tree, o);
  ASSERT_EQ(r.pretrain_loss.size(), size_t(o.pretrain_epochs));
  EXPECT_LT(r.reconstruction_pretrained, 0.01 * initial) << "initial MSE " << initial;
  EXPECT_LT(r.pretrain_loss.back(), 0.2 * r.pretrain_loss.front());
  EXPECT_EQ(r.dims, (std::vector<int64_t>{features, 32, 2}));

  const DtaeResult again = train_dtae(x, tree, o);
  EXPECT_EQ(again.pretrained_embedding.data, r.pretrained_embedding.data);
  EXPECT_EQ(again.embedding.data, r.embedding.data);
  EXPECT_EQ(again.pretrain_loss, r.pretrain_loss);
}

// End to end on the synthetic comb: fine-tuning should place more points between their own two
// centroids than the plain autoencoder does (what push-pull optimises).
TEST(DtaeTraining, FineTuningImprovesTreeConsistency) {
  SyntheticTreeOptions so;
  so.n_branch = 5;
  so.branch_length = 200;
  so.n_dim = 20;
  const CellData data = synthetic_tree(so);
  DensityTreeOptions to;
  to.num_clusters = 15;
  to.kmeans.n_init = 3;
  const DensityTree tree = build_density_tree(data.x, to);

  DtaeOptions o;
  o.pretrain_epochs = 30;
  o.batch = 64;
  o.finetune_steps = 60;
  const DtaeResult r = train_dtae(data.x, tree, o);
  ASSERT_EQ(r.finetune_loss.size(), size_t(o.finetune_steps));
  ASSERT_EQ(r.embedding.rows, data.x.rows);
  ASSERT_EQ(r.embedding.cols, 2);
  const TreeConsistency before = tree_consistency(tree, r.pretrained_embedding);
  const TreeConsistency after = tree_consistency(tree, r.embedding);
  std::printf("tree consistency exact %.3f -> %.3f, adjacent %.3f -> %.3f; loss %.4g -> %.4g; mse %.4g -> %.4g\n",
              before.exact, after.exact, before.adjacent, after.adjacent, r.finetune_loss.front().total,
              r.finetune_loss.back().total, r.reconstruction_pretrained, r.reconstruction_final);
  EXPECT_GT(after.exact, before.exact + 0.05);
  EXPECT_LT(r.finetune_loss.back().total, r.finetune_loss.front().total);
  EXPECT_TRUE(std::isfinite(r.reconstruction_final));
}

// Building the tree on another thread while pretraining runs gives exactly the sequential result,
// and an error in the tree builder reaches the caller.
TEST(DtaeTraining, OverlappedTreeBuildingEqualsSequential) {
  SyntheticTreeOptions so;
  so.n_branch = 3;
  so.branch_length = 100;
  so.n_dim = 10;
  const CellData data = synthetic_tree(so);
  DensityTreeOptions to;
  to.num_clusters = 8;
  to.kmeans.n_init = 2;
  DtaeOptions o;
  o.pretrain_epochs = 5;
  o.batch = 64;
  o.finetune_steps = 5;
  const DensityTree tree = build_density_tree(data.x, to);
  const DtaeResult sequential = train_dtae(data.x, tree, o);
  DensityTree built;
  const DtaeResult overlapped =
      train_dtae_overlapped(data.x, [&] { return build_density_tree(data.x, to); }, o, built);
  EXPECT_EQ(built.hops, tree.hops);
  EXPECT_EQ(overlapped.embedding.data, sequential.embedding.data);
  EXPECT_EQ(overlapped.pretrained_embedding.data, sequential.pretrained_embedding.data);
  DensityTree unused;
  EXPECT_THROW(train_dtae_overlapped(data.x, []() -> DensityTree { throw std::runtime_error("no tree"); }, o, unused),
               std::runtime_error);
}

// ---- starting states for controlled comparisons (bench/cells_bench.py --swap) -------------------------

// The flat weight layout is the order of the module's parameters() (= a PyTorch AE's), and loading it
// into a differently seeded model makes that model compute the same function.
TEST(DtaeAutoencoder, FlatWeightsFollowTheParameterOrder) {
  const DtaeAutoencoderOptions options{{12, 9, 2}};
  torch::manual_seed(1);
  DtaeAutoencoder a(options);
  torch::manual_seed(2);
  DtaeAutoencoder b(options);
  const std::vector<float> flat = dtae_flat_weights(a);
  std::vector<float> by_parameters;
  for (const at::Tensor& p : a->parameters()) {
    const at::Tensor t = p.detach().contiguous();
    by_parameters.insert(by_parameters.end(), t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  }
  EXPECT_EQ(flat, by_parameters);
  EXPECT_EQ(flat.size(), size_t((12 * 9 + 9) + (9 * 2 + 2) + (2 * 9 + 9) + (9 * 12 + 12)));
  const at::Tensor x = at::randn({5, 12});
  EXPECT_FALSE(a->forward(x).second.equal(b->forward(x).second));
  load_dtae_flat_weights(b, flat);
  EXPECT_TRUE(a->forward(x).first.equal(b->forward(x).first));
  EXPECT_TRUE(a->forward(x).second.equal(b->forward(x).second));
  EXPECT_THROW(load_dtae_flat_weights(b, std::vector<float>(flat.begin(), flat.end() - 1)), std::invalid_argument);
}

// Given the seeded run's batch orders and initial weights, a run with another seed is bit-identical
// to it; given its pretrained weights, fine-tuning alone reproduces its embedding. So the options
// replace exactly the seeded streams (init, order) and the pretraining stage, and nothing else.
TEST(DtaeTraining, GivenOrderAndWeightsReproduceTheSeededRun) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("jess_cells_dtae_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const SmallTree s = small_tree();
  const int64_t n = s.data.x.rows;
  DtaeOptions o;
  o.pretrain_epochs = 3;
  o.batch = 32;
  o.finetune_steps = 5;
  o.seed = 6;
  const DtaeResult r = train_dtae(s.data.x, s.tree, o);
  torch::manual_seed(o.seed);
  DtaeAutoencoder seeded(DtaeAutoencoderOptions{r.dims});
  EXPECT_EQ(r.initial_weights, dtae_flat_weights(seeded));

  std::vector<double> order;
  for (int64_t epoch = 0; epoch < o.pretrain_epochs; ++epoch) {
    const std::vector<int64_t> p = dtae_pretrain_order(n, o.seed, epoch);
    order.insert(order.end(), p.begin(), p.end());
  }
  const std::string order_path = (dir / "order.npy").string(), init_path = (dir / "init.npy").string(),
                    pretrained_path = (dir / "pretrained.npy").string();
  jess::write_npy(order_path, order.data(), {o.pretrain_epochs, n});
  jess::write_npy_f32(init_path, r.initial_weights.data(), {int64_t(r.initial_weights.size())});
  jess::write_npy_f32(pretrained_path, r.pretrained_weights.data(), {int64_t(r.pretrained_weights.size())});

  DtaeOptions given = o;
  given.seed = 99;
  given.init_weights = init_path;
  given.pretrain_order = order_path;
  const DtaeResult replayed = train_dtae(s.data.x, s.tree, given);
  EXPECT_EQ(replayed.pretrain_loss, r.pretrain_loss);
  EXPECT_EQ(replayed.pretrained_weights, r.pretrained_weights);
  EXPECT_EQ(replayed.embedding.data, r.embedding.data);

  DtaeOptions from_pretrained = o;
  from_pretrained.seed = 99;
  from_pretrained.pretrained_weights = pretrained_path;
  const DtaeResult finetuned = train_dtae(s.data.x, s.tree, from_pretrained);
  EXPECT_TRUE(finetuned.pretrain_loss.empty());
  EXPECT_EQ(finetuned.pretrained_embedding.data, r.pretrained_embedding.data);
  EXPECT_EQ(finetuned.embedding.data, r.embedding.data);
  EXPECT_EQ(finetuned.final_weights, r.final_weights);

  // An order that is not a permutation, or of the wrong shape, is refused.
  order[1] = order[0];
  jess::write_npy(order_path, order.data(), {o.pretrain_epochs, n});
  EXPECT_THROW(train_dtae(s.data.x, s.tree, given), std::invalid_argument);
  jess::write_npy(order_path, order.data(), {1, n});
  EXPECT_THROW(train_dtae(s.data.x, s.tree, given), std::invalid_argument);
  fs::remove_all(dir);
}

// ---- options ----------------------------------------------------------------------------------------

TEST(DtaeOptions, ValidateNamesTheKey) {
  auto error_of = [](DtaeOptions o) -> std::string {
    try {
      o.validate();
    } catch (const jess::ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error_of(DtaeOptions{}), "");
  DtaeOptions o;
  o.hidden = "32-abc";
  EXPECT_NE(error_of(o).find("dtae.hidden"), std::string::npos);
  o = {};
  o.hidden = "";
  EXPECT_NE(error_of(o).find("dtae.hidden"), std::string::npos);
  o = {};
  o.pretrain_epochs = 0;
  EXPECT_NE(error_of(o).find("dtae.pretrain_epochs"), std::string::npos);
  o = {};
  o.finetune_steps = -3;
  EXPECT_NE(error_of(o).find("dtae.finetune_steps"), std::string::npos);
  o = {};
  o.batch = 0;
  EXPECT_NE(error_of(o).find("dtae.batch"), std::string::npos);
  o = {};
  o.pretrain_lr = 0;
  EXPECT_NE(error_of(o).find("dtae.pretrain_lr"), std::string::npos);
  o = {};
  o.finetune_lr = std::nan("");
  EXPECT_NE(error_of(o).find("dtae.finetune_lr"), std::string::npos);
  o = {};
  o.weight_cosine = -1;
  EXPECT_NE(error_of(o).find("dtae.weight_cosine"), std::string::npos);
  o = {};
  o.weight_push_pull = -0.5;
  EXPECT_NE(error_of(o).find("dtae.weight_push_pull"), std::string::npos);
  o = {};
  o.low_ghost_offset = -0.1;
  EXPECT_NE(error_of(o).find("dtae.low_ghost_offset"), std::string::npos);

  // The schema refuses the same values as they are set, and takes the seed.
  DtaeOptions configured;
  jess::ConfigSchema schema;
  configured.describe(schema);
  schema.apply_overrides({"dtae.seed=7", "dtae.hidden=64-16", "dtae.batch=128"});
  EXPECT_EQ(configured.seed, 7u);
  EXPECT_EQ(configured.hidden, "64-16");
  EXPECT_EQ(configured.batch, 128);
  try {
    schema.apply_overrides({"dtae.hidden=big"});
    ADD_FAILURE() << "hidden=big accepted";
  } catch (const jess::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("dtae.hidden"), std::string::npos);
  }
  EXPECT_THROW(schema.apply_overrides({"dtae.seed=-1"}), jess::ConfigError);
}

// The benchmark setting of the brief's speed target (not run by default: the density tree alone takes
// several seconds):
// build-dir/jess_tests_cells --gtest_also_run_disabled_tests --gtest_filter='*DtaeTiming*'
TEST(DtaeTiming, DISABLED_TenThousandCells) {
  jess::init_runtime();  // as the app: JESS_THREADS or all hardware threads
  const CellData data = synthetic_tree({});  // 10 branches x 1000 points x 100-D
  auto t0 = std::chrono::steady_clock::now();
  const DensityTree tree = build_density_tree(data.x, {});
  const double tree_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  t0 = std::chrono::steady_clock::now();
  const DtaeResult r = train_dtae(data.x, tree, {});
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const TreeConsistency before = tree_consistency(tree, r.pretrained_embedding);
  const TreeConsistency after = tree_consistency(tree, r.embedding);
  std::printf("density tree %.2f s; train_dtae %.2f s (pretrain %.2f s, finetune %.2f s); torch threads %d\n",
              tree_seconds, total, r.pretrain_seconds, r.finetune_seconds, at::get_num_threads());
  std::printf("mse %.4g -> %.4g; tree consistency exact %.3f -> %.3f\n", r.reconstruction_pretrained,
              r.reconstruction_final, before.exact, after.exact);
}
