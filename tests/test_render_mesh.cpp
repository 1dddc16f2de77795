// Mesh primitives and the procedural catalogue: volumes and areas against closed forms (divergence
// theorem), closedness and outward orientation, normals, transforms, normalisation, determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "jess/render/catalogue.h"
#include "jess/render/mesh.h"

using namespace jess::render;

namespace {

const Material kGrey{};

Vec3 position(const Mesh& mesh, uint32_t i) {
  const auto& p = mesh.vertices[i].position;
  return {p[0], p[1], p[2]};
}
Vec3 normal_of(const Mesh& mesh, uint32_t i) {
  const auto& n = mesh.vertices[i].normal;
  return {n[0], n[1], n[2]};
}

// Divergence theorem: V = (1/3) ∮ p·n dA = Σ_triangles (a · (b × c)) / 6, positive when the
// counter-clockwise faces look outwards.
double signed_volume(const Mesh& mesh) {
  double v = 0;
  for (size_t t = 0; t < mesh.indices.size(); t += 3) {
    const Vec3 a = position(mesh, mesh.indices[t]), b = position(mesh, mesh.indices[t + 1]),
               c = position(mesh, mesh.indices[t + 2]);
    v += dot(a, cross(b, c)) / 6;
  }
  return v;
}

double surface_area(const Mesh& mesh) {
  double s = 0;
  for (size_t t = 0; t < mesh.indices.size(); t += 3) {
    const Vec3 a = position(mesh, mesh.indices[t]), b = position(mesh, mesh.indices[t + 1]),
               c = position(mesh, mesh.indices[t + 2]);
    s += norm(cross(b - a, c - a)) / 2;
  }
  return s;
}

// A closed, consistently oriented surface: after welding vertices at identical positions, every
// directed edge (u, v) occurs exactly once and its reverse (v, u) exactly once. Returns the first
// problem, or "" when there is none.
std::string closedness_problem(const Mesh& mesh) {
  std::map<std::tuple<float, float, float>, int> ids;
  std::vector<int> welded(mesh.vertices.size());
  for (size_t i = 0; i < mesh.vertices.size(); ++i) {
    const auto& p = mesh.vertices[i].position;
    welded[i] = ids.emplace(std::make_tuple(p[0], p[1], p[2]), int(ids.size())).first->second;
  }
  std::map<std::pair<int, int>, int> directed;
  for (size_t t = 0; t < mesh.indices.size(); t += 3)
    for (int k = 0; k < 3; ++k) {
      const int u = welded[mesh.indices[t + k]], v = welded[mesh.indices[t + (k + 1) % 3]];
      if (u == v) return "degenerate triangle " + std::to_string(t / 3);
      ++directed[{u, v}];
    }
  for (const auto& [edge, count] : directed) {
    if (count != 1) return "directed edge used " + std::to_string(count) + " times";
    const auto reverse = directed.find({edge.second, edge.first});
    if (reverse == directed.end()) return "boundary edge (the surface has a hole)";
  }
  return "";
}

// The weaker property of a union of closed, outward parts (which may touch along coincident faces):
// after welding, each directed edge (u, v) occurs as often as its reverse (v, u). A hole or a
// flipped triangle breaks it.
std::string union_of_closed_problem(const Mesh& mesh) {
  std::map<std::tuple<float, float, float>, int> ids;
  std::vector<int> welded(mesh.vertices.size());
  for (size_t i = 0; i < mesh.vertices.size(); ++i) {
    const auto& p = mesh.vertices[i].position;
    welded[i] = ids.emplace(std::make_tuple(p[0], p[1], p[2]), int(ids.size())).first->second;
  }
  std::map<std::pair<int, int>, int> directed;
  for (size_t t = 0; t < mesh.indices.size(); t += 3)
    for (int k = 0; k < 3; ++k) {
      const int u = welded[mesh.indices[t + k]], v = welded[mesh.indices[t + (k + 1) % 3]];
      if (u != v) ++directed[{u, v}];
    }
  for (const auto& [edge, count] : directed) {
    const auto reverse = directed.find({edge.second, edge.first});
    if (reverse == directed.end() || reverse->second != count) return "unmatched edge (a hole or a flipped face)";
  }
  return "";
}

void expect_unit_normals(const Mesh& mesh, const std::string& what) {
  for (size_t i = 0; i < mesh.vertices.size(); ++i)
    ASSERT_NEAR(norm(normal_of(mesh, uint32_t(i))), 1.0, 1e-5) << what << " vertex " << i;
}

// Vertex normals agree with the face they belong to (flat parts) or lean outward (smooth parts):
// the angle between a vertex normal and its triangle's geometric normal stays below `max_degrees`.
void expect_normals_follow_faces(const Mesh& mesh, double max_degrees, const std::string& what) {
  const double min_cos = std::cos(max_degrees * kPi / 180);
  for (size_t t = 0; t < mesh.indices.size(); t += 3) {
    const Vec3 a = position(mesh, mesh.indices[t]), b = position(mesh, mesh.indices[t + 1]),
               c = position(mesh, mesh.indices[t + 2]);
    const Vec3 face = cross(b - a, c - a);
    if (norm(face) < 1e-12) continue;
    const Vec3 f = normalized(face);
    for (int k = 0; k < 3; ++k)
      ASSERT_GT(dot(f, normal_of(mesh, mesh.indices[t + k])), min_cos) << what << " triangle " << t / 3;
  }
}

void expect_closed_outward(const Mesh& mesh, const std::string& what) {
  EXPECT_EQ(closedness_problem(mesh), "") << what;
  EXPECT_GT(signed_volume(mesh), 0) << what;
  expect_unit_normals(mesh, what);
  EXPECT_NO_THROW(mesh.validate(what));
}

std::vector<std::array<double, 2>> guitar_like_outline(int samples) {
  // Two lobes joined by a waist: concave, so ear clipping must cope.
  std::vector<std::array<double, 2>> right, poly;
  for (int i = 0; i <= samples; ++i) {
    const double t = double(i) / samples;
    const double w = 0.4 * std::sin(kPi * t) * (1 - 0.45 * std::exp(-std::pow((t - 0.55) / 0.12, 2)));
    right.push_back({w, t});
  }
  for (size_t i = 0; i < right.size(); ++i) poly.push_back(right[i]);
  for (size_t i = right.size() - 2; i >= 1; --i) poly.push_back({-right[i][0], right[i][1]});
  return poly;
}

}  // namespace

// ---- primitives ---------------------------------------------------------------------------------

TEST(RenderMesh, BoxVolumeAreaAndNormals) {
  const Mesh box = make_box({2, 3, 5}, kGrey);
  EXPECT_EQ(box.triangles(), 12u);
  EXPECT_NEAR(signed_volume(box), 30.0, 1e-9);
  EXPECT_NEAR(surface_area(box), 2 * (6 + 10 + 15), 1e-9);
  expect_closed_outward(box, "box");
  expect_normals_follow_faces(box, 1e-3, "box");  // flat shading
  Vec3 lo, hi;
  box.bounds(lo, hi);
  EXPECT_NEAR(lo.x, -1, 1e-9);
  EXPECT_NEAR(hi.y, 1.5, 1e-9);
  EXPECT_NEAR(hi.z, 2.5, 1e-9);
}

TEST(RenderMesh, RoundedBoxVolumeMatchesRoundedRectangle) {
  const double sx = 2, sy = 1, sz = 0.5, r = 0.25;
  const Mesh mesh = make_rounded_box({sx, sy, sz}, r, 24, kGrey);
  expect_closed_outward(mesh, "rounded box");
  const double exact = (sx * sy - (4 - kPi) * r * r) * sz;
  EXPECT_NEAR(signed_volume(mesh), exact, 1e-3 * exact);
  Vec3 lo, hi;
  mesh.bounds(lo, hi);
  EXPECT_NEAR(hi.x - lo.x, sx, 1e-6);
  EXPECT_NEAR(hi.y - lo.y, sy, 1e-6);
  EXPECT_NEAR(hi.z - lo.z, sz, 1e-6);
  EXPECT_NEAR(lo.z + hi.z, 0, 1e-6);
  // Zero radius is a plain box.
  EXPECT_NEAR(signed_volume(make_rounded_box({sx, sy, sz}, 0, 4, kGrey)), sx * sy * sz, 1e-9);
}

TEST(RenderMesh, LatheOfACylinderConvergesToPiR2H) {
  const double r = 0.7, h = 1.3, exact = kPi * r * r * h;
  double previous_error = 1e9;
  for (int segments : {8, 16, 32, 64, 128}) {
    const Mesh mesh = make_lathe({{r, 0}, {r, h / 2}, {r, h}}, segments, kGrey, true, true);
    expect_closed_outward(mesh, "lathe cylinder");
    // An inscribed polygon: area (n/2) r² sin(2π/n), so the error is exactly known.
    const double polygon = 0.5 * segments * r * r * std::sin(2 * kPi / segments) * h;
    EXPECT_NEAR(signed_volume(mesh), polygon, 1e-6);
    const double error = std::abs(signed_volume(mesh) - exact);
    EXPECT_LT(error, previous_error);
    previous_error = error;
  }
  EXPECT_LT(previous_error / exact, 1e-3);
  // Without caps it is open (a tube), and the side area is the prism's.
  const Mesh open = make_lathe({{r, 0}, {r, h}}, 64, kGrey, false, false);
  EXPECT_NE(closedness_problem(open), "");
  EXPECT_NEAR(surface_area(open), 64 * 2 * r * std::sin(kPi / 64) * h, 1e-6);
}

TEST(RenderMesh, HollowLatheIsClosedAndHasTheWallVolume) {
  // A mug: outer wall up, over the rim, inner wall down to the axis.
  const double R = 1.0, r = 0.8, H = 2.0, floor = 0.3;
  const Mesh mug = make_lathe({{R, 0}, {R, H}, {r, H}, {r, H / 2}, {r, floor}, {0, floor}}, 256, kGrey, true, false);
  expect_closed_outward(mug, "hollow lathe");
  const double exact = kPi * R * R * H - kPi * r * r * (H - floor);
  EXPECT_NEAR(signed_volume(mug), exact, 2e-3 * exact);
  // The inner wall's normals point towards the axis (out of the solid, into the cavity).
  int inward = 0;
  for (size_t i = 0; i < mug.vertices.size(); ++i) {
    const Vec3 p = position(mug, uint32_t(i)), n = normal_of(mug, uint32_t(i));
    const double radius = std::hypot(p.x, p.y);
    if (std::abs(radius - r) < 1e-6 && p.z > floor + 0.1 && p.z < H - 0.1) {
      EXPECT_LT(n.x * p.x + n.y * p.y, 0);
      ++inward;
    }
  }
  EXPECT_GT(inward, 0);
  // Sharp rim corners are creased (flat on each side), not averaged.
  expect_normals_follow_faces(mug, 10, "hollow lathe");
}

TEST(RenderMesh, SphereVolumeConverges) {
  const double r = 1.5, exact = 4.0 / 3.0 * kPi * r * r * r;
  double previous_error = 1e9;
  for (int n : {8, 16, 32, 64}) {
    const Mesh sphere = make_sphere(r, 2 * n, n, kGrey);
    expect_closed_outward(sphere, "sphere");
    const double error = std::abs(signed_volume(sphere) - exact);
    EXPECT_LT(error, previous_error);
    previous_error = error;
    // Smooth normals: radial.
    for (size_t i = 0; i < sphere.vertices.size(); ++i)
      ASSERT_NEAR(dot(normal_of(sphere, uint32_t(i)), normalized(position(sphere, uint32_t(i)))), 1.0, 1e-5);
  }
  EXPECT_LT(previous_error / exact, 5e-3);
  EXPECT_NEAR(surface_area(make_sphere(r, 256, 128, kGrey)), 4 * kPi * r * r, 1e-3 * 4 * kPi * r * r);
}

TEST(RenderMesh, FrustumAndConeVolumes) {
  const int n = 512;
  const double r0 = 1.0, r1 = 0.4, h = 2.0;
  const Mesh frustum = make_frustum(r0, r1, h, n, kGrey);
  expect_closed_outward(frustum, "frustum");
  const double exact = kPi * h / 3 * (r0 * r0 + r0 * r1 + r1 * r1);
  EXPECT_NEAR(signed_volume(frustum), exact, 1e-3 * exact);
  const Mesh cone = make_frustum(r0, 0, h, n, kGrey);
  expect_closed_outward(cone, "cone");
  EXPECT_NEAR(signed_volume(cone), kPi * r0 * r0 * h / 3, 1e-3 * kPi * r0 * r0 * h / 3);
  const Mesh inverted = make_frustum(0, r0, h, 32, kGrey);
  expect_closed_outward(inverted, "inverted cone");
  // Side normals of a cone tilt up by the half-angle.
  const double slope = std::atan2(r0, h);
  for (size_t i = 0; i < cone.vertices.size(); ++i) {
    const Vec3 nrm = normal_of(cone, uint32_t(i));
    if (std::abs(nrm.z) < 0.99) ASSERT_NEAR(nrm.z, std::sin(slope), 1e-5);
  }
  EXPECT_NE(closedness_problem(make_frustum(r0, r1, h, 16, kGrey, false)), "");
  EXPECT_THROW(make_frustum(0, 0, 1, 16, kGrey), MeshError);
}

TEST(RenderMesh, TorusVolumeIsTwoPiSquaredRr2) {
  const double R = 1.0, r = 0.3;
  const Mesh torus = make_torus(R, r, 256, 128, kGrey);
  expect_closed_outward(torus, "torus");
  const double exact = 2 * kPi * kPi * R * r * r;
  EXPECT_NEAR(signed_volume(torus), exact, 2e-3 * exact);
  EXPECT_NEAR(surface_area(torus), 4 * kPi * kPi * R * r, 2e-3 * 4 * kPi * kPi * R * r);
  EXPECT_THROW(make_torus(0.2, 0.3, 16, 8, kGrey), MeshError);
}

TEST(RenderMesh, TubeRunsBetweenItsEnds) {
  const Vec3 a(0.1, -0.2, 0.3), b(1.1, 0.8, -0.4);
  const double r = 0.05;
  const Mesh tube = make_tube(a, b, r, 64, kGrey);
  expect_closed_outward(tube, "tube");
  const double length = norm(b - a);
  EXPECT_NEAR(signed_volume(tube), kPi * r * r * length, 2e-3 * kPi * r * r * length);
  // Every vertex lies within r of the segment ab and between its ends.
  const Vec3 axis = normalized(b - a);
  for (size_t i = 0; i < tube.vertices.size(); ++i) {
    const Vec3 p = position(tube, uint32_t(i)) - a;
    const double along = dot(p, axis);
    EXPECT_GE(along, -1e-5);
    EXPECT_LE(along, length + 1e-5);
    EXPECT_LE(norm(p - axis * along), r + 1e-5);
  }
  EXPECT_THROW(make_tube(a, a, r, 8, kGrey), MeshError);
}

TEST(RenderMesh, SweptTubeIsClosedAndKeepsItsThicknessThroughBends) {
  // A square "U" handle and a smooth arc.
  std::vector<Vec3> u_path = {{0, 0, 0}, {0.5, 0, 0}, {0.5, 0, 1}, {0, 0, 1}};
  const double r = 0.05;
  const Mesh handle = make_swept_tube(u_path, r, 32, kGrey);
  expect_closed_outward(handle, "swept U");
  // Centre line length 2: volume ≈ πr²·2 (mitred corners add and remove equal wedges).
  EXPECT_NEAR(signed_volume(handle), kPi * r * r * 2, 0.02 * kPi * r * r * 2);
  std::vector<Vec3> arc;
  for (int i = 0; i <= 40; ++i) arc.push_back({std::cos(kPi * i / 40), 0, std::sin(kPi * i / 40)});
  const Mesh bent = make_swept_tube(arc, r, 24, kGrey);
  expect_closed_outward(bent, "swept arc");
  for (size_t i = 0; i < bent.vertices.size(); ++i) {
    const Vec3 p = position(bent, uint32_t(i));
    const double from_circle = std::hypot(std::hypot(p.x, p.z) - 1, p.y);
    EXPECT_LE(from_circle, r * 1.01 + 1e-6);
  }
  EXPECT_THROW(make_swept_tube({{0, 0, 0}}, r, 8, kGrey), MeshError);
}

TEST(RenderMesh, ExtrusionOfAConcavePolygon) {
  const auto outline = guitar_like_outline(60);
  double area = 0;
  for (size_t i = 0; i < outline.size(); ++i) {
    const auto& p = outline[i];
    const auto& q = outline[(i + 1) % outline.size()];
    area += (p[0] * q[1] - p[1] * q[0]) / 2;
  }
  ASSERT_GT(area, 0);
  const double depth = 0.1;
  const Mesh body = make_extrusion(outline, depth, kGrey);
  expect_closed_outward(body, "extrusion");
  EXPECT_NEAR(signed_volume(body), area * depth, 1e-9);
  // Caps are flat and cover exactly the polygon's area (no overlapping or missing ears).
  double cap_area = 0;
  for (size_t t = 0; t < body.indices.size(); t += 3) {
    const Vec3 a = position(body, body.indices[t]), b = position(body, body.indices[t + 1]),
               c = position(body, body.indices[t + 2]);
    const Vec3 f = cross(b - a, c - a);
    if (std::abs(a.z - depth) < 1e-6 && std::abs(b.z - depth) < 1e-6 && std::abs(c.z - depth) < 1e-6) {
      EXPECT_GT(f.z, 0);
      cap_area += norm(f) / 2;
    }
  }
  EXPECT_NEAR(cap_area, area, 1e-6);
  // A clockwise polygon is accepted and gives the same solid.
  std::vector<std::array<double, 2>> clockwise(outline.rbegin(), outline.rend());
  EXPECT_NEAR(signed_volume(make_extrusion(clockwise, depth, kGrey)), area * depth, 1e-9);
  // An L-shape: sharp corners are flat-shaded.
  const Mesh ell = make_extrusion({{0, 0}, {2, 0}, {2, 1}, {1, 1}, {1, 3}, {0, 3}}, 0.5, kGrey);
  expect_closed_outward(ell, "L extrusion");
  EXPECT_NEAR(signed_volume(ell), 4 * 0.5, 1e-9);
  expect_normals_follow_faces(ell, 1e-3, "L extrusion");
  EXPECT_THROW(make_extrusion({{0, 0}, {1, 0}}, 1, kGrey), MeshError);
}

// ---- mesh operations ----------------------------------------------------------------------------

TEST(RenderMesh, TransformKeepsNormalsUnitAndPerpendicularToFaces) {
  Mesh sphere = make_sphere(1.0, 48, 24, kGrey);
  const Mat3 R = euler_xyz_to_matrix({0.3, -0.7, 1.1});
  const Vec3 scale(3.0, 0.5, 1.7), t(0.2, -1.0, 4.0);
  sphere.transform(R, scale, t);
  expect_closed_outward(sphere, "ellipsoid");
  // Volume scales by det(S) (the unit sphere's tessellated volume, times 3·0.5·1.7).
  EXPECT_NEAR(signed_volume(sphere), signed_volume(make_sphere(1.0, 48, 24, kGrey)) * 3.0 * 0.5 * 1.7, 1e-4);
  // An ellipsoid's exact normal at p is the gradient of its implicit function: (S⁻² Rᵀ(p - t)) rotated.
  for (size_t i = 0; i < sphere.vertices.size(); ++i) {
    const Vec3 local = R.transposed() * (position(sphere, uint32_t(i)) - t);
    const Vec3 gradient = R * Vec3(local.x / (scale.x * scale.x), local.y / (scale.y * scale.y), local.z / (scale.z * scale.z));
    ASSERT_NEAR(dot(normalized(gradient), normal_of(sphere, uint32_t(i))), 1.0, 1e-4);
  }
  // Flat faces of a sheared box stay perpendicular to their normals.
  Mesh box = make_box({1, 1, 1}, kGrey);
  box.transform(R, scale, t);
  expect_normals_follow_faces(box, 1e-2, "scaled box");
  EXPECT_NEAR(signed_volume(box), 3.0 * 0.5 * 1.7, 1e-5);
  // A mirror keeps the front faces outside.
  Mesh mirrored = make_box({1, 2, 3}, kGrey);
  mirrored.transform(Mat3::identity(), {-1, 1, 1}, {});
  expect_closed_outward(mirrored, "mirrored box");
  expect_normals_follow_faces(mirrored, 1e-3, "mirrored box");
  EXPECT_THROW(mirrored.transform(Mat3::identity(), {0, 1, 1}, {}), MeshError);
}

TEST(RenderMesh, AppendAndMaterial) {
  Mesh a = make_box({1, 1, 1}, kGrey);
  Mesh b = make_sphere(0.5, 16, 8, kGrey);
  b.translate({3, 0, 0});
  const size_t va = a.vertices.size(), ta = a.triangles();
  a.append(b);
  EXPECT_EQ(a.vertices.size(), va + b.vertices.size());
  EXPECT_EQ(a.triangles(), ta + b.triangles());
  EXPECT_NEAR(signed_volume(a), 1.0 + signed_volume(b), 1e-6);
  a.validate("appended");
  Material red;
  red.color = {0.9, 0.1, 0.2};
  red.specular = 0.6;
  a.set_material(red);
  for (const Vertex& v : a.vertices) {
    ASSERT_FLOAT_EQ(v.color[0], 0.9f);
    ASSERT_FLOAT_EQ(v.color[2], 0.2f);
    ASSERT_FLOAT_EQ(v.specular, 0.6f);
  }
}

TEST(RenderMesh, NormalizeCentresAndScalesTheDiagonal) {
  Mesh mesh = make_box({2, 1, 0.5}, kGrey);
  mesh.append(make_sphere(0.3, 16, 8, kGrey));
  mesh.translate({5, -3, 2});
  mesh.normalize(1.0);
  Vec3 lo, hi;
  mesh.bounds(lo, hi);
  EXPECT_NEAR(norm(hi - lo), 1.0, 1e-6);
  EXPECT_NEAR(norm((lo + hi) * 0.5), 0.0, 1e-6);
  // Proportions survive: x stays twice y.
  EXPECT_NEAR((hi.x - lo.x) / (hi.y - lo.y), 2.0, 1e-5);
  mesh.normalize(2.5);
  mesh.bounds(lo, hi);
  EXPECT_NEAR(norm(hi - lo), 2.5, 1e-5);
  Mesh empty;
  EXPECT_THROW(empty.normalize(), MeshError);
  Mesh point = make_box({1, 1, 1}, kGrey);
  for (Vertex& v : point.vertices) v.position[0] = v.position[1] = v.position[2] = 1;
  EXPECT_THROW(point.normalize(), MeshError);
}

TEST(RenderMesh, ValidateNamesTheProblem) {
  Mesh empty;
  try {
    empty.validate("thing");
    FAIL() << "no throw";
  } catch (const MeshError& e) {
    EXPECT_NE(std::string(e.what()).find("thing"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("no triangles"), std::string::npos);
  }
  Mesh bad_index = make_box({1, 1, 1}, kGrey);
  bad_index.indices[5] = 1000;
  EXPECT_THROW(bad_index.validate("box"), MeshError);
  Mesh bad_value = make_box({1, 1, 1}, kGrey);
  bad_value.vertices[3].position[1] = std::nanf("");
  try {
    bad_value.validate("box");
    FAIL() << "no throw";
  } catch (const MeshError& e) {
    EXPECT_NE(std::string(e.what()).find("non-finite"), std::string::npos);
  }
  Mesh ragged = make_box({1, 1, 1}, kGrey);
  ragged.indices.pop_back();
  EXPECT_THROW(ragged.validate("box"), MeshError);
}

// ---- the catalogue ------------------------------------------------------------------------------

TEST(RenderCatalogue, ClassesInLabelOrder) {
  const auto& classes = procedural_classes();
  ASSERT_GE(classes.size(), 12u);
  const std::vector<std::string> first = {"airplane", "bench", "bottle", "car",  "chair",     "lamp",
                                          "mug",      "sofa",  "table",  "vase", "bookshelf", "guitar"};
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(classes[i], first[i]);
  EXPECT_EQ(std::set<std::string>(classes.begin(), classes.end()).size(), classes.size());
  EXPECT_TRUE(is_procedural_class("mug"));
  EXPECT_FALSE(is_procedural_class("unicorn"));
  try {
    make_procedural("unicorn", 0);
    FAIL() << "no throw";
  } catch (const MeshError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("unicorn"), std::string::npos);
    for (const auto& name : classes) EXPECT_NE(message.find(name), std::string::npos) << name;
  }
}

TEST(RenderCatalogue, EveryClassIsValidNormalisedAndUnderBudget) {
  for (const auto& name : procedural_classes())
    for (uint64_t instance = 0; instance < 50; ++instance) {
      const Mesh mesh = make_procedural(name, instance, 7);
      const std::string what = name + " #" + std::to_string(instance);
      ASSERT_NO_THROW(mesh.validate(what));
      ASSERT_GT(mesh.triangles(), 20u) << what;
      ASSERT_LE(mesh.triangles(), 6000u) << what;
      Vec3 lo, hi;
      mesh.bounds(lo, hi);
      ASSERT_NEAR(norm(hi - lo), 1.0, 1e-5) << what;
      ASSERT_NEAR(norm((lo + hi) * 0.5), 0.0, 1e-5) << what;
      // Parts are closed solids: the whole has positive volume, and every normal is a unit vector.
      ASSERT_GT(signed_volume(mesh), 0) << what;
      expect_unit_normals(mesh, what);
      // Shading normals agree with the faces they light (none flipped by a mirror or a transform).
      expect_normals_follow_faces(mesh, 60, what);
      for (const Vertex& v : mesh.vertices)
        for (int k = 0; k < 3; ++k) ASSERT_TRUE(v.color[k] >= 0 && v.color[k] <= 1) << what;
    }
}

TEST(RenderCatalogue, DeterministicAndInstancesDiffer) {
  for (const auto& name : procedural_classes()) {
    const Mesh a = make_procedural(name, 3, 11), b = make_procedural(name, 3, 11);
    ASSERT_EQ(a.vertices.size(), b.vertices.size()) << name;
    ASSERT_EQ(a.indices, b.indices) << name;
    for (size_t i = 0; i < a.vertices.size(); ++i)
      for (int k = 0; k < 3; ++k) {
        ASSERT_EQ(a.vertices[i].position[k], b.vertices[i].position[k]) << name;
        ASSERT_EQ(a.vertices[i].color[k], b.vertices[i].color[k]) << name;
      }
    // Another instance, or the same instance under another seed, differs in shape.
    for (const auto& [instance, seed] : {std::pair<uint64_t, uint64_t>{4, 11}, {3, 12}}) {
      const Mesh c = make_procedural(name, instance, seed);
      Vec3 alo, ahi, clo, chi;
      a.bounds(alo, ahi);
      c.bounds(clo, chi);
      const bool same_count = c.vertices.size() == a.vertices.size();
      const double box_change = norm((ahi - alo) - (chi - clo));
      EXPECT_TRUE(!same_count || box_change > 1e-3) << name << " instance " << instance << " seed " << seed;
    }
  }
}

TEST(RenderCatalogue, ShapesVaryWithinAClass) {
  // Over 40 instances the bounding-box proportions spread out (no class is one fixed shape), and the
  // number of parts changes.
  for (const auto& name : procedural_classes()) {
    double min_ratio = 1e9, max_ratio = 0;
    std::set<size_t> triangle_counts;
    for (uint64_t instance = 0; instance < 40; ++instance) {
      const Mesh mesh = make_procedural(name, instance);
      Vec3 lo, hi;
      mesh.bounds(lo, hi);
      const double ratio = (hi.z - lo.z) / std::max(hi.x - lo.x, hi.y - lo.y);
      min_ratio = std::min(min_ratio, ratio), max_ratio = std::max(max_ratio, ratio);
      triangle_counts.insert(mesh.triangles());
    }
    EXPECT_GT(max_ratio / min_ratio, 1.25) << name;
    // Mugs and teapots always have the same parts (a handle, a spout); everything else varies them.
    if (name != "mug" && name != "teapot")
      EXPECT_GE(triangle_counts.size(), 3u) << name << ": part counts should vary";
  }
}

TEST(RenderCatalogue, PartsAreClosedAndOutward) {
  // Every part is a closed primitive with outward faces (mirrored parts re-wound), so the whole
  // object is a union of closed surfaces.
  for (const auto& name : procedural_classes())
    for (uint64_t instance = 0; instance < 50; ++instance)
      EXPECT_EQ(union_of_closed_problem(make_procedural(name, instance, 3)), "") << name << " #" << instance;
  // The check has teeth: one flipped triangle breaks it.
  Mesh flipped = make_procedural("chair", 0);
  std::swap(flipped.indices[1], flipped.indices[2]);
  EXPECT_NE(union_of_closed_problem(flipped), "");
}

TEST(RenderCatalogue, FrontFacesPlusYAndHandlesSitOnTheRight) {
  for (uint64_t instance = 0; instance < 20; ++instance) {
    // Chairs, sofas and beds are highest at their back (or headboard), which stands at -y.
    for (const std::string name : {"chair", "sofa", "bed"}) {
      const Mesh mesh = make_procedural(name, instance);
      size_t top = 0;
      for (size_t i = 1; i < mesh.vertices.size(); ++i)
        if (mesh.vertices[i].position[2] > mesh.vertices[top].position[2]) top = i;
      EXPECT_LT(mesh.vertices[top].position[1], 0) << name << " #" << instance;
    }
    // A mug's rim is its highest ring; the handle on -x (the camera's right) pushes the rim's
    // centre to +x once the bounding box is centred.
    const Mesh mug = make_procedural("mug", instance);
    Vec3 lo, hi;
    mug.bounds(lo, hi);
    double sum_x = 0;
    int rim = 0;
    for (const Vertex& v : mug.vertices)
      if (v.position[2] > hi.z - 1e-3) sum_x += v.position[0], ++rim;
    ASSERT_GT(rim, 0);
    EXPECT_GT(sum_x / rim, 0.02) << "mug #" << instance;
  }
}

TEST(RenderCatalogue, ColoursAreNotTiedToClasses) {
  // Mean colour of each class over 40 instances stays near the mean over all classes: colours come
  // from one shared distribution (a tied colour, e.g. all cars red, would stand out by > 0.15).
  const auto& classes = procedural_classes();
  std::vector<Vec3> class_mean(classes.size());
  Vec3 grand;
  for (size_t c = 0; c < classes.size(); ++c) {
    for (uint64_t instance = 0; instance < 40; ++instance) {
      const Mesh mesh = make_procedural(classes[c], instance);
      Vec3 mean;
      for (const Vertex& v : mesh.vertices) mean = mean + Vec3(v.color[0], v.color[1], v.color[2]);
      class_mean[c] = class_mean[c] + mean * (1.0 / double(mesh.vertices.size()) / 40);
    }
    grand = grand + class_mean[c] * (1.0 / double(classes.size()));
  }
  for (size_t c = 0; c < classes.size(); ++c)
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(class_mean[c][k], grand[k], 0.15) << classes[c] << " channel " << k;
}
