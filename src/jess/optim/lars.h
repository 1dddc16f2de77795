#pragma once
// LARS (You et al. 2017) as SSL recipes use it (VICReg, Barlow Twins, BYOL, SimCLR): per parameter
// tensor p with gradient g,
//   g <- g + wd * p;  q = eta * |p| / |g| (1 when either norm is 0);  m <- momentum * m + q * g;  p <- p - lr * m
// Groups with adapt = false (biases and normalisation parameters, by the recipes' rule: tensors of
// dimension <= 1) get neither weight decay nor the trust ratio: plain SGD with momentum. A
// torch::optim::Optimizer, so the shared trainer checkpoints its state like Adam's. Heavy header.
#include <torch/optim/optimizer.h>
#include <torch/optim/serialize.h>

#include <vector>

namespace jess::optim {

struct LarsOptions : public torch::optim::OptimizerCloneableOptions<LarsOptions> {
  LarsOptions(double lr = 0.1);  // NOLINT: implicit like torch's options
  TORCH_ARG(double, lr);
  TORCH_ARG(double, momentum) = 0.9;
  TORCH_ARG(double, weight_decay) = 1e-6;
  TORCH_ARG(double, eta) = 0.001;
  TORCH_ARG(bool, adapt) = true;

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
  double get_lr() const override { return lr(); }
  void set_lr(const double lr) override { this->lr(lr); }
};

struct LarsParamState : public torch::optim::OptimizerCloneableParamState<LarsParamState> {
  TORCH_ARG(torch::Tensor, momentum_buffer);

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
};

class Lars : public torch::optim::Optimizer {
 public:
  Lars(std::vector<torch::optim::OptimizerParamGroup> groups, LarsOptions defaults);
  torch::Tensor step(LossClosure closure = nullptr) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;
};

// Two groups: `adapted` (weight decay and trust ratio) and `plain` (neither: biases, norms, probes).
std::vector<torch::optim::OptimizerParamGroup> lars_groups(const std::vector<torch::Tensor>& adapted,
                                                           const std::vector<torch::Tensor>& plain, const LarsOptions& o);
// The recipes' split of `params`: dimension > 1 adapted, the rest (biases, norms) plain.
std::vector<torch::optim::OptimizerParamGroup> lars_groups(const std::vector<torch::Tensor>& params, const LarsOptions& o);

}  // namespace jess::optim
