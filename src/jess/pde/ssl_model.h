#pragma once
// The PDE SSL model and what every PDE SSL job shares (internal to pde/; includes the torch frontend,
// so only the heavy translation units pretrain.cpp, regress.cpp and ssl_model.cpp include it): input
// normalisation and layout, the encoder + projector module, the evaluation views, frozen features and
// pretraining checkpoints read back into a model.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <memory>
#include <string>

#include "jess/nn/encoders.h"
#include "jess/pde/ssl.h"
#include "jess/pde/views.h"

namespace jess::pde::detail {

struct InputStats {
  double u_mean = 0, u_std = 1, ldx_mean = 0, ldx_scale = 1, ldt_mean = 0, ldt_scale = 1;
  at::Tensor tensor() const { return at::tensor({u_mean, u_std, ldx_mean, ldx_scale, ldt_mean, ldt_scale}, at::kDouble); }
  static InputStats from(const at::Tensor& t) {
    auto c = t.to(at::kDouble).contiguous();
    TORCH_CHECK(c.numel() == 6, "input_stats must hold 6 numbers");
    const double* p = c.data_ptr<double>();
    return {p[0], p[1], p[2], p[3], p[4], p[5]};
  }
};

// Dataset statistics for input normalisation. Grid spacings vary only by the L/T jitter (and the
// scaling symmetry), so their log is centred and divided by max(std, 0.05); without grid channels the
// scales are infinite, which zeroes those channels.
InputStats compute_stats(const GridBatch& b, bool grid_channels = true);

// The encoder's input layout: resnet1d reads the view's crop_t time steps as channels (+ 2 grid
// channels) over x; the 2-D encoders read a 3-channel (t, x) image (u, log dx, log dt).
int64_t input_channels(const std::string& arch, int64_t crop_t);
at::Tensor encoder_input(const std::string& arch, const at::Tensor& u, const at::Tensor& dx, const at::Tensor& dt,
                         const InputStats& s, at::Device device = at::kCPU);

class SslModelImpl : public torch::nn::Module {
 public:
  SslModelImpl(const EncoderConfig& e, int64_t in_channels, const std::string& projector_sizes) {
    nn::EncoderOptions eo;
    eo.arch = e.arch;
    eo.in_channels = in_channels;
    eo.width = e.width;
    eo.blocks_per_stage = e.blocks;
    encoder = register_module("encoder", nn::make_encoder(eo));
    nn::ProjectorOptions po;
    po.input_dim = encoder->output_dim();
    po.sizes = nn::parse_layer_sizes(projector_sizes);
    projector = register_module("projector", nn::Projector(po));
  }
  std::shared_ptr<nn::EncoderBase> encoder;
  nn::Projector projector{nullptr};
};
TORCH_MODULE(SslModel);

// The supervised baselines' network: the SSL model's encoder (its projector unused) + a linear head.
struct SupervisedNet : torch::nn::Module {
  SupervisedNet(SslModel m, int64_t out) {
    body = register_module("body", std::move(m));
    head = register_module("head", torch::nn::Linear(body->encoder->output_dim(), out));
  }
  SslModel body{nullptr};
  torch::nn::Linear head{nullptr};
};

// RankMe (Garrido et al. 2023) of the rows of z.
double rankme_of(const at::Tensor& z);

// Integer crops (no interpolation, no symmetry) at seeded positions: crop k of trajectory i starts at
// Rng(seed, 0xC209, i * crops + k): the crops evaluation view.
at::Tensor crops_of(const GridBatch& b, int64_t first, int64_t count, int64_t k, int64_t crops, int64_t ct, int64_t cx,
                    uint64_t seed);

// What the frozen encoder is shown at evaluation (regression, Guillotine, embed).
//  start: one view per trajectory, its first ct frames at the full width. The viscosity is read from
//         how fast each Fourier mode decays, which is clearest where every mode is still present (the
//         start of the trajectory, whose initial-condition law is known); the full width keeps every
//         wavelength of the periodic domain. The encoders are convolutional with global pooling, so
//         they read any width.
//         With shifts > 1 the features are averaged over that many equally spaced periodic shifts
//         u(x - k L / shifts), an exact symmetry of every equation here: the strided convolutions are
//         translation equivariant only up to their stride, so averaging removes the features'
//         dependence on where the pattern happens to sit (Burgers, 3 seeds: 2.12 -> 1.73 % at 8).
//  crops: the mean over `crops` crops of ct x cx at seeded random positions: features invariant to the
//         time origin (a different question: docs/pde.md).
struct EvalView {
  std::string kind = "start";
  int64_t crops = 1, ct = 0, cx = 0;
  uint64_t seed = 0x7E57ull;
  int64_t shifts = 1;  // start: features averaged over this many periodic shifts of the width
  int64_t passes() const { return kind == "start" ? shifts : crops; }
  at::Tensor input(const GridBatch& b, int64_t first, int64_t m, int64_t k) const {
    if (kind == "start") {
      auto v = b.u.narrow(0, first, m).narrow(1, 0, ct);
      return k == 0 ? v : v.roll({k * v.size(2) / shifts}, {2});
    }
    return crops_of(b, first, m, k, crops, ct, cx, seed);
  }
};

void check_crop_fits(const GridBatch& b, int64_t ct, int64_t cx, const std::string& what);

// The first n trajectories; n trajectories from `first`.
GridBatch head(const GridBatch& b, int64_t n);
GridBatch rows_of(const GridBatch& b, int64_t first, int64_t n);

// A view loader whose first batch is (epoch, step): how a task positions its data stream (resume).
std::unique_ptr<PdeViewLoader> loader_at(const GridBatch& data, Equation eq, const AugmentOptions& augment,
                                         int64_t batch, uint64_t seed, int64_t epoch, int64_t step, bool single_view,
                                         int64_t shard_begin = 0, int64_t shard_size = 0, int64_t prefetch = 2);

// Frozen features: the encoder output (or a named block's output), averaged over the view's passes.
at::Tensor features(nn::EncoderBase& enc, const std::string& arch, const InputStats& stats, const GridBatch& b,
                    const EvalView& view, const std::string& layer = "");

// A pretraining checkpoint read back into a model.
struct LoadedEncoder {
  PretrainOptions config;
  SslModel model{nullptr};
  InputStats stats;
};

LoadedEncoder load_encoder(const std::string& path, at::Device device = at::kCPU);

// R^2 of predictions (pooled over target columns, each centred by its mean).
double r2_of(const at::Tensor& pred, const at::Tensor& y);
// The SSL probe's protocol: standardised features, ridge with alpha by 5-fold CV on the labelled set;
// predictions for fte.
at::Tensor ridge_predict(const at::Tensor& ftr, const at::Tensor& ytr, const at::Tensor& fte, uint64_t seed);
// A table row: mean and sample std of the per-seed values.
RegressRow summarise(std::string name, std::vector<double> v, std::vector<double> r2);

}  // namespace jess::pde::detail
