#pragma once
// Encoders and projectors for joint-embedding SSL (PyTorch C++ frontend idiom: FooImpl + TORCH_MODULE).
//  * ResNet1d: the compact CPU encoder. A 1-D ResNet over one spatial axis whose input channels are
//    whatever the domain stacks there (for PDE views: the crop's time steps plus grid-metadata
//    channels). Stem conv (stride 2) -> stages of BasicBlocks (widths w, 2w, 4w, 4w; stride 2 from
//    the second stage) -> global average pool.
//  * ResNet18: torchvision's ResNet-18 (He et al. 2016) with a configurable number of input channels
//    and fc = identity, giving the 512-d representation of the SSL-for-PDEs reference.
//  * ConvNet2d: a small 2-D CNN over a (t, x) image: stages of [stride-2 3x3 conv, BN, ReLU, one
//    BasicBlock] with widths w, 2w, 4w, global average pool -> 4w. Local in time and space, so a
//    pattern that drifts across the window (advection, a Galilean boost) stays a local feature, which
//    a time-as-channels 1-D encoder cannot represent (docs/pde.md, "What limited the PDE results").
//  * Projector: Linear-BN-ReLU blocks and a final Linear without bias (VICReg's "8192-8192-8192",
//    the PDE reference's "512-512-512").
// Every encoder can also return the output of each named block (Guillotine layer sweeps).
// This header pulls in the torch frontend: include it only from heavy translation units.
#include <torch/nn/module.h>
#include "jess/nn/batch_norm.h"
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace jess::nn {

using NamedOutputs = std::vector<std::pair<std::string, at::Tensor>>;

// The common interface of encoders, so configurations can choose one by name.
class EncoderBase : public torch::nn::Module {
 public:
  virtual at::Tensor forward(const at::Tensor& x) = 0;  // (B, C, ...) -> (B, output_dim)
  // The pooled output of every block, shallow to deep; the last entry equals forward(x).
  virtual NamedOutputs forward_blocks(const at::Tensor& x) = 0;
  virtual int64_t output_dim() const = 0;
};

struct ResNet1dOptions {
  int64_t in_channels = 1;
  int64_t width = 32;            // channels of the first stage; stages use w, 2w, 4w, 4w
  int64_t stages = 4;
  int64_t blocks_per_stage = 1;
  int64_t stem_kernel = 5;
  int64_t kernel = 3;
};

class BasicBlock1dImpl : public torch::nn::Module {
 public:
  BasicBlock1dImpl(int64_t in, int64_t out, int64_t stride, int64_t kernel);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Conv1d conv1{nullptr}, conv2{nullptr}, down_conv{nullptr};
  BatchNorm bn1{nullptr}, bn2{nullptr}, down_bn{nullptr};
};
TORCH_MODULE(BasicBlock1d);

class ResNet1dImpl : public EncoderBase {
 public:
  explicit ResNet1dImpl(const ResNet1dOptions& options);
  at::Tensor forward(const at::Tensor& x) override;
  NamedOutputs forward_blocks(const at::Tensor& x) override;
  int64_t output_dim() const override { return output_dim_; }

 private:
  torch::nn::Conv1d stem{nullptr};
  BatchNorm stem_bn{nullptr};
  std::vector<torch::nn::Sequential> stages_;
  int64_t output_dim_ = 0;
};
TORCH_MODULE(ResNet1d);

struct ResNet18Options {
  int64_t in_channels = 3;
  bool cifar_stem = false;  // 3x3 stride-1 stem without max-pool (CIFAR / 28x28 images)
  int64_t width = 64;       // first stage; stages w, 2w, 4w, 8w (output 8w)
  int64_t stages = 4;       // ResNet-18: 4 stages of 2 BasicBlocks; resnet_small: 3 stages of 1 (output 4w)
  int64_t blocks = 2;       // BasicBlocks per stage
};

class BasicBlock2dImpl : public torch::nn::Module {
 public:
  BasicBlock2dImpl(int64_t in, int64_t out, int64_t stride);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, down_conv{nullptr};
  BatchNorm bn1{nullptr}, bn2{nullptr}, down_bn{nullptr};
};
TORCH_MODULE(BasicBlock2d);

class ResNet18Impl : public EncoderBase {
 public:
  explicit ResNet18Impl(const ResNet18Options& options);
  at::Tensor forward(const at::Tensor& x) override;
  NamedOutputs forward_blocks(const at::Tensor& x) override;
  int64_t output_dim() const override { return width_ << (layers_.size() - 1); }

 private:
  at::Tensor stem(const at::Tensor& x);
  torch::nn::Conv2d conv1{nullptr};
  BatchNorm bn1{nullptr};
  std::vector<torch::nn::Sequential> layers_;
  int64_t width_ = 64;
  bool cifar_stem_ = false;
};
TORCH_MODULE(ResNet18);

struct ConvNet2dOptions {
  int64_t in_channels = 1;
  int64_t width = 32;  // stages w, 2w, 4w (output 4w)
  int64_t stages = 3;
};

class ConvNet2dImpl : public EncoderBase {
 public:
  explicit ConvNet2dImpl(const ConvNet2dOptions& options);
  at::Tensor forward(const at::Tensor& x) override;
  NamedOutputs forward_blocks(const at::Tensor& x) override;
  int64_t output_dim() const override { return output_dim_; }

 private:
  std::vector<torch::nn::Sequential> stages_;
  int64_t output_dim_ = 0;
};
TORCH_MODULE(ConvNet2d);

// "resnet1d", "cnn2d" (ConvNet2d, width from `width`), "resnet18" (ImageNet stem, width 64), "resnet18_cifar" (3x3 stem, no max-pool, width
// from `width`), "resnet_small" (the CIFAR stem and three stages of one BasicBlock: w, 2w, 4w); `in_channels` from the domain's input
// layout.
struct EncoderOptions {
  std::string arch = "resnet1d";
  int64_t in_channels = 1;
  int64_t width = 32, blocks_per_stage = 1;
};
std::shared_ptr<EncoderBase> make_encoder(const EncoderOptions& options);

// Every 4-D parameter of `m` (2-D convolution weights) to the channels-last (NHWC) layout, in place (strides that
// say NHWC even where a tensor is both layouts: one input channel, 1x1 kernels). The
// convolutions then produce and take NHWC activations, which oneDNN runs without reordering to its blocked
// layout: the same results up to float rounding, measured 15-17 % faster per step for resnet_small and
// ResNet-18 at width 32 on CPU (3 % at width 8).
void to_channels_last(torch::nn::Module& m);

// `x` (N, C, H, W) in the memory layout of the convolution `weight` that takes it: channels-last strides when the
// weight has them, else `x` unchanged. A one-channel NCHW tensor is already NHWC-contiguous, so
// `contiguous(ChannelsLast)` returns it with its NCHW strides; oneDNN then writes the stem's output in NCHW and
// the first stage runs off the NHWC path (reorders, NCHW batch norm): measured 10-13 % of a resnet_small step
// on Fashion-MNIST. Here such a tensor is copied into NHWC strides (a few hundred KB a batch).
at::Tensor in_weight_layout(const at::Tensor& x, const at::Tensor& weight);

struct ProjectorOptions {
  int64_t input_dim = 512;
  std::vector<int64_t> sizes = {512, 512, 512};  // hidden..., output; empty: identity
};
// Parses "512-512-512" (empty or "none": identity).
std::vector<int64_t> parse_layer_sizes(const std::string& text);

class ProjectorImpl : public torch::nn::Module {
 public:
  explicit ProjectorImpl(const ProjectorOptions& options);
  at::Tensor forward(const at::Tensor& x);
  NamedOutputs forward_layers(const at::Tensor& x);  // after each Linear-BN-ReLU block and the output
  int64_t output_dim() const { return output_dim_; }

 private:
  std::vector<torch::nn::Sequential> blocks_;
  int64_t output_dim_ = 0;
};
TORCH_MODULE(Projector);

// Parameters that get weight decay (weights of convolutions and linear layers) and those that do not
// (biases and normalisation parameters, i.e. tensors of dimension <= 1), as the SSL recipes do.
std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> split_decay_parameters(const torch::nn::Module& module);

}  // namespace jess::nn
