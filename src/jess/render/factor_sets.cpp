// The robustness benchmark's images (Ibrahim et al., "The Robustness Limits of SoTA Vision Models to
// Natural Variation"): each object in a canonical setting, then one factor changed at a time.
#include <chrono>
#include <cmath>
#include <filesystem>

#include "jess/core/hdf5_file.h"
#include "jess/core/progress.h"
#include "jess/core/rng.h"
#include "jess/render/dataset.h"

namespace jess::render {

namespace {
std::vector<double> parse_levels(const std::string& key, const std::string& text) {
  std::vector<double> out;
  std::string cur;
  for (char c : text + ",") {
    if (c == ',') {
      if (!cur.empty()) {
        double v;
        if (!parse_double(cur, v)) throw ConfigError(key + ": '" + cur + "' is not a number");
        out.push_back(v);
      }
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  return out;
}
std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text + ",") {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  return out;
}

}  // namespace

const std::vector<std::string>& factor_set_names() {
  static const std::vector<std::string> names = {"canonical", "pose_x", "pose_y", "pose_z", "position", "size",
                                                  "background", "light", "intensity"};
  return names;
}

void FactorSetOptions::describe(ConfigSchema& s) {
  s.add("objects", objects, "'procedural' or a folder of meshes <folder>/<class>/*");
  s.add("classes", classes, "comma-separated classes ('' = all)");
  s.add("objects_per_class", objects_per_class, "objects per class", check::positive_int());
  s.add("first_object", first_object, "first instance index (procedural: keep it apart from training instances)",
        check::int_at_least(0));
  s.add("image_size", image_size, "image side in pixels", check::int_in(8, 4096));
  s.add("samples", samples, "multisample anti-aliasing samples per pixel", check::int_in(1, 16));
  s.add("seed", seed, "seed (procedural instances, textures)", check::int_at_least(0));
  s.add("pose", pose, "pose levels: rotation angles in degrees about each of pose_axes");
  s.add("pose_axes", pose_axes, "axes of the pose changes, each its own factor: x (pitch), y (roll), z (yaw)");
  s.add("position", position, "position levels: shifts to the right in image widths (|shift| <= 0.5)");
  s.add("size", size, "size levels: scale factors (> 0)");
  s.add("background", background,
        "background levels: plain, plain:H, checker, stripes, noise, gradient, folder:PATH, clutter[:N] (N other objects)");
  s.add("light", light, "light-colour levels: hues of the key light at saturation 0.8");
  s.add("intensity", intensity, "light-intensity levels: factors of the canonical intensity (> 0)");
  s.add("canonical_background", canonical_background, "grey level of the canonical plain backdrop", check::in_range(0, 1));
}

RenderSummary render_factor_sets(const FactorSetOptions& o, const std::string& out) {
  const auto start = std::chrono::steady_clock::now();
  const auto pose = parse_levels("pose", o.pose), position = parse_levels("position", o.position),
             size = parse_levels("size", o.size), light = parse_levels("light", o.light),
             intensity = parse_levels("intensity", o.intensity);
  for (double v : intensity)
    if (!(v > 0)) throw ConfigError("intensity: levels must be positive, got " + std::to_string(v));
  std::vector<int> axes;
  for (char c : o.pose_axes) {
    if (c == ',' || c == ' ') continue;
    if (c != 'x' && c != 'y' && c != 'z') throw ConfigError("pose_axes: '" + std::string(1, c) + "' is not x, y or z");
    axes.push_back(c - 'x');
  }
  for (double p : position)
    if (std::abs(p) > 0.5) throw ConfigError("position: |" + std::to_string(p) + "| > 0.5 image widths leaves the frame");
  for (double s : size)
    if (!(s > 0)) throw ConfigError("size: levels must be positive, got " + std::to_string(s));
  for (double h : light)
    if (h < 0 || h > 1) throw ConfigError("light: hues must lie in [0, 1], got " + std::to_string(h));
  // Background 0 is the canonical plain backdrop; the levels follow.
  std::vector<Background> backgrounds(1);
  backgrounds[0].name = "canonical";
  backgrounds[0].color = {o.canonical_background, o.canonical_background, o.canonical_background};
  if (out.empty()) throw ConfigError("render factors: --out is required");
  if (std::filesystem::exists(out)) throw ConfigError("render factors: '" + out + "' exists (refusing to overwrite)");

  const ObjectSource src = list_objects(o.objects, o.classes);
  ViewFactors canonical;
  canonical.background = 0;
  canonical.spot_hue = -1;  // white spot
  canonical.spot_theta = kPi / 8, canonical.spot_phi = kPi / 2 + kPi / 4;  // above, front-left
  const int64_t S = o.image_size;
  Renderer renderer(RenderOptions{int(S), int(o.samples)});
  // Background levels in the order given; "clutter[:N]" is N other objects (default 3), small and off
  // centre, rendered canonically on the backdrop and composited into one image behind the object.
  int clutter_count = 0;
  for (const auto& item : split_list(o.background)) {
    if (item.rfind("clutter", 0) != 0) {
      for (auto& b : parse_backgrounds(item, int(S), uint64_t(o.seed) + backgrounds.size())) backgrounds.push_back(std::move(b));
      continue;
    }
    int64_t n = 3;
    if (item.size() > 7 && (item[7] != ':' || !parse_int64(item.substr(8), n) || n < 1 || n > 8))
      throw ConfigError("background: '" + item + "': clutter:N needs N in 1..8");
    Background b;
    b.name = item;
    b.has_image = true;
    b.image = Image8(int(S), int(S), 3);
    std::vector<uint8_t> rgb(size_t(S * S * 3)), plain(size_t(S * S * 3));
    ViewFactors f = canonical;
    f.scale = 0.55;
    Rng pick(uint64_t(o.seed), 0xC1077E4, uint64_t(clutter_count++));
    for (int64_t k = 0; k < n; ++k) {
      const int64_t cls = pick.integer(0, int64_t(src.classes.size()) - 1);
      renderer.set_object(load_object(src, cls, src.procedural ? 100000 + pick.integer(0, 99999) : 0, uint64_t(o.seed)));
      if (k == 0) {  // the bare backdrop: the object far outside the frame
        ViewFactors away = f;
        away.position_x = 10;
        renderer.render_into(scene_for(away, backgrounds), plain.data());
        b.image.pixels = plain;
      }
      const double angle = 2 * kPi * (k + pick.uniform()) / n;
      f.position_x = 0.33 * std::cos(angle), f.position_y = 0.33 * std::sin(angle);
      for (auto& e : f.euler) e = pick.uniform(-kPi / 2, kPi / 2);
      renderer.render_into(scene_for(f, backgrounds), rgb.data());
      for (size_t p = 0; p < rgb.size(); p += 3)
        if (std::abs(int(rgb[p]) - int(plain[p])) + std::abs(int(rgb[p + 1]) - int(plain[p + 1])) +
                std::abs(int(rgb[p + 2]) - int(plain[p + 2])) > 6)
          for (int c = 0; c < 3; ++c) b.image.pixels[p + size_t(c)] = rgb[p + size_t(c)];
    }
    backgrounds.push_back(std::move(b));
  }
  struct Item {
    int set;
    int level;
    ViewFactors f;
  };
  std::vector<Item> items{{0, 0, canonical}};
  for (int axis : axes)  // sets 1, 2, 3: pose about x, y, z
    for (size_t k = 0; k < pose.size(); ++k) {
      Item it{1 + axis, int(k), canonical};
      it.f.euler[size_t(axis)] = pose[k] * kPi / 180;
      items.push_back(it);
    }
  for (size_t k = 0; k < position.size(); ++k) {
    Item it{4, int(k), canonical};
    it.f.position_x = position[k];
    items.push_back(it);
  }
  for (size_t k = 0; k < size.size(); ++k) {
    Item it{5, int(k), canonical};
    it.f.scale = size[k];
    items.push_back(it);
  }
  for (size_t k = 1; k < backgrounds.size(); ++k) {
    Item it{6, int(k - 1), canonical};
    it.f.background = double(k);
    items.push_back(it);
  }
  for (size_t k = 0; k < light.size(); ++k) {
    Item it{7, int(k), canonical};
    it.f.light_hue = light[k], it.f.light_saturation = 0.8;
    items.push_back(it);
  }
  for (size_t k = 0; k < intensity.size(); ++k) {
    Item it{8, int(k), canonical};
    it.f.light_intensity = intensity[k];
    items.push_back(it);
  }

  const int64_t C = int64_t(src.classes.size()), N = o.objects_per_class;
  const uint64_t total = uint64_t(C * N) * items.size();
  H5Writer w(out);
  w.create_u8("images", {total, uint64_t(S), uint64_t(S), 3});
  w.create_f64("factors", {total, uint64_t(kFactorCount)});
  std::vector<int64_t> labels, object, set, level;
  std::vector<std::string> names;
  RenderSummary sum;
  sum.gl = renderer.gl_description();
  std::vector<uint8_t> rgb(size_t(S) * S * 3);
  Progress bar("render factors", int64_t(total), "img");
  uint64_t row = 0;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = o.first_object; i < o.first_object + N; ++i) {
      renderer.set_object(load_object(src, c, src.procedural ? i : i - o.first_object, uint64_t(o.seed)));
      names.push_back(object_name(src, c, src.procedural ? i : i - o.first_object));
      int64_t current_background = -1;
      for (const auto& it : items) {
        const auto& b = backgrounds[size_t(it.f.background)];
        if (b.has_image && int64_t(it.f.background) != current_background) {
          renderer.set_background_image(b.image);
          current_background = int64_t(it.f.background);
        }
        renderer.render_into(scene_for(it.f, backgrounds), rgb.data());
        w.write_rows("images", row, 1, rgb.data());
        const auto fa = it.f.as_array();
        w.write_rows("factors", row, 1, fa.data());
        labels.push_back(c), object.push_back(int64_t(names.size()) - 1), set.push_back(it.set), level.push_back(it.level);
        ++row;
        bar.advance();
      }
    }
  bar.finish();
  w.write_i64("labels", {labels.size()}, labels.data());
  w.write_i64("object", {object.size()}, object.data());
  w.write_i64("set", {set.size()}, set.data());
  w.write_i64("level", {level.size()}, level.data());
  w.write_strings("objects", names);
  w.write_strings("classes", src.classes);
  std::vector<std::string> sets = factor_set_names(), fnames = factor_names(), bnames;
  for (const auto& b : backgrounds) bnames.push_back(b.name);
  w.write_strings("set_names", sets);
  w.write_strings("factor_names", fnames);
  w.write_strings("background_names", bnames);
  ConfigSchema schema;
  FactorSetOptions copy = o;
  copy.describe(schema);
  w.attr("/", "format", std::string("jess render factors 2"));
  w.attr("/", "config", schema.to_yaml());
  w.commit();
  sum.out = out;
  sum.objects = C * N;
  sum.images = int64_t(total);
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return sum;
}

}  // namespace jess::render
