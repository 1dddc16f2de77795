// Barlow Twins (Zbontar et al., ICML 2021): each embedding dimension is standardised over the batch
// (as BatchNorm without affine: biased variance, eps 1e-5), C = Z1n^T Z2n / B is the cross-correlation,
//   L = sum_i (1 - C_ii)^2 + lambda * sum_{i != j} C_ij^2,   lambda = 5.1e-3 (the paper's).
#include <ATen/ATen.h>

#include "jess/core/config.h"
#include "jess/ssl/criteria.h"

namespace jess::ssl {

namespace {

class BarlowTwinsLoss : public JointLoss {
 public:
  std::string name() const override { return "barlow_twins"; }
  void describe(ConfigSchema& s, const std::string& p) override {
    s.add(p + "off_diagonal", lambda_, "weight lambda of the off-diagonal (redundancy) term", check::non_negative());
  }
  LossTerms operator()(const at::Tensor& z1, const at::Tensor& z2) const override {
    TORCH_CHECK(z1.dim() == 2 && z1.sizes() == z2.sizes(), "barlow_twins: embeddings must be two (B, D) tensors of one shape");
    auto a = gathered(z1), b = gathered(z2);
    TORCH_CHECK(a.size(0) >= 2, "barlow_twins: needs a batch of at least 2");
    auto standardise = [](const at::Tensor& z) {
      auto c = z - z.mean(0, true);
      return c / at::sqrt(c.pow(2).mean(0, true) + 1e-5);
    };
    auto c = at::matmul(standardise(a).t(), standardise(b)) / double(a.size(0));
    auto diag = c.diagonal();
    auto on = (1 - diag).pow(2).sum();
    auto off = c.pow(2).sum() - diag.pow(2).sum();
    LossTerms t;
    t.loss = on + lambda_ * off;
    t.parts = {{"on_diagonal", on.item<double>()}, {"off_diagonal", off.item<double>()}};
    return t;
  }

 private:
  double lambda_ = 5.1e-3;
};

}  // namespace

std::unique_ptr<JointLoss> make_barlow_twins() { return std::make_unique<BarlowTwinsLoss>(); }

}  // namespace jess::ssl
