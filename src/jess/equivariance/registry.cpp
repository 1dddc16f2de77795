// The method registry and what every equivariant method shares: options, projector sizes.
#include <ATen/ATen.h>

#include <cmath>
#include <map>
#include <stdexcept>

#include "jess/core/config.h"
#include "jess/equivariance/method.h"
#include "jess/nn/encoders.h"

namespace jess::equivariance {

void MethodOptions::describe(ConfigSchema& s) {
  s.add("equi", equi, "SIE: representation dimensions of the equivariant part (the last ones; 0: half)",
        check::int_at_least(0));
  s.add("mlp", mlp, "projector sizes (SIE scales them by each part's share of the representation)");
  s.add("predictor", predictor, "hypernetwork: z' = W(g) z (SIE) | mlp: Linear(concat(g, z)) (EquiMod's)",
        check::one_of({"hypernetwork", "mlp"}));
  s.add("hypernetwork", hypernetwork, "linear: W(g) = reshape(H g) | deep: H = 3-layer MLP on g",
        check::one_of({"linear", "deep"}));
  s.add("loss.invariance", invariance, "lambda: weight of the invariance (MSE) terms", check::non_negative());
  s.add("loss.variance", variance, "mu: weight of the variance hinge terms", check::non_negative());
  s.add("loss.covariance", covariance, "nu: weight of the covariance terms", check::non_negative());
  s.add("loss.equi_factor", equi_factor, "weight of the equivariance term relative to lambda (SIE: 0.45)",
        check::non_negative());
  s.add("loss.temperature", temperature, "simclr, simclr_augself: InfoNCE temperature", check::positive());
  s.add("loss.ec_weight", ec_weight, "simclr_augself: weight of the transformation regression", check::non_negative());
}

void MethodOptions::validate() const {
  if (nn::parse_layer_sizes(mlp).empty()) throw ConfigError("config key 'mlp': the projector needs at least one layer");
  if (transform_dim < 1) throw ConfigError("the transformation needs at least one dimension");
}

at::Tensor EquivariantMethod::equivariant_embedding(const at::Tensor&) {
  throw std::invalid_argument("method '" + name() + "' has no transformation-conditioned predictor");
}
at::Tensor EquivariantMethod::predict(const at::Tensor&, const at::Tensor&) {
  throw std::invalid_argument("method '" + name() + "' has no transformation-conditioned predictor");
}

std::vector<int64_t> scaled_sizes(const std::vector<int64_t>& sizes, double share) {
  std::vector<int64_t> out;
  for (int64_t s : sizes) out.push_back(std::max<int64_t>(1, int64_t(std::nearbyint(double(s) * share))));
  return out;
}

namespace {
using Factory = std::shared_ptr<EquivariantMethod> (*)(const MethodOptions&);
const std::map<std::string, Factory>& registry() {
  static const std::map<std::string, Factory> r = {
      {"sie", [](const MethodOptions& o) { return make_sie(o, "sie"); }},
      {"sie_only_equi", [](const MethodOptions& o) { return make_sie(o, "sie_only_equi"); }},
      {"sie_no_var", [](const MethodOptions& o) { return make_sie(o, "sie_no_var"); }},
      {"sie_rot_color", [](const MethodOptions& o) { return make_sie(o, "sie_rot_color"); }},
      {"equimod", [](const MethodOptions& o) { return make_equimod(o); }},
      {"vicreg", [](const MethodOptions& o) { return make_baseline(o, "vicreg"); }},
      {"simclr", [](const MethodOptions& o) { return make_baseline(o, "simclr"); }},
      {"simclr_augself", [](const MethodOptions& o) { return make_baseline(o, "simclr_augself"); }},
      {"rotation_regression", [](const MethodOptions& o) { return make_baseline(o, "rotation_regression"); }},
  };
  return r;
}
}  // namespace

std::vector<std::string> method_names() {
  std::vector<std::string> n;
  for (const auto& kv : registry()) n.push_back(kv.first);
  return n;
}

int64_t transform_dim_of(const std::string& name) { return name == "sie_rot_color" ? 6 : 4; }

std::shared_ptr<EquivariantMethod> make_method(const std::string& name, const MethodOptions& options) {
  auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& n : method_names()) known += (known.empty() ? "" : ", ") + n;
    throw ConfigError("unknown equivariant method '" + name + "' (known: " + known + ")");
  }
  MethodOptions o = options;
  o.transform_dim = transform_dim_of(name);
  o.validate();
  return it->second(o);
}

}  // namespace jess::equivariance
