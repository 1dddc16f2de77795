// jess equivariance eval: frozen representations of every view -> classification, rotation and colour
// R^2, MRR / H@k and PRE (evaluate.h), with plots.
#include "jess/equivariance/evaluate.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/activation.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <numeric>
#include <sstream>

#include "jess/core/config.h"
#include "jess/core/device.h"
#include "jess/core/files.h"
#include "jess/core/plot.h"
#include "jess/core/progress.h"
#include "jess/core/rng.h"
#include "jess/data/rendered_pairs.h"
#include "jess/equivariance/metrics.h"
#include "jess/equivariance/model.h"
#include "jess/render/geometry.h"

namespace jess::equivariance {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Every view of the first n objects of a split: representations (N, V, D), images kept for the plots
// only for the first few objects, factors (N, V, F), labels (N).
struct SplitFeatures {
  at::Tensor reps, factors, labels, sample_images;  // sample_images: (min(N, 8), V, 3, S, S)
  std::vector<std::pair<std::string, at::Tensor>> blocks;  // every backbone stage (N, V, d) when asked
  int64_t views = 0;
};

SplitFeatures split_features(EquivariantModelImpl& model, const std::string& data, bool prefer_folder,
                             const std::string& split, int64_t limit, at::Device device, bool blocks = false) {
  data::RenderedPairOptions po;
  po.path = data;
  po.split = split;
  po.batch = 1;
  po.prefetch = 0;
  po.drop_last = false;
  po.prefer_folder = prefer_folder;
  data::RenderedPairLoader loader(po);
  const int64_t n = limit > 0 ? std::min(limit, loader.objects()) : loader.objects();
  const int64_t V = loader.views();
  SplitFeatures f;
  f.views = V;
  std::vector<at::Tensor> reps, factors, labels, samples;
  std::vector<std::vector<at::Tensor>> stage;
  std::vector<std::string> stage_names;
  Progress bar("features " + split, n * V, "img");
  torch::NoGradGuard ng;
  const int64_t chunk = std::max<int64_t>(1, 256 / V);
  for (int64_t first = 0; first < n; first += chunk) {
    const int64_t c = std::min(chunk, n - first);
    auto ov = loader.object_views(first, c);
    auto imgs = ov.images.flatten(0, 1);
    if (blocks) {
      auto outs = model.backbone->forward_blocks(model.input(imgs.to(device)));
      if (stage.empty()) {
        stage.resize(outs.size());
        for (const auto& kv : outs) stage_names.push_back(kv.first);
      }
      for (size_t i = 0; i < outs.size(); ++i) stage[i].push_back(outs[i].second.to(at::kCPU).view({c, V, -1}));
      reps.push_back(outs.back().second.to(at::kCPU).view({c, V, -1}));
    } else {
      reps.push_back(model.represent(imgs.to(device)).to(at::kCPU).view({c, V, -1}));
    }
    factors.push_back(ov.factors);
    labels.push_back(ov.labels);
    if (first < 8) samples.push_back(ov.images.narrow(0, 0, std::min<int64_t>(c, 8 - first)));
    bar.advance(c * V);
  }
  bar.finish();
  f.reps = at::cat(reps);
  f.factors = at::cat(factors);
  f.labels = at::cat(labels);
  f.sample_images = at::cat(samples);
  for (size_t i = 0; i < stage.size(); ++i) f.blocks.emplace_back(stage_names[i], at::cat(stage[i]));
  return f;
}

// Absolute rotations (N, V, 4) of the views (scipy's quaternions of the Euler latents).
at::Tensor absolute_rotations(const at::Tensor& factors) {
  auto f = factors.contiguous();
  const int64_t n = f.size(0) * f.size(1), F = f.size(2);
  auto q = at::empty({f.size(0), f.size(1), 4}, at::kDouble);
  const double* a = f.data_ptr<double>();
  double* o = q.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    const auto r = render::euler_xyz_to_quat({a[i * F], a[i * F + 1], a[i * F + 2]});
    o[i * 4] = r.x, o[i * 4 + 1] = r.y, o[i * 4 + 2] = r.z, o[i * 4 + 3] = r.w;
  }
  return q;
}

torch::nn::Sequential head(int64_t in, int64_t out, bool mlp) {
  torch::nn::Sequential m;
  if (mlp) {
    m->push_back(torch::nn::Linear(in, 1024));
    m->push_back(torch::nn::ReLU());
    m->push_back(torch::nn::Linear(1024, 1024));
    m->push_back(torch::nn::ReLU());
    in = 1024;
  }
  m->push_back(torch::nn::Linear(in, out));
  return m;
}

// Trains a head with Adam (lr 1e-3, batch 256) for `epochs`; each epoch's samples come from
// `draw(epoch)` -> (x, y). Cross-entropy when y is integer, else MSE.
torch::nn::Sequential fit_head(const std::function<std::pair<at::Tensor, at::Tensor>(int64_t)>& draw, int64_t in,
                               int64_t out, bool mlp, int64_t epochs, uint64_t seed, at::Device device) {
  torch::manual_seed(seed);
  auto m = head(in, out, mlp);
  m->to(device);
  torch::optim::Adam opt(m->parameters(), torch::optim::AdamOptions(1e-3));
  for (int64_t e = 0; e < epochs; ++e) {
    auto [x, y] = draw(e);
    x = x.to(device), y = y.to(device);
    const int64_t n = x.size(0);
    auto perm = at::randperm(n, at::TensorOptions().dtype(at::kLong)).to(device);
    for (int64_t f = 0; f < n; f += 256) {
      auto idx = perm.narrow(0, f, std::min<int64_t>(256, n - f));
      auto p = m->forward(x.index_select(0, idx));
      auto t = y.index_select(0, idx);
      auto loss = y.scalar_type() == at::kLong ? at::cross_entropy_loss(p, t) : at::mse_loss(p, t);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
  }
  m->eval();
  return m;
}

at::Tensor predict_rows(torch::nn::Sequential& m, const at::Tensor& x, at::Device device) {
  torch::NoGradGuard ng;
  std::vector<at::Tensor> out;
  for (int64_t f = 0; f < x.size(0); f += 4096) out.push_back(m->forward(x.narrow(0, f, std::min<int64_t>(4096, x.size(0) - f)).to(device)).cpu());
  return at::cat(out);
}

// One random view per object for epoch e (reference protocol): (N, Dp) features and labels.
at::Tensor one_view_each(const at::Tensor& reps, uint64_t seed, int64_t epoch) {
  const int64_t n = reps.size(0), V = reps.size(1);
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t o = 0; o < n; ++o) v[size_t(o)] = Rng(seed, 0xC1A5, uint64_t(epoch) * 1000003ull + uint64_t(o)).integer(0, V - 1);
  return reps.gather(1, at::tensor(v, at::kLong).view({n, 1, 1}).expand({n, 1, reps.size(2)})).squeeze(1);
}

// Random pairs (v1 != v2): `per` per object, drawn from (seed, stream, epoch); (N * per, 2) indices.
at::Tensor view_pairs(int64_t n, int64_t V, int64_t per, uint64_t seed, uint64_t stream, int64_t epoch) {
  auto idx = at::empty({n * per, 2}, at::kLong);
  int64_t* p = idx.data_ptr<int64_t>();
  for (int64_t o = 0; o < n; ++o)
    for (int64_t k = 0; k < per; ++k) {
      Rng r(seed, stream, (uint64_t(epoch) * 1000003ull + uint64_t(o)) * 131ull + uint64_t(k));
      const int64_t a = r.integer(0, V - 1);
      int64_t b = r.integer(0, V - 2);
      if (b >= a) ++b;
      p[(o * per + k) * 2] = a, p[(o * per + k) * 2 + 1] = b;
    }
  return idx;
}

// Pair inputs concat(y(v1), y(v2)) for the part, and targets: the relative rotation or the hue changes.
std::pair<at::Tensor, at::Tensor> pair_data(const at::Tensor& part, const at::Tensor& rot, const at::Tensor& factors,
                                            const at::Tensor& pairs, int64_t per, const std::string& target, bool canonical) {
  const int64_t n = part.size(0);
  auto obj = at::arange(n, at::kLong).repeat_interleave(per);
  auto a = pairs.select(1, 0), b = pairs.select(1, 1);
  auto flat = part.flatten(0, 1);
  const int64_t V = part.size(1);
  auto x = at::cat({flat.index_select(0, obj * V + a), flat.index_select(0, obj * V + b)}, 1);
  at::Tensor y;
  if (target == "rotation") {
    auto r = rot.flatten(0, 1);
    y = relative_quaternion(r.index_select(0, obj * V + a), r.index_select(0, obj * V + b), canonical);
  } else {
    auto f = factors.flatten(0, 1);
    auto d = f.index_select(0, obj * V + b) - f.index_select(0, obj * V + a);
    y = at::stack({d.select(1, 3), d.select(1, 6)}, 1);
  }
  return {x, y.to(at::kFloat)};
}

plot::Image to_plot_image(const at::Tensor& chw, const std::string& label) {
  plot::Image im;
  im.channels = 3;
  im.height = chw.size(1);
  im.width = chw.size(2);
  auto d = chw.to(at::kDouble).div(255.0).contiguous();
  im.values.assign(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
  im.label = label;
  return im;
}

}  // namespace

EquivariantEvalReport evaluate_equivariant(const std::string& path, const EquivariantEvalOptions& o) {
  if (o.epochs < 1 || o.pairs_per_object < 1 || o.pre_queries < 0 || o.train_objects < 0 || o.val_objects < 0)
    throw ConfigError("equivariance eval: epochs and pairs per object must be positive, object counts and PRE queries >= 0");
  auto loaded = load_equivariant_model(path);
  auto& model = *loaded.model;
  const auto& cfg = loaded.config;
  const at::Device device = pick_device(o.device);
  model.to(device);
  model.eval();
  const std::string data = o.data.empty() ? cfg.data : o.data;
  EquivariantEvalReport rep;
  rep.checkpoint = loaded.checkpoint;
  rep.method = cfg.method;
  rep.representation_dim = model.representation_dim;

  auto t0 = Clock::now();
  auto tr = split_features(model, data, cfg.prefer_folder, "train", o.train_objects, device, o.layers);
  auto va = split_features(model, data, cfg.prefer_folder, "val", o.val_objects, device, o.layers);
  rep.seconds_features = seconds_since(t0);
  rep.train_objects = tr.reps.size(0);
  rep.val_objects = va.reps.size(0);
  rep.views = va.views;
  if (rep.train_objects < 2 || rep.val_objects < 2) throw ConfigError("equivariance eval: each split needs at least 2 objects");
  const int64_t classes = model.classifier->weight.size(0);
  t0 = Clock::now();

  // The parts of the representation: full, and inv / equi for split methods.
  struct Part {
    std::string name;
    int64_t start, dim;
  };
  std::vector<Part> parts = {{"full", 0, model.representation_dim}};
  if (model.invariant_dims > 0) {
    parts.push_back({"inv", 0, model.invariant_dims});
    parts.push_back({"equi", model.invariant_dims, model.representation_dim - model.invariant_dims});
  }
  const int64_t heads = o.mlp_heads ? 2 : 1;
  Progress bar("probes", int64_t(parts.size()) * (heads + 2) + int64_t(tr.blocks.size()), "heads");
  for (size_t i = 0; i < tr.blocks.size(); ++i) {  // the Guillotine sweep: a linear head at every stage
    const auto& xtr = tr.blocks[i].second;
    auto xva = va.blocks[i].second.flatten(0, 1);
    auto m = fit_head([&](int64_t e) { return std::make_pair(one_view_each(xtr, o.seed, e), tr.labels); }, xtr.size(2),
                      classes, false, o.epochs, o.seed, device);
    auto pred = predict_rows(m, xva, device).argmax(1);
    rep.layers.push_back({tr.blocks[i].first, "linear", xtr.size(2),
                          pred.eq(va.labels.repeat_interleave(va.views)).to(at::kDouble).mean().item<double>()});
    bar.advance(1);
  }
  for (const auto& p : parts) {
    auto xtr = tr.reps.narrow(2, p.start, p.dim), xva = va.reps.narrow(2, p.start, p.dim).flatten(0, 1);
    auto yva = va.labels.repeat_interleave(va.views);
    for (int64_t h = 0; h < heads; ++h) {
      auto m = fit_head([&](int64_t e) { return std::make_pair(one_view_each(xtr, o.seed, e), tr.labels); }, p.dim, classes,
                        h == 1, o.epochs, o.seed, device);
      auto pred = predict_rows(m, xva, device).argmax(1);
      rep.classification.push_back({p.name, h == 1 ? "mlp" : "linear", p.dim, pred.eq(yva).to(at::kDouble).mean().item<double>()});
      bar.advance(1);
    }
  }
  // Rotation and colour R^2 from pairs (MLP on concat(y1, y2), the reference's --deep-end head).
  auto rot_tr = absolute_rotations(tr.factors), rot_va = absolute_rotations(va.factors);
  const bool has_colour = va.factors.size(2) >= 7;
  at::Tensor rotation_scatter_pred, rotation_scatter_true;
  for (const auto& p : parts) {
    for (const std::string target : {"rotation", "color"}) {
      if (target == "color" && !has_colour) continue;
      auto xtr = tr.reps.narrow(2, p.start, p.dim), xva = va.reps.narrow(2, p.start, p.dim);
      const int64_t k = target == "rotation" ? 4 : 2;
      auto m = fit_head(
          [&](int64_t e) {
            auto pairs = view_pairs(xtr.size(0), tr.views, 1, o.seed, 0x7A1, e);
            return pair_data(xtr, rot_tr, tr.factors, pairs, 1, target, cfg.canonical_sign);
          },
          2 * p.dim, k, true, o.epochs, o.seed, device);
      auto vp = view_pairs(xva.size(0), va.views, o.pairs_per_object, o.seed, 0x7A2, 0);
      auto [x, y] = pair_data(xva, rot_va, va.factors, vp, o.pairs_per_object, target, cfg.canonical_sign);
      auto pred = predict_rows(m, x, device);
      rep.regression.push_back({target, p.name, r2_scalar_mean(pred, y), r2_per_dimension(pred, y)});
      if (target == "rotation" && p.name == "full") rotation_scatter_pred = pred, rotation_scatter_true = y;
      bar.advance(1);
    }
  }
  bar.finish();

  // MRR, H@k and PRE (val-val) through the method's predictor.
  at::Tensor sheet_pred, sheet_emb;
  if (model.method->has_predictor()) {
    rep.retrieval = true;
    torch::NoGradGuard ng;
    const int64_t N = va.reps.size(0), V = va.views;
    auto e = model.method->equivariant_embedding(va.reps.flatten(0, 1).to(device)).cpu().view({N, V, -1});
    const int64_t T = cfg.method_options.transform_dim;
    auto q = relative_quaternion(rot_va.select(1, 0).unsqueeze(1).expand({N, V, 4}), rot_va, cfg.canonical_sign);  // 0 -> j
    at::Tensor g = q.to(at::kFloat);
    if (T == 6) {  // sie_rot_color: the hue changes from view 0 too
      auto d = (va.factors - va.factors.select(1, 0).unsqueeze(1)).to(at::kFloat);
      g = at::cat({g, d.select(2, 3).unsqueeze(2), d.select(2, 6).unsqueeze(2)}, 2);
    }
    auto src = e.select(1, 0).unsqueeze(1).expand({N, V, e.size(2)}).flatten(0, 1);
    std::vector<at::Tensor> preds;
    auto gf = g.flatten(0, 1);
    for (int64_t f = 0; f < N * V; f += 4096) {
      const int64_t m = std::min<int64_t>(4096, N * V - f);
      preds.push_back(model.method->predict(src.narrow(0, f, m).to(device), gf.narrow(0, f, m).to(device)).cpu());
    }
    auto phat = at::cat(preds).view({N, V, -1});
    auto r = retrieval_metrics(phat, e);
    rep.mrr = r.mrr, rep.h1 = r.h1, rep.h2 = r.h2, rep.h5 = r.h5, rep.h10 = r.h10;
    auto flat_pred = phat.flatten(0, 1), flat_rot = rot_va.flatten(0, 1).to(at::kDouble);
    at::Tensor qi = at::arange(N * V, at::kLong);
    if (o.pre_queries > 0 && o.pre_queries < N * V) {
      std::vector<int64_t> all(static_cast<size_t>(N * V));
      std::iota(all.begin(), all.end(), 0);
      Rng pick(o.seed, 0x93E, 0);
      for (int64_t i = 0; i < o.pre_queries; ++i) std::swap(all[size_t(i)], all[size_t(pick.integer(i, N * V - 1))]);
      all.resize(size_t(o.pre_queries));
      std::sort(all.begin(), all.end());
      qi = at::tensor(all, at::kLong);
    }
    rep.pre_queries = qi.size(0);
    rep.pre = prediction_error(flat_pred.index_select(0, qi), flat_rot.index_select(0, qi), e.flatten(0, 1), flat_rot);
    sheet_pred = phat, sheet_emb = e;
  }
  rep.seconds_metrics = seconds_since(t0);

  if (!o.plots.empty()) {
    make_directories(o.plots);
    if (rotation_scatter_pred.defined()) {
      plot::Scatter s;
      const char* names[] = {"x", "y", "z", "w"};
      const int64_t n = std::min<int64_t>(rotation_scatter_pred.size(0), 2500);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t c = 0; c < 4; ++c) {
          s.x.push_back(rotation_scatter_true[i][c].item<double>());
          s.y.push_back(rotation_scatter_pred[i][c].item<double>());
          s.categories.push_back(names[c]);
        }
      plot::ScatterOptions so;
      so.title = cfg.method + ": predicted vs true relative rotation (val pairs, full representation)";
      so.x_label = "true quaternion component";
      so.y_label = "predicted";
      plot::scatter(s, so, o.plots + "/rotation_prediction.png");
    }
    if (sheet_pred.defined()) {
      // Rows: val objects; columns: source view 0, the true target view, the top-5 retrieved views.
      std::vector<plot::Image> cells;
      const int64_t rows = std::min<int64_t>(va.sample_images.size(0), 4), V = va.views;
      for (int64_t o_ = 0; o_ < rows; ++o_) {
        const int64_t j = 1 + (o_ * 7) % (V - 1);
        auto p = sheet_pred[o_][j], cand = sheet_emb[o_];
        auto sims = at::mv(cand / (cand.norm(2, 1, true) + 1e-8), p / (p.norm() + 1e-8));
        auto top = std::get<1>(sims.topk(std::min<int64_t>(5, V)));
        cells.push_back(to_plot_image(va.sample_images[o_][0], "source (view 0)"));
        cells.push_back(to_plot_image(va.sample_images[o_][j], "target (view " + std::to_string(j) + ")"));
        for (int64_t t = 0; t < top.size(0); ++t) {
          const int64_t v = top[t].item<int64_t>();
          cells.push_back(to_plot_image(va.sample_images[o_][v], "#" + std::to_string(t + 1) + (v == j ? " = target" : "")));
        }
      }
      plot::image_grid(cells, 2 + int(std::min<int64_t>(5, V)), std::max<int>(1, int(128 / va.sample_images.size(3))),
                       cfg.method + ": retrieval from the predicted embedding (val)", o.plots + "/retrieval.png");
    }
  }
  return rep;
}

std::string EquivariantEvalReport::table() const {
  std::ostringstream s;
  s << checkpoint << " (" << method << "): " << train_objects << " train / " << val_objects << " val objects x " << views
    << " views, representation " << representation_dim << "\n";
  s << std::fixed;
  s << "  classification top-1 % (val, every view)\n";
  for (const auto& c : classification)
    s << "    " << std::left << std::setw(6) << c.part << std::setw(8) << c.head << std::right << std::setw(6) << c.dim
      << std::setprecision(2) << std::setw(9) << 100 * c.top1 << "\n";
  if (!layers.empty()) {
    s << "  top-1 % by backbone stage (linear head)\n";
    for (const auto& l : layers)
      s << "    " << std::left << std::setw(14) << l.part << std::right << std::setw(6) << l.dim << std::setprecision(2)
        << std::setw(9) << 100 * l.top1 << "\n";
  }
  s << "  R^2 (val pairs; reference: scalar target mean | per dimension)\n";
  for (const auto& r : regression)
    s << "    " << std::left << std::setw(10) << r.target << std::setw(6) << r.part << std::right << std::setprecision(3)
      << std::setw(8) << r.r2 << std::setw(8) << r.r2_per_dim << "\n";
  if (retrieval)
    s << "  retrieval (val-val): MRR " << std::setprecision(3) << mrr << "  H@1 " << h1 << "  H@2 " << h2 << "  H@5 " << h5
      << "  H@10 " << h10 << "  PRE " << std::setprecision(4) << pre << " (" << pre_queries << " queries)\n";
  else
    s << "  retrieval: n/a (" << method << " has no transformation-conditioned predictor)\n";
  s << std::setprecision(1) << "  time: features " << seconds_features << " s, metrics " << seconds_metrics << " s\n";
  return s.str();
}

std::string EquivariantEvalReport::json() const {
  std::ostringstream s;
  s << std::setprecision(10) << "{\"checkpoint\": \"" << checkpoint << "\", \"method\": \"" << method
    << "\", \"train_objects\": " << train_objects << ", \"val_objects\": " << val_objects << ", \"views\": " << views
    << ", \"representation_dim\": " << representation_dim << ", \"classification\": [";
  for (size_t i = 0; i < classification.size(); ++i) {
    const auto& c = classification[i];
    s << (i ? ", " : "") << "{\"part\": \"" << c.part << "\", \"head\": \"" << c.head << "\", \"dim\": " << c.dim
      << ", \"top1\": " << c.top1 << "}";
  }
  s << "], \"regression\": [";
  for (size_t i = 0; i < regression.size(); ++i) {
    const auto& r = regression[i];
    s << (i ? ", " : "") << "{\"target\": \"" << r.target << "\", \"part\": \"" << r.part << "\", \"r2\": " << r.r2
      << ", \"r2_per_dim\": " << r.r2_per_dim << "}";
  }
  s << "], \"layers\": [";
  for (size_t i = 0; i < layers.size(); ++i)
    s << (i ? ", " : "") << "{\"layer\": \"" << layers[i].part << "\", \"dim\": " << layers[i].dim
      << ", \"top1\": " << layers[i].top1 << "}";
  s << "], \"retrieval\": ";
  if (retrieval)
    s << "{\"mrr\": " << mrr << ", \"h1\": " << h1 << ", \"h2\": " << h2 << ", \"h5\": " << h5 << ", \"h10\": " << h10
      << ", \"pre\": " << pre << ", \"pre_queries\": " << pre_queries << "}";
  else
    s << "null";
  s << ", \"seconds_features\": " << seconds_features << ", \"seconds_metrics\": " << seconds_metrics << "}\n";
  return s.str();
}

}  // namespace jess::equivariance
