// The invariant baselines of the SIE paper, trained on the same pairs: VICReg and SimCLR (the pair's
// two views are the positives; the transformation g is unused), and SimCLR + AugSelf (Lee et al.,
// NeurIPS 2021): InfoNCE plus ec_weight * mean (MLP(concat(y1, y2)) - g)^2, the MLP
// Linear(2D, 2D)-ReLU-Linear(2D, 2D)-ReLU-Linear(2D, k) regressing the transformation from the
// representations. The criteria are jess's registered ones (ssl/vicreg, ssl/infonce).
// And `rotation_regression`, the supervised reference for the equivariant metrics: the same MLP on
// concat(y1, y2) trained on g alone (no SSL term) — how much of the relative rotation a backbone of this
// size, resolution and budget can extract when that is all it is trained for.
#include <ATen/ATen.h>
#include <torch/nn/modules/activation.h>

#include <iomanip>
#include <sstream>

#include "jess/core/config.h"
#include "jess/equivariance/method.h"
#include "jess/nn/encoders.h"
#include "jess/ssl/vicreg.h"

namespace jess::equivariance {

namespace {

class Baseline : public EquivariantMethod {
 public:
  Baseline(const MethodOptions& o, std::string name) : o_(o), name_(std::move(name)) {
    nn::ProjectorOptions p;
    p.input_dim = o.representation_dim;
    p.sizes = nn::parse_layer_sizes(o.mlp);
    if (name_ != "rotation_regression") projector = register_module("projector", nn::Projector(p));
    if (name_ == "rotation_regression") {
      // no projector, no criterion: the regression below is the whole loss
    } else if (name_ == "vicreg") {
      ssl::VICRegOptions v;
      v.invariance = o.invariance;
      v.variance = o.variance;
      v.covariance = o.covariance;
      v.epsilon = o.epsilon;
      criterion_ = std::make_unique<ssl::VICRegLoss>(v);
    } else {
      criterion_ = ssl::make_loss("simclr");
      ConfigSchema s;
      criterion_->describe(s, "");
      std::ostringstream t;
      t << std::setprecision(17) << o.temperature;
      s.apply_overrides({"temperature=" + t.str()});
    }
    if (name_ == "simclr_augself" || name_ == "rotation_regression") {
      const int64_t h = 2 * o.representation_dim;
      torch::nn::Sequential m;
      m->push_back(torch::nn::Linear(h, h));
      m->push_back(torch::nn::ReLU());
      m->push_back(torch::nn::Linear(h, h));
      m->push_back(torch::nn::ReLU());
      m->push_back(torch::nn::Linear(h, o.transform_dim));
      regressor = register_module("regressor", m);
    }
  }
  std::string name() const override { return name_; }

  MethodOutput forward(const at::Tensor& y1, const at::Tensor& y2, const at::Tensor& g) override {
    TORCH_CHECK(y1.dim() == 2 && y1.sizes() == y2.sizes(), name_, ": representations must be two (B, D) tensors");
    MethodOutput out;
    if (criterion_) {
      criterion_->set_gather(gather_);
      auto t = (*criterion_)(projector->forward(y1), projector->forward(y2));
      out.loss = t.loss;
      out.parts = t.parts;
    }
    if (regressor) {
      auto pred = regressor->forward(at::cat({y1, y2}, 1));
      auto reg = at::mse_loss(pred, g.to(pred.dtype()));
      out.loss = criterion_ ? out.loss + o_.ec_weight * reg : reg;
      out.parts.emplace_back("transform_mse", reg.item<double>());
    }
    return out;
  }

  nn::Projector projector{nullptr};
  torch::nn::Sequential regressor{nullptr};

 private:
  MethodOptions o_;
  std::string name_;
  std::unique_ptr<ssl::JointLoss> criterion_;
};

}  // namespace

std::shared_ptr<EquivariantMethod> make_baseline(const MethodOptions& o, const std::string& name) {
  return std::make_shared<Baseline>(o, name);
}

}  // namespace jess::equivariance
