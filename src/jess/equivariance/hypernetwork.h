#pragma once
// SIE's predictor (Garrido et al. 2023, §3.2): a hypernetwork H maps the transformation g to the
// weights of a linear map of the equivariant embedding,
//   W(g) = reshape(H g, d x d)  (row-major, W[out, in]),   z' = W(g) z,
// so W(g) = sum_k g_k A_k with A_k the k-th column of H reshaped: the predictor is linear in z and
// cannot ignore it (no collapse to invariance), and linear in g — hence W(-q) = -W(q) for the two
// quaternions of one rotation (scipy's sign convention matters; see docs/equivariance.md).
// Options: "deep" — H = Linear(k, k)-ReLU-Linear(k, k)-ReLU-Linear(k, d*d) (the reference's deep
// hypernetwork); and the "mlp" predictor of EquiMod, MLP(concat(g, z)) -> z', for comparison.
// Heavy header: include only from translation units of the package and its tests.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <string>

namespace jess::equivariance {

class HypernetworkPredictorImpl : public torch::nn::Module {
 public:
  // dim: d (input and output of W); transform_dim: k; kind: "linear" | "deep".
  HypernetworkPredictorImpl(int64_t dim, int64_t transform_dim, const std::string& kind);
  // z: (B, d), g: (B, k) -> (B, d), row b = W(g_b) z_b.
  at::Tensor forward(const at::Tensor& z, const at::Tensor& g);
  at::Tensor weights(const at::Tensor& g);  // (B, d, d): W(g_b)[out, in]
  int64_t dim() const { return dim_; }

 private:
  at::Tensor hidden(const at::Tensor& g);  // the input of the last Linear (g for "linear")
  torch::nn::Sequential hypernet{nullptr};
  torch::nn::Linear last_{nullptr};  // hypernet's last layer, H: (d*d, k), no bias
  int64_t dim_ = 0;
};
TORCH_MODULE(HypernetworkPredictor);

// EquiMod's predictor on concat(g, z): Linear(k + d, d), then (layers - 1) x [ReLU, Linear(d, d)]
// (the SIE reference's `MLPPredictor`, one layer by default).
class MlpPredictorImpl : public torch::nn::Module {
 public:
  MlpPredictorImpl(int64_t dim, int64_t transform_dim, int64_t layers = 1);
  at::Tensor forward(const at::Tensor& z, const at::Tensor& g);

 private:
  torch::nn::Sequential net{nullptr};
};
TORCH_MODULE(MlpPredictor);

}  // namespace jess::equivariance
