#include "jess/equivariance/hypernetwork.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/activation.h>

#include <stdexcept>

namespace jess::equivariance {

HypernetworkPredictorImpl::HypernetworkPredictorImpl(int64_t dim, int64_t k, const std::string& kind) : dim_(dim) {
  if (dim < 1 || k < 1) throw std::invalid_argument("hypernetwork: dimensions must be positive");
  torch::nn::Sequential h;
  if (kind == "deep") {
    h->push_back(torch::nn::Linear(k, k));
    h->push_back(torch::nn::ReLU());
    h->push_back(torch::nn::Linear(k, k));
    h->push_back(torch::nn::ReLU());
  } else if (kind != "linear") {
    throw std::invalid_argument("hypernetwork: kind must be linear or deep, got '" + kind + "'");
  }
  // No bias: W(g) = sum_k g_k A_k exactly (the reference's default, --bias-hypernet off).
  last_ = torch::nn::Linear(torch::nn::LinearOptions(k, dim * dim).bias(false));
  h->push_back(last_);
  hypernet = register_module("hypernet", h);
}

at::Tensor HypernetworkPredictorImpl::hidden(const at::Tensor& g) {
  // The "deep" kind's Linear-ReLU layers before the last Linear; identity for "linear".
  at::Tensor h = g;
  for (auto it = hypernet->begin(); it + 1 != hypernet->end(); ++it) h = it->forward(h);
  return h;
}

at::Tensor HypernetworkPredictorImpl::weights(const at::Tensor& g) {
  return hypernet->forward(g).view({g.size(0), dim_, dim_});
}

at::Tensor HypernetworkPredictorImpl::forward(const at::Tensor& z, const at::Tensor& g) {
  TORCH_CHECK(z.dim() == 2 && z.size(1) == dim_ && g.dim() == 2 && g.size(0) == z.size(0),
              "hypernetwork predictor: z must be (B, ", dim_, ") and g (B, k)");
  // W(g_b) z_b without forming the B weight matrices: with h = the last Linear's input (g itself for
  // "linear") and H its (d*d, k) weight, W_b[o, i] = sum_k H[o*d + i, k] h_bk, so
  //   (W_b z_b)[o] = sum_{i,k} H.view(d, d*k)[o, i*k + k'] (z_b[i] h_bk')  =  ((z (x) h) H.view(d, d*k)^T)_b[o],
  // one (B, d*k) x (d*k, d) product. Same function and gradients as bmm(z, W(g)^T), but a (B, d, d)
  // tensor (64 MiB at B = 64, d = 512, fresh pages every step) and its gradient are never allocated.
  const at::Tensor h = hidden(g).to(z.dtype());
  const at::Tensor& H = last_->weight;
  const int64_t k = H.size(1);
  auto outer = (z.unsqueeze(2) * h.unsqueeze(1)).reshape({z.size(0), dim_ * k});
  return at::mm(outer, H.view({dim_, dim_ * k}).t());
}

MlpPredictorImpl::MlpPredictorImpl(int64_t dim, int64_t k, int64_t layers) {
  if (layers < 1) throw std::invalid_argument("mlp predictor: layers must be positive");
  torch::nn::Sequential m;
  m->push_back(torch::nn::Linear(dim + k, dim));
  for (int64_t i = 1; i < layers; ++i) {
    m->push_back(torch::nn::ReLU());
    m->push_back(torch::nn::Linear(dim, dim));
  }
  net = register_module("net", m);
}

at::Tensor MlpPredictorImpl::forward(const at::Tensor& z, const at::Tensor& g) {
  return net->forward(at::cat({g.to(z.dtype()), z}, 1));
}

}  // namespace jess::equivariance
