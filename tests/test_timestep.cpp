// Neural time-stepping: the solvers' symmetry and conditioning, the rollout loop and the metric.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "jess/pde/neural_solvers.h"
#include "jess/pde/timestep.h"

using namespace jess::pde;

namespace {

NeuralSolverOptions small(const std::string& arch, int64_t condition_dim = 0, const std::string& injection = "add") {
  NeuralSolverOptions o;
  o.arch = arch;
  o.time_history = 5;
  o.time_future = 3;
  o.width = 12;
  o.resnet_blocks = 1;
  o.condition_dim = condition_dim;
  o.injection = injection;
  return o;
}

// Sets every parameter (conditioning maps included, which start at zero) to seeded random values.
void randomise(torch::nn::Module& m, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard ng;
  for (auto& p : m.parameters()) p.copy_(torch::randn_like(p) * 0.3);
}

}  // namespace

// Circular padding makes the CNN commute with periodic shifts of x: shifting the input window shifts
// the prediction by the same amount (and a conditioned CNN too: the condition is x-independent).
TEST(NeuralSolver, CircularCnnIsPeriodicTranslationEquivariant) {
  for (const char* injection : {"", "add", "film"}) {
    auto solver = make_neural_solver(small("cnn", *injection ? 4 : 0, *injection ? injection : "add"));
    solver->to(at::kDouble);
    randomise(*solver, 3);
    torch::manual_seed(4);
    auto u = torch::randn({2, 5, 40}, at::kDouble);
    auto grid = torch::randn({2, 2}, at::kDouble);
    auto c = *injection ? torch::randn({2, 4}, at::kDouble) : at::Tensor();
    auto y = solver->forward(u, grid, c);
    ASSERT_EQ(y.sizes(), (at::IntArrayRef{2, 3, 40}));
    for (int64_t shift : {1, 7, 39}) {
      auto ys = solver->forward(at::roll(u, {shift}, {2}), grid, c);
      EXPECT_LT((ys - at::roll(y, {shift}, {2})).abs().max().item<double>(), 1e-12) << injection << " shift " << shift;
    }
    // The receptive field wraps around: a bump at x = 0 influences the output at x = nx - 1.
    auto bump = torch::zeros_like(u);
    bump.index_put_({at::indexing::Slice(), at::indexing::Slice(), 0}, 1.0);
    auto diff = solver->forward(u + bump, grid, c) - y;
    EXPECT_GT(diff.index({at::indexing::Slice(), at::indexing::Slice(), 39}).abs().max().item<double>(), 1e-8);
  }
}

TEST(NeuralSolver, ResNetInEvalModeIsPeriodicTranslationEquivariant) {
  auto solver = make_neural_solver(small("resnet", 3, "film"));
  solver->to(at::kDouble);
  randomise(*solver, 5);
  solver->eval();
  torch::NoGradGuard ng;
  auto u = torch::randn({3, 5, 32}, at::kDouble), grid = torch::randn({3, 2}, at::kDouble);
  auto c = torch::randn({3, 3}, at::kDouble);
  auto y = solver->forward(u, grid, c);
  auto ys = solver->forward(at::roll(u, {11}, {2}), grid, c);
  EXPECT_LT((ys - at::roll(y, {11}, {2})).abs().max().item<double>(), 1e-12);
}

// The conditioning maps start at zero: a conditioned solver starts as the unconditioned one with the
// same seed, whatever the condition; after training steps the condition changes the prediction.
TEST(NeuralSolver, ConditioningStartsNeutralAndThenMatters) {
  for (const char* arch : {"cnn", "resnet"}) {
    torch::manual_seed(9);
    auto plain = make_neural_solver(small(arch));
    torch::manual_seed(9);
    auto cond = make_neural_solver(small(arch, 2, "film"));
    plain->eval(), cond->eval();
    auto u = torch::randn({4, 5, 16}), grid = torch::randn({4, 2}), c = torch::randn({4, 2});
    EXPECT_LT((plain->forward(u, grid, {}) - cond->forward(u, grid, c)).abs().max().item<double>(), 1e-6) << arch;
    EXPECT_THROW(cond->forward(u, grid, {}), std::invalid_argument);  // a conditioned solver needs its condition
    cond->train();
    torch::optim::Adam opt(cond->parameters(), 1e-2);
    auto target = torch::randn({4, 3, 16});
    for (int i = 0; i < 5; ++i) {
      opt.zero_grad();
      (cond->forward(u, grid, c) - target).pow(2).mean().backward();
      opt.step();
    }
    cond->eval();
    EXPECT_GT((cond->forward(u, grid, c) - cond->forward(u, grid, c.flip(0))).abs().max().item<double>(), 1e-4) << arch;
  }
}

// A solver whose prediction is "the last input step + 1, + 2, ...": the rollout's inputs must be the
// latest time_history steps, predictions included (th = 5 > tf = 3 mixes data and predictions).
class CountingSolver : public NeuralSolverBase {
 public:
  CountingSolver() : NeuralSolverBase(small("cnn")) {}
  at::Tensor forward(const at::Tensor& u, const at::Tensor&, const at::Tensor&) override {
    calls_inputs.push_back(u.clone());
    auto last = u.narrow(1, u.size(1) - 1, 1);
    return last + at::arange(1, 4, u.options()).view({1, 3, 1});
  }
  std::vector<at::Tensor> calls_inputs;
};

TEST(Rollout, FeedsBackTheLatestWindowAndPredictsEveryBlock) {
  CountingSolver s;
  auto window = at::arange(5, at::kDouble).view({1, 5, 1}).expand({2, 5, 4}).contiguous() * 10;  // 0,10,...,40
  auto out = autoregressive_rollout(s, window, at::zeros({2, 2}, at::kDouble), {}, 4);
  ASSERT_EQ(out.sizes(), (at::IntArrayRef{2, 12, 4}));
  for (int64_t k = 0; k < 12; ++k) EXPECT_DOUBLE_EQ(out[1][k][2].item<double>(), 40.0 + double(k + 1));
  ASSERT_EQ(s.calls_inputs.size(), 4u);
  // Second call: the last 2 data steps (30, 40) then the 3 predictions (41, 42, 43).
  auto second = s.calls_inputs[1][0].select(1, 0);
  const double expected[5] = {30, 40, 41, 42, 43};
  for (int i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ(second[i].item<double>(), expected[i]);
}

// E = sum_s mean_x (p - u)^2 / mean_x u^2, by hand on two trajectories of two steps of two points.
TEST(Rollout, NormalisedErrorEqualsTheHandValue) {
  auto truth = at::tensor({1.0, 1.0, 2.0, 0.0, /**/ 3.0, 4.0, 1.0, -1.0}, at::kDouble).view({2, 2, 2});
  auto pred = at::tensor({1.0, 2.0, 2.0, 2.0, /**/ 3.0, 4.0, 0.0, 0.0}, at::kDouble).view({2, 2, 2});
  auto e = normalised_rollout_error(pred, truth);
  // Trajectory 0: step 0: mean err^2 = (0 + 1)/2 = 0.5, mean u^2 = 1 -> 0.5; step 1: (0 + 4)/2 = 2 over
  // (4 + 0)/2 = 2 -> 1. Trajectory 1: step 0: 0; step 1: (1 + 1)/2 = 1 over (1 + 1)/2 = 1 -> 1.
  EXPECT_DOUBLE_EQ(e[0].item<double>(), 1.5);
  EXPECT_DOUBLE_EQ(e[1].item<double>(), 1.0);
  EXPECT_THROW(normalised_rollout_error(pred, truth.narrow(1, 0, 1)), std::invalid_argument);
}

TEST(Rollout, BootstrapOfTheMean) {
  auto c = bootstrap_mean({2.0, 2.0, 2.0}, 64, 1);
  EXPECT_DOUBLE_EQ(c.mean, 2.0);
  EXPECT_DOUBLE_EQ(c.std, 0.0);
  EXPECT_DOUBLE_EQ(c.lo, 2.0);
  EXPECT_DOUBLE_EQ(c.hi, 2.0);
  // Half zeros, half ones: the resampled mean has std sqrt(p (1 - p) / n) = 0.5 / sqrt(n).
  std::vector<double> v(200);
  for (size_t i = 0; i < v.size(); ++i) v[i] = double(i % 2);
  auto b = bootstrap_mean(v, 4000, 7);
  EXPECT_DOUBLE_EQ(b.mean, 0.5);
  EXPECT_NEAR(b.std, 0.5 / std::sqrt(200.0), 0.004);
  EXPECT_LT(b.lo, 0.5);
  EXPECT_GT(b.hi, 0.5);
  EXPECT_NEAR(b.hi - b.lo, 2 * 1.96 * 0.5 / std::sqrt(200.0), 0.015);
  EXPECT_EQ(bootstrap_mean(v, 100, 7).std, bootstrap_mean(v, 100, 7).std);  // seeded
}
