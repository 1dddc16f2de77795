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
  h->push_back(torch::nn::Linear(torch::nn::LinearOptions(k, dim * dim).bias(false)));
  hypernet = register_module("hypernet", h);
}

at::Tensor HypernetworkPredictorImpl::weights(const at::Tensor& g) {
  return hypernet->forward(g).view({g.size(0), dim_, dim_});
}

at::Tensor HypernetworkPredictorImpl::forward(const at::Tensor& z, const at::Tensor& g) {
  TORCH_CHECK(z.dim() == 2 && z.size(1) == dim_ && g.dim() == 2 && g.size(0) == z.size(0),
              "hypernetwork predictor: z must be (B, ", dim_, ") and g (B, k)");
  // (B, 1, d) x (B, d, d)^T: row b = z_b W_b^T, i.e. W_b z_b with W[out, in].
  return at::bmm(z.unsqueeze(1), weights(g).transpose(1, 2)).squeeze(1);
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
