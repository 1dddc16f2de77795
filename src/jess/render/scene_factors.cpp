// Factors of a view → the renderer's Scene, and the backgrounds that can replace the floor.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "jess/core/rng.h"
#include "jess/render/dataset.h"

namespace jess::render {

std::array<double, 14> ViewFactors::as_array() const {
  return {euler[0], euler[1], euler[2], floor_hue, spot_theta, spot_phi, spot_hue, position_x, position_y, scale,
          background, light_hue, light_saturation, light_intensity};
}

ViewFactors ViewFactors::from_array(const double* v) {
  ViewFactors f;
  f.euler = {v[0], v[1], v[2]};
  f.floor_hue = v[3], f.spot_theta = v[4], f.spot_phi = v[5], f.spot_hue = v[6];
  f.position_x = v[7], f.position_y = v[8], f.scale = v[9], f.background = v[10];
  f.light_hue = v[11], f.light_saturation = v[12], f.light_intensity = v[13];
  return f;
}

const std::vector<std::string>& factor_names() {
  static const std::vector<std::string> names = {"rot_x",      "rot_y",      "rot_z",          "floor_hue",
                                                 "spot_theta", "spot_phi",   "spot_hue",       "position_x",
                                                 "position_y", "scale",      "background",     "light_hue",
                                                 "light_saturation",         "light_intensity"};
  return names;
}

namespace {

// Procedural textures, seeded: the same name and seed give the same pixels.
Image8 texture(const std::string& kind, int size, uint64_t seed) {
  Image8 img(size, size, 3);
  Rng rng(seed, 0x7E47, std::hash<std::string>{}(kind) & 0xFFFF);
  const Vec3 a = hsv_to_rgb(rng.uniform(), rng.uniform(0.3, 0.7), rng.uniform(0.5, 0.9));
  const Vec3 b = hsv_to_rgb(rng.uniform(), rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.6));
  const double period = size / rng.uniform(4, 9), angle = rng.uniform(0, kPi);
  // Value noise on a coarse lattice, bilinearly interpolated (for "noise").
  const int cells = 8;
  std::vector<double> lattice((cells + 1) * (cells + 1));
  for (auto& v : lattice) v = rng.uniform();
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      double t = 0;
      if (kind == "checker") {
        t = ((int(std::floor(x / period)) + int(std::floor(y / period))) & 1) ? 1 : 0;
      } else if (kind == "stripes") {
        const double u = x * std::cos(angle) + y * std::sin(angle);
        t = std::fmod(std::floor(u / (period / 2)), 2.0) == 0 ? 1 : 0;
      } else if (kind == "gradient") {
        t = (x * std::cos(angle) + y * std::sin(angle)) / (size * 1.5) + 0.25;
      } else {  // noise
        const double gx = double(x) / size * cells, gy = double(y) / size * cells;
        const int ix = std::min(int(gx), cells - 1), iy = std::min(int(gy), cells - 1);
        const double fx = gx - ix, fy = gy - iy;
        auto L = [&](int i, int j) { return lattice[j * (cells + 1) + i]; };
        t = (1 - fy) * ((1 - fx) * L(ix, iy) + fx * L(ix + 1, iy)) + fy * ((1 - fx) * L(ix, iy + 1) + fx * L(ix + 1, iy + 1));
      }
      t = std::clamp(t, 0.0, 1.0);
      uint8_t* p = img.pixel(x, y);
      const Vec3 c = a * t + b * (1 - t);
      p[0] = uint8_t(std::lround(c.x * 255)), p[1] = uint8_t(std::lround(c.y * 255)), p[2] = uint8_t(std::lround(c.z * 255));
    }
  return img;
}

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

}  // namespace

std::vector<Background> parse_backgrounds(const std::string& spec, int size, uint64_t seed) {
  std::vector<Background> out;
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t comma = spec.find(',', start);
    const std::string item = trim(spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    start = comma == std::string::npos ? spec.size() + 1 : comma + 1;
    if (item.empty()) continue;
    Background b;
    b.name = item;
    if (item == "plain") {
      b.color = {0.5, 0.5, 0.5};
    } else if (item.rfind("plain:", 0) == 0) {
      double h;
      if (!parse_double(item.substr(6), h) || h < 0 || h > 1)
        throw ConfigError("backgrounds: '" + item + "': plain:H needs a hue H in [0, 1]");
      b.color = hsv_to_rgb(h, 0.35, 0.75);
    } else if (item == "checker" || item == "stripes" || item == "noise" || item == "gradient") {
      b.has_image = true;
      b.image = texture(item, std::max(64, size), seed + out.size());
    } else if (item.rfind("folder:", 0) == 0) {
      const std::string dir = item.substr(7);
      if (!std::filesystem::is_directory(dir)) throw ConfigError("backgrounds: folder '" + dir + "' does not exist");
      std::vector<std::string> files;
      for (const auto& e : std::filesystem::directory_iterator(dir)) {
        std::string ext = e.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
        if (e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg")) files.push_back(e.path().string());
      }
      std::sort(files.begin(), files.end());
      if (files.empty()) throw ConfigError("backgrounds: folder '" + dir + "' holds no .png/.jpg images");
      for (const auto& f : files) {
        Background fb;
        fb.name = "image:" + f;
        fb.has_image = true;
        try {
          fb.image = read_image(f, 3);
        } catch (const ImageError& e) {
          throw ConfigError(std::string("backgrounds: ") + e.what());
        }
        out.push_back(std::move(fb));
      }
      continue;
    } else {
      throw ConfigError("backgrounds: unknown entry '" + item +
                        "' (plain, plain:H, checker, stripes, noise, gradient, folder:PATH)");
    }
    out.push_back(std::move(b));
  }
  return out;
}

Scene scene_for(const ViewFactors& f, const std::vector<Background>& backgrounds) {
  Scene s;
  s.rotation = euler_xyz_to_matrix(f.euler);
  s.scale = f.scale;
  s.position = {f.position_x, f.position_y};
  // 3DIEBench: floor HSV(h, 0.6, 0.6), spot HSV(h, 1, 0.8) at radius 4.
  s.floor_color = hsv_to_rgb(f.floor_hue, 0.6, 0.6);
  s.spot_theta = f.spot_theta, s.spot_phi = f.spot_phi;
  // A negative spot hue is a white spot of the same value (the robustness sets' canonical light).
  s.spot_color = f.spot_hue < 0 ? Vec3(0.8, 0.8, 0.8) : hsv_to_rgb(f.spot_hue, 1.0, 0.8);
  if (f.background >= 0) {
    const size_t k = size_t(f.background);
    if (k >= backgrounds.size())
      throw ConfigError("scene: background index " + std::to_string(k) + " but " + std::to_string(backgrounds.size()) +
                        " backgrounds are configured");
    s.floor = false;
    s.background_color = backgrounds[k].color;
    s.use_background_image = backgrounds[k].has_image;
  }
  // The key lights' colour (robustness "lighting colour"): tints the sun, and the spot multiplies it.
  const Vec3 light = hsv_to_rgb(f.light_hue, f.light_saturation, 1.0);
  s.sun_color = light;
  s.spot_color = {s.spot_color.x * light.x, s.spot_color.y * light.y, s.spot_color.z * light.z};
  s.sun_intensity = f.light_intensity;
  s.spot_intensity = f.light_intensity;
  return s;
}

}  // namespace jess::render
