#include "jess/pde/ssl.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/utils.h>
#include <sys/stat.h>

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
#include "jess/nn/encoders.h"
#include "jess/pde/solvers.h"
#include "jess/pde/views.h"
#include "jess/ssl/loss.h"
#include "jess/ssl/vicreg.h"

namespace jess::pde {

// ------------------------------------------------------------------ configuration

void EncoderConfig::describe(ConfigSchema& s, const std::string& p) {
  s.add(p + "arch", arch, "resnet1d (compact 1-D ResNet, time steps as channels) | resnet18 (the paper's)",
        check::one_of({"resnet1d", "resnet18"}));
  s.add(p + "width", width, "resnet1d: channels of the first stage (stages: w, 2w, 4w, 4w)", check::positive_int());
  s.add(p + "blocks", blocks, "resnet1d: residual blocks per stage", check::positive_int());
}

PretrainOptions::PretrainOptions() {
  // The PDE reference's optimiser: AdamW, lr 3e-4, weight decay 1e-6, no schedule.
  train.epochs = 30;
  train.lr = 3e-4;
  train.weight_decay = 1e-6;
}

void PretrainOptions::describe(ConfigSchema& s) {
  s.add("data", data, "HDF5 dataset written by `jess pde generate`");
  s.add("equation", equation, "equation of the data (filled from the file; checked when given)");
  s.add("train_split", train_split, "split used for pretraining (labels are never read)");
  s.add("n_train", n_train, "trajectories used (0: the whole split)", check::int_at_least(0));
  s.add("seed", seed, "seed of the initialisation, the data order and the augmentations", check::int_at_least(0));
  s.add("batch", batch, "trajectories per batch (two views each)", check::int_at_least(2));
  encoder.describe(s, "encoder.");
  s.add("projector", projector, "projector sizes, Linear-BN-ReLU blocks then a Linear (e.g. 512-512-512)");
  s.add("grid_channels", grid_channels, "feed log dx and log dt as constant input channels (false: zeros)");
  s.add("method", method, "SSL criterion (registered name)", check::one_of(ssl::loss_names()));
  s.add("vicreg.invariance", vicreg_invariance, "VICReg invariance weight", check::non_negative());
  s.add("vicreg.variance", vicreg_variance, "VICReg variance weight", check::non_negative());
  s.add("vicreg.covariance", vicreg_covariance, "VICReg covariance weight", check::non_negative());
  s.add("vicreg.epsilon", vicreg_epsilon, "VICReg epsilon inside the std", check::positive());
  augment.describe(s, "augment.");
  train.describe(s, "train.");
  s.add("device", device, "auto (CUDA when available) | cpu | cuda", check::one_of({"auto", "cpu", "cuda"}));
  s.add("monitor", monitor, "held-out (valid split) trajectories embedded for RankMe each epoch", check::int_at_least(0));
}

namespace {

std::string file_equation(const std::string& path) {
  H5Reader r(path);
  if (!r.has_attr("/", "equation")) throw std::invalid_argument(path + " has no 'equation' attribute (not a jess dataset?)");
  return r.attr_string("/", "equation");
}


}  // namespace

void PretrainOptions::resolve() {
  if (data.empty()) throw ConfigError("config key 'data': no dataset given (an HDF5 file from `jess pde generate`)");
  if (!file_exists(data)) throw ConfigError("config key 'data': '" + data + "' does not exist");
  const std::string eq = file_equation(data);
  if (!equation.empty() && equation != eq)
    throw ConfigError("config key 'equation': " + equation + ", but '" + data + "' holds " + eq + " data");
  equation = augment.equation = eq;
  augment.resolve();
  nn::parse_layer_sizes(projector);  // validates
  train.validate();
  ConfigSchema s;
  describe(s);
  config_yaml = s.to_yaml();
}

// ------------------------------------------------------------------ model and inputs

namespace {

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
InputStats compute_stats(const GridBatch& b, bool grid_channels = true) {
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
                         const InputStats& s, at::Device device = at::kCPU) {
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

double rankme_of(const at::Tensor& z) {
  auto d = z.to(at::kCPU, at::kDouble).contiguous();
  return eval::rankme(eval::spectrum_from_rows(d.data_ptr<double>(), d.size(0), d.size(1)).singular_values);
}

// Integer crops (no interpolation, no symmetry) at seeded positions: crop k of trajectory i starts at
// Rng(seed, 0xC209, i * crops + k). Used for evaluation features and monitoring.
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

// Frozen features: mean over `crops` crops of the encoder output (or of a named block's output).
at::Tensor features(nn::EncoderBase& enc, const std::string& arch, const InputStats& stats, const GridBatch& b,
                    int64_t crops, int64_t ct, int64_t cx, uint64_t seed, const std::string& layer = "") {
  torch::NoGradGuard ng;
  enc.eval();
  const at::Device device = enc.parameters().front().device();
  const int64_t n = b.u.size(0);
  at::Tensor out;
  for (int64_t first = 0; first < n; first += 256) {
    const int64_t m = std::min<int64_t>(256, n - first);
    at::Tensor acc;
    for (int64_t k = 0; k < crops; ++k) {
      auto u = crops_of(b, first, m, k, crops, ct, cx, seed);
      auto x = encoder_input(arch, u, b.dx.narrow(0, first, m), b.dt.narrow(0, first, m), stats, device);
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
    acc = (acc / double(crops)).to(at::kCPU);
    if (!out.defined()) out = at::empty({n, acc.size(1)}, at::kFloat);
    out.narrow(0, first, m).copy_(acc);
  }
  return out;
}

// A pretraining checkpoint read back into a model.
struct LoadedEncoder {
  PretrainOptions config;
  SslModel model{nullptr};
  InputStats stats;
};

LoadedEncoder load_encoder(const std::string& path, at::Device device = at::kCPU) {
  auto c = train::load_checkpoint(path);
  LoadedEncoder le;
  ConfigSchema s;
  le.config.describe(s);
  s.load_yaml_string(c.config, path + " (stored configuration)");
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

}  // namespace

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

namespace {

// ------------------------------------------------------------------ pretraining task

// A view loader whose first batch is (epoch, step): how a task positions its data stream (resume).
std::unique_ptr<PdeViewLoader> loader_at(const GridBatch& data, Equation eq, const AugmentOptions& augment,
                                         int64_t batch, uint64_t seed, int64_t epoch, int64_t step, bool single_view) {
  ViewLoaderOptions lo;
  lo.augment = augment;
  lo.batch = batch;
  lo.seed = seed;
  lo.start_epoch = epoch;
  lo.start_step = step;
  lo.single_view = single_view;
  return std::make_unique<PdeViewLoader>(data, eq, lo);
}

class SslTask : public train::TrainTask {
 public:
  SslTask(const PretrainOptions& o, GridBatch data, Equation eq, at::Tensor monitor_x, at::Device device)
      : o_(o), data_(std::move(data)), eq_(eq), monitor_x_(monitor_x.defined() ? monitor_x.to(device) : monitor_x),
        device_(device) {
    stats_ = compute_stats(data_, o.grid_channels);
    torch::manual_seed(uint64_t(o.seed));
    model_ = SslModel(o.encoder, input_channels(o.encoder.arch, o.augment.crop_t), o.projector);
    loss_ = ssl::make_loss(o.method);
    if (auto* v = dynamic_cast<ssl::VICRegLoss*>(loss_.get()))
      v->options() = {o.vicreg_invariance, o.vicreg_variance, o.vicreg_covariance, o.vicreg_epsilon};
    model_->to(device_);
  }
  torch::nn::Module& model() override { return *model_; }
  int64_t steps_per_epoch() const override { return data_.u.size(0) / o_.batch; }
  void seek(int64_t epoch, int64_t step) override {
    loader_.reset();
    loader_ = loader_at(data_, eq_, o_.augment, o_.batch, uint64_t(o_.seed), epoch, step, /*single_view=*/false);
  }
  train::StepOutput step(int64_t epoch, int64_t step) override {
    ViewBatch v = loader_->next();
    TORCH_CHECK(v.epoch == epoch && v.step == step, "view loader out of order");
    const auto& arch = o_.encoder.arch;
    auto z1 = model_->projector(model_->encoder->forward(encoder_input(arch, v.view1, v.dx1, v.dt1, stats_, device_)));
    auto z2 = model_->projector(model_->encoder->forward(encoder_input(arch, v.view2, v.dx2, v.dt2, stats_, device_)));
    ssl::LossTerms t = (*loss_)(z1, z2);
    t.parts.emplace_back("views_ms", 1000 * v.seconds);  // data pipeline time of this batch (made ahead)
    return {t.loss, t.parts, v.view1.size(0)};
  }
  std::vector<std::pair<std::string, double>> end_of_epoch(int64_t) override {
    if (!monitor_x_.defined() || monitor_x_.size(0) < 2) return {};
    auto r = model_->encoder->forward(monitor_x_);
    auto z = model_->projector(r);
    return {{"rankme", rankme_of(r)}, {"rankme_embedding", rankme_of(z)}};
  }
  std::map<std::string, at::Tensor> extra_state() const override { return {{"input_stats", stats_.tensor()}}; }
  const InputStats& stats() const { return stats_; }

 private:
  PretrainOptions o_;
  GridBatch data_;
  Equation eq_;
  at::Tensor monitor_x_;
  at::Device device_;
  InputStats stats_;
  SslModel model_{nullptr};
  std::unique_ptr<ssl::JointLoss> loss_;
  std::unique_ptr<PdeViewLoader> loader_;
};

}  // namespace

PretrainSummary pretrain(PretrainOptions o, const std::string& out_dir, bool restart) {
  o.resolve();
  Equation eq;
  GridBatch data = load_split(o.data, o.train_split, &eq);
  if (o.n_train > 0) data = head(data, o.n_train);
  if (o.batch > data.u.size(0))
    throw ConfigError("config key 'batch': " + std::to_string(o.batch) + " is larger than the " +
                      std::to_string(data.u.size(0)) + " training trajectories");
  check_crop_fits(data, o.augment.crop_t, o.augment.crop_x, "augment.crop_t/crop_x");
  at::Tensor monitor_x;
  InputStats stats = compute_stats(data, o.grid_channels);
  if (o.monitor > 1) {
    H5Reader r(o.data);
    if (r.exists("/valid")) {
      GridBatch v = head(load_split(o.data, "valid"), o.monitor);
      if (v.u.size(0) >= 2) {
        auto u = crops_of(v, 0, v.u.size(0), 0, 1, o.augment.crop_t, o.augment.crop_x, 0xA11CEull);
        monitor_x = encoder_input(o.encoder.arch, u, v.dx, v.dt, stats);
      }
    }
  }
  SslTask task(o, data, eq, monitor_x, pick_device(o.device));
  train::TrainOptions to = o.train;
  if (restart) std::remove((out_dir + "/checkpoint.pt").c_str());
  to.resume = !restart;
  PretrainSummary s;
  s.train = train::train(task, to, out_dir, o.config_yaml, "pretrain " + equation_name(eq));
  s.checkpoint = s.train.checkpoint;
  for (const auto& kv : s.train.last_epoch_metrics)
    if (kv.first == "rankme") s.rankme = kv.second;
  return s;
}

at::Tensor embed(const std::string& checkpoint, const std::string& data, const EmbedOptions& o) {
  auto le = load_encoder(checkpoint, pick_device("auto"));
  Equation eq;
  GridBatch b = load_split(data, o.split, &eq);
  if (equation_name(eq) != le.config.augment.equation)
    throw std::invalid_argument("the checkpoint was trained on " + le.config.augment.equation + " data but '" + data +
                                "' holds " + equation_name(eq));
  if (o.limit > 0) b = head(b, o.limit);
  if (o.crops < 1) throw std::invalid_argument("crops must be at least 1");
  check_crop_fits(b, le.config.augment.crop_t, le.config.augment.crop_x, data);
  return features(*le.model->encoder, le.config.encoder.arch, le.stats, b, o.crops, le.config.augment.crop_t,
                  le.config.augment.crop_x, uint64_t(o.seed), o.layer);
}

// ------------------------------------------------------------------ downstream regression

void RegressOptions::describe(ConfigSchema& s) {
  s.add("data", data, "HDF5 dataset with train and test splits (labels are read here)");
  s.add("labelled", labelled, "labelled trajectories taken from the train split", check::int_at_least(8));
  s.add("validation_fraction", validation_fraction,
        "part of the labelled set held out to choose the supervised baseline's epoch", check::in_range(0.05, 0.5));
  s.add("crops", crops, "crops per trajectory whose features (predictions) are averaged", check::positive_int());
  s.add("target", target, "auto | log_nu (Burgers/heat viscosity) | ic_spectrum (KdV/KS initial-condition amplitudes)",
        check::one_of({"auto", "log_nu", "ic_spectrum"}));
  s.add("seeds", seeds, "seeds of the baselines (supervised, random-init encoder)", check::positive_int());
  s.add("seed", seed, "first seed", check::int_at_least(0));
  s.add("supervised", supervised, "train the supervised baseline");
  s.add("supervised_epochs", supervised_epochs, "supervised baseline: epochs (the best on validation is kept)",
        check::positive_int());
  s.add("supervised_lr", supervised_lr, "supervised baseline: Adam learning rate", check::positive());
  s.add("supervised_batch", supervised_batch, "supervised baseline: batch size", check::int_at_least(2));
  s.add("supervised_augment", supervised_augment,
        "supervised baseline augmentations: auto (the checkpoint's views less label-changing ones; crops without a checkpoint) | crops | all",
        check::one_of({"auto", "crops", "all"}));
  encoder.describe(s, "encoder.");
  s.add("device", device, "auto (CUDA when available) | cpu | cuda", check::one_of({"auto", "cpu", "cuda"}));
  s.add("crop_t", crop_t, "view time steps (when no checkpoint fixes it)", check::positive_int());
  s.add("crop_x", crop_x, "view grid points (when no checkpoint fixes it)", check::positive_int());
}

namespace {

struct Target {
  std::string kind;  // log_nu | ic_spectrum
  at::Tensor y;      // (N, T) float64
};

// Translation-invariant, identifiable target for sums of sines: |c_l| with
// c_l = sum_{j : l_j = l} A_j exp(i phi_j), the amplitude of the initial condition's Fourier mode l
// (phases are not identifiable from shifted crops; amplitudes are, since the flow is deterministic).
Target read_target(const std::string& path, const std::string& split, const std::string& kind, int64_t n,
                   int64_t ell_lo, int64_t ell_hi) {
  H5Reader r(path);
  const std::string g = "/" + split;
  Target t;
  t.kind = kind;
  if (kind == "log_nu") {
    auto nu = r.read_f64(g + "/nu");
    t.y = at::tensor(nu, at::kDouble).narrow(0, 0, n).log().unsqueeze(1);
    return t;
  }
  auto A = r.read_f64(g + "/amplitudes"), phi = r.read_f64(g + "/phases");
  auto ell = r.read_i64(g + "/wavenumbers");
  const int64_t K = int64_t(A.size()) / std::max<int64_t>(1, int64_t(r.shape(g + "/amplitudes")[0]));
  t.y = at::zeros({n, ell_hi - ell_lo + 1}, at::kDouble);
  auto y = t.y.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t l = ell_lo; l <= ell_hi; ++l) {
      double re = 0, im = 0;
      for (int64_t j = 0; j < K; ++j)
        if (ell[size_t(i * K + j)] == l) {
          re += A[size_t(i * K + j)] * std::cos(phi[size_t(i * K + j)]);
          im += A[size_t(i * K + j)] * std::sin(phi[size_t(i * K + j)]);
        }
      y[i][l - ell_lo] = std::hypot(re, im);
    }
  return t;
}

// The headline metric: relative error of nu in % for log_nu, NMSE = sum ||y^ - y||^2 / sum ||y||^2
// for the spectrum.
double headline(const std::string& kind, const at::Tensor& pred, const at::Tensor& y) {
  auto p = pred.to(at::kDouble), t = y.to(at::kDouble);
  if (kind == "log_nu") return 100.0 * ((p.exp() - t.exp()).abs() / t.exp()).mean().item<double>();
  return ((p - t).pow(2).sum() / t.pow(2).sum()).item<double>();
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

class SupervisedTask : public train::TrainTask {
 public:
  SupervisedTask(GridBatch fit, at::Tensor y_fit, GridBatch val, at::Tensor y_val, const std::string& kind,
                 const EncoderConfig& enc, int64_t ct, int64_t cx, const std::string& projector, AugmentOptions aug,
                 int64_t batch, int64_t crops, uint64_t seed, Equation eq, at::Device device, bool grid_channels)
      : device_(device), fit_(std::move(fit)), val_(std::move(val)), y_val_(std::move(y_val)), kind_(kind), enc_(enc), ct_(ct), cx_(cx),
        aug_(std::move(aug)), batch_(batch), crops_(crops), seed_(seed), eq_(eq) {
    stats_ = compute_stats(fit_, grid_channels);
    y_mean_ = y_fit.mean(0, true);
    y_std_ = y_fit.std(0, true, true).clamp_min(1e-12);
    y_fit_std_ = ((y_fit - y_mean_) / y_std_).to(at::kFloat);
    torch::manual_seed(seed);
    model_ = std::make_shared<Net>(SslModel(enc, input_channels(enc.arch, ct), projector), y_fit.size(1));
    model_->to(device_);
    y_fit_std_ = y_fit_std_.to(device_);
  }
  struct Net : torch::nn::Module {
    Net(SslModel m, int64_t out) {
      body = register_module("body", std::move(m));
      head = register_module("head", torch::nn::Linear(body->encoder->output_dim(), out));
    }
    SslModel body{nullptr};
    torch::nn::Linear head{nullptr};
  };
  torch::nn::Module& model() override { return *model_; }
  int64_t steps_per_epoch() const override { return fit_.u.size(0) / batch_; }
  void seek(int64_t epoch, int64_t step) override {
    loader_.reset();
    loader_ = loader_at(fit_, eq_, aug_, batch_, seed_, epoch, step, /*single_view=*/true);
  }
  train::StepOutput step(int64_t, int64_t) override {
    ViewBatch v = loader_->next();
    auto x = encoder_input(enc_.arch, v.view1, v.dx1, v.dt1, stats_, device_);
    auto pred = model_->head(model_->body->encoder->forward(x));
    auto loss = at::mse_loss(pred, y_fit_std_.index_select(0, v.index.to(device_)));
    return {loss, {}, v.view1.size(0)};
  }
  at::Tensor predict(const GridBatch& b) {
    auto f = features(*model_->body->encoder, enc_.arch, stats_, b, crops_, ct_, cx_, 0x7E57ull);
    torch::NoGradGuard ng;
    return model_->head(f.to(device_)).to(at::kCPU, at::kDouble) * y_std_ + y_mean_;
  }
  std::vector<std::pair<std::string, double>> end_of_epoch(int64_t epoch) override {
    const double m = headline(kind_, predict(val_), y_val_);
    if (m < best_) {
      best_ = m;
      best_epoch_ = epoch + 1;
      best_state_ = train::state_dict(*model_);
    }
    return {{"validation", m}};
  }
  void restore_best() {
    if (!best_state_.empty()) train::load_state_dict(*model_, best_state_, "best validation epoch");
  }
  at::Tensor frozen_features(const GridBatch& b) {
    return features(*model_->body->encoder, enc_.arch, stats_, b, crops_, ct_, cx_, 0x7E57ull);
  }
  int64_t best_epoch() const { return best_epoch_; }

 private:
  at::Device device_;
  GridBatch fit_, val_;
  at::Tensor y_val_, y_mean_, y_std_, y_fit_std_;
  std::string kind_;
  EncoderConfig enc_;
  int64_t ct_, cx_;
  AugmentOptions aug_;
  int64_t batch_, crops_;
  uint64_t seed_;
  Equation eq_;
  InputStats stats_;
  std::shared_ptr<Net> model_;
  std::unique_ptr<PdeViewLoader> loader_;
  double best_ = INFINITY;
  int64_t best_epoch_ = 0;
  std::map<std::string, at::Tensor> best_state_;
};

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


}  // namespace

at::Tensor regression_target(const std::string& path, const std::string& split, const std::string& kind, int64_t n) {
  H5Reader r(path);
  int64_t lo = 1, hi = 1;
  if (kind == "ic_spectrum") {
    auto ell = r.read_i64("/train/wavenumbers");
    lo = *std::min_element(ell.begin(), ell.end());
    hi = *std::max_element(ell.begin(), ell.end());
  } else if (kind != "log_nu") {
    throw std::invalid_argument("unknown regression target '" + kind + "' (log_nu, ic_spectrum)");
  }
  return read_target(path, split, kind, n, lo, hi).y;
}

GuillotineReport guillotine(const std::string& checkpoint, const RegressOptions& o) {
  if (o.data.empty()) throw ConfigError("config key 'data': no dataset given");
  const at::Device device = pick_device(o.device);
  auto le = load_encoder(checkpoint, device);
  Equation eq;
  GridBatch train_all = load_split(o.data, "train", &eq);
  GridBatch test = load_split(o.data, "test");
  if (equation_name(eq) != le.config.equation)
    throw std::invalid_argument(checkpoint + " was pretrained on " + le.config.equation + " but the data is " +
                                equation_name(eq));
  std::string kind = o.target;
  if (kind == "auto") kind = (eq == Equation::burgers || eq == Equation::heat) ? "log_nu" : "ic_spectrum";
  const int64_t n_lab = std::min<int64_t>(o.labelled, train_all.u.size(0));
  GridBatch lab = head(train_all, n_lab);
  const int64_t ct = le.config.augment.crop_t, cx = le.config.augment.crop_x;
  check_crop_fits(lab, ct, cx, o.data);
  auto ytr = regression_target(o.data, "train", kind, n_lab), yte = regression_target(o.data, "test", kind, test.u.size(0));
  // Every block's pooled output and every projector layer, averaged over the same crops.
  auto layers = [&](const GridBatch& b) {
    torch::NoGradGuard ng;
    le.model->eval();
    std::vector<std::pair<std::string, at::Tensor>> acc;
    const int64_t n = b.u.size(0);
    std::vector<std::vector<at::Tensor>> parts;
    for (int64_t first = 0; first < n; first += 256) {
      const int64_t m = std::min<int64_t>(256, n - first);
      std::vector<at::Tensor> sums;
      std::vector<std::string> names;
      for (int64_t k = 0; k < o.crops; ++k) {
        auto u = crops_of(b, first, m, k, o.crops, ct, cx, 0x7E57ull);
        auto x = encoder_input(le.config.encoder.arch, u, b.dx.narrow(0, first, m), b.dt.narrow(0, first, m), le.stats,
                               device);
        auto outs = le.model->encoder->forward_blocks(x);
        auto proj = le.model->projector->forward_layers(outs.back().second);
        outs.insert(outs.end(), proj.begin(), proj.end());
        if (sums.empty()) {
          for (auto& kv : outs) names.push_back(kv.first), sums.push_back(kv.second.to(at::kCPU, at::kDouble));
        } else {
          for (size_t i = 0; i < outs.size(); ++i) sums[i] += outs[i].second.to(at::kCPU, at::kDouble);
        }
      }
      if (acc.empty())
        for (auto& nm : names) acc.emplace_back(nm, at::Tensor());
      parts.push_back(sums);
    }
    for (size_t i = 0; i < acc.size(); ++i) {
      std::vector<at::Tensor> cols;
      for (auto& p : parts) cols.push_back(p[i]);
      acc[i].second = at::cat(cols) / double(o.crops);
    }
    return acc;
  };
  auto ftr = layers(lab), fte = layers(test);
  GuillotineReport rep;
  rep.equation = equation_name(eq);
  rep.target = kind;
  rep.metric = kind == "log_nu" ? "relative error %" : "NMSE";
  for (size_t i = 0; i < ftr.size(); ++i) {
    auto p = ridge_predict(ftr[i].second, ytr, fte[i].second, uint64_t(o.seed));
    rep.rows.push_back({ftr[i].first, ftr[i].second.size(1), headline(kind, p, yte), r2_of(p, yte)});
  }
  return rep;
}

std::string RegressReport::table() const {
  std::ostringstream s;
  s << equation << ": " << metric << " (" << target << "), " << labelled << " labelled / " << test
    << " test trajectories; mean +- std over seeds\n";
  for (const auto& r : rows) {
    s << "  " << std::left << std::setw(40) << r.name << std::right << std::fixed
      << std::setprecision(metric == "NMSE" ? 4 : 2) << std::setw(9) << r.mean << " +- " << std::setw(7) << r.std;
    double r2 = 0;
    for (double x : r.r2) r2 += x;
    s << "   R2 " << std::setprecision(3) << r2 / double(std::max<size_t>(1, r.r2.size())) << "   (n=" << r.values.size()
      << ")\n";
  }
  return s.str();
}

std::string RegressReport::json() const {
  std::ostringstream s;
  s << std::setprecision(8);
  s << "{\"equation\": \"" << equation << "\", \"target\": \"" << target << "\", \"metric\": \"" << metric
    << "\", \"labelled\": " << labelled << ", \"test\": " << test << ", \"rows\": [";
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    s << (i ? ", " : "") << "{\"name\": \"" << r.name << "\", \"mean\": " << r.mean << ", \"std\": " << r.std
      << ", \"values\": [";
    for (size_t k = 0; k < r.values.size(); ++k) s << (k ? ", " : "") << r.values[k];
    s << "], \"r2\": [";
    for (size_t k = 0; k < r.r2.size(); ++k) s << (k ? ", " : "") << r.r2[k];
    s << "]}";
  }
  s << "]}";
  return s.str();
}

RegressReport regress(const RegressOptions& o, const std::vector<std::string>& checkpoints, const std::string& out_dir) {
  if (o.data.empty()) throw ConfigError("config key 'data': no dataset given");
  if (!file_exists(o.data)) throw ConfigError("config key 'data': '" + o.data + "' does not exist");
  make_directories(out_dir);
  Equation eq;
  GridBatch train_all = load_split(o.data, "train", &eq);
  GridBatch test = load_split(o.data, "test");
  const std::string eqn = equation_name(eq);
  std::string kind = o.target;
  if (kind == "auto") kind = (eq == Equation::burgers || eq == Equation::heat) ? "log_nu" : "ic_spectrum";
  if (kind == "log_nu" && (eq == Equation::kdv || eq == Equation::ks))
    throw ConfigError("target log_nu: " + eqn + " has no viscosity label; use ic_spectrum");
  const int64_t n_lab = std::min<int64_t>(o.labelled, train_all.u.size(0));
  GridBatch lab = head(train_all, n_lab);

  // Encoder configuration: from the first checkpoint, else from the options.
  EncoderConfig enc = o.encoder;
  int64_t ct = o.crop_t, cx = o.crop_x;
  std::string projector = "512-512-512";
  bool grid = true;
  const at::Device device = pick_device(o.device);
  std::vector<LoadedEncoder> ssl;
  for (const auto& c : checkpoints) {
    ssl.push_back(load_encoder(c, device));
    const auto& cfg = ssl.back().config;
    if (cfg.augment.equation != eqn)
      throw std::invalid_argument(c + " was pretrained on " + cfg.augment.equation + " but the data is " + eqn);
    if (ssl.size() == 1)
      enc = cfg.encoder, ct = cfg.augment.crop_t, cx = cfg.augment.crop_x, projector = cfg.projector,
      grid = cfg.grid_channels;
  }
  check_crop_fits(lab, ct, cx, o.data);

  int64_t ell_lo = 1, ell_hi = 1;
  if (kind == "ic_spectrum") {
    H5Reader r(o.data);
    auto ell = r.read_i64("/train/wavenumbers");
    ell_lo = *std::min_element(ell.begin(), ell.end());
    ell_hi = *std::max_element(ell.begin(), ell.end());
  }
  Target ytr = read_target(o.data, "train", kind, n_lab, ell_lo, ell_hi);
  Target yte = read_target(o.data, "test", kind, test.u.size(0), ell_lo, ell_hi);

  RegressReport rep;
  rep.equation = eqn;
  rep.target = kind == "log_nu" ? "nu (linear head on log nu)" : "|Fourier amplitude| of u0 at l=" +
                                                                    std::to_string(ell_lo) + ".." + std::to_string(ell_hi);
  rep.metric = kind == "log_nu" ? "relative error %" : "NMSE";
  rep.labelled = n_lab;
  rep.test = test.u.size(0);

  const int64_t n_val = std::max<int64_t>(2, int64_t(std::llround(o.validation_fraction * double(n_lab))));
  const int64_t n_fit = n_lab - n_val;
  std::vector<double> sup, sup_r2, refit, refit_r2, rnd, rnd_r2, ssl_v, ssl_r2;
  for (int64_t k = 0; k < o.seeds; ++k) {
    const uint64_t seed = uint64_t(o.seed + k);
    // Random-init encoder: the same architecture, untrained, with the same probe.
    {
      torch::manual_seed(seed + 1000);
      SslModel m(enc, input_channels(enc.arch, ct), projector);
      m->to(device);
      InputStats st = compute_stats(lab, grid);
      auto ftr = features(*m->encoder, enc.arch, st, lab, o.crops, ct, cx, 0x7E57ull);
      auto fte = features(*m->encoder, enc.arch, st, test, o.crops, ct, cx, 0x7E57ull);
      auto p = ridge_predict(ftr, ytr.y, fte, seed);
      rnd.push_back(headline(kind, p, yte.y));
      rnd_r2.push_back(r2_of(p, yte.y));
    }
    if (o.supervised) {
      if (n_fit < o.supervised_batch)
        throw ConfigError("labelled (" + std::to_string(n_lab) + ") leaves fewer fitting trajectories than supervised_batch");
      AugmentOptions aug;
      aug.equation = eqn;
      aug.crop_t = ct;
      aug.crop_x = cx;
      std::string mode = o.supervised_augment;
      if (mode == "auto" && !ssl.empty()) {
        // The pretraining run's own views, less those that change the label: scaling multiplies a
        // KdV/KS field (hence its Fourier amplitudes); every Burgers generator keeps nu.
        aug = ssl.front().config.augment;
        if (kind == "ic_spectrum") aug.scaling = 0;
      } else if (mode == "auto" || mode == "crops") {
        aug.galilean = aug.scaling = aug.projective = aug.psi_scaling = aug.heat_galilean = aug.superposition = 0;
      }
      aug.resolve();
      SupervisedTask task(rows_of(lab, 0, n_fit), ytr.y.narrow(0, 0, n_fit), rows_of(lab, n_fit, n_val),
                          ytr.y.narrow(0, n_fit, n_val), kind, enc, ct, cx, projector, aug, o.supervised_batch, o.crops,
                          seed, eq, device, grid);
      train::TrainOptions to;
      to.epochs = o.supervised_epochs;
      to.optimizer = "adam";
      to.lr = o.supervised_lr;
      to.weight_decay = 0;
      to.resume = false;
      const std::string dir = out_dir + "/supervised_seed" + std::to_string(seed);
      std::remove((dir + "/checkpoint.pt").c_str());
      std::ostringstream cfg;
      cfg << "supervised baseline\nseed: " << seed << "\n";
      train::train(task, to, dir, cfg.str(), "supervised " + eqn);
      task.restore_best();
      auto p = task.predict(test);
      sup.push_back(headline(kind, p, yte.y));
      sup_r2.push_back(r2_of(p, yte.y));
      auto pr = ridge_predict(task.frozen_features(lab), ytr.y, task.frozen_features(test), seed);
      refit.push_back(headline(kind, pr, yte.y));
      refit_r2.push_back(r2_of(pr, yte.y));
    }
  }
  for (size_t i = 0; i < ssl.size(); ++i) {
    auto& le = ssl[i];
    auto ftr = features(*le.model->encoder, enc.arch, le.stats, lab, o.crops, ct, cx, 0x7E57ull);
    auto fte = features(*le.model->encoder, enc.arch, le.stats, test, o.crops, ct, cx, 0x7E57ull);
    auto p = ridge_predict(ftr, ytr.y, fte, uint64_t(o.seed) + i);
    ssl_v.push_back(headline(kind, p, yte.y));
    ssl_r2.push_back(r2_of(p, yte.y));
  }
  auto mean_y = ytr.y.mean(0, true).expand({test.u.size(0), ytr.y.size(1)});
  if (!sup.empty()) rep.rows.push_back(summarise("supervised (end to end)", sup, sup_r2));
  if (!refit.empty()) rep.rows.push_back(summarise("supervised, head refit by the probe", refit, refit_r2));
  if (!ssl_v.empty()) rep.rows.push_back(summarise("SSL repr. + linear head", ssl_v, ssl_r2));
  rep.rows.push_back(summarise("random-init encoder + linear head", rnd, rnd_r2));
  rep.rows.push_back(summarise("constant (mean of labels)", {headline(kind, mean_y, yte.y)}, {r2_of(mean_y, yte.y)}));
  return rep;
}

}  // namespace jess::pde
