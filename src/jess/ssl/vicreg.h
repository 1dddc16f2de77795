#pragma once
// VICReg (Bardes, Ponce & LeCun, ICLR 2022), with the reference implementation's conventions:
//   L = lambda * s(Z, Z') + mu * [v(Z) + v(Z')] / 2 + nu * [c(Z) + c(Z')]
//   s = mean over B*D entries of (Z - Z')^2                                  (invariance)
//   v(Z) = mean_j max(0, 1 - sqrt(Var_j(Z) + eps)),  Var unbiased            (variance)
//   c(Z) = sum_{j != k} C_jk^2 / D,  C = (Z - mean)^T (Z - mean) / (B - 1)   (covariance)
// defaults lambda = mu = 25, nu = 1, eps = 1e-4. The covariance terms of the two branches are summed,
// not averaged (as in the reference code).
#include "jess/ssl/loss.h"

namespace jess::ssl {

struct VICRegOptions {
  double invariance = 25, variance = 25, covariance = 1, epsilon = 1e-4;
};

class VICRegLoss : public JointLoss {
 public:
  VICRegLoss() = default;
  explicit VICRegLoss(VICRegOptions o) : options_(o) {}
  std::string name() const override { return "vicreg"; }
  void describe(ConfigSchema& schema, const std::string& prefix) override;
  LossTerms operator()(const at::Tensor& z1, const at::Tensor& z2) const override;
  VICRegOptions& options() { return options_; }

 private:
  VICRegOptions options_;
};

std::unique_ptr<JointLoss> make_vicreg();

// The two regularisers on their own, for methods that combine them differently (SIE):
//   vicreg_variance(Z)   = mean_j max(0, 1 - sqrt(Var_j(Z) + eps))   (unbiased variance)
//   vicreg_covariance(Z) = sum_{j != k} C_jk^2 / D,  C = Z_c^T Z_c / (B - 1)
at::Tensor vicreg_variance(const at::Tensor& z, double eps = 1e-4);
at::Tensor vicreg_covariance(const at::Tensor& z);

}  // namespace jess::ssl
