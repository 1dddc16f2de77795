#pragma once
// The hyperparameters of the equivariant methods (method.h), in a light header for configurations.
#include <cstdint>
#include <string>

namespace jess {
class ConfigSchema;
}

namespace jess::equivariance {

struct MethodOptions {
  int64_t representation_dim = 512;    // the backbone's output (set by the trainer)
  int64_t equi = 0;                    // SIE: dimensions of y in the equivariant part (the last ones; 0: half)
  std::string mlp = "2048-2048-2048";  // projector; SIE scales it by each part's share of y
  int64_t transform_dim = 4;           // dim g: 4 (quaternion) or 6 (quaternion, floor and light hue changes)
  std::string predictor = "hypernetwork";  // hypernetwork: z' = W(g) z | mlp: MLP(concat(z, g)) (EquiMod's)
  std::string hypernetwork = "linear";     // linear: W(g) = reshape(H g) | deep: H an MLP on g
  double invariance = 10, variance = 10, covariance = 1;  // lambda, mu, nu (SIE's README)
  double equi_factor = 0.45;           // SIE/EquiMod: weight of the equivariant term relative to lambda
  double temperature = 0.1;            // SimCLR (InfoNCE) temperature
  double ec_weight = 1;                // AugSelf: weight of the transformation regression
  double epsilon = 1e-4;

  // Keys: equi, mlp, predictor, hypernetwork (architecture) and loss.* (the coefficients).
  void describe(ConfigSchema& schema);
  void validate() const;
};

}  // namespace jess::equivariance
