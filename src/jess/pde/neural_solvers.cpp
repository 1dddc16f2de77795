#include "jess/pde/neural_solvers.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/init.h>

#include <stdexcept>

namespace jess::pde {

namespace F = torch::nn::functional;

ConditionInjectionImpl::ConditionInjectionImpl(int64_t embed_dim, int64_t width, bool film) : film_(film) {
  map = register_module("map", torch::nn::Linear(embed_dim, film ? 2 * width : width));
  // Zero start: the conditioned solver begins as the unconditioned one and learns what c adds.
  torch::NoGradGuard ng;
  map->weight.zero_();
  map->bias.zero_();
}

at::Tensor ConditionInjectionImpl::forward(const at::Tensor& h, const at::Tensor& e) {
  auto m = map(e);  // (B, w or 2w), broadcast over the spatial axes of h (1-D or 2-D solvers)
  for (int64_t d = 2; d < h.dim(); ++d) m = m.unsqueeze(-1);
  if (!film_) return h + m;
  auto parts = m.chunk(2, 1);
  return h * (1 + parts[0]) + parts[1];
}

void NeuralSolverBase::make_conditioning(int64_t blocks, int64_t width) {
  if (options_.condition_dim <= 0) return;
  if (options_.injection != "add" && options_.injection != "film")
    throw std::invalid_argument("injection must be add or film, not '" + options_.injection + "'");
  condition_embed = register_module("condition_embed", torch::nn::Linear(options_.condition_dim, width));
  for (int64_t b = 0; b < blocks; ++b)
    injections_.push_back(register_module("inject" + std::to_string(b),
                                          ConditionInjection(width, width, options_.injection == "film")));
}

at::Tensor NeuralSolverBase::embed_condition(const at::Tensor& condition) {
  if (!condition_embed) return {};
  if (!condition.defined() || condition.dim() != 2 || condition.size(1) != options_.condition_dim)
    throw std::invalid_argument("this solver is conditioned on a vector of " +
                                std::to_string(options_.condition_dim) + " numbers per sample");
  return F::gelu(condition_embed->forward(condition));
}

at::Tensor NeuralSolverBase::inject(size_t block, const at::Tensor& h, const at::Tensor& e) {
  return e.defined() ? injections_[block]->forward(h, e) : h;
}

at::Tensor NeuralSolverBase::point_features(const at::Tensor& u, const at::Tensor& grid) {
  const int64_t B = u.size(0), nx = u.size(2);
  return at::cat({u.transpose(1, 2), grid.view({B, 1, 2}).expand({B, nx, 2})}, 2);
}

namespace {
void check_shapes(const NeuralSolverOptions& o, const at::Tensor& u, const at::Tensor& grid) {
  if (u.dim() != 3 || u.size(1) != o.time_history)
    throw std::invalid_argument("the solver expects windows (B, " + std::to_string(o.time_history) + ", nx)");
  if (grid.dim() != 2 || grid.size(0) != u.size(0) || grid.size(1) != 2)
    throw std::invalid_argument("the solver expects the grid as (B, 2): log dx and log dt");
}
}  // namespace

// ------------------------------------------------------------------ CNN

CnnSolverImpl::CnnSolverImpl(const NeuralSolverOptions& o) : NeuralSolverBase(o) {
  using namespace torch::nn;
  if (options_.width <= 0) options_.width = 128;
  const int64_t w = options_.width;
  lift = register_module("lift", Linear(options_.time_history + 2, w));
  // Growing receptive field: 1 + 2 + 4 + 4 + 6 + 6 + 8 + 8 + 14 = 53 points after the eight layers.
  const int64_t kernels[8] = {3, 5, 5, 7, 7, 9, 9, 15};
  for (int i = 0; i < 8; ++i) {
    auto c = Conv1d(Conv1dOptions(w, w, kernels[i]).padding(kernels[i] / 2).padding_mode(torch::kCircular));
    torch::nn::init::xavier_uniform_(c->weight);
    convs_.push_back(register_module("conv" + std::to_string(i), c));
  }
  head1 = register_module("head1", Linear(w, 128));
  head2 = register_module("head2", Linear(128, options_.time_future));
  make_conditioning(8, w);
}

at::Tensor CnnSolverImpl::forward(const at::Tensor& u, const at::Tensor& grid, const at::Tensor& condition) {
  check_shapes(options_, u, grid);
  auto e = embed_condition(condition);
  auto x = lift(point_features(u, grid)).transpose(1, 2);  // (B, w, nx)
  for (size_t i = 0; i < convs_.size(); ++i) x = F::elu(x + inject(i, convs_[i](x), e));
  x = F::elu(head1(x.transpose(1, 2)));
  return head2(x).transpose(1, 2);  // (B, tf, nx)
}

// ------------------------------------------------------------------ ResNet

ResNetSolverImpl::ResNetSolverImpl(const NeuralSolverOptions& o) : NeuralSolverBase(o) {
  using namespace torch::nn;
  if (options_.width <= 0) options_.width = 256;
  if (options_.resnet_blocks < 1) throw std::invalid_argument("resnet_blocks must be at least 1");
  const int64_t w = options_.width;
  lift = register_module("lift", Conv1d(Conv1dOptions(options_.time_history + 2, w, 1)));
  for (int64_t b = 0; b < 4 * options_.resnet_blocks; ++b) {
    Block k;
    const std::string n = "block" + std::to_string(b);
    auto conv = [&] { return Conv1d(Conv1dOptions(w, w, 3).padding(1).padding_mode(torch::kCircular).bias(false)); };
    k.conv1 = register_module(n + "_conv1", conv());
    k.bn1 = register_module(n + "_bn1", jess::nn::BatchNorm(w));
    k.conv2 = register_module(n + "_conv2", conv());
    k.bn2 = register_module(n + "_bn2", jess::nn::BatchNorm(w));
    blocks_.push_back(k);
  }
  head = register_module("head", Linear(w, options_.time_future));
  make_conditioning(int64_t(blocks_.size()), w);
}

at::Tensor ResNetSolverImpl::forward(const at::Tensor& u, const at::Tensor& grid, const at::Tensor& condition) {
  check_shapes(options_, u, grid);
  auto e = embed_condition(condition);
  auto x = F::gelu(lift(point_features(u, grid).transpose(1, 2)));
  for (size_t i = 0; i < blocks_.size(); ++i) {
    auto& k = blocks_[i];
    auto h = torch::relu(k.bn1(k.conv1(x)));
    h = k.bn2(k.conv2(h));
    x = torch::relu(x + inject(i, h, e));
  }
  return head(x.transpose(1, 2)).transpose(1, 2);
}

std::shared_ptr<NeuralSolverBase> make_neural_solver(const NeuralSolverOptions& o) {
  if (o.time_history < 1 || o.time_future < 1) throw std::invalid_argument("time_history and time_future must be positive");
  if (o.arch == "cnn") return std::make_shared<CnnSolverImpl>(o);
  if (o.arch == "resnet") return std::make_shared<ResNetSolverImpl>(o);
  throw std::invalid_argument("unknown solver architecture '" + o.arch + "' (cnn, resnet)");
}

}  // namespace jess::pde
