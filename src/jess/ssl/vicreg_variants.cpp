// The duality paper's bridge from VICReg to SimCLR (Garrido et al., ICLR 2023, §4), with VICReg's
// conventions for the invariance (MSE) and variance (std hinge, branches averaged) terms:
//   c_exp(Z) = (1/D) sum_i log sum_{j != i} exp(C_ij / tau),  C the (D x D) covariance of Z (B x D)
//   vicreg_exp: L = lambda s(Z, Z') + mu [v(Z) + v(Z')] / 2 + nu [c_exp(Z) + c_exp(Z')]
//   vicreg_ctr: the same with the variance and covariance terms on the transposed embeddings: v(Z^T)
//     regularises the spread of each embedding over its dimensions, c_exp(Z^T) is a LogSumExp over
//     the (B x B) Gram matrix of the centred samples (a DCL-like repulsion without the positive).
// The paper's tau and weights (its Table S6) are not in our brief: defaults lambda = mu = 25, nu = 1,
// tau = 0.1, all configurable.
#include <ATen/ATen.h>

#include "jess/core/config.h"
#include "jess/ssl/criteria.h"

namespace jess::ssl {

namespace {

at::Tensor variance_hinge(const at::Tensor& z, double eps) { return at::relu(1 - at::sqrt(z.var(0, true) + eps)).mean(); }

at::Tensor exp_covariance(const at::Tensor& z, double tau) {
  const int64_t b = z.size(0), d = z.size(1);
  auto zc = z - z.mean(0, true);
  auto c = at::matmul(zc.t(), zc) / double(b - 1);
  auto off = (c / tau).masked_fill(at::eye(d, c.options().dtype(at::kBool)), -INFINITY);
  return at::logsumexp(off, 1).sum() / double(d);
}

class VICRegExpLoss : public JointLoss {
 public:
  explicit VICRegExpLoss(bool transposed) : transposed_(transposed) {}
  std::string name() const override { return transposed_ ? "vicreg_ctr" : "vicreg_exp"; }
  void describe(ConfigSchema& s, const std::string& p) override {
    s.add(p + "invariance", lambda_, "weight of the invariance (MSE) term, lambda", check::non_negative());
    s.add(p + "variance", mu_, "weight of the variance (std hinge) term, mu", check::non_negative());
    s.add(p + "covariance", nu_, "weight of the LogSumExp covariance term, nu", check::non_negative());
    s.add(p + "temperature", tau_, "temperature tau inside the LogSumExp", check::positive());
    s.add(p + "epsilon", eps_, "added to the variance inside the square root", check::positive());
  }
  LossTerms operator()(const at::Tensor& z1, const at::Tensor& z2) const override {
    TORCH_CHECK(z1.dim() == 2 && z1.sizes() == z2.sizes(), name(), ": embeddings must be two (B, D) tensors of one shape");
    auto inv = at::mse_loss(z1, z2);
    auto a = gathered(z1), b = gathered(z2);
    if (transposed_) a = a.t(), b = b.t();
    TORCH_CHECK(a.size(0) >= 2 && a.size(1) >= 2, name(), ": needs at least 2 samples and 2 dimensions");
    auto var = (variance_hinge(a, eps_) + variance_hinge(b, eps_)) / 2;
    auto cov = exp_covariance(a, tau_) + exp_covariance(b, tau_);
    LossTerms t;
    t.loss = lambda_ * inv + mu_ * var + nu_ * cov;
    t.parts = {{"invariance", inv.item<double>()}, {"variance", var.item<double>()}, {"covariance", cov.item<double>()}};
    return t;
  }

 private:
  bool transposed_;
  double lambda_ = 25, mu_ = 25, nu_ = 1, tau_ = 0.1, eps_ = 1e-4;
};

}  // namespace

std::unique_ptr<JointLoss> make_vicreg_exp() { return std::make_unique<VICRegExpLoss>(false); }
std::unique_ptr<JointLoss> make_vicreg_ctr() { return std::make_unique<VICRegExpLoss>(true); }

}  // namespace jess::ssl
