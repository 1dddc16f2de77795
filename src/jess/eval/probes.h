#pragma once
// Probes on frozen features (the standard SSL evaluation protocols):
//  * linear classifier: multinomial logistic regression on standardised features, full-batch L-BFGS,
//    weight decay chosen on a validation split carved from the training set (never the test set);
//  * ridge regression: closed form on centred features, alpha chosen by k-fold cross-validation;
//  * MLP probe: one hidden layer, Adam, same weight-decay selection;
//  * weighted k-NN: cosine similarity, votes weighted by exp(s / T) (k = 20 and 200, T = 0.07, as in
//    the SSL libraries), queries processed in blocks so memory stays bounded.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace jess::eval {

struct ClassifierOptions {
  std::vector<double> weight_decays = {0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2};
  double validation_fraction = 0.2;
  int64_t max_iterations = 300;
  int64_t hidden = 0;  // 0: linear probe; > 0: MLP probe with this hidden width
  int64_t epochs = 100;  // MLP only
  uint64_t seed = 0;
};

struct ClassifierResult {
  double top1 = 0, top5 = 0;  // on the test set, in [0, 1]
  double weight_decay = 0;    // chosen on the validation split
  double validation_top1 = 0;
  at::Tensor test_scores;     // (N_test, C) class scores of the final classifier
};

// x: (N, D) float, y: (N,) int64 class indices.
ClassifierResult classification_probe(const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& test_x,
                                      const at::Tensor& test_y, const ClassifierOptions& options);

struct RidgeOptions {
  std::vector<double> alphas = {1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1000};
  int64_t folds = 5;
  uint64_t seed = 0;
};

struct RegressionMetrics {
  double mse = 0, nmse = 0, relative_error = 0, r2 = 0;
};
RegressionMetrics regression_metrics(const at::Tensor& prediction, const at::Tensor& target);

struct RidgeResult {
  at::Tensor weight;  // (D, T)
  at::Tensor bias;    // (T,)
  double alpha = 0;
  RegressionMetrics test;
};

// Closed-form ridge for one alpha: minimises ||X W + b - Y||^2 + alpha ||W||^2 (b unpenalised).
std::pair<at::Tensor, at::Tensor> ridge_fit(const at::Tensor& x, const at::Tensor& y, double alpha);
// y: (N,) or (N, T) float targets; alpha by k-fold CV on the training set.
RidgeResult ridge_probe(const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& test_x,
                        const at::Tensor& test_y, const RidgeOptions& options);

struct KnnResult {
  int64_t k = 0;
  double top1 = 0, top5 = 0;
};
// Class scores of the queries (Q, C): sum over the k nearest (cosine) training points of exp(s / T).
at::Tensor knn_scores(const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& query_x, int64_t k,
                      double temperature, int64_t num_classes, int64_t block = 1024);
std::vector<KnnResult> knn_probe(const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& test_x,
                                 const at::Tensor& test_y, const std::vector<int64_t>& ks, double temperature = 0.07);

// top-k accuracy of scores (N, C) against labels (N,).
double topk_accuracy(const at::Tensor& scores, const at::Tensor& labels, int64_t k);

// Mean and half-width of a 95 % confidence interval (Student t) of values over seeds.
std::pair<double, double> mean_ci95(const std::vector<double>& values);

}  // namespace jess::eval
