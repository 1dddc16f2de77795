#include "jess/ssl/vicreg.h"

#include <ATen/ATen.h>

#include "jess/core/config.h"

namespace jess::ssl {

void VICRegLoss::describe(ConfigSchema& s, const std::string& p) {
  s.add(p + "invariance", options_.invariance, "weight of the invariance (MSE) term, lambda", check::non_negative());
  s.add(p + "variance", options_.variance, "weight of the variance (std hinge) term, mu", check::non_negative());
  s.add(p + "covariance", options_.covariance, "weight of the covariance term, nu", check::non_negative());
  s.add(p + "epsilon", options_.epsilon, "added to the variance inside the square root", check::positive());
}

at::Tensor vicreg_variance(const at::Tensor& z, double eps) {
  auto std = at::sqrt(z.var(0, /*unbiased=*/true) + eps);
  return at::relu(1 - std).mean();
}
at::Tensor vicreg_covariance(const at::Tensor& z) {
  const int64_t b = z.size(0), d = z.size(1);
  auto zc = z - z.mean(0, true);
  auto c = at::matmul(zc.t(), zc) / double(b - 1);
  return (c.pow(2).sum() - c.diagonal().pow(2).sum()) / double(d);
}

LossTerms VICRegLoss::operator()(const at::Tensor& z1, const at::Tensor& z2) const {
  TORCH_CHECK(z1.dim() == 2 && z1.sizes() == z2.sizes(), "VICReg: embeddings must be two (B, D) tensors of one shape");
  const auto& o = options_;
  auto inv = at::mse_loss(z1, z2);
  auto g1 = gathered(z1), g2 = gathered(z2);
  TORCH_CHECK(g1.size(0) >= 2, "VICReg: the variance and covariance terms need a batch of at least 2");
  auto var = (vicreg_variance(g1, o.epsilon) + vicreg_variance(g2, o.epsilon)) / 2;
  auto cov = vicreg_covariance(g1) + vicreg_covariance(g2);
  LossTerms t;
  t.loss = o.invariance * inv + o.variance * var + o.covariance * cov;
  t.parts = {{"invariance", inv.item<double>()}, {"variance", var.item<double>()}, {"covariance", cov.item<double>()}};
  return t;
}

std::unique_ptr<JointLoss> make_vicreg() { return std::make_unique<VICRegLoss>(); }

}  // namespace jess::ssl
