#include "jess/vision/factors.h"

#include <ATen/ATen.h>

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

}  // namespace jess::vision
