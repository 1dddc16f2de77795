#include "jess/eval/probes.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace jess::eval {
namespace {

void check_xy(const at::Tensor& x, const at::Tensor& y, const char* what) {
  if (x.dim() != 2) throw std::invalid_argument(std::string(what) + " features must be (N, D)");
  if (y.size(0) != x.size(0))
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(x.size(0)) + " feature rows but " +
                                std::to_string(y.size(0)) + " labels");
  if (!at::isfinite(x).all().item<bool>()) {
    const at::Tensor first = at::logical_not(at::isfinite(x)).nonzero()[0];  // name the item, not just the file
    throw std::invalid_argument(std::string(what) + " features contain NaN or Inf (first at row " +
                                std::to_string(first[0].item<int64_t>()) + ", column " +
                                std::to_string(first[1].item<int64_t>()) + ")");
  }
}

struct Standardizer {
  at::Tensor mean, inv_std;
  explicit Standardizer(const at::Tensor& x) {
    mean = x.mean(0, true);
    inv_std = 1.0 / x.std(0, /*unbiased=*/false, true).clamp_min(1e-8);
  }
  at::Tensor operator()(const at::Tensor& x) const { return (x - mean) * inv_std; }
};

// Seeded permutation of n indices (torch's generator, local to this call).
at::Tensor permutation(int64_t n, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randperm(n, gen, at::TensorOptions().dtype(at::kLong));
}

// Trains a linear (hidden == 0) or one-hidden-layer classifier; returns the model.
torch::nn::Sequential train_classifier(const at::Tensor& x, const at::Tensor& y, int64_t classes, double wd,
                                       const ClassifierOptions& o) {
  torch::manual_seed(o.seed);
  torch::nn::Sequential model;
  if (o.hidden > 0) {
    model->push_back(torch::nn::Linear(x.size(1), o.hidden));
    model->push_back(torch::nn::ReLU());
    model->push_back(torch::nn::Linear(o.hidden, classes));
  } else {
    model->push_back(torch::nn::Linear(x.size(1), classes));
  }
  model->to(x.scalar_type());
  auto weights_norm = [&] {
    auto s = torch::zeros({}, x.options());
    for (auto& p : model->named_parameters())
      if (p.key().find("weight") != std::string::npos) s = s + p.value().pow(2).sum();
    return s;
  };
  if (o.hidden == 0) {
    // Convex: full-batch L-BFGS with a strong-Wolfe line search converges to the optimum.
    torch::optim::LBFGS opt(model->parameters(),
                            torch::optim::LBFGSOptions(1.0).max_iter(int(o.max_iterations)).line_search_fn("strong_wolfe"));
    auto closure = [&] {
      opt.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(model->forward(x), y) + 0.5 * wd * weights_norm();
      loss.backward();
      return loss;
    };
    opt.step(closure);
  } else {
    torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
    const int64_t n = x.size(0), batch = std::min<int64_t>(256, n);
    for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
      auto order = permutation(n, o.seed * 1000003ull + uint64_t(epoch));
      for (int64_t i = 0; i + batch <= n; i += batch) {
        auto idx = order.slice(0, i, i + batch);
        opt.zero_grad();
        auto loss = torch::nn::functional::cross_entropy(model->forward(x.index_select(0, idx)), y.index_select(0, idx)) +
                    0.5 * wd * weights_norm();
        loss.backward();
        opt.step();
      }
    }
  }
  return model;
}
}  // namespace

double topk_accuracy(const at::Tensor& scores, const at::Tensor& labels, int64_t k) {
  k = std::min<int64_t>(k, scores.size(1));
  auto top = std::get<1>(scores.topk(k, 1));
  return top.eq(labels.view({-1, 1})).any(1).to(at::kDouble).mean().item<double>();
}

ClassifierResult classification_probe(const at::Tensor& train_x_in, const at::Tensor& train_y_in,
                                      const at::Tensor& test_x_in, const at::Tensor& test_y_in,
                                      const ClassifierOptions& o) {
  check_xy(train_x_in, train_y_in, "training");
  check_xy(test_x_in, test_y_in, "test");
  if (train_x_in.size(1) != test_x_in.size(1)) throw std::invalid_argument("training and test features differ in width");
  auto train_y = train_y_in.to(at::kLong), test_y = test_y_in.to(at::kLong);
  if ((train_y < 0).any().item<bool>()) throw std::invalid_argument("class labels must be >= 0");
  const int64_t classes = std::max(train_y.max().item<int64_t>(), test_y.max().item<int64_t>()) + 1;
  auto train_x = train_x_in.to(at::kFloat), test_x = test_x_in.to(at::kFloat);
  // Weight decay on a validation split of the training set.
  const int64_t n = train_x.size(0), nval = std::max<int64_t>(1, int64_t(o.validation_fraction * double(n)));
  auto perm = permutation(n, o.seed);
  auto vi = perm.slice(0, 0, nval), ti = perm.slice(0, nval, n);
  ClassifierResult r;
  double best = -1;
  if (o.weight_decays.size() > 1) {
    Standardizer st(train_x.index_select(0, ti));
    auto xt = st(train_x.index_select(0, ti)), xv = st(train_x.index_select(0, vi));
    auto yt = train_y.index_select(0, ti), yv = train_y.index_select(0, vi);
    for (double wd : o.weight_decays) {
      auto model = train_classifier(xt, yt, classes, wd, o);
      torch::NoGradGuard ng;
      double acc = topk_accuracy(model->forward(xv), yv, 1);
      if (acc > best) best = acc, r.weight_decay = wd;
    }
  } else {
    r.weight_decay = o.weight_decays.empty() ? 0.0 : o.weight_decays[0];
  }
  r.validation_top1 = best;
  // Refit on the whole training set with the chosen weight decay; evaluate on the test set once.
  Standardizer st(train_x);
  auto model = train_classifier(st(train_x), train_y, classes, r.weight_decay, o);
  torch::NoGradGuard ng;
  auto scores = model->forward(st(test_x));
  r.top1 = topk_accuracy(scores, test_y, 1);
  r.top5 = topk_accuracy(scores, test_y, 5);
  r.test_scores = scores.detach();
  return r;
}

RegressionMetrics regression_metrics(const at::Tensor& pred_in, const at::Tensor& target_in) {
  auto pred = pred_in.to(at::kDouble).reshape({pred_in.size(0), -1});
  auto target = target_in.to(at::kDouble).reshape({target_in.size(0), -1});
  RegressionMetrics m;
  auto err = pred - target;
  m.mse = err.square().mean().item<double>();
  m.nmse = (err.square().sum(1) / target.square().sum(1).clamp_min(1e-300)).mean().item<double>();
  m.relative_error = (err.abs() / target.abs().clamp_min(1e-300)).mean().item<double>();
  m.r2 = 1.0 - err.square().sum().item<double>() / (target - target.mean(0)).square().sum().clamp_min(1e-300).item<double>();
  return m;
}

std::pair<at::Tensor, at::Tensor> ridge_fit(const at::Tensor& x_in, const at::Tensor& y_in, double alpha) {
  auto x = x_in.to(at::kDouble), y = y_in.to(at::kDouble).reshape({y_in.size(0), -1});
  auto xm = x.mean(0, true), ym = y.mean(0, true);
  auto xc = x - xm, yc = y - ym;
  const int64_t d = x.size(1);
  auto gram = xc.t().mm(xc) + alpha * at::eye(d, x.options());
  auto w = at::linalg_solve(gram, xc.t().mm(yc));
  auto b = (ym - xm.mm(w)).squeeze(0);
  return {w, b};
}

RidgeResult ridge_probe(const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& test_x,
                        const at::Tensor& test_y, const RidgeOptions& o) {
  check_xy(train_x, train_y, "training");
  check_xy(test_x, test_y, "test");
  const int64_t n = train_x.size(0);
  const int64_t folds = std::max<int64_t>(2, std::min(o.folds, n));
  auto perm = permutation(n, o.seed);
  RidgeResult r;
  double best = INFINITY;
  for (double alpha : o.alphas) {
    double total = 0;
    for (int64_t f = 0; f < folds; ++f) {
      const int64_t a = f * n / folds, b = (f + 1) * n / folds;
      auto vi = perm.slice(0, a, b);
      auto ti = at::cat({perm.slice(0, 0, a), perm.slice(0, b, n)});
      auto [w, bias] = ridge_fit(train_x.index_select(0, ti), train_y.index_select(0, ti), alpha);
      auto pred = train_x.index_select(0, vi).to(at::kDouble).mm(w) + bias;
      total += regression_metrics(pred, train_y.index_select(0, vi)).mse;
    }
    if (total < best) best = total, r.alpha = alpha;
  }
  std::tie(r.weight, r.bias) = ridge_fit(train_x, train_y, r.alpha);
  r.test = regression_metrics(test_x.to(at::kDouble).mm(r.weight) + r.bias, test_y);
  return r;
}

at::Tensor knn_scores(const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& query_x, int64_t k,
                      double temperature, int64_t classes, int64_t block) {
  auto bank = torch::nn::functional::normalize(train_x.to(at::kFloat), torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto labels = train_y.to(at::kLong);
  k = std::min<int64_t>(k, bank.size(0));
  auto scores = at::zeros({query_x.size(0), classes}, at::kFloat);
  // The similarity block (block x N floats) stays <= 32 MiB: bounded memory, and below glibc's mmap
  // threshold so it is reused rather than mapped afresh for every block.
  block = std::max<int64_t>(1, std::min<int64_t>(block, (int64_t(1) << 23) / std::max<int64_t>(1, bank.size(0))));
  for (int64_t q0 = 0; q0 < query_x.size(0); q0 += block) {
    const int64_t q1 = std::min(query_x.size(0), q0 + block);
    auto q = torch::nn::functional::normalize(query_x.slice(0, q0, q1).to(at::kFloat),
                                              torch::nn::functional::NormalizeFuncOptions().dim(1));
    auto sim = q.mm(bank.t());  // (b, N): the only O(N) memory, per block
    auto [topv, topi] = sim.topk(k, 1);
    auto w = (topv / temperature).exp();
    auto lab = labels.index_select(0, topi.flatten()).view(topi.sizes());
    scores.slice(0, q0, q1).scatter_add_(1, lab, w);
  }
  return scores;
}

std::vector<KnnResult> knn_probe(const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& test_x,
                                 const at::Tensor& test_y, const std::vector<int64_t>& ks, double temperature) {
  check_xy(train_x, train_y, "training");
  check_xy(test_x, test_y, "test");
  const int64_t classes = std::max(train_y.max().item<int64_t>(), test_y.max().item<int64_t>()) + 1;
  std::vector<KnnResult> out;
  for (int64_t k : ks) {
    auto s = knn_scores(train_x, train_y, test_x, k, temperature, classes);
    out.push_back({k, topk_accuracy(s, test_y.to(at::kLong), 1), topk_accuracy(s, test_y.to(at::kLong), 5)});
  }
  return out;
}

std::pair<double, double> mean_ci95(const std::vector<double>& v) {
  if (v.empty()) return {NAN, NAN};
  double m = 0;
  for (double x : v) m += x;
  m /= double(v.size());
  if (v.size() < 2) return {m, 0.0};
  double s2 = 0;
  for (double x : v) s2 += (x - m) * (x - m);
  s2 /= double(v.size() - 1);
  // Two-sided 95 % Student t quantiles for 1..10 degrees of freedom, then the normal value.
  static const double t[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228};
  const size_t dof = v.size() - 1;
  const double q = dof <= 10 ? t[dof - 1] : 1.96;
  return {m, q * std::sqrt(s2 / double(v.size()))};
}

}  // namespace jess::eval
