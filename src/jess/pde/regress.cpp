// Downstream regression of a coefficient from frozen features (`jess pde regress`) against its
// baselines (supervised end to end, its head refit, random-init encoder, constant), and the same probe
// on every layer (`jess pde guillotine`).
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

#include "jess/dist/dist.h"
#include "jess/core/config.h"
#include "jess/core/device.h"
#include "jess/core/files.h"
#include "jess/core/hdf5_file.h"
#include "jess/core/rng.h"
#include "jess/eval/probes.h"

namespace jess::pde {

using namespace detail;

// ------------------------------------------------------------------ downstream regression

void RegressOptions::describe(ConfigSchema& s) {
  s.add("data", data, "HDF5 dataset with train and test splits (labels are read here)");
  s.add("labelled", labelled, "labelled trajectories taken from the train split", check::int_at_least(8));
  s.add("validation_fraction", validation_fraction,
        "part of the labelled set held out to choose the supervised baseline's epoch", check::in_range(0.05, 0.5));
  s.add("view", view,
        "evaluation view: start (one view per trajectory: its first crop_t frames at the full width, where every "
        "mode's decay is visible) | crops (mean over `crops` random crop_t x crop_x crops: time-origin invariant)",
        check::one_of({"start", "crops"}));
  s.add("crops", crops, "view=crops: crops per trajectory whose features (predictions) are averaged",
        check::positive_int());
  s.add("shifts", shifts,
        "view=start: features (predictions) averaged over this many equally spaced periodic shifts of the width, "
        "an exact symmetry; removes the strided encoder's dependence on the pattern's position (1: one view)",
        check::positive_int());
  s.add("target", target, "auto | log_nu (Burgers/heat viscosity) | ic_spectrum (KdV/KS initial-condition amplitudes)",
        check::one_of({"auto", "log_nu", "ic_spectrum"}));
  s.add("seeds", seeds, "seeds of the baselines (supervised, random-init encoder)", check::positive_int());
  s.add("seed", seed, "first seed", check::int_at_least(0));
  s.add("supervised", supervised, "train the supervised baseline");
  s.add("supervised_epochs", supervised_epochs, "supervised baseline: epochs (the best on validation is kept)",
        check::positive_int());
  s.add("supervised_lr", supervised_lr, "supervised baseline: Adam learning rate", check::positive());
  s.add("supervised_schedule", supervised_schedule,
        "supervised baseline: constant learning rate, or cosine decay to 0 over the epochs",
        check::one_of({"constant", "cosine"}));
  s.add("supervised_batch", supervised_batch, "supervised baseline: batch size", check::int_at_least(2));
  s.add("supervised_augment", supervised_augment,
        "view=crops: the supervised baseline's augmentations: auto (the checkpoint's views less label-changing ones; "
        "crops without a checkpoint) | crops | all (view=start: the start view under a random periodic space shift)",
        check::one_of({"auto", "crops", "all"}));
  encoder.describe(s, "encoder.");
  s.add("device", device, "auto (CUDA when available) | cpu | cuda", check::one_of({"auto", "cpu", "cuda"}));
  s.add("crop_t", crop_t, "view time steps when no checkpoint fixes it (0: half the trajectory's)", check::int_at_least(0));
  s.add("crop_x", crop_x, "view grid points when no checkpoint fixes it (0: half the trajectory's)", check::int_at_least(0));
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


EvalView eval_view(const RegressOptions& o, int64_t ct, int64_t cx) {
  EvalView v;
  v.kind = o.view;
  v.crops = o.crops;
  v.shifts = o.shifts;
  v.ct = ct;
  v.cx = cx;
  return v;
}

// The supervised baseline: the same encoder + a linear head trained end to end on the labelled set
// (standardised targets, MSE), the epoch with the best validation metric kept. Its inputs: with the
// start view, the evaluation view itself under a random periodic space shift (an exact symmetry that
// keeps every label); with the crops view, single views from the view loader (crops and the given
// symmetries).
class SupervisedTask : public train::TrainTask {
 public:
  SupervisedTask(GridBatch fit, at::Tensor y_fit, GridBatch val, at::Tensor y_val, const std::string& kind,
                 const EncoderConfig& enc, const EvalView& view, const std::string& projector, AugmentOptions aug,
                 int64_t batch, uint64_t seed, Equation eq, at::Device device, bool grid_channels)
      : device_(device), fit_(std::move(fit)), val_(std::move(val)), y_val_(std::move(y_val)), kind_(kind), enc_(enc),
        view_(view), aug_(std::move(aug)), batch_(batch), seed_(seed), eq_(eq) {
    stats_ = compute_stats(fit_, grid_channels);
    y_mean_ = y_fit.mean(0, true);
    y_std_ = y_fit.std(0, true, true).clamp_min(1e-12);
    y_fit_std_ = ((y_fit - y_mean_) / y_std_).to(at::kFloat);
    torch::manual_seed(seed);
    model_ = std::make_shared<Net>(SslModel(enc, input_channels(enc.arch, view.ct), projector), y_fit.size(1));
    model_->to(device_);
    y_fit_std_ = y_fit_std_.to(device_);
  }
  using Net = detail::SupervisedNet;
  torch::nn::Module& model() override { return *model_; }
  int64_t steps_per_epoch() const override { return fit_.u.size(0) / batch_; }
  void seek(int64_t epoch, int64_t step) override {
    loader_.reset();
    const auto shard = dist::shard_of(batch_);  // data-parallel: this rank's rows of every global batch
    if (view_.kind != "start")
      loader_ = loader_at(fit_, eq_, aug_, batch_, seed_, epoch, step, /*single_view=*/true, shard.begin, shard.size(),
                          prefetch_for(device_));
  }
  train::StepOutput step(int64_t epoch, int64_t step) override {
    at::Tensor u, dx, dt, index;
    if (view_.kind == "start") {
      const int64_t n = fit_.u.size(0), nx = fit_.u.size(2);
      auto order = seeded_permutation(n, seed_, 0x5E1Full, uint64_t(epoch));
      const auto shard = dist::shard_of(batch_);
      std::vector<int64_t> rows(order.begin() + step * batch_ + shard.begin, order.begin() + step * batch_ + shard.end);
      index = at::tensor(rows, at::kLong);
      u = fit_.u.index_select(0, index).narrow(1, 0, view_.ct);
      if (aug_.x_shift > 0) {  // u(x - s), s a whole number of cells: exact for a periodic field
        std::vector<int64_t> shift(rows.size());
        for (size_t j = 0; j < rows.size(); ++j)
          shift[j] = Rng(seed_, 0x5011ull, uint64_t(epoch * n + step * batch_ + shard.begin) + j).integer(0, nx - 1);
        auto idx = (at::arange(nx, at::kLong).view({1, 1, nx}) - at::tensor(shift, at::kLong).view({-1, 1, 1}))
                       .remainder(nx)
                       .expand_as(u);
        u = at::gather(u, 2, idx);
      }
      dx = fit_.dx.index_select(0, index);
      dt = fit_.dt.index_select(0, index);
    } else {
      ViewBatch v = loader_->next();
      u = v.view1, dx = v.dx1, dt = v.dt1, index = v.index;
    }
    auto x = encoder_input(enc_.arch, u, dx, dt, stats_, device_);
    auto pred = model_->head(model_->body->encoder->forward(x));
    auto loss = at::mse_loss(pred, y_fit_std_.index_select(0, index.to(device_)));
    return {loss, {}, u.size(0)};
  }
  at::Tensor predict(const GridBatch& b) {
    auto f = frozen_features(b);
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
  at::Tensor frozen_features(const GridBatch& b) { return features(*model_->body->encoder, enc_.arch, stats_, b, view_); }
  int64_t best_epoch() const { return best_epoch_; }

 private:
  at::Device device_;
  GridBatch fit_, val_;
  at::Tensor y_val_, y_mean_, y_std_, y_fit_std_;
  std::string kind_;
  EncoderConfig enc_;
  EvalView view_;
  AugmentOptions aug_;
  int64_t batch_;
  uint64_t seed_;
  Equation eq_;
  InputStats stats_;
  std::shared_ptr<Net> model_;
  std::unique_ptr<PdeViewLoader> loader_;
  double best_ = INFINITY;
  int64_t best_epoch_ = 0;
  std::map<std::string, at::Tensor> best_state_;
};


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
  const EvalView view = eval_view(o, ct, cx);
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
      for (int64_t k = 0; k < view.passes(); ++k) {
        auto x = encoder_input(le.config.encoder.arch, view.input(b, first, m, k), b.dx.narrow(0, first, m),
                               b.dt.narrow(0, first, m), le.stats, device);
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
      acc[i].second = at::cat(cols) / double(view.passes());
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
      << std::setprecision(metric == "NMSE" ? 4 : metric == "MSE" ? 5 : 2) << std::setw(9) << r.mean << " +- " << std::setw(7) << r.std;
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
  if (dist::is_main()) make_directories(out_dir);
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
  if (ct == 0) ct = std::max<int64_t>(1, lab.u.size(1) / 2);
  if (cx == 0) cx = std::max<int64_t>(1, lab.u.size(2) / 2);
  check_crop_fits(lab, ct, cx, o.data);
  const EvalView view = eval_view(o, ct, cx);

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
      auto ftr = features(*m->encoder, enc.arch, st, lab, view);
      auto fte = features(*m->encoder, enc.arch, st, test, view);
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
                          ytr.y.narrow(0, n_fit, n_val), kind, enc, view, projector, aug, o.supervised_batch, seed, eq,
                          device, grid);
      train::TrainOptions to;
      to.epochs = o.supervised_epochs;
      to.optimizer = "adam";
      to.lr = o.supervised_lr;
      if (o.supervised_schedule == "cosine") to.schedule = "warmup_cosine", to.warmup_epochs = 0;
      to.weight_decay = 0;
      to.resume = false;
      const std::string dir = out_dir + "/supervised_seed" + std::to_string(seed);
      if (dist::is_main()) std::remove((dir + "/checkpoint.pt").c_str());
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
    auto ftr = features(*le.model->encoder, enc.arch, le.stats, lab, view);
    auto fte = features(*le.model->encoder, enc.arch, le.stats, test, view);
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
