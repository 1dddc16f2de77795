#include "jess/pde/ssl_model.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <memory>
#include <sstream>

#include "jess/core/config.h"
#include "jess/core/device.h"
#include "jess/core/files.h"
#include "jess/core/hdf5_file.h"
#include "jess/core/rng.h"
#include "jess/eval/probes.h"
#include "jess/eval/rankme.h"

namespace jess::pde {

void EncoderConfig::describe(ConfigSchema& s, const std::string& p) {
  s.add(p + "arch", arch,
        "resnet1d (compact 1-D ResNet, time steps as channels) | cnn2d (small 2-D CNN over (t, x)) | resnet18 (the paper's)",
        check::one_of({"resnet1d", "cnn2d", "resnet18"}));
  s.add(p + "width", width, "channels of the first stage (resnet1d: w, 2w, 4w, 4w; cnn2d: w, 2w, 4w)",
        check::positive_int());
  s.add(p + "blocks", blocks, "resnet1d: residual blocks per stage", check::positive_int());
}

namespace detail {

// Dataset statistics for input normalisation. Grid spacings vary only by the L/T jitter (and the
// scaling symmetry), so their log is centred and divided by max(std, 0.05); without grid channels the
// scales are infinite, which zeroes those channels.
InputStats compute_stats(const GridBatch& b, bool grid_channels) {
  InputStats s;
  auto u = b.u.to(at::kDouble);
  s.u_mean = u.mean().item<double>();
  s.u_std = std::max(1e-12, u.std().item<double>());
  auto ldx = b.dx.log(), ldt = b.dt.log();
  s.ldx_mean = ldx.mean().item<double>();
  s.ldt_mean = ldt.mean().item<double>();
  s.ldx_scale = std::max(0.05, b.dx.numel() > 1 ? ldx.std().item<double>() : 0.0);
  s.ldt_scale = std::max(0.05, b.dt.numel() > 1 ? ldt.std().item<double>() : 0.0);
  if (!grid_channels) s.ldx_scale = s.ldt_scale = INFINITY;
  return s;
}

int64_t input_channels(const std::string& arch, int64_t crop_t) { return arch == "resnet1d" ? crop_t + 2 : 3; }

at::Tensor encoder_input(const std::string& arch, const at::Tensor& u, const at::Tensor& dx, const at::Tensor& dt,
                         const InputStats& s, at::Device device) {
  const int64_t B = u.size(0), ct = u.size(1), cx = u.size(2);
  auto z = (u.to(device, at::kFloat) - s.u_mean) / s.u_std;
  auto ldx = ((dx.to(at::kDouble).log() - s.ldx_mean) / s.ldx_scale).to(device, at::kFloat);
  auto ldt = ((dt.to(at::kDouble).log() - s.ldt_mean) / s.ldt_scale).to(device, at::kFloat);
  if (arch == "resnet1d")
    return at::cat({z, ldx.view({B, 1, 1}).expand({B, 1, cx}), ldt.view({B, 1, 1}).expand({B, 1, cx})}, 1);
  return at::cat({z.unsqueeze(1), ldx.view({B, 1, 1, 1}).expand({B, 1, ct, cx}),
                  ldt.view({B, 1, 1, 1}).expand({B, 1, ct, cx})},
                 1);
}

double rankme_of(const at::Tensor& z) {
  auto d = z.to(at::kCPU, at::kDouble).contiguous();
  return eval::rankme(eval::spectrum_from_rows(d.data_ptr<double>(), d.size(0), d.size(1)).singular_values);
}

// Integer crops (no interpolation, no symmetry) at seeded positions: crop k of trajectory i starts at
// Rng(seed, 0xC209, i * crops + k): the crops evaluation view.
at::Tensor crops_of(const GridBatch& b, int64_t first, int64_t count, int64_t k, int64_t crops, int64_t ct, int64_t cx,
                    uint64_t seed) {
  const int64_t nt = b.u.size(1), nx = b.u.size(2);
  std::vector<at::Tensor> rows;
  rows.reserve(size_t(count));
  for (int64_t i = first; i < first + count; ++i) {
    Rng r(seed, 0xC209ull, uint64_t(i * crops + k));
    const int64_t t0 = r.integer(0, nt - ct), x0 = r.integer(0, nx - cx);
    rows.push_back(b.u[i].narrow(0, t0, ct).narrow(1, x0, cx));
  }
  return at::stack(rows);
}

void check_crop_fits(const GridBatch& b, int64_t ct, int64_t cx, const std::string& what) {
  if (ct > b.u.size(1) || cx > b.u.size(2))
    throw std::invalid_argument(what + ": crops of " + std::to_string(ct) + " x " + std::to_string(cx) +
                                " do not fit in trajectories of " + std::to_string(b.u.size(1)) + " x " +
                                std::to_string(b.u.size(2)) + " (lower augment.crop_t / crop_x)");
}

GridBatch head(const GridBatch& b, int64_t n) {
  n = std::min<int64_t>(n, b.u.size(0));
  return {b.u.narrow(0, 0, n), b.dx.narrow(0, 0, n), b.dt.narrow(0, 0, n), b.nu.narrow(0, 0, n)};
}
GridBatch rows_of(const GridBatch& b, int64_t first, int64_t n) {
  return {b.u.narrow(0, first, n), b.dx.narrow(0, first, n), b.dt.narrow(0, first, n), b.nu.narrow(0, first, n)};
}

// Frozen features: the encoder output (or a named block's output), averaged over the view's passes.
at::Tensor features(nn::EncoderBase& enc, const std::string& arch, const InputStats& stats, const GridBatch& b,
                    const EvalView& view, const std::string& layer) {
  torch::NoGradGuard ng;
  enc.eval();
  const at::Device device = enc.parameters().front().device();
  const int64_t n = b.u.size(0);
  at::Tensor out;
  for (int64_t first = 0; first < n; first += 256) {
    const int64_t m = std::min<int64_t>(256, n - first);
    at::Tensor acc;
    for (int64_t k = 0; k < view.passes(); ++k) {
      auto x = encoder_input(arch, view.input(b, first, m, k), b.dx.narrow(0, first, m), b.dt.narrow(0, first, m), stats,
                             device);
      at::Tensor f;
      if (layer.empty()) {
        f = enc.forward(x);
      } else {
        for (auto& kv : enc.forward_blocks(x))
          if (kv.first == layer) f = kv.second;
        if (!f.defined()) {
          std::string names;
          for (auto& kv : enc.forward_blocks(x.narrow(0, 0, 1))) names += (names.empty() ? "" : ", ") + kv.first;
          throw std::invalid_argument("no encoder block named '" + layer + "' (blocks: " + names + ")");
        }
      }
      acc = acc.defined() ? acc + f : f;
    }
    acc = (acc / double(view.passes())).to(at::kCPU);
    if (!out.defined()) out = at::empty({n, acc.size(1)}, at::kFloat);
    out.narrow(0, first, m).copy_(acc);
  }
  return out;
}

LoadedEncoder load_encoder(const std::string& path, at::Device device) {
  auto c = train::load_checkpoint(path);
  LoadedEncoder le;
  ConfigSchema s;
  le.config.describe(s);
  s.load_stored_yaml(c.config, path + " (stored configuration)");
  le.config.augment.equation = le.config.equation;
  le.config.augment.resolve();
  le.model = SslModel(le.config.encoder, input_channels(le.config.encoder.arch, le.config.augment.crop_t),
                      le.config.projector);
  train::load_state_dict(*le.model, c.model, path);
  auto it = c.extra.find("input_stats");
  if (it == c.extra.end()) throw std::invalid_argument(path + ": no input_stats in the checkpoint (not a pretraining run?)");
  le.stats = InputStats::from(it->second);
  le.model->to(device);
  le.model->eval();
  return le;
}

std::unique_ptr<PdeViewLoader> loader_at(const GridBatch& data, Equation eq, const AugmentOptions& augment,
                                         int64_t batch, uint64_t seed, int64_t epoch, int64_t step, bool single_view,
                                         int64_t shard_begin, int64_t shard_size, int64_t prefetch) {
  ViewLoaderOptions lo;
  lo.prefetch = prefetch;
  lo.augment = augment;
  lo.batch = batch;
  lo.seed = seed;
  lo.start_epoch = epoch;
  lo.start_step = step;
  lo.single_view = single_view;
  lo.shard_begin = shard_begin;
  lo.shard_size = shard_size;
  return std::make_unique<PdeViewLoader>(data, eq, lo);
}

double r2_of(const at::Tensor& pred, const at::Tensor& y) {
  auto p = pred.to(at::kDouble), t = y.to(at::kDouble);
  return 1.0 - ((p - t).pow(2).sum() / (t - t.mean(0, true)).pow(2).sum()).item<double>();
}

// The SSL probe's protocol: standardised features, ridge with alpha by 5-fold CV on the labelled set.
at::Tensor ridge_predict(const at::Tensor& ftr, const at::Tensor& ytr, const at::Tensor& fte, uint64_t seed) {
  auto a = ftr.to(at::kDouble), b = fte.to(at::kDouble);
  auto mu = a.mean(0, true), sd = a.std(0, true, true).clamp_min(1e-8);
  a = (a - mu) / sd;
  b = (b - mu) / sd;
  eval::RidgeOptions ro;
  ro.seed = seed;
  ro.alphas = {1e-4, 1e-3, 1e-2, 1e-1, 1, 3, 10, 30, 100, 300, 1000, 3000, 1e4};
  auto res = eval::ridge_probe(a, ytr, b, at::zeros({b.size(0), ytr.size(1)}, at::kDouble), ro);
  return b.mm(res.weight) + res.bias;
}

RegressRow summarise(std::string name, std::vector<double> v, std::vector<double> r2) {
  RegressRow row;
  row.name = std::move(name);
  row.values = std::move(v);
  row.r2 = std::move(r2);
  double m = 0;
  for (double x : row.values) m += x;
  m /= double(row.values.size());
  double var = 0;
  for (double x : row.values) var += (x - m) * (x - m);
  row.mean = m;
  row.std = row.values.size() > 1 ? std::sqrt(var / double(row.values.size() - 1)) : 0.0;
  return row;
}

}  // namespace detail

using namespace detail;

// ------------------------------------------------------------------ frozen encoder

struct FrozenEncoder::State {
  LoadedEncoder le;
  at::Device device = at::kCPU;
};

FrozenEncoder::FrozenEncoder(const std::string& checkpoint, const std::string& device) : state_(new State) {
  state_->device = pick_device(device);
  state_->le = load_encoder(checkpoint, state_->device);
}
FrozenEncoder::~FrozenEncoder() = default;
int64_t FrozenEncoder::dim() const { return state_->le.model->encoder->output_dim(); }
int64_t FrozenEncoder::crop_t() const { return state_->le.config.augment.crop_t; }
const std::string& FrozenEncoder::equation() const { return state_->le.config.equation; }
const std::string& FrozenEncoder::arch() const { return state_->le.config.encoder.arch; }

at::Tensor FrozenEncoder::operator()(const at::Tensor& window, const at::Tensor& dx, const at::Tensor& dt) {
  const auto& arch = state_->le.config.encoder.arch;
  at::Tensor u = window;
  if (arch == "resnet1d") {
    const int64_t ct = crop_t();
    if (u.size(1) < ct)
      throw std::invalid_argument("the encoder was pretrained on crops of " + std::to_string(ct) +
                                  " time steps, but the window has " + std::to_string(u.size(1)) +
                                  " (pretrain with augment.crop_t at most the solver's time_history)");
    u = u.narrow(1, u.size(1) - ct, ct);
  }
  torch::NoGradGuard ng;
  state_->le.model->eval();
  auto x = encoder_input(arch, u, dx, dt, state_->le.stats, state_->device);
  return state_->le.model->encoder->forward(x).to(at::kCPU, at::kFloat);
}

}  // namespace jess::pde
