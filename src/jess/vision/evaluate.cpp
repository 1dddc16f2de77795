// Offline evaluation of image SSL checkpoints (jess vision eval): linear probe, k-NN and RankMe at every
// layer (the Guillotine sweep), a random initialisation, the Guillotine plot, and frozen encoders for
// other tools (jess robustness).
#include <ATen/ATen.h>

#include <iomanip>
#include <sstream>

#include "jess/core/config.h"
#include "jess/core/device.h"
#include "jess/core/files.h"
#include "jess/core/plot.h"
#include "jess/core/progress.h"
#include "jess/eval/probes.h"
#include "jess/eval/rankme.h"
#include "jess/train/trainer.h"
#include "jess/vision/factors.h"
#include "jess/vision/idx.h"
#include "jess/vision/ssl.h"
#include "jess/vision/ssl_model.h"

namespace jess::vision {

namespace {

VisionEvalReport evaluate_model(VisionSslModelImpl& model, const VisionSslOptions& config, double mean, double std_dev,
                                const VisionEvalOptions& o, at::Device device) {
  ImageSet train = load_image_set(config.data, "train", o.n_train), test = load_image_set(config.data, "test", o.n_test);
  const int64_t ntr = o.n_train > 0 ? std::min<int64_t>(o.n_train, train.n) : train.n;
  const int64_t nte = o.n_test > 0 ? std::min<int64_t>(o.n_test, test.n) : test.n;
  auto tr = at::from_blob(train.pixels.data(), {train.n, train.channels, train.height, train.width}, at::kByte).narrow(0, 0, ntr);
  auto te = at::from_blob(test.pixels.data(), {test.n, test.channels, test.height, test.width}, at::kByte).narrow(0, 0, nte);
  if (config.variation.canvas > 0) {  // a model trained on canvases is evaluated on canonical canvases
    tr = canonical_canvas(tr, config.variation.canvas) * 255.0;
    te = canonical_canvas(te, config.variation.canvas) * 255.0;
  }
  auto ytr = at::tensor(train.labels, at::kLong).narrow(0, 0, ntr), yte = at::tensor(test.labels, at::kLong).narrow(0, 0, nte);
  model.to(device);
  Progress bar("features", ntr + nte, "img");
  auto ftr = layer_features(model, tr, mean, std_dev, o.all_layers, device, &bar);
  auto fte = layer_features(model, te, mean, std_dev, o.all_layers, device, &bar);
  bar.finish();
  VisionEvalReport rep;
  rep.method = config.method;
  rep.n_train = ntr;
  rep.n_test = nte;
  const std::string rep_name = o.all_layers ? ftr[ftr.size() - 1 - nn::parse_layer_sizes(config.projector).size()].first
                                            : std::string("representation");
  Progress probes("probes", int64_t(ftr.size()), "layers");
  for (size_t i = 0; i < ftr.size(); ++i) {
    VisionLayerResult r;
    r.name = ftr[i].first;
    r.dim = ftr[i].second.size(1);
    r.representation = r.name == rep_name;
    eval::ClassifierOptions co;
    co.seed = o.seed;
    r.linear_top1 = eval::classification_probe(ftr[i].second, ytr, fte[i].second, yte, co).top1;
    if (o.knn) r.knn_top1 = eval::knn_probe(ftr[i].second, ytr, fte[i].second, yte, {20})[0].top1;
    auto d = fte[i].second.to(at::kDouble).contiguous();
    r.rankme = eval::rankme(eval::spectrum_from_rows(d.data_ptr<double>(), d.size(0), d.size(1)).singular_values);
    rep.layers.push_back(r);
    probes.advance(1);
  }
  probes.finish();
  return rep;
}

}  // namespace

const VisionLayerResult& VisionEvalReport::representation() const {
  for (const auto& l : layers)
    if (l.representation) return l;
  throw std::logic_error("evaluation report without a representation layer");
}

std::string VisionEvalReport::table() const {
  std::ostringstream s;
  s << source << " (" << method << "): " << n_train << " labelled training images, " << n_test << " test images\n";
  s << "  " << std::left << std::setw(16) << "layer" << std::right << std::setw(7) << "dim" << std::setw(10) << "linear %"
    << std::setw(9) << "k-NN %" << std::setw(9) << "RankMe" << "\n";
  for (const auto& l : layers)
    s << "  " << std::left << std::setw(16) << l.name << std::right << std::setw(7) << l.dim << std::fixed
      << std::setprecision(2) << std::setw(10) << 100 * l.linear_top1 << std::setw(9) << 100 * l.knn_top1
      << std::setprecision(1) << std::setw(9) << l.rankme << (l.representation ? "   <- representation" : "") << "\n";
  return s.str();
}

std::string VisionEvalReport::json() const {
  std::ostringstream s;
  s << std::setprecision(10) << "{\"source\": \"" << source << "\", \"method\": \"" << method << "\", \"n_train\": " << n_train
    << ", \"n_test\": " << n_test << ", \"layers\": [";
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    s << (i ? ", " : "") << "{\"layer\": \"" << l.name << "\", \"depth\": " << i + 1 << ", \"dim\": " << l.dim
      << ", \"linear_top1\": " << l.linear_top1 << ", \"knn_top1\": " << l.knn_top1 << ", \"rankme\": " << l.rankme
      << ", \"representation\": " << (l.representation ? "true" : "false") << "}";
  }
  s << "]}\n";
  return s.str();
}

namespace {
// A jess train checkpoint (or its run directory) read back: configuration, model, input statistics.
struct VisionRun {
  std::string checkpoint;
  VisionSslOptions config;
  std::shared_ptr<VisionSslModel> model;
  int64_t channels = 1;
  double mean = 0, sd = 1;
};
VisionRun load_vision_run(const std::string& path) {
  VisionRun run;
  run.checkpoint = is_directory(path) ? path + "/checkpoint.pt" : path;
  const std::string& ckpt = run.checkpoint;
  auto c = train::load_checkpoint(ckpt);
  auto it = c.extra.find("input_stats");
  if (it == c.extra.end() || c.model.count("probe.weight") == 0 || c.config.find("n_monitor:") == std::string::npos)
    throw std::invalid_argument(ckpt + " is not a checkpoint of jess train (image SSL)");
  ConfigSchema s;
  run.config.describe(s);
  s.load_stored_yaml(c.config, ckpt + " (stored configuration)");
  const int64_t classes = c.model.at("probe.weight").size(0);
  auto stem = c.model.find("backbone.conv1.weight");
  run.channels = stem == c.model.end() ? 1 : stem->second.size(1);
  run.model = std::make_shared<VisionSslModel>(run.config, run.channels, classes);
  train::load_state_dict(**run.model, c.model, ckpt);
  auto stats = it->second.to(at::kDouble);
  run.mean = stats[0].item<double>();
  run.sd = stats[1].item<double>();
  return run;
}
}  // namespace

VisionEvalReport evaluate_vision(const std::string& path, const VisionEvalOptions& o) {
  auto run = load_vision_run(path);
  auto rep = evaluate_model(**run.model, run.config, run.mean, run.sd, o, pick_device(o.device));
  rep.source = run.checkpoint;
  return rep;
}

FrozenVisionEncoder load_vision_encoder(const std::string& path, const std::string& device_name) {
  auto run = load_vision_run(path);
  auto model = run.model;
  const auto& config = run.config;
  const std::string& ckpt = run.checkpoint;
  const int64_t channels = run.channels;
  const at::Device device = pick_device(device_name);
  (*model)->to(device);
  (*model)->eval();
  const double mean = run.mean, sd = run.sd;
  FrozenVisionEncoder e;
  e.method = config.method;
  e.checkpoint = ckpt;
  e.channels = channels;
  e.dim = (*model)->backbone->output_dim();
  // Images in blocks of 512 through the backbone: the features, or the supervised model's class.
  auto blocked = [model, mean, sd, device](bool classify) {
    return [model, mean, sd, device, classify](const at::Tensor& images) {
      torch::NoGradGuard ng;
      std::vector<at::Tensor> out;
      for (int64_t f = 0; f < images.size(0); f += 512) {
        auto x = ((images.narrow(0, f, std::min<int64_t>(512, images.size(0) - f)).to(at::kFloat) - mean) / sd).to(device);
        auto h = (*model)->backbone->forward(x);
        out.push_back((classify ? (*model)->probe->forward(h).argmax(1) : h).to(at::kCPU));
      }
      return at::cat(out);
    };
  };
  if (config.method == "supervised") e.classify = blocked(true);
  e.features = blocked(false);
  return e;
}

VisionEvalReport evaluate_vision_random_init(VisionSslOptions config, const VisionEvalOptions& o) {
  config.resolve();
  ImageSet train = load_image_set(config.data, "train", config.n_train);
  if (config.n_train > 0 && config.n_train < train.n) train.n = config.n_train;
  auto f = at::from_blob(train.pixels.data(), {train.n, train.channels, train.height, train.width}, at::kByte).to(at::kFloat) / 255.0;
  torch::manual_seed(uint64_t(config.seed));  // the same initialisation jess train starts from
  VisionSslModel model(config, train.channels, train.classes);
  auto rep = evaluate_model(*model, config, f.mean().item<double>(), f.std().item<double>(), o, pick_device(o.device));
  rep.source = "random init (seed " + std::to_string(config.seed) + ")";
  return rep;
}

void plot_guillotine(const std::vector<VisionEvalReport>& reports, const std::string& path, bool knn) {
  std::vector<plot::Series> series;
  std::string names;
  for (const auto& r : reports) {
    plot::Series lin;
    lin.label = r.method + " linear";
    lin.markers = true;
    plot::Series nn = lin;
    nn.label = r.method + " k-NN";
    for (size_t i = 0; i < r.layers.size(); ++i) {
      lin.x.push_back(double(i + 1));
      lin.y.push_back(100 * r.layers[i].linear_top1);
      nn.x.push_back(double(i + 1));
      nn.y.push_back(100 * r.layers[i].knn_top1);
    }
    series.push_back(lin);
    if (knn) series.push_back(nn);
    if (names.empty())
      for (size_t i = 0; i < r.layers.size(); ++i) names += (i ? " " : "") + std::to_string(i + 1) + "=" + r.layers[i].name;
  }
  plot::LineOptions lo;
  lo.title = "Guillotine: top-1 accuracy by layer";
  lo.x_label = "depth (" + names + ")";
  lo.y_label = "top-1 accuracy (%)";
  lo.width = 820;
  lo.height = 480;
  plot::lines(series, lo, path);
}

}  // namespace jess::vision
