#pragma once
// (internal) The trained network of jess equivariance train: backbone + method + online evaluator,
// with the input normalisation as buffers; and checkpoints read back. Heavy header.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <string>

#include "jess/equivariance/method.h"
#include "jess/equivariance/train.h"
#include "jess/nn/encoders.h"

namespace jess::equivariance {

class EquivariantModelImpl : public torch::nn::Module {
 public:
  EquivariantModelImpl(const EquivariantTrainOptions& o, int64_t classes);
  // uint8 images (B, 3, S, S) -> normalised float input on the model's device.
  at::Tensor input(const at::Tensor& images) const;
  at::Tensor represent(const at::Tensor& images) { return backbone->forward(input(images)); }
  // The online evaluator's loss on detached representations (classification of both views, rotation
  // regression from the pair), and its batch metrics.
  at::Tensor evaluator_loss(const at::Tensor& y1, const at::Tensor& y2, const at::Tensor& labels,
                            const at::Tensor& rotation, std::vector<std::pair<std::string, double>>& metrics);

  std::shared_ptr<nn::EncoderBase> backbone;
  std::shared_ptr<EquivariantMethod> method;
  torch::nn::Linear classifier{nullptr}, classifier_inv{nullptr};
  torch::nn::Sequential rotation{nullptr}, rotation_equi{nullptr};
  at::Tensor input_mean, input_std;  // (1, 3, 1, 1) buffers
  int64_t representation_dim = 0, invariant_dims = 0;
};
TORCH_MODULE(EquivariantModel);

// MLP 2D -> 2D -> 2D -> k with ReLUs: the reference's rotation regressor on concat(y1, y2).
torch::nn::Sequential pair_regressor(int64_t input_dim, int64_t outputs);

struct LoadedEquivariantModel {
  EquivariantTrainOptions config;
  EquivariantModel model{nullptr};
  std::string checkpoint;
};
// A checkpoint.pt of jess equivariance train (or its run directory); std::invalid_argument otherwise.
LoadedEquivariantModel load_equivariant_model(const std::string& path);

}  // namespace jess::equivariance
