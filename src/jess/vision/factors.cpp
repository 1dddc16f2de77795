#include "jess/vision/factors.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "jess/core/config.h"
#include "jess/core/rng.h"

namespace jess::vision {

const std::vector<std::string>& factor2d_names() {
  static const std::vector<std::string> n = {"rotation", "translation", "scale", "background", "brightness", "contrast", "gamma"};
  return n;
}

void Factor2dLevels::describe(ConfigSchema& s, const std::string& p) {
  s.add(p + "canvas", canvas, "padded canvas side (images centred on black)", check::positive_int());
  s.add(p + "rotation", rotation, "in-plane rotation levels, degrees counter-clockwise");
  s.add(p + "translation", translation, "shift right, canvas pixels");
  s.add(p + "scale", scale, "zoom about the centre (1: canonical)");
  s.add(p + "background", background, "textures behind the object: 0 noise, 1 checker, 2 stripes, 3 gradient, 4 smooth noise");
  s.add(p + "brightness", brightness, "x + level, clipped to [0, 1]");
  s.add(p + "contrast", contrast, "0.5 + level (x - 0.5), clipped");
  s.add(p + "gamma", gamma, "x^level");
}

std::vector<double> Factor2dLevels::levels(const std::string& factor) const {
  const std::string* text = nullptr;
  if (factor == "rotation") text = &rotation;
  else if (factor == "translation") text = &translation;
  else if (factor == "scale") text = &scale;
  else if (factor == "background") text = &background;
  else if (factor == "brightness") text = &brightness;
  else if (factor == "contrast") text = &contrast;
  else if (factor == "gamma") text = &gamma;
  else {
    std::string known;
    for (const auto& n : factor2d_names()) known += (known.empty() ? "" : ", ") + n;
    throw ConfigError("unknown factor '" + factor + "' (known: " + known + ")");
  }
  std::vector<double> out;
  std::stringstream ss(*text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (...) {
      used = 0;
    }
    if (item.empty() || used != item.size() || !std::isfinite(v))
      throw ConfigError("factor '" + factor + "': level '" + item + "' is not a number (levels: '" + *text + "')");
    if (factor == "background" && (v != std::floor(v) || v < 0 || v > 4))
      throw ConfigError("factor 'background': level " + item + " is not a texture index 0..4");
    if ((factor == "scale" || factor == "gamma") && v <= 0)
      throw ConfigError("factor '" + factor + "': level " + item + " must be positive");
    out.push_back(v);
  }
  if (out.empty()) throw ConfigError("factor '" + factor + "' has no levels");
  return out;
}

at::Tensor canonical_canvas(const at::Tensor& images, int64_t canvas) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 1, "factors: images must be (B, 1, H, W)");
  const int64_t h = images.size(2), w = images.size(3);
  TORCH_CHECK(canvas >= h && canvas >= w, "factors: the canvas (", canvas, ") must hold the ", h, "x", w, " images");
  auto x = images.scalar_type() == at::kByte ? images.to(at::kFloat) / 255.0 : images.to(at::kFloat);
  const int64_t top = (canvas - h) / 2, left = (canvas - w) / 2;
  auto out = at::zeros({images.size(0), 1, canvas, canvas}, x.options());
  out.narrow(2, top, h).narrow(3, left, w).copy_(x);
  return out;
}

namespace {

// Output pixel (x, y) (normalised, y down) samples the input at theta (x, y, 1); zeros outside.
at::Tensor warp(const at::Tensor& x, double a, double b, double tx, double c, double d, double ty) {
  const int64_t B = x.size(0);
  auto theta = at::tensor({a, b, tx, c, d, ty}, at::kFloat).view({1, 2, 3}).expand({B, 2, 3}).contiguous();
  auto grid = at::affine_grid_generator(theta.to(x.device()), x.sizes(), false);
  return at::grid_sampler(x, grid, /*bilinear*/ 0, /*zeros*/ 0, false);
}

// Texture `kind` for image `index`: (S, S) float in [0, 1].
at::Tensor texture(int kind, int64_t S, uint64_t seed, int64_t index) {
  Rng r(seed, 0x7E47 + uint64_t(kind), uint64_t(index));
  auto t = at::empty({S, S}, at::kFloat);
  float* p = t.data_ptr<float>();
  const double lo = r.uniform(0.0, 0.5), hi = r.uniform(0.5, 1.0);
  if (kind == 0) {  // white noise
    for (int64_t i = 0; i < S * S; ++i) p[i] = float(r.uniform());
  } else if (kind == 1) {  // checkerboard, period 4-10 px, random phase
    const int64_t period = r.integer(4, 10), py = r.integer(0, period - 1), px = r.integer(0, period - 1);
    for (int64_t y = 0; y < S; ++y)
      for (int64_t x = 0; x < S; ++x) p[y * S + x] = float((((y + py) / period + (x + px) / period) % 2) ? hi : lo);
  } else if (kind == 2) {  // sinusoidal stripes, random orientation and period
    const double angle = r.uniform(0, M_PI), period = r.uniform(4, 12), phase = r.uniform(0, 2 * M_PI);
    for (int64_t y = 0; y < S; ++y)
      for (int64_t x = 0; x < S; ++x) {
        const double u = x * std::cos(angle) + y * std::sin(angle);
        p[y * S + x] = float(lo + (hi - lo) * 0.5 * (1 + std::sin(2 * M_PI * u / period + phase)));
      }
  } else if (kind == 3) {  // linear gradient, random direction
    const double angle = r.uniform(0, 2 * M_PI);
    for (int64_t y = 0; y < S; ++y)
      for (int64_t x = 0; x < S; ++x) {
        const double u = ((x + 0.5) / S - 0.5) * std::cos(angle) + ((y + 0.5) / S - 0.5) * std::sin(angle);
        p[y * S + x] = float(lo + (hi - lo) * (u / std::sqrt(0.5) + 0.5));
      }
  } else {  // smooth noise: an 6x6 grid of values, bilinear to S
    auto coarse = at::empty({1, 1, 6, 6}, at::kFloat);
    float* c = coarse.data_ptr<float>();
    for (int i = 0; i < 36; ++i) c[i] = float(r.uniform());
    return at::upsample_bilinear2d(coarse, {S, S}, false).view({S, S});
  }
  return t.clamp(0, 1);
}

}  // namespace

at::Tensor apply_factor2d(const at::Tensor& canvases, const std::string& factor, double level, uint64_t seed,
                          int64_t first_index) {
  TORCH_CHECK(canvases.dim() == 4 && canvases.size(1) == 1 && canvases.size(2) == canvases.size(3),
              "factors: canvases must be (B, 1, S, S)");
  const auto& x = canvases;
  const int64_t S = x.size(2);
  if (factor == "canonical") return x;
  if (factor == "rotation") {
    const double q = level / 90.0;
    if (q == std::floor(q)) {  // quarter turns move pixels exactly
      const int64_t k = ((int64_t(q) % 4) + 4) % 4;
      return k == 0 ? x.clone() : at::rot90(x, k, {2, 3});
    }
    const double a = level * M_PI / 180;
    return warp(x, std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a), 0);
  }
  if (factor == "translation") return warp(x, 1, 0, -2 * level / double(S), 0, 1, 0);
  if (factor == "scale") {
    if (level <= 0) throw ConfigError("factor 'scale': level must be positive");
    return warp(x, 1 / level, 0, 0, 0, 1 / level, 0);
  }
  if (factor == "background") {
    const int kind = int(level);
    if (kind != level || kind < 0 || kind > 4) throw ConfigError("factor 'background': level must be a texture index 0..4");
    std::vector<at::Tensor> bg;
    for (int64_t i = 0; i < x.size(0); ++i) bg.push_back(texture(kind, S, seed, first_index + i));
    auto b = at::stack(bg).unsqueeze(1).to(x.device());
    return at::where(x.gt(0), x, b);  // the object's pixels where the canonical mask says so
  }
  if (factor == "brightness") return (x + level).clamp(0, 1);
  if (factor == "contrast") return (0.5 + level * (x - 0.5)).clamp(0, 1);
  if (factor == "gamma") {
    if (level <= 0) throw ConfigError("factor 'gamma': level must be positive");
    return x.pow(level);
  }
  std::string known = "canonical";
  for (const auto& n : factor2d_names()) known += ", " + n;
  throw ConfigError("unknown factor '" + factor + "' (known: " + known + ")");
}

void VariationOptions::describe(ConfigSchema& s, const std::string& p) {
  s.add(p + "canvas", canvas, "train on canonical canvases of this side (0: the raw images; the robustness benchmark uses 40)",
        check::int_at_least(0));
  s.add(p + "factor", factor, "factor shown to a fraction of the training instances (\"\": none)");
  s.add(p + "levels", levels, "its levels, drawn uniformly each time (\"\": the benchmark's levels)");
  s.add(p + "fraction", fraction, "fraction of the eligible training instances shown varied (floor(p n) of them)",
        check::in_range(0, 1));
  s.add(p + "classes", classes, "comma-separated class indices whose instances may vary (\"\": all)");
}

std::vector<double> VariationOptions::level_values() const {
  Factor2dLevels l;
  if (!levels.empty()) {
    if (factor == "rotation") l.rotation = levels;
    else if (factor == "translation") l.translation = levels;
    else if (factor == "scale") l.scale = levels;
    else if (factor == "background") l.background = levels;
    else if (factor == "brightness") l.brightness = levels;
    else if (factor == "contrast") l.contrast = levels;
    else if (factor == "gamma") l.gamma = levels;
  }
  try {
    return l.levels(factor);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("config key 'variation.factor' / 'variation.levels': ") + e.what());
  }
}

void VariationOptions::validate() const {
  if (!active()) return;
  if (canvas < 1) throw ConfigError("config key 'variation.canvas' must be set (e.g. 40) when 'variation.factor' is");
  level_values();
  for (const auto& c : [&] {
         std::vector<std::string> v;
         std::stringstream ss(classes);
         std::string item;
         while (std::getline(ss, item, ','))
           if (!item.empty()) v.push_back(item);
         return v;
       }()) {
    size_t used = 0;
    int64_t k = -1;
    try {
      k = std::stoll(c, &used);
    } catch (...) {
    }
    if (used != c.size() || k < 0) throw ConfigError("config key 'variation.classes': '" + c + "' is not a class index");
  }
}

std::vector<uint8_t> varied_instances(const std::vector<int64_t>& labels, const VariationOptions& o, uint64_t seed) {
  std::vector<uint8_t> varied(labels.size(), 0);
  if (!o.active()) return varied;
  std::vector<int64_t> allowed;
  std::stringstream ss(o.classes);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) allowed.push_back(std::stoll(item));
  std::vector<int64_t> eligible;
  for (size_t i = 0; i < labels.size(); ++i)
    if (allowed.empty() || std::find(allowed.begin(), allowed.end(), labels[i]) != allowed.end()) eligible.push_back(int64_t(i));
  const auto perm = seeded_permutation(int64_t(eligible.size()), seed, 0x7A81, 0);
  const auto count = size_t(std::floor(o.fraction * double(eligible.size()) + 1e-9));
  for (size_t k = 0; k < count; ++k) varied[size_t(eligible[size_t(perm[k])])] = 1;
  return varied;
}

at::Tensor training_canvases(const at::Tensor& images, const at::Tensor& instance_index, const std::vector<uint8_t>& varied,
                             const VariationOptions& o, uint64_t seed, int64_t step, int64_t first_position) {
  if (o.canvas < 1) return images;
  auto c = canonical_canvas(images, o.canvas);
  if (!o.active()) return c;
  const auto levels = o.level_values();
  const int64_t B = c.size(0);
  auto idx = instance_index.to(at::kLong).contiguous();
  std::vector<std::vector<int64_t>> by_level(levels.size());
  for (int64_t i = 0; i < B; ++i) {
    const int64_t inst = idx.data_ptr<int64_t>()[i];
    if (!varied[size_t(inst)]) continue;
    Rng r(seed, 0x7A82, uint64_t(step) * 1000003ull + uint64_t(first_position + i));
    by_level[size_t(r.integer(0, int64_t(levels.size()) - 1))].push_back(i);
  }
  for (size_t k = 0; k < levels.size(); ++k)
    for (int64_t i : by_level[k]) {
      // Textures are numbered by the instance and the step, so an instance sees new backgrounds over
      // training, and an image's canvas does not depend on the rest of its batch (data-parallel shards).
      const int64_t number = step * 1000003 + idx.data_ptr<int64_t>()[i];
      c.narrow(0, i, 1).copy_(apply_factor2d(c.narrow(0, i, 1), o.factor, levels[k], seed, number));
    }
  return c;
}

}  // namespace jess::vision
