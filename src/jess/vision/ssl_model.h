#pragma once
// (internal) The image SSL model of jess train — backbone, projector (+ predictor and EMA teacher), online
// probe — and its layer-wise features, shared by training (ssl.cpp) and evaluation (evaluate.cpp).
// Heavy header: include only from the package's translation units.
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include <memory>
#include <vector>

#include "jess/core/progress.h"
#include "jess/nn/encoders.h"
#include "jess/vision/ssl.h"

namespace jess::vision {

// An MLP: Linear-BN-ReLU for each hidden size, then Linear to `out`.
inline torch::nn::Sequential mlp(int64_t in, const std::vector<int64_t>& hidden, int64_t out) {
  torch::nn::Sequential m;
  for (int64_t h : hidden) {
    m->push_back(torch::nn::Linear(in, h));
    m->push_back(jess::nn::BatchNorm(h));
    m->push_back(torch::nn::ReLU());
    in = h;
  }
  m->push_back(torch::nn::Linear(in, out));
  return m;
}

class VisionSslModelImpl : public torch::nn::Module {
 public:
  VisionSslModelImpl(const VisionSslOptions& o, int64_t channels, int64_t classes) {
    nn::EncoderOptions eo;
    eo.arch = o.backbone;
    eo.in_channels = channels;
    eo.width = o.width;
    backbone = register_module("backbone", nn::make_encoder(eo));
    nn::ProjectorOptions po;
    po.input_dim = backbone->output_dim();
    po.sizes = nn::parse_layer_sizes(o.projector);
    projector = register_module("projector", nn::Projector(po));
    const int64_t z = projector->output_dim();
    if (o.method == "byol" || o.method == "simsiam")
      predictor = register_module("predictor", mlp(z, nn::parse_layer_sizes(o.predictor), z));
    probe = register_module("probe", torch::nn::Linear(backbone->output_dim(), classes));
    if (o.method == "byol") {
      // The teacher: a copy of backbone + projector updated by EMA, never by the optimiser.
      teacher_backbone = register_module("teacher_backbone", nn::make_encoder(eo));
      teacher_projector = register_module("teacher_projector", nn::Projector(po));
      copy_into_teacher(1.0);
      for (auto& p : teacher_backbone->parameters()) p.set_requires_grad(false);
      for (auto& p : teacher_projector->parameters()) p.set_requires_grad(false);
    }
    if (o.channels_last) nn::to_channels_last(*this);
  }
  // teacher <- m teacher + (1 - m) student (parameters and BN buffers; m = 1 - w for w = weight of the student)
  void copy_into_teacher(double student_weight) {
    torch::NoGradGuard ng;
    auto blend = [&](torch::nn::Module& t, torch::nn::Module& s) {
      auto tp = t.parameters(), sp = s.parameters();
      for (size_t i = 0; i < tp.size(); ++i) tp[i].mul_(1 - student_weight).add_(sp[i], student_weight);
      auto tb = t.buffers(), sb = s.buffers();
      for (size_t i = 0; i < tb.size(); ++i) tb[i].copy_(sb[i]);
    };
    blend(*teacher_backbone, *backbone);
    blend(*teacher_projector, *projector);
  }
  std::shared_ptr<nn::EncoderBase> backbone, teacher_backbone;
  nn::Projector projector{nullptr}, teacher_projector{nullptr};
  torch::nn::Sequential predictor{nullptr};
  torch::nn::Linear probe{nullptr};
};
TORCH_MODULE(VisionSslModel);

// Features of every layer for images (N, C, H, W) uint8, in blocks; (name, (N, D) float) shallow to deep.
nn::NamedOutputs layer_features(VisionSslModelImpl& model, const at::Tensor& images, double mean, double std_dev,
                                bool all_layers, at::Device device, Progress* bar);

}  // namespace jess::vision
