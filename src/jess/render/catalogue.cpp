// The procedural catalogue: class registry, per-instance random streams, the shared material
// distribution and the placement helpers the class builders (catalogue_*.cpp) use.
#include "jess/render/catalogue.h"

#include <algorithm>
#include <cmath>

#include "jess/render/catalogue_parts.h"

namespace jess::render {

namespace catalogue {

int Draw::weighted(const std::vector<double>& weights) {
  double total = 0;
  for (double w : weights) total += w;
  double u = uniform(0, total);
  int last = 0;  // the last option that can be drawn: rounding must never pick a zero weight
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] <= 0) continue;
    if (u < weights[i]) return int(i);
    u -= weights[i];
    last = int(i);
  }
  return last;
}

namespace {
Material draw_material(Draw& draw) {
  Material m;
  const double hue = draw.uniform(0, 1), saturation = draw.uniform(0.2, 0.9), value = draw.uniform(0.3, 0.95);
  m.color = hsv_to_rgb(hue, saturation, value);
  m.specular = draw.uniform(0, 0.8);
  return m;
}
}  // namespace

Palette draw_palette(Draw& draw) {
  // A fixed number of draws whatever the outcome, so that the palette never shifts other streams.
  const Material a = draw_material(draw), b = draw_material(draw), c = draw_material(draw);
  const bool two_colours = draw.chance(0.45), three_colours = draw.chance(0.3);
  Palette p;
  p.main = a;
  p.second = two_colours ? b : a;
  p.third = three_colours ? c : p.second;
  return p;
}

Mesh placed(Mesh mesh, const Mat3& R, const Vec3& t) {
  mesh.transform(R, {1, 1, 1}, t);
  return mesh;
}

Mesh box_at(const Vec3& centre, const Vec3& size, const Material& m) {
  Mesh mesh = make_box(size, m);
  mesh.translate(centre);
  return mesh;
}

Mesh rounded_box_at(const Vec3& centre, const Vec3& size, double radius, const Material& m, int segments) {
  Mesh mesh = make_rounded_box(size, radius, segments, m);
  mesh.translate(centre);
  return mesh;
}

Mesh post(const Vec3& base, double r_bottom, double r_top, double height, const Material& m, int segments) {
  Mesh mesh = make_frustum(r_bottom, r_top, height, segments, m);
  mesh.translate(base);
  return mesh;
}

Mesh side_extrusion(const Polygon& yz, double width, double x_centre, const Material& m) {
  // Extrusion coordinates (a, b, c) -> world (c, a, b): a rotation (a cyclic permutation).
  Mat3 R;
  R.m = {{{0, 0, 1}, {1, 0, 0}, {0, 1, 0}}};
  return placed(make_extrusion(yz, width, m), R, {x_centre - width / 2, 0, 0});
}

Mesh front_extrusion(const Polygon& xz, double y0, double depth, const Material& m) {
  // (a, b, c) -> (a, c, b) is a mirror; Mesh::transform re-winds the faces to keep them outward.
  Mesh mesh = make_extrusion(xz, depth, m);
  Mat3 R;
  R.m = {{{1, 0, 0}, {0, 0, 1}, {0, 1, 0}}};
  mesh.transform(R, {1, 1, 1}, {0, y0, 0});
  return mesh;
}

Mesh plan_extrusion(const Polygon& xy, double z0, double height, const Material& m) {
  Mesh mesh = make_extrusion(xy, height, m);
  mesh.translate({0, 0, z0});
  return mesh;
}

namespace {
// A right-handed frame whose third axis is `axis` (unit) and whose first stays as close to x as it can.
Mat3 frame_along(const Vec3& axis) {
  const Vec3 helper = std::abs(axis.x) < 0.9 ? Vec3(1, 0, 0) : Vec3(0, 1, 0);
  const Vec3 u = normalized(helper - axis * dot(helper, axis)), v = cross(axis, u);
  Mat3 R;  // columns u, v, axis
  R.m = {{{u.x, v.x, axis.x}, {u.y, v.y, axis.y}, {u.z, v.z, axis.z}}};
  return R;
}
}  // namespace

Mesh beam(const Vec3& a, const Vec3& b, double width, double depth, const Material& m) {
  const double length = norm(b - a);
  if (!(length > 0)) throw MeshError("beam: the two ends coincide");
  return placed(make_box({width, depth, length}, m), frame_along((b - a) * (1 / length)), (a + b) * 0.5);
}

LegStyle draw_leg_style(Draw& draw, double min_size, double max_size) {
  LegStyle style;
  style.round = draw.chance(0.55);
  style.top_size = draw.uniform(min_size, max_size);
  style.foot_size = style.round && draw.chance(0.5) ? style.top_size * draw.uniform(0.45, 0.85) : style.top_size;
  return style;
}

Mesh leg(const Vec3& top, const Vec3& foot, const LegStyle& style, const Material& m) {
  if (!style.round) return beam(foot, top, style.top_size, style.top_size, m);
  const double length = norm(top - foot);
  if (!(length > 0)) throw MeshError("leg: the top and the foot coincide");
  Mesh mesh = make_frustum(style.foot_size / 2, style.top_size / 2, length, 14, m);
  return placed(std::move(mesh), frame_along((top - foot) * (1 / length)), foot);
}

std::vector<Vec3> rounded_path(const std::vector<Vec3>& corners, double radius, int samples) {
  if (corners.size() < 3) return corners;
  std::vector<Vec3> out{corners.front()};
  for (size_t i = 1; i + 1 < corners.size(); ++i) {
    const Vec3 p = corners[i], in = p - corners[i - 1], out_dir = corners[i + 1] - p;
    const double cut = std::min(radius, 0.45 * std::min(norm(in), norm(out_dir)));
    const Vec3 a = p - normalized(in) * cut, b = p + normalized(out_dir) * cut;
    for (int k = 0; k <= samples; ++k) {
      const double t = double(k) / samples;
      out.push_back(a * ((1 - t) * (1 - t)) + p * (2 * t * (1 - t)) + b * (t * t));
    }
  }
  out.push_back(corners.back());
  return out;
}

Polygon chaikin(const Polygon& poly, int iterations) {
  Polygon current = poly;
  for (int it = 0; it < iterations; ++it) {
    Polygon next;
    const size_t n = current.size();
    for (size_t i = 0; i < n; ++i) {
      const auto& a = current[i];
      const auto& b = current[(i + 1) % n];
      next.push_back({0.75 * a[0] + 0.25 * b[0], 0.75 * a[1] + 0.25 * b[1]});
      next.push_back({0.25 * a[0] + 0.75 * b[0], 0.25 * a[1] + 0.75 * b[1]});
    }
    current = std::move(next);
  }
  return current;
}

Polygon catmull_rom(const Polygon& pts, int per_span) {
  Polygon out;
  const size_t n = pts.size();
  if (n < 2) return pts;
  for (size_t i = 0; i + 1 < n; ++i) {
    const auto& p0 = pts[i > 0 ? i - 1 : 0];
    const auto& p1 = pts[i];
    const auto& p2 = pts[i + 1];
    const auto& p3 = pts[i + 2 < n ? i + 2 : n - 1];
    for (int k = 0; k < per_span; ++k) {
      const double t = double(k) / per_span, t2 = t * t, t3 = t2 * t;
      std::array<double, 2> q{};
      for (int d = 0; d < 2; ++d)
        q[d] = 0.5 * (2 * p1[d] + (-p0[d] + p2[d]) * t + (2 * p0[d] - 5 * p1[d] + 4 * p2[d] - p3[d]) * t2 +
                      (-p0[d] + 3 * p1[d] - 3 * p2[d] + p3[d]) * t3);
      out.push_back(q);
    }
  }
  out.push_back(pts.back());
  return out;
}

Polygon rounded_rectangle(double cx, double cy, double w, double h, double radius, int segments) {
  radius = std::min(radius, 0.499 * std::min(w, h));
  const double hx = w / 2 - radius, hy = h / 2 - radius;
  const double corners[4][2] = {{hx, -hy}, {hx, hy}, {-hx, hy}, {-hx, -hy}};
  Polygon out;
  for (int c = 0; c < 4; ++c)
    for (int k = 0; k <= segments; ++k) {
      const double t = (c - 1) * kPi / 2 + (kPi / 2) * k / std::max(1, segments);
      out.push_back({cx + corners[c][0] + radius * std::cos(t), cy + corners[c][1] + radius * std::sin(t)});
    }
  return out;
}

namespace {

using Builder = Mesh (*)(Draw&, const Palette&);
struct Entry {
  const char* name;
  Builder build;
};
// Label order: the first twelve are fixed by the data set's specification; additions go at the end.
const Entry kEntries[] = {
    {"airplane", build_airplane}, {"bench", build_bench}, {"bottle", build_bottle},
    {"car", build_car},           {"chair", build_chair}, {"lamp", build_lamp},
    {"mug", build_mug},           {"sofa", build_sofa},   {"table", build_table},
    {"vase", build_vase},         {"bookshelf", build_bookshelf}, {"guitar", build_guitar},
    {"teapot", build_teapot},     {"bed", build_bed},
};

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace
}  // namespace catalogue

const std::vector<std::string>& procedural_classes() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& e : catalogue::kEntries) v.push_back(e.name);
    return v;
  }();
  return names;
}

bool is_procedural_class(const std::string& name) {
  const auto& names = procedural_classes();
  return std::find(names.begin(), names.end(), name) != names.end();
}

Mesh make_procedural(const std::string& name, uint64_t instance, uint64_t seed) {
  for (const auto& entry : catalogue::kEntries) {
    if (name != entry.name) continue;
    // Two independent streams per (class, instance, seed): shape and colour, so that a change to a
    // class's shape code never changes its instances' colours.
    const uint64_t stream = catalogue::fnv1a(name);
    catalogue::Draw shape(jess::Rng(seed, stream, instance));
    catalogue::Draw colour(jess::Rng(seed, stream ^ 0x5bd1e9955bd1e995ull, instance));
    const catalogue::Palette palette = catalogue::draw_palette(colour);
    Mesh mesh = entry.build(shape, palette);
    mesh.validate("procedural " + name + " #" + std::to_string(instance));
    mesh.normalize(1.0);
    return mesh;
  }
  std::string known;
  for (const auto& n : procedural_classes()) known += (known.empty() ? "" : ", ") + n;
  throw MeshError("unknown procedural class '" + name + "' (known: " + known + ")");
}

}  // namespace jess::render
