#pragma once
// Neural PDE solvers for 1-D periodic equations (the reference time-steppers of Brandstetter et al.'s
// LPSDA, used by Mialon et al. 2023 §5.2): a window of `time_history` steps (B, th, nx) plus the grid
// (log dx, log dt, standardised) maps to the next `time_future` steps (B, tf, nx). Time is stacked in
// the channels; x stays at full resolution.
//  * CNN: per-point Linear(th + 2 -> w), 8 residual circular convolutions x = ELU(x + conv_k(x)) with
//    kernels 3, 5, 5, 7, 7, 9, 9, 15, then Linear(w -> 128), ELU, Linear(128 -> tf).
//  * ResNet: 1x1 Conv(th + 2 -> w), GELU, 4 stages of BasicBlocks at width w without down-sampling,
//    Linear(w -> tf). Here with circular padding (the reference pads with zeros; the domain is periodic).
// Conditioning (optional): a vector c (B, condition_dim) - a frozen SSL representation or the true
// coefficient - is embedded once, e = GELU(Linear(c)) (B, w), and injected into every residual block
// through its own Linear: additively (h + W_l e) or as FiLM (h * (1 + gamma_l(e)) + beta_l(e)). The
// per-block maps start at zero, so a conditioned solver starts as the unconditioned one.
// Heavy header (torch frontend): include it only from heavy translation units.
#include <torch/nn/module.h>
#include "jess/nn/batch_norm.h"
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <string>
#include <vector>

namespace jess::pde {

struct NeuralSolverOptions {
  std::string arch = "cnn";    // cnn | resnet
  int64_t time_history = 20, time_future = 20;
  int64_t width = 0;           // 0: the reference's (cnn 128, resnet 256)
  int64_t resnet_blocks = 2;   // BasicBlocks per stage (4 stages)
  int64_t condition_dim = 0;   // 0: unconditioned
  std::string injection = "add";  // add | film
};

// Maps the embedded condition into one block's features (B, w, nx) or (B, w, ny, nx): additive shift or FiLM.
class ConditionInjectionImpl : public torch::nn::Module {
 public:
  ConditionInjectionImpl(int64_t embed_dim, int64_t width, bool film);
  at::Tensor forward(const at::Tensor& h, const at::Tensor& e);  // e: (B, embed_dim)

 private:
  torch::nn::Linear map{nullptr};
  bool film_ = false;
};
TORCH_MODULE(ConditionInjection);

class NeuralSolverBase : public torch::nn::Module {
 public:
  // u: (B, th, nx) standardised; grid: (B, 2); condition: (B, condition_dim) or undefined.
  virtual at::Tensor forward(const at::Tensor& u, const at::Tensor& grid, const at::Tensor& condition) = 0;
  const NeuralSolverOptions& options() const { return options_; }

 protected:
  explicit NeuralSolverBase(NeuralSolverOptions o) : options_(std::move(o)) {}
  // Registers the condition embedding and one injection per block (none when condition_dim == 0).
  void make_conditioning(int64_t blocks, int64_t width);
  at::Tensor embed_condition(const at::Tensor& condition);  // undefined when unconditioned
  at::Tensor inject(size_t block, const at::Tensor& h, const at::Tensor& e);
  // (B, th, nx), (B, 2) -> (B, nx, th + 2): time and grid as per-point features.
  static at::Tensor point_features(const at::Tensor& u, const at::Tensor& grid);

  NeuralSolverOptions options_;
  torch::nn::Linear condition_embed{nullptr};
  std::vector<ConditionInjection> injections_;
};

class CnnSolverImpl : public NeuralSolverBase {
 public:
  explicit CnnSolverImpl(const NeuralSolverOptions& options);
  at::Tensor forward(const at::Tensor& u, const at::Tensor& grid, const at::Tensor& condition) override;

 private:
  torch::nn::Linear lift{nullptr}, head1{nullptr}, head2{nullptr};
  std::vector<torch::nn::Conv1d> convs_;
};
TORCH_MODULE(CnnSolver);

class ResNetSolverImpl : public NeuralSolverBase {
 public:
  explicit ResNetSolverImpl(const NeuralSolverOptions& options);
  at::Tensor forward(const at::Tensor& u, const at::Tensor& grid, const at::Tensor& condition) override;

 private:
  struct Block {
    torch::nn::Conv1d conv1{nullptr}, conv2{nullptr};
    jess::nn::BatchNorm bn1{nullptr}, bn2{nullptr};
  };
  torch::nn::Conv1d lift{nullptr};
  torch::nn::Linear head{nullptr};
  std::vector<Block> blocks_;
};
TORCH_MODULE(ResNetSolver);

std::shared_ptr<NeuralSolverBase> make_neural_solver(const NeuralSolverOptions& options);

}  // namespace jess::pde
