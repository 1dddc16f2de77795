#include "jess/optim/lars.h"

#include <torch/serialize/archive.h>
#include <torch/utils.h>

namespace jess::optim {

LarsOptions::LarsOptions(double lr) : lr_(lr) {}

void LarsOptions::serialize(torch::serialize::OutputArchive& archive) const {
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(lr);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(momentum);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(weight_decay);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(eta);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(adapt);
}

void LarsOptions::serialize(torch::serialize::InputArchive& archive) {
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, lr);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, momentum);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, weight_decay);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, eta);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(bool, adapt);
}

void LarsParamState::serialize(torch::serialize::OutputArchive& archive) const {
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(momentum_buffer);
}

void LarsParamState::serialize(torch::serialize::InputArchive& archive) {
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(torch::Tensor, momentum_buffer);
}

Lars::Lars(std::vector<torch::optim::OptimizerParamGroup> groups, LarsOptions defaults)
    : Optimizer(std::move(groups), std::make_unique<LarsOptions>(defaults)) {
  TORCH_CHECK(defaults.lr() >= 0 && defaults.momentum() >= 0 && defaults.weight_decay() >= 0 && defaults.eta() > 0,
              "LARS: lr, momentum and weight decay must be non-negative, eta positive");
}

torch::Tensor Lars::step(LossClosure closure) {
  torch::NoGradGuard ng;
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const LarsOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto g = p.grad();
      if (o.adapt()) {
        g = g.add(p, o.weight_decay());
        const auto pn = p.norm(), gn = g.norm();
        // trust ratio eta |p| / |g|, 1 where either norm is zero (e.g. a zero-initialised weight)
        auto q = torch::where(pn > 0, torch::where(gn > 0, o.eta() * pn / gn, torch::ones_like(pn)), torch::ones_like(pn));
        g = g.mul(q);
      }
      auto key = c10::guts::to_string(p.unsafeGetTensorImpl());
      auto it = state_.find(key);
      if (it == state_.end()) {
        auto s = std::make_unique<LarsParamState>();
        s->momentum_buffer(g.clone());
        it = state_.emplace(key, std::move(s)).first;
      } else {
        auto& buf = static_cast<LarsParamState&>(*it->second).momentum_buffer();
        buf.mul_(o.momentum()).add_(g);
      }
      p.add_(static_cast<LarsParamState&>(*it->second).momentum_buffer(), -o.lr());
    }
  }
  return loss;
}

void Lars::save(torch::serialize::OutputArchive& archive) const {
  torch::optim::serialize<LarsParamState, LarsOptions>(archive, *this);
}

void Lars::load(torch::serialize::InputArchive& archive) {
  torch::optim::serialize<LarsParamState, LarsOptions>(archive, *this);
}

std::vector<torch::optim::OptimizerParamGroup> lars_groups(const std::vector<torch::Tensor>& adapted,
                                                           const std::vector<torch::Tensor>& plain, const LarsOptions& o) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  auto a = std::make_unique<LarsOptions>(o);
  a->adapt(true);
  groups.emplace_back(adapted, std::move(a));
  auto b = std::make_unique<LarsOptions>(o);
  b->adapt(false).weight_decay(0);
  groups.emplace_back(plain, std::move(b));
  return groups;
}

std::vector<torch::optim::OptimizerParamGroup> lars_groups(const std::vector<torch::Tensor>& params, const LarsOptions& o) {
  std::vector<torch::Tensor> adapted, plain;
  for (const auto& p : params) {
    if (!p.requires_grad()) continue;
    (p.dim() > 1 ? adapted : plain).push_back(p);
  }
  return lars_groups(adapted, plain, o);
}

}  // namespace jess::optim
