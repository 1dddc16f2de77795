// SIE (Garrido, Najman & LeCun, ICML 2023, §3) and the variants of its ablations.
//
// The representation y is split into y_inv = y[:D - equi] and y_equi = y[D - equi:]; each part has its
// own projector (the configured sizes scaled by the part's share of y, so no information crosses the
// split), giving z_inv and z_equi. The hypernetwork predictor maps view 1's z_equi to view 2's:
// zhat = W(g) z_equi,1. With Z = concat(z_inv, z_equi) of each view (the regularisers see both parts
// together, which also decorrelates them):
//   L = lambda L_inv + lambda f L_equi + mu [v(Z1)/2 + v(Z2)/2 + v(Zhat)/2] + nu [c(Z1) + c(Z2)]
//   L_inv = mean (z_inv,1 - z_inv,2)^2,   L_equi = mean (zhat - z_equi,2)^2,
// v and c VICReg's variance hinge and covariance terms over the (global) batch.
// Variants: sie_only_equi (no invariant part: y is all equivariant and L_equi has weight lambda, as in
// the reference), sie_no_var (no variance term on the prediction), sie_rot_color (g also holds the
// floor and light hue changes, dim 6).
#include <ATen/ATen.h>

#include "jess/core/config.h"
#include "jess/equivariance/hypernetwork.h"
#include "jess/equivariance/method.h"
#include "jess/nn/encoders.h"
#include "jess/ssl/vicreg.h"

namespace jess::equivariance {

namespace {

class Sie : public EquivariantMethod {
 public:
  Sie(const MethodOptions& o, std::string variant) : o_(o), variant_(std::move(variant)) {
    const int64_t D = o.representation_dim;
    const int64_t equi = variant_ == "sie_only_equi" ? D : (o.equi > 0 ? o.equi : D / 2);
    if (equi < 1 || equi > D)
      throw ConfigError("config key 'equi' must be in [1, " + std::to_string(D) + "] (the representation's size)");
    if (equi == D && variant_ != "sie_only_equi")
      throw ConfigError("config key 'equi' must leave an invariant part (use sie_only_equi for none)");
    inv_ = D - equi;
    const auto sizes = nn::parse_layer_sizes(o.mlp);
    if (inv_ > 0) {
      nn::ProjectorOptions pi;
      pi.input_dim = inv_;
      pi.sizes = scaled_sizes(sizes, double(inv_) / double(D));
      projector_inv = register_module("projector_inv", nn::Projector(pi));
    }
    nn::ProjectorOptions pe;
    pe.input_dim = equi;
    pe.sizes = variant_ == "sie_only_equi" ? sizes : scaled_sizes(sizes, double(equi) / double(D));
    projector_equi = register_module("projector_equi", nn::Projector(pe));
    const int64_t d = projector_equi->output_dim();
    if (o.predictor == "mlp") mlp_predictor = register_module("predictor", MlpPredictor(d, o.transform_dim));
    else hyper_predictor = register_module("predictor", HypernetworkPredictor(d, o.transform_dim, o.hypernetwork));
  }

  std::string name() const override { return variant_; }
  bool split() const override { return inv_ > 0; }
  int64_t invariant_dims() const override { return inv_; }
  bool has_predictor() const override { return true; }

  at::Tensor equivariant_embedding(const at::Tensor& y) override {
    return projector_equi->forward(y.narrow(1, inv_, y.size(1) - inv_));
  }
  at::Tensor predict(const at::Tensor& z, const at::Tensor& g) override {
    return mlp_predictor ? mlp_predictor->forward(z, g) : hyper_predictor->forward(z, g);
  }

  MethodOutput forward(const at::Tensor& y1, const at::Tensor& y2, const at::Tensor& g) override {
    TORCH_CHECK(y1.dim() == 2 && y1.sizes() == y2.sizes() && y1.size(1) == o_.representation_dim,
                name(), ": representations must be two (B, ", o_.representation_dim, ") tensors");
    TORCH_CHECK(g.dim() == 2 && g.size(0) == y1.size(0) && g.size(1) == o_.transform_dim, name(),
                ": the transformation must be (B, ", o_.transform_dim, ")");
    auto ze1 = equivariant_embedding(y1), ze2 = equivariant_embedding(y2);
    auto pred = predict(ze1, g);
    auto l_equi = at::mse_loss(pred, ze2);
    at::Tensor z1 = ze1, z2 = ze2, l_inv;
    if (inv_ > 0) {
      auto zi1 = projector_inv->forward(y1.narrow(1, 0, inv_)), zi2 = projector_inv->forward(y2.narrow(1, 0, inv_));
      l_inv = at::mse_loss(zi1, zi2);
      z1 = at::cat({zi1, ze1}, 1);
      z2 = at::cat({zi2, ze2}, 1);
    }
    auto g1 = gathered(z1), g2 = gathered(z2);
    TORCH_CHECK(g1.size(0) >= 2, name(), ": the variance and covariance terms need a batch of at least 2");
    auto std_loss = ssl::vicreg_variance(g1, o_.epsilon) / 2 + ssl::vicreg_variance(g2, o_.epsilon) / 2;
    at::Tensor pred_std = variant_ == "sie_no_var" ? at::zeros({}, std_loss.options())
                                                   : ssl::vicreg_variance(gathered(pred), o_.epsilon) / 2;
    auto cov = ssl::vicreg_covariance(g1) + ssl::vicreg_covariance(g2);
    const double equi_weight = inv_ > 0 ? o_.invariance * o_.equi_factor : o_.invariance;
    at::Tensor loss = equi_weight * l_equi + o_.variance * (std_loss + pred_std) + o_.covariance * cov;
    if (inv_ > 0) loss = loss + o_.invariance * l_inv;
    MethodOutput out;
    out.loss = loss;
    if (inv_ > 0) out.parts.emplace_back("invariance", l_inv.item<double>());
    out.parts.emplace_back("equivariance", l_equi.item<double>());
    out.parts.emplace_back("variance", std_loss.item<double>());
    out.parts.emplace_back("prediction_variance", pred_std.item<double>());
    out.parts.emplace_back("covariance", cov.item<double>());
    return out;
  }

  nn::Projector projector_inv{nullptr}, projector_equi{nullptr};
  HypernetworkPredictor hyper_predictor{nullptr};
  MlpPredictor mlp_predictor{nullptr};

 private:
  MethodOptions o_;
  std::string variant_;
  int64_t inv_ = 0;
};

}  // namespace

std::shared_ptr<EquivariantMethod> make_sie(const MethodOptions& o, const std::string& variant) {
  return std::make_shared<Sie>(o, variant);
}

}  // namespace jess::equivariance
