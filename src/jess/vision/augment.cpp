#include "jess/vision/augment.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "jess/core/config.h"
#include "jess/core/plot.h"
#include "jess/core/rng.h"

namespace jess::vision {

void ViewAugment::describe(ConfigSchema& s, const std::string& p) {
  s.add(p + "size", size, "output side in pixels", check::positive_int());
  s.add(p + "scale_min", scale_min, "random resized crop: smallest area fraction", check::in_range(0.001, 1));
  s.add(p + "scale_max", scale_max, "random resized crop: largest area fraction", check::in_range(0.001, 1));
  s.add(p + "ratio_min", ratio_min, "random resized crop: smallest aspect ratio", check::positive());
  s.add(p + "ratio_max", ratio_max, "random resized crop: largest aspect ratio", check::positive());
  s.add(p + "flip", flip, "probability of a horizontal flip", check::in_range(0, 1));
  s.add(p + "jitter", jitter, "probability of colour jitter", check::in_range(0, 1));
  s.add(p + "brightness", brightness, "brightness factor in [1 - b, 1 + b]", check::in_range(0, 1));
  s.add(p + "contrast", contrast, "contrast factor in [1 - c, 1 + c]", check::in_range(0, 1));
  s.add(p + "blur", blur, "probability of a Gaussian blur", check::in_range(0, 1));
  s.add(p + "sigma_min", sigma_min, "blur: smallest sigma in pixels", check::positive());
  s.add(p + "sigma_max", sigma_max, "blur: largest sigma in pixels", check::positive());
  s.add(p + "solarize", solarize, "probability of solarisation", check::in_range(0, 1));
  s.add(p + "erase", erase, "probability of random erasing", check::in_range(0, 1));
  s.add(p + "noise", noise, "standard deviation of additive Gaussian pixel noise (0: off; pixels in [0, 1])",
        check::in_range(0, 1));
}

AugmentConfig::AugmentConfig() {
  view2.blur = 0.1;  // VICReg / BYOL: the two views' blur and solarisation probabilities differ
  view2.solarize = 0.2;
  local.size = 12;
  local.scale_min = 0.05;
  local.scale_max = 0.3;
  local.blur = 0.5;
}

void AugmentConfig::describe(ConfigSchema& s, const std::string& p) {
  view1.describe(s, p + "view1.");
  view2.describe(s, p + "view2.");
  s.add(p + "local_crops", local_crops, "multi-crop: small views besides the two large ones", check::int_at_least(0));
  local.describe(s, p + "local.");
}

void AugmentConfig::validate() const {
  for (const auto* v : {&view1, &view2, &local}) {
    if (v->scale_min > v->scale_max) throw ConfigError("augment: scale_min must not exceed scale_max");
    if (v->ratio_min > v->ratio_max) throw ConfigError("augment: ratio_min must not exceed ratio_max");
    if (v->sigma_min > v->sigma_max) throw ConfigError("augment: sigma_min must not exceed sigma_max");
  }
}

namespace {

struct Draw {
  double top = 0, left = 0, h = 1, w = 1;  // crop in pixels
  bool flip = false, jitter = false, blur = false, solarize = false, erase = false;
  double brightness = 1, contrast = 1, sigma = 1;
  double erase_top = 0, erase_left = 0, erase_h = 0, erase_w = 0;  // fractions of the output
  uint64_t noise_seed = 0;
};

Draw draw_for(const ViewAugment& o, int64_t H, int64_t W, Rng& r) {
  Draw d;
  // torchvision's RandomResizedCrop.get_params
  const double area = double(H * W);
  bool found = false;
  for (int attempt = 0; attempt < 10 && !found; ++attempt) {
    const double target = area * r.uniform(o.scale_min, o.scale_max);
    const double ratio = std::exp(r.uniform(std::log(o.ratio_min), std::log(o.ratio_max)));
    const double w = std::round(std::sqrt(target * ratio)), h = std::round(std::sqrt(target / ratio));
    if (w > 0 && h > 0 && w <= double(W) && h <= double(H)) {
      d.h = h, d.w = w;
      d.top = double(r.integer(0, H - int64_t(h)));
      d.left = double(r.integer(0, W - int64_t(w)));
      found = true;
    }
  }
  if (!found) {  // centre crop at the ratio bounds
    const double in_ratio = double(W) / double(H);
    if (in_ratio < o.ratio_min)
      d.w = double(W), d.h = std::round(double(W) / o.ratio_min);
    else if (in_ratio > o.ratio_max)
      d.h = double(H), d.w = std::round(double(H) * o.ratio_max);
    else
      d.h = double(H), d.w = double(W);
    d.top = std::floor((double(H) - d.h) / 2), d.left = std::floor((double(W) - d.w) / 2);
  }
  d.flip = r.uniform() < o.flip;
  d.jitter = r.uniform() < o.jitter;
  d.brightness = r.uniform(1 - o.brightness, 1 + o.brightness);
  d.contrast = r.uniform(1 - o.contrast, 1 + o.contrast);
  d.blur = r.uniform() < o.blur;
  d.sigma = r.uniform(o.sigma_min, o.sigma_max);
  d.solarize = r.uniform() < o.solarize;
  d.erase = r.uniform() < o.erase;
  // torchvision's RandomErasing: area 2-33 %, log-uniform ratio in [0.3, 3.3]
  const double ea = r.uniform(0.02, 0.33), er = std::exp(r.uniform(std::log(0.3), std::log(3.3)));
  d.erase_h = std::min(1.0, std::sqrt(ea / er)), d.erase_w = std::min(1.0, std::sqrt(ea * er));
  d.erase_top = r.uniform(0, 1 - d.erase_h), d.erase_left = r.uniform(0, 1 - d.erase_w);
  d.noise_seed = r.next();  // drawn last: the draws above stay those of earlier versions
  return d;
}

}  // namespace

at::Tensor augment_view(const at::Tensor& images, const ViewAugment& o, uint64_t seed, uint64_t stream, int64_t first) {
  TORCH_CHECK(images.dim() == 4, "augment: images must be (B, C, H, W)");
  const int64_t B = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3), S = o.size;
  auto x = images.to(at::kFloat);
  std::vector<Draw> draws(static_cast<size_t>(B));
  for (int64_t i = 0; i < B; ++i) {
    Rng r(seed, stream, uint64_t(first + i));
    draws[size_t(i)] = draw_for(o, H, W, r);
  }
  // Crop + flip + resize: one affine grid per image (align_corners = false: pixel centres map exactly).
  auto theta = at::zeros({B, 2, 3}, at::kFloat);
  auto th = theta.accessor<float, 3>();
  for (int64_t i = 0; i < B; ++i) {
    const auto& d = draws[size_t(i)];
    const double cx = (d.left + d.w / 2) / double(W) * 2 - 1, cy = (d.top + d.h / 2) / double(H) * 2 - 1;
    th[i][0][0] = float((d.flip ? -1 : 1) * d.w / double(W));
    th[i][0][2] = float(cx);
    th[i][1][1] = float(d.h / double(H));
    th[i][1][2] = float(cy);
  }
  auto grid = at::affine_grid_generator(theta.to(x.device()), {B, C, S, S}, false);
  x = at::grid_sampler(x, grid, /*bilinear*/ 0, /*border*/ 1, false);
  // Colour jitter: brightness x*b, then contrast around the image's mean grey level.
  const size_t nb = static_cast<size_t>(B);
  std::vector<float> bright(nb), contr(nb), solar(nb), sigma(nb);
  bool any_blur = false;
  for (int64_t i = 0; i < B; ++i) {
    const auto& d = draws[size_t(i)];
    bright[size_t(i)] = d.jitter ? float(d.brightness) : 1.f;
    contr[size_t(i)] = d.jitter ? float(d.contrast) : 1.f;
    solar[size_t(i)] = d.solarize ? 1.f : 0.f;
    sigma[size_t(i)] = d.blur ? float(d.sigma) : 0.f;
    any_blur = any_blur || d.blur;
  }
  auto dev = x.device();
  auto b = at::tensor(bright).to(dev).view({B, 1, 1, 1}), c = at::tensor(contr).to(dev).view({B, 1, 1, 1});
  x = (x * b).clamp(0, 1);
  at::Tensor grey = C == 3 ? (x.select(1, 0) * 0.299 + x.select(1, 1) * 0.587 + x.select(1, 2) * 0.114).unsqueeze(1) : x.mean(1, true);
  auto mean = grey.mean({2, 3}, true);
  x = ((x - mean) * c + mean).clamp(0, 1);
  if (any_blur) {
    // Separable Gaussian per image (a delta kernel where not blurred), kernel ~10 % of the side.
    const int64_t k = 2 * int64_t(std::lround(0.05 * double(S))) + 1;
    if (k >= 3) {
      auto pos = at::arange(k, at::kFloat) - double(k / 2);
      auto s = at::tensor(sigma).view({B, 1});
      auto g = at::exp(-pos.view({1, k}).pow(2) / (2 * s.clamp_min(1e-6).pow(2)));
      g = at::where(s > 0, g, (pos.view({1, k}) == 0).to(at::kFloat).expand({B, k}));
      g = (g / g.sum(1, true)).repeat_interleave(C, 0).to(dev);  // (B*C, k)
      auto y = x.reshape({1, B * C, S, S});
      y = at::reflection_pad2d(y, {0, 0, k / 2, k / 2});
      y = at::conv2d(y, g.view({B * C, 1, k, 1}), at::Tensor(), {1, 1}, {0, 0}, {1, 1}, B * C);
      y = at::reflection_pad2d(y, {k / 2, k / 2, 0, 0});
      y = at::conv2d(y, g.view({B * C, 1, 1, k}), at::Tensor(), {1, 1}, {0, 0}, {1, 1}, B * C);
      x = y.view({B, C, S, S});
    }
  }
  auto sol = at::tensor(solar).to(dev).view({B, 1, 1, 1}) > 0.5;
  x = at::where(sol.logical_and(x >= 0.5), 1 - x, x);
  // Random erasing: zero a rectangle.
  bool any_erase = false;
  auto mask = at::ones({B, 1, S, S}, at::kFloat);
  for (int64_t i = 0; i < B; ++i) {
    const auto& d = draws[size_t(i)];
    if (!d.erase) continue;
    any_erase = true;
    const int64_t t = int64_t(d.erase_top * double(S)), l = int64_t(d.erase_left * double(S));
    const int64_t h = std::max<int64_t>(1, int64_t(std::lround(d.erase_h * double(S))));
    const int64_t w = std::max<int64_t>(1, int64_t(std::lround(d.erase_w * double(S))));
    mask[i].narrow(1, t, std::min(h, S - t)).narrow(2, l, std::min(w, S - l)).zero_();
  }
  if (any_erase) x = x * mask.to(dev);
  if (o.noise > 0) {  // per image from its own seed: independent of the batch it is drawn in
    auto noise = at::empty({B, C, S, S}, at::kFloat);
    for (int64_t i = 0; i < B; ++i) {
      auto gen = at::make_generator<at::CPUGeneratorImpl>(draws[size_t(i)].noise_seed);
      noise[i].normal_(0.0, o.noise, gen);
    }
    x = (x + noise.to(dev)).clamp(0, 1);
  }
  return x;
}

std::vector<at::Tensor> make_image_views(const at::Tensor& images, const AugmentConfig& c, uint64_t seed, int64_t step,
                                         int64_t first) {
  std::vector<at::Tensor> views;
  const uint64_t base = uint64_t(step) * 64;  // streams of this batch: base + view index
  views.push_back(augment_view(images, c.view1, seed, base, first));
  views.push_back(augment_view(images, c.view2, seed, base + 1, first));
  for (int64_t k = 0; k < c.local_crops; ++k) views.push_back(augment_view(images, c.local, seed, base + 2 + uint64_t(k), first));
  return views;
}

std::string show_image_augmentations(const at::Tensor& images, const AugmentConfig& c, uint64_t seed,
                                     int64_t views_per_kind, const std::string& path) {
  std::vector<plot::Image> tiles;
  const int64_t B = images.size(0);
  auto tile = [&](const at::Tensor& img, const std::string& label) {
    plot::Image t;
    auto d = img.to(at::kDouble).contiguous();
    t.channels = d.size(0), t.height = d.size(1), t.width = d.size(2);
    t.values.assign(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
    t.label = label;
    return t;
  };
  std::vector<std::vector<at::Tensor>> kinds;  // per draw k: the views of every image
  for (int64_t k = 0; k < views_per_kind; ++k) kinds.push_back(make_image_views(images, c, seed, k));
  int columns = 1;
  for (int64_t i = 0; i < B; ++i) {
    tiles.push_back(tile(images[i], "original"));
    columns = 1;
    for (size_t v = 0; v < kinds[0].size(); ++v)
      for (int64_t k = 0; k < views_per_kind; ++k, ++columns)
        tiles.push_back(tile(kinds[size_t(k)][v][i], v == 0 ? "view 1" : v == 1 ? "view 2" : "local"));
  }
  plot::image_grid(tiles, columns, 3, "augmented views (one row per image)", path);
  return path;
}

}  // namespace jess::vision
