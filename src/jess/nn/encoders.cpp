#include "jess/nn/encoders.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/functional.h>

#include <sstream>
#include <stdexcept>

namespace jess::nn {

namespace F = torch::nn::functional;

namespace {
// torchvision's ResNet initialisation: convolutions ~ Kaiming normal (fan_out, ReLU gain), BN
// weight 1, bias 0.
void init_conv(const at::Tensor& w) {
  torch::NoGradGuard g;
  torch::nn::init::kaiming_normal_(w, 0, torch::kFanOut, torch::kReLU);
}
}  // namespace

BasicBlock1dImpl::BasicBlock1dImpl(int64_t in, int64_t out, int64_t stride, int64_t kernel) {
  using namespace torch::nn;
  conv1 = register_module("conv1", Conv1d(Conv1dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false)));
  bn1 = register_module("bn1", BatchNorm(out));
  conv2 = register_module("conv2", Conv1d(Conv1dOptions(out, out, kernel).padding(kernel / 2).bias(false)));
  bn2 = register_module("bn2", BatchNorm(out));
  init_conv(conv1->weight);
  init_conv(conv2->weight);
  if (stride != 1 || in != out) {
    down_conv = register_module("down_conv", Conv1d(Conv1dOptions(in, out, 1).stride(stride).bias(false)));
    down_bn = register_module("down_bn", BatchNorm(out));
    init_conv(down_conv->weight);
  }
}

at::Tensor BasicBlock1dImpl::forward(const at::Tensor& x) {
  auto y = torch::relu(bn1(conv1(x)));
  y = bn2(conv2(y));
  return torch::relu(y + (down_conv ? down_bn(down_conv(x)) : x));
}

ResNet1dImpl::ResNet1dImpl(const ResNet1dOptions& o) {
  using namespace torch::nn;
  if (o.in_channels < 1 || o.width < 1 || o.stages < 1 || o.blocks_per_stage < 1 || o.kernel < 1 || o.kernel % 2 == 0 ||
      o.stem_kernel < 1 || o.stem_kernel % 2 == 0)
    throw std::invalid_argument("ResNet1d: channels, width, stages and blocks must be positive and kernels odd");
  stem = register_module("stem", Conv1d(Conv1dOptions(o.in_channels, o.width, o.stem_kernel)
                                             .stride(2).padding(o.stem_kernel / 2).bias(false)));
  stem_bn = register_module("stem_bn", BatchNorm(o.width));
  init_conv(stem->weight);
  int64_t in = o.width;
  for (int64_t s = 0; s < o.stages; ++s) {
    const int64_t out = o.width * (int64_t(1) << std::min<int64_t>(s, 2));
    Sequential stage;
    for (int64_t b = 0; b < o.blocks_per_stage; ++b) {
      stage->push_back(BasicBlock1d(in, out, b == 0 && s > 0 ? 2 : 1, o.kernel));
      in = out;
    }
    stages_.push_back(register_module("stage" + std::to_string(s + 1), stage));
  }
  output_dim_ = in;
}

at::Tensor ResNet1dImpl::forward(const at::Tensor& x) {
  auto h = torch::relu(stem_bn(stem(x)));
  for (auto& s : stages_) h = s->forward(h);
  return h.mean(-1);
}

NamedOutputs ResNet1dImpl::forward_blocks(const at::Tensor& x) {
  NamedOutputs out;
  auto h = torch::relu(stem_bn(stem(x)));
  out.emplace_back("stem", h.mean(-1));
  for (size_t s = 0; s < stages_.size(); ++s) {
    h = stages_[s]->forward(h);
    out.emplace_back("stage" + std::to_string(s + 1), h.mean(-1));
  }
  return out;
}

BasicBlock2dImpl::BasicBlock2dImpl(int64_t in, int64_t out, int64_t stride) {
  using namespace torch::nn;
  conv1 = register_module("conv1", Conv2d(Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
  bn1 = register_module("bn1", BatchNorm(out));
  conv2 = register_module("conv2", Conv2d(Conv2dOptions(out, out, 3).padding(1).bias(false)));
  bn2 = register_module("bn2", BatchNorm(out));
  init_conv(conv1->weight);
  init_conv(conv2->weight);
  if (stride != 1 || in != out) {
    down_conv = register_module("down_conv", Conv2d(Conv2dOptions(in, out, 1).stride(stride).bias(false)));
    down_bn = register_module("down_bn", BatchNorm(out));
    init_conv(down_conv->weight);
  }
}

at::Tensor BasicBlock2dImpl::forward(const at::Tensor& x) {
  auto y = torch::relu(bn1(conv1(x)));
  y = bn2(conv2(y));
  return torch::relu(y + (down_conv ? down_bn(down_conv(x)) : x));
}

ResNet18Impl::ResNet18Impl(const ResNet18Options& o) {
  using namespace torch::nn;
  if (o.in_channels < 1) throw std::invalid_argument("ResNet18: in_channels must be positive");
  if (o.width < 1) throw std::invalid_argument("ResNet18: width must be positive");
  if (o.stages < 1 || o.stages > 4 || o.blocks < 1) throw std::invalid_argument("ResNet18: 1-4 stages of at least one block");
  width_ = o.width;
  cifar_stem_ = o.cifar_stem;
  const int64_t w = o.width;
  conv1 = register_module("conv1", cifar_stem_ ? Conv2d(Conv2dOptions(o.in_channels, w, 3).stride(1).padding(1).bias(false))
                                               : Conv2d(Conv2dOptions(o.in_channels, w, 7).stride(2).padding(3).bias(false)));
  bn1 = register_module("bn1", BatchNorm(w));
  init_conv(conv1->weight);
  int64_t in = w;
  const int64_t widths[4] = {w, 2 * w, 4 * w, 8 * w};
  for (int s = 0; s < o.stages; ++s) {
    Sequential layer;
    layer->push_back(BasicBlock2d(in, widths[s], s == 0 ? 1 : 2));
    for (int64_t b = 1; b < o.blocks; ++b) layer->push_back(BasicBlock2d(widths[s], widths[s], 1));
    in = widths[s];
    layers_.push_back(register_module("layer" + std::to_string(s + 1), layer));
  }
}

at::Tensor ResNet18Impl::stem(const at::Tensor& x) {
  auto h = torch::relu(bn1(conv1(in_weight_layout(x, conv1->weight))));
  return cifar_stem_ ? h : F::max_pool2d(h, F::MaxPool2dFuncOptions(3).stride(2).padding(1));
}

at::Tensor ResNet18Impl::forward(const at::Tensor& x) {
  auto h = stem(x);
  for (auto& l : layers_) h = l->forward(h);
  return h.mean({-2, -1});
}

NamedOutputs ResNet18Impl::forward_blocks(const at::Tensor& x) {
  NamedOutputs out;
  auto h = stem(x);
  out.emplace_back("stem", h.mean({-2, -1}));
  for (size_t s = 0; s < layers_.size(); ++s) {
    h = layers_[s]->forward(h);
    out.emplace_back("layer" + std::to_string(s + 1), h.mean({-2, -1}));
  }
  return out;
}

ConvNet2dImpl::ConvNet2dImpl(const ConvNet2dOptions& o) {
  using namespace torch::nn;
  if (o.in_channels < 1 || o.width < 1 || o.stages < 1)
    throw std::invalid_argument("ConvNet2d: channels, width and stages must be positive");
  int64_t in = o.in_channels, w = o.width;
  for (int64_t s = 0; s < o.stages; ++s) {
    Sequential stage;
    Conv2d down(Conv2dOptions(in, w, 3).stride(2).padding(1).bias(false));
    init_conv(down->weight);
    stage->push_back(down);
    stage->push_back(BatchNorm(w));
    stage->push_back(Functional(torch::relu));
    stage->push_back(BasicBlock2d(w, w, 1));
    stages_.push_back(register_module("stage" + std::to_string(s + 1), stage));
    in = w;
    if (s + 1 < std::min<int64_t>(o.stages, 3)) w *= 2;
  }
  output_dim_ = in;
}

namespace {
// The input in the layout of the first stage's strided convolution (in_weight_layout).
at::Tensor convnet_input(const at::Tensor& x, const std::vector<torch::nn::Sequential>& stages) {
  return in_weight_layout(x, stages.front()->ptr<torch::nn::Conv2dImpl>(0)->weight);
}
}  // namespace

at::Tensor ConvNet2dImpl::forward(const at::Tensor& x) {
  auto h = convnet_input(x, stages_);
  for (auto& s : stages_) h = s->forward(h);
  return h.mean({-2, -1});
}

NamedOutputs ConvNet2dImpl::forward_blocks(const at::Tensor& x) {
  NamedOutputs out;
  auto h = convnet_input(x, stages_);
  for (size_t s = 0; s < stages_.size(); ++s) {
    h = stages_[s]->forward(h);
    out.emplace_back("stage" + std::to_string(s + 1), h.mean({-2, -1}));
  }
  return out;
}

std::shared_ptr<EncoderBase> make_encoder(const EncoderOptions& o) {
  if (o.arch == "cnn2d") {
    ConvNet2dOptions r;
    r.in_channels = o.in_channels;
    r.width = o.width;
    return ConvNet2d(r).ptr();
  }
  if (o.arch == "resnet1d") {
    ResNet1dOptions r;
    r.in_channels = o.in_channels;
    r.width = o.width;
    r.blocks_per_stage = o.blocks_per_stage;
    return ResNet1d(r).ptr();
  }
  if (o.arch == "resnet18" || o.arch == "resnet18_cifar" || o.arch == "resnet_small") {
    ResNet18Options r;
    r.in_channels = o.in_channels;
    if (o.arch != "resnet18") r.cifar_stem = true, r.width = o.width;
    if (o.arch == "resnet_small") r.stages = 3, r.blocks = 1;
    return ResNet18(r).ptr();
  }
  throw std::invalid_argument("unknown encoder architecture '" + o.arch +
                              "' (resnet1d, cnn2d, resnet18, resnet18_cifar, resnet_small)");
}

std::vector<int64_t> parse_layer_sizes(const std::string& text) {
  std::vector<int64_t> sizes;
  if (text.empty() || text == "none") return sizes;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, '-')) {
    size_t used = 0;
    int64_t v = -1;
    try {
      v = std::stoll(part, &used);
    } catch (...) {
    }
    if (used != part.size() || v < 1)
      throw std::invalid_argument("layer sizes '" + text + "': expected positive integers joined by '-', e.g. 512-512-512");
    sizes.push_back(v);
  }
  return sizes;
}

ProjectorImpl::ProjectorImpl(const ProjectorOptions& o) {
  using namespace torch::nn;
  int64_t in = o.input_dim;
  for (size_t i = 0; i < o.sizes.size(); ++i) {
    Sequential block;
    const bool last = i + 1 == o.sizes.size();
    block->push_back(Linear(LinearOptions(in, o.sizes[i]).bias(!last)));
    if (!last) {
      block->push_back(BatchNorm(o.sizes[i]));
      block->push_back(ReLU());
    }
    blocks_.push_back(register_module("block" + std::to_string(i + 1), block));
    in = o.sizes[i];
  }
  output_dim_ = in;
}

at::Tensor ProjectorImpl::forward(const at::Tensor& x) {
  auto h = x;
  for (auto& b : blocks_) h = b->forward(h);
  return h;
}

NamedOutputs ProjectorImpl::forward_layers(const at::Tensor& x) {
  NamedOutputs out;
  auto h = x;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    h = blocks_[i]->forward(h);
    out.emplace_back("projector" + std::to_string(i + 1), h);
  }
  return out;
}

std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> split_decay_parameters(const torch::nn::Module& m) {
  std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> out;
  for (const auto& p : m.parameters(true)) (p.dim() > 1 ? out.first : out.second).push_back(p);
  return out;
}

at::Tensor in_weight_layout(const at::Tensor& x, const at::Tensor& weight) {
  constexpr auto nhwc = at::MemoryFormat::ChannelsLast;
  if (x.dim() != 4 || weight.dim() != 4 || weight.suggest_memory_format() != nhwc || x.suggest_memory_format() == nhwc)
    return x;
  // Not contiguous(nhwc): it returns a one-channel NCHW batch unchanged (that is NHWC-contiguous too), strides and all.
  return at::empty(x.sizes(), x.options().memory_format(nhwc)).copy_(x);
}

void to_channels_last(torch::nn::Module& m) {
  torch::NoGradGuard ng;
  for (auto& p : m.parameters(true))
    // Allocated NHWC rather than contiguous(ChannelsLast), which keeps the NCHW strides of a one-channel or 1x1
    // kernel (they are both layouts at once): their strides then say NHWC too, so the convolutions, and
    // in_weight_layout, see every weight as channels-last.
    if (p.dim() == 4) p.set_data(at::empty(p.sizes(), p.options().memory_format(at::MemoryFormat::ChannelsLast)).copy_(p.data()));
}

}  // namespace jess::nn
