// The OSMesa renderer against analytic answers: silhouettes of a cube equal its pinhole projection,
// size and position factors act as requested, rotations compose, colours keep their hue.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "jess/render/geometry.h"
#include "jess/render/renderer.h"

using namespace jess;
using namespace jess::render;

namespace {

// A cube of side `side` centred at the origin, flat faces, white, matte; built here by hand so the
// test does not depend on the primitives it might share a bug with.
Mesh unit_cube(double side) {
  Mesh m;
  const float h = float(side / 2);
  const int axes[3][3] = {{0, 1, 2}, {1, 2, 0}, {2, 0, 1}};
  for (const auto& a : axes)
    for (int sign : {-1, 1}) {
      float n[3] = {0, 0, 0};
      n[a[0]] = float(sign);
      const uint32_t base = uint32_t(m.vertices.size());
      const float uv[4][2] = {{-1, -1}, {1, -1}, {1, 1}, {-1, 1}};
      for (const auto& c : uv) {
        Vertex v{};
        v.position[a[0]] = sign * h;
        v.position[a[1]] = c[0] * h;
        v.position[a[2]] = c[1] * h;
        for (int k = 0; k < 3; ++k) v.normal[k] = n[k], v.color[k] = 1.0f;
        v.specular = 0;
        m.vertices.push_back(v);
      }
      if (sign > 0) m.indices.insert(m.indices.end(), {base, base + 1, base + 2, base, base + 2, base + 3});
      else m.indices.insert(m.indices.end(), {base, base + 2, base + 1, base, base + 3, base + 2});
    }
  return m;
}

// Silhouette scene: no floor, black background, no direct lights, full white ambient: object pixels
// are white whatever their orientation.
Scene silhouette_scene() {
  Scene s;
  s.floor = false;
  s.background_color = {0, 0, 0};
  s.spot = false;
  s.sun = false;
  s.ambient = 1.0;
  s.shadows = false;
  return s;
}

std::vector<uint8_t> mask_of(const Image8& img) {
  std::vector<uint8_t> m(size_t(img.width) * img.height);
  for (size_t i = 0; i < m.size(); ++i) m[i] = img.pixels[i * 3] > 127;
  return m;
}

// Independent pinhole camera: 3DIEBench's camera at (0, 2.5 sin π/4, 2.5 cos π/4) looking at the
// origin with z up and a 39.6° field of view; pixel coordinates x right, y down.
std::array<double, 2> pinhole(const Vec3& p, int size, double fov_deg = 39.6) {
  const Vec3 eye = spherical_to_cartesian(2.5, kPi / 4, kPi / 2);
  const Vec3 f = normalized(Vec3(0, 0, 0) - eye), r = normalized(cross(f, {0, 0, 1})), u = cross(r, f);
  const Vec3 d = p - eye;
  const double depth = dot(d, f), focal = (size / 2.0) / std::tan(fov_deg * kPi / 360);
  return {size / 2.0 + focal * dot(d, r) / depth, size / 2.0 - focal * dot(d, u) / depth};
}

// Pixels whose centre lies inside the convex hull of the projected corners.
std::vector<uint8_t> analytic_mask(const Mat3& R, double side, double scale, int size) {
  std::vector<std::array<double, 2>> pts;
  for (int i = 0; i < 8; ++i) {
    const Vec3 c((i & 1 ? 0.5 : -0.5) * side, (i & 2 ? 0.5 : -0.5) * side, (i & 4 ? 0.5 : -0.5) * side);
    pts.push_back(pinhole(R * c * scale, size));
  }
  // Convex hull (Andrew's monotone chain), counter-clockwise in (x, y).
  std::sort(pts.begin(), pts.end());
  std::vector<std::array<double, 2>> hull(16);
  auto turn = [](const std::array<double, 2>& o, const std::array<double, 2>& a, const std::array<double, 2>& b) {
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  };
  int k = 0;
  for (size_t i = 0; i < pts.size(); ++i) {
    while (k >= 2 && turn(hull[k - 2], hull[k - 1], pts[i]) <= 0) --k;
    hull[k++] = pts[i];
  }
  for (int i = int(pts.size()) - 2, t = k + 1; i >= 0; --i) {
    while (k >= t && turn(hull[k - 2], hull[k - 1], pts[i]) <= 0) --k;
    hull[k++] = pts[i];
  }
  hull.resize(k - 1);
  std::vector<uint8_t> m(size_t(size) * size);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const std::array<double, 2> p{x + 0.5, y + 0.5};
      bool inside = true;
      for (size_t i = 0; i < hull.size() && inside; ++i) inside = turn(hull[i], hull[(i + 1) % hull.size()], p) >= 0;
      m[size_t(y) * size + x] = inside;
    }
  return m;
}

double iou(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  double i = 0, u = 0;
  for (size_t k = 0; k < a.size(); ++k) i += a[k] && b[k], u += a[k] || b[k];
  return u > 0 ? i / u : 0;
}

double area(const std::vector<uint8_t>& m) {
  double a = 0;
  for (auto v : m) a += v;
  return a;
}

std::array<double, 2> centroid(const std::vector<uint8_t>& m, int size) {
  double sx = 0, sy = 0, n = 0;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      if (m[size_t(y) * size + x]) sx += x + 0.5, sy += y + 0.5, n += 1;
  return {sx / n, sy / n};
}

}  // namespace

TEST(RenderScene, CubeSilhouetteEqualsItsPinholeProjection) {
  Renderer r(RenderOptions{});
  const double side = 1 / std::sqrt(3.0);  // unit diagonal, as objects are normalised
  r.set_object(unit_cube(side));
  for (const auto& angles : std::vector<std::array<double, 3>>{{0, 0, 0}, {0.4, -0.3, 1.1}, {-1.2, 0.7, 0.2}, {1.5, 1.5, -1.5}}) {
    Scene s = silhouette_scene();
    s.rotation = euler_xyz_to_matrix(angles);
    const auto rendered = mask_of(r.render(s));
    const auto expected = analytic_mask(s.rotation, side, 1.0, 128);
    EXPECT_GE(iou(rendered, expected), 0.98) << "angles " << angles[0] << " " << angles[1] << " " << angles[2];
    EXPECT_GT(area(expected), 500);  // the test is not vacuous
  }
}

TEST(RenderScene, ScaleMultipliesTheSilhouetteAreaBySquare) {
  Renderer r(RenderOptions{});
  const double side = 1 / std::sqrt(3.0);
  r.set_object(unit_cube(side));
  Scene s = silhouette_scene();
  s.rotation = euler_xyz_to_matrix({0.3, 0.2, 0.5});
  const double a1 = area(mask_of(r.render(s)));
  for (double scale : {0.5, 0.75, 1.4}) {
    s.scale = scale;
    const double a = area(mask_of(r.render(s)));
    // Against the exact pinhole hull (perspective makes the ratio differ slightly from s²) ...
    const double exact = area(analytic_mask(s.rotation, side, scale, 128)) / area(analytic_mask(s.rotation, side, 1, 128));
    EXPECT_NEAR(a / a1, exact, 0.02 * exact) << "scale " << scale;
    // ... and s² to within the perspective effect of a half-unit-deep object seen from 2.5.
    EXPECT_NEAR(a / a1, scale * scale, 0.06 * scale * scale) << "scale " << scale;
  }
}

TEST(RenderScene, PositionMovesTheSilhouetteCentroidByTheRequestedPixels) {
  Renderer r(RenderOptions{});
  // A sphere-like object would have an exact centroid shift; a cube's projected centroid moves with
  // perspective by a small fraction of the shift, bounded below.
  r.set_object(unit_cube(0.4));
  Scene s = silhouette_scene();
  s.rotation = euler_xyz_to_matrix({0.2, 0.1, 0.3});
  const auto c0 = centroid(mask_of(r.render(s)), 128);
  for (const auto& pos : std::vector<std::array<double, 2>>{{0.15, 0}, {0, -0.2}, {-0.1, 0.12}}) {
    s.position = pos;
    const auto c = centroid(mask_of(r.render(s)), 128);
    const double dx = c[0] - c0[0], dy = c[1] - c0[1];
    EXPECT_NEAR(dx, pos[0] * 128, 0.75 + 0.03 * std::abs(pos[0] * 128));
    EXPECT_NEAR(dy, pos[1] * 128, 0.75 + 0.03 * std::abs(pos[1] * 128));
  }
}

TEST(RenderScene, RotatingByTheInverseOfARotationGivesTheCanonicalImage) {
  Renderer r(RenderOptions{});
  Mesh m = unit_cube(0.5);
  // Colour the faces differently so a wrong rotation cannot give the same image by symmetry.
  for (size_t i = 0; i < m.vertices.size(); ++i) {
    const size_t face = i / 4;
    m.vertices[i].color[0] = float(0.2 + 0.13 * face), m.vertices[i].color[1] = float(0.9 - 0.12 * face),
    m.vertices[i].color[2] = float((face % 2) ? 0.8 : 0.3);
  }
  r.set_object(m);
  Scene s;  // full 3DIEBench scene: floor, sun, spot, shadows
  s.spot_theta = 0.3, s.spot_phi = 1.0;
  const Image8 canonical = r.render(s);
  for (const auto& angles : std::vector<std::array<double, 3>>{{0.5, -0.4, 1.2}, {-1.3, 0.9, -0.2}}) {
    const Quat q = euler_xyz_to_quat(angles);
    s.rotation = quat_to_matrix(inverse(q)) * euler_xyz_to_matrix(angles);
    const Image8 back = r.render(s);
    double diff = 0;
    for (size_t k = 0; k < back.pixels.size(); ++k) diff += std::abs(int(back.pixels[k]) - int(canonical.pixels[k]));
    EXPECT_LT(diff / back.pixels.size(), 0.05);
    s.rotation = euler_xyz_to_matrix(angles);
    const Image8 rotated = r.render(s);
    double moved = 0;
    for (size_t k = 0; k < back.pixels.size(); ++k) moved += std::abs(int(rotated.pixels[k]) - int(canonical.pixels[k]));
    EXPECT_GT(moved / back.pixels.size(), 1.0);  // the rotation itself does change the image
  }
}

TEST(RenderScene, MatteFloorUnderWhiteLightHasTheRequestedHue) {
  Renderer r(RenderOptions{});
  r.set_object(unit_cube(0.3));
  for (double h : {0.05, 0.33, 0.6, 0.85}) {
    Scene s;
    s.floor_color = hsv_to_rgb(h, 0.6, 0.6);
    s.spot_color = {1, 1, 1};
    s.spot_theta = 0.5, s.spot_phi = 2.0;
    const Image8 img = r.render(s);
    // The top rows of the frame see only the floor.
    int checked = 0;
    for (int y = 0; y < 12; ++y)
      for (int x = 0; x < 128; x += 7) {
        const uint8_t* p = img.pixel(x, y);
        const double hue = rgb_to_hue(p[0] / 255.0, p[1] / 255.0, p[2] / 255.0);
        double d = std::abs(hue - h);
        d = std::fmin(d, 1 - d);
        EXPECT_LT(d, 0.02) << "hue " << h << " pixel " << x << "," << y;
        ++checked;
      }
    EXPECT_GT(checked, 100);
  }
}

TEST(RenderScene, ASpotLightOfHueHTintsTheObjectTowardsH) {
  Renderer r(RenderOptions{});
  r.set_object(unit_cube(0.6));
  Scene s;
  s.floor_color = {0.5, 0.5, 0.5};
  s.sun = false;
  s.ambient = 0.05;
  s.spot_theta = 0.0;  // straight above: the cube's top face is fully lit
  s.rotation = euler_xyz_to_matrix({0, 0, 0.4});
  for (double h : {0.0, 0.33, 0.66}) {
    s.spot_color = hsv_to_rgb(h, 1, 0.8);
    const Image8 img = r.render(s);
    // The image centre sees the cube's lit top face (white albedo): its hue is the light's.
    const uint8_t* p = img.pixel(64, 52);
    const double hue = rgb_to_hue(p[0] / 255.0, p[1] / 255.0, p[2] / 255.0);
    double d = std::abs(hue - h);
    d = std::fmin(d, 1 - d);
    EXPECT_LT(d, 0.03) << "spot hue " << h;
    const int mx = std::max({p[0], p[1], p[2]}), mn = std::min({p[0], p[1], p[2]});
    EXPECT_GT(mx - mn, 60) << "the tint is strong, not a grey";
  }
}

TEST(RenderScene, TheSpotCastsAShadowOnTheFloor) {
  Renderer r(RenderOptions{});
  r.set_object(unit_cube(0.6));
  Scene s;
  s.floor_color = {0.6, 0.6, 0.6};
  s.sun = false;
  s.spot_theta = 0.0;  // light straight down: the shadow is under the cube
  // The floor point below the cube's centre, x offset so the cube itself does not hide it.
  Scene lit = s;
  lit.shadows = false;
  const Image8 with = r.render(s), without = r.render(lit);
  // A floor point between the cube and the camera, inside the shadow (which reaches 0.41 from the centre).
  const auto px = r.project({0.25, 0.36, -1});
  const uint8_t* a = with.pixel(int(px[0]), int(px[1]));
  const uint8_t* b = without.pixel(int(px[0]), int(px[1]));
  EXPECT_LT(a[0] + 40, b[0]) << "shadowed floor must be darker";
}

TEST(RenderScene, BadInputGivesClearErrors) {
  EXPECT_THROW(Renderer(RenderOptions{4}), RenderError);
  Renderer r(RenderOptions{});
  EXPECT_THROW(r.render(Scene{}), RenderError);  // no object yet
  Mesh empty;
  EXPECT_ANY_THROW(r.set_object(empty));
  r.set_object(unit_cube(0.5));
  Scene s;
  s.scale = 0;
  EXPECT_THROW(r.render(s), RenderError);
  s.scale = 1;
  s.floor = false;
  s.use_background_image = true;
  EXPECT_THROW(r.render(s), RenderError);
}
