#pragma once
// Joint-embedding SSL criteria. A method's loss maps the two branches' embeddings (B, D) to a scalar
// plus named parts for logging. Methods are registered by name (registry.cpp): adding one is one file
// and one registry line.
//
// Data-parallel training: batch-statistic terms (variance, covariance, negatives) must see the whole
// global batch. A loss calls `gather` on its embeddings before computing such terms; single-process
// training leaves it as the identity, a distributed trainer sets an all-gather that keeps gradients.
#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace jess {
class ConfigSchema;
}

namespace jess::ssl {

struct LossTerms {
  at::Tensor loss;                                    // scalar, differentiable
  std::vector<std::pair<std::string, double>> parts;  // unweighted terms, for logs
};

using Gather = std::function<at::Tensor(const at::Tensor&)>;

class JointLoss {
 public:
  virtual ~JointLoss() = default;
  virtual std::string name() const = 0;
  virtual void describe(ConfigSchema& schema, const std::string& prefix) = 0;  // its hyperparameters
  virtual void validate() const {}
  virtual LossTerms operator()(const at::Tensor& z1, const at::Tensor& z2) const = 0;
  void set_gather(Gather g) { gather_ = std::move(g); }

 protected:
  at::Tensor gathered(const at::Tensor& z) const { return gather_ ? gather_(z) : z; }
  Gather gather_;
};

// Registry: "vicreg", ... (names in `loss_names()`); throws std::invalid_argument for an unknown name.
std::unique_ptr<JointLoss> make_loss(const std::string& name);
std::vector<std::string> loss_names();

}  // namespace jess::ssl
