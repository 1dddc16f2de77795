// The sample-contrastive InfoNCE family on the 2B embeddings of a batch (both views), cosine
// similarities s = <z_a, z_b> / (|z_a| |z_b|), temperature tau. For sample i with positive p(i):
//   simclr     l_i = -s_ip/tau + log( exp(s_ip/tau) + sum_{k != i, p(i)} exp(s_ik/tau) )      (NT-Xent)
//   simclr_abs l_i = -s_ip/tau + log( exp(s_ip/tau) + sum_{k != i, p(i)} exp(|s_ik|/tau) )
//   simclr_sq  l_i = -s_ip/tau + log( exp(s_ip/tau) + sum_{k != i, p(i)} exp(s_ik^2/tau) )
//   dcl        l_i = -s_ip/tau + log( sum_{k != i, p(i)} exp(s_ik/tau) )       (decoupled: no positive)
// loss = mean_i l_i. The abs/sq variants (Garrido et al. 2023, §4) make the negatives' repulsion
// symmetric, so the criterion is a function of the sample Gram matrix's off-diagonal alone, like L_c.
#include <ATen/ATen.h>

#include "jess/core/config.h"
#include "jess/ssl/criteria.h"

namespace jess::ssl {

namespace {

enum class Negatives { raw, absolute, squared, decoupled };

class InfoNceLoss : public JointLoss {
 public:
  InfoNceLoss(std::string name, Negatives n) : name_(std::move(name)), negatives_(n) {}
  std::string name() const override { return name_; }
  void describe(ConfigSchema& s, const std::string& p) override {
    s.add(p + "temperature", temperature_, "softmax temperature tau", check::positive());
  }
  LossTerms operator()(const at::Tensor& z1, const at::Tensor& z2) const override {
    TORCH_CHECK(z1.dim() == 2 && z1.sizes() == z2.sizes(), name_, ": embeddings must be two (B, D) tensors of one shape");
    auto a = gathered(z1), b = gathered(z2);
    const int64_t n = a.size(0);
    TORCH_CHECK(n >= 2, name_, ": needs a batch of at least 2 (negatives)");
    auto z = at::cat({a, b}, 0);
    z = z / z.norm(2, 1, true).clamp_min(1e-12);
    auto s = at::matmul(z, z.t());                                                   // (2n, 2n)
    auto idx = at::arange(2 * n, s.options().dtype(at::kLong));
    auto partner = at::cat({idx.narrow(0, n, n), idx.narrow(0, 0, n)});
    auto positive = s.gather(1, partner.unsqueeze(1)).squeeze(1);                    // s_ip
    auto eye = at::eye(2 * n, s.options().dtype(at::kBool));
    auto is_pos = at::zeros_like(eye).scatter_(1, partner.unsqueeze(1), true);
    at::Tensor neg = s;
    if (negatives_ == Negatives::absolute) neg = s.abs();
    if (negatives_ == Negatives::squared) neg = s.pow(2);
    auto logits = (neg / temperature_).masked_fill(eye.logical_or(is_pos), -INFINITY);
    if (negatives_ != Negatives::decoupled)  // the positive enters the denominator with its raw cosine
      logits = logits.scatter(1, partner.unsqueeze(1), (positive / temperature_).unsqueeze(1));
    auto l = -positive / temperature_ + at::logsumexp(logits, 1);
    LossTerms t;
    t.loss = l.mean();
    t.parts = {{"positive_cos", positive.mean().item<double>()},
               {"negative_cos", (s.masked_fill(eye.logical_or(is_pos), 0).sum() / double(2 * n * (2 * n - 2))).item<double>()}};
    return t;
  }

 private:
  std::string name_;
  Negatives negatives_;
  double temperature_ = 0.15;  // the duality paper's tuned SimCLR (0.1-0.5 in the SimCLR paper)
};

}  // namespace

std::unique_ptr<JointLoss> make_simclr() { return std::make_unique<InfoNceLoss>("simclr", Negatives::raw); }
std::unique_ptr<JointLoss> make_simclr_abs() { return std::make_unique<InfoNceLoss>("simclr_abs", Negatives::absolute); }
std::unique_ptr<JointLoss> make_simclr_sq() { return std::make_unique<InfoNceLoss>("simclr_sq", Negatives::squared); }
std::unique_ptr<JointLoss> make_dcl() { return std::make_unique<InfoNceLoss>("dcl", Negatives::decoupled); }

}  // namespace jess::ssl
