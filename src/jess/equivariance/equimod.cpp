// EquiMod (Devillers & Lefort, ICLR 2023) in its VICReg form, as the SIE paper compares it: two full
// projectors on the whole representation, an invariant one trained by VICReg and an equivariant one
// whose embedding of view 1, mapped by the transformation-conditioned predictor, must match view 2's:
//   L = VICReg(z_inv,1, z_inv,2) + f [lambda mean(zhat - z_equi,2)^2 + mu (v(z_equi,1) + v(z_equi,2))/2
//                                      + nu (c(z_equi,1) + c(z_equi,2))],   zhat = P(z_equi,1, g).
// The predictor is the same hypernetwork as SIE's by default (the reference's choice), or EquiMod's
// MLP on concat(g, z) with `predictor=mlp`. The representation is not split.
#include <ATen/ATen.h>

#include "jess/equivariance/hypernetwork.h"
#include "jess/equivariance/method.h"
#include "jess/nn/encoders.h"
#include "jess/ssl/vicreg.h"

namespace jess::equivariance {

namespace {

class EquiMod : public EquivariantMethod {
 public:
  explicit EquiMod(const MethodOptions& o) : o_(o) {
    nn::ProjectorOptions p;
    p.input_dim = o.representation_dim;
    p.sizes = nn::parse_layer_sizes(o.mlp);
    projector_inv = register_module("projector_inv", nn::Projector(p));
    projector_equi = register_module("projector_equi", nn::Projector(p));
    const int64_t d = projector_equi->output_dim();
    if (o.predictor == "mlp") mlp_predictor = register_module("predictor", MlpPredictor(d, o.transform_dim));
    else hyper_predictor = register_module("predictor", HypernetworkPredictor(d, o.transform_dim, o.hypernetwork));
  }
  std::string name() const override { return "equimod"; }
  bool has_predictor() const override { return true; }
  at::Tensor equivariant_embedding(const at::Tensor& y) override { return projector_equi->forward(y); }
  at::Tensor predict(const at::Tensor& z, const at::Tensor& g) override {
    return mlp_predictor ? mlp_predictor->forward(z, g) : hyper_predictor->forward(z, g);
  }

  MethodOutput forward(const at::Tensor& y1, const at::Tensor& y2, const at::Tensor& g) override {
    TORCH_CHECK(y1.dim() == 2 && y1.sizes() == y2.sizes(), "equimod: representations must be two (B, D) tensors");
    auto zi1 = projector_inv->forward(y1), zi2 = projector_inv->forward(y2);
    auto ze1 = projector_equi->forward(y1), ze2 = projector_equi->forward(y2);
    auto gi1 = gathered(zi1), gi2 = gathered(zi2), ge1 = gathered(ze1), ge2 = gathered(ze2);
    TORCH_CHECK(gi1.size(0) >= 2, "equimod: the variance and covariance terms need a batch of at least 2");
    auto inv = at::mse_loss(zi1, zi2);
    auto var_inv = ssl::vicreg_variance(gi1, o_.epsilon) / 2 + ssl::vicreg_variance(gi2, o_.epsilon) / 2;
    auto cov_inv = ssl::vicreg_covariance(gi1) + ssl::vicreg_covariance(gi2);
    auto equi = at::mse_loss(predict(ze1, g), ze2);
    auto var_equi = ssl::vicreg_variance(ge1, o_.epsilon) / 2 + ssl::vicreg_variance(ge2, o_.epsilon) / 2;
    auto cov_equi = ssl::vicreg_covariance(ge1) + ssl::vicreg_covariance(ge2);
    auto loss_inv = o_.invariance * inv + o_.variance * var_inv + o_.covariance * cov_inv;
    auto loss_equi = o_.invariance * equi + o_.variance * var_equi + o_.covariance * cov_equi;
    MethodOutput out;
    out.loss = loss_inv + o_.equi_factor * loss_equi;
    out.parts = {{"invariance", inv.item<double>()},
                 {"equivariance", equi.item<double>()},
                 {"variance", (var_inv + var_equi).item<double>()},
                 {"covariance", (cov_inv + cov_equi).item<double>()}};
    return out;
  }

  nn::Projector projector_inv{nullptr}, projector_equi{nullptr};
  HypernetworkPredictor hyper_predictor{nullptr};
  MlpPredictor mlp_predictor{nullptr};

 private:
  MethodOptions o_;
};

}  // namespace

std::shared_ptr<EquivariantMethod> make_equimod(const MethodOptions& o) { return std::make_shared<EquiMod>(o); }

}  // namespace jess::equivariance
