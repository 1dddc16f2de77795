// Mesh operations and the primitives the procedural catalogue assembles objects from. Surfaces of
// revolution (frustum, sphere, torus, lathe) share one ring builder; prisms (extrusion, rounded box)
// share another. Vertices on a revolution's seam are shared rather than duplicated, and every
// duplicate that flat shading needs (caps, creases) sits at bit-identical coordinates, so welding by
// position recovers a closed 2-manifold (what the tests check).
#include "jess/render/mesh.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace jess::render {

namespace {

// A profile point of a surface of revolution (or a swept tube): its position in the (r, z) half
// plane, and the outward normal of the surface just below it and just above it. The two normals
// differ at a crease (a mug's rim, a bottle's base edge), where the ring is emitted twice.
struct ProfilePoint {
  double r, z;
  double normal_below[2];
  double normal_above[2];
  bool creased() const { return normal_below[0] != normal_above[0] || normal_below[1] != normal_above[1]; }
};

constexpr double kCreaseDegrees = 35.0;  // bends sharper than this are shaded flat on each side

void push_vertex(Mesh& mesh, const Vec3& p, const Vec3& n, const Material& m) {
  Vertex v;
  v.position[0] = float(p.x), v.position[1] = float(p.y), v.position[2] = float(p.z);
  v.normal[0] = float(n.x), v.normal[1] = float(n.y), v.normal[2] = float(n.z);
  v.color[0] = float(m.color.x), v.color[1] = float(m.color.y), v.color[2] = float(m.color.z);
  v.specular = float(m.specular);
  mesh.vertices.push_back(v);
}

void push_triangle(Mesh& mesh, uint32_t a, uint32_t b, uint32_t c) {
  mesh.indices.push_back(a), mesh.indices.push_back(b), mesh.indices.push_back(c);
}

// Outward normal of a profile segment from (r0, z0) to (r1, z1): the segment's direction turned
// clockwise, so a profile climbing at positive radius faces away from the axis.
std::array<double, 2> segment_normal(double r0, double z0, double r1, double z1) {
  const double dr = r1 - r0, dz = z1 - z0, len = std::hypot(dr, dz);
  return {dz / len, -dr / len};
}

// Normals for a polyline profile: smooth where consecutive segments bend less than the crease angle,
// split otherwise. Consecutive duplicate points are dropped. `closed`: the last point joins the first.
std::vector<ProfilePoint> profile_with_normals(const std::vector<std::array<double, 2>>& input, bool closed) {
  std::vector<std::array<double, 2>> pts;
  for (const auto& p : input)
    if (pts.empty() || std::hypot(p[0] - pts.back()[0], p[1] - pts.back()[1]) > 1e-12) pts.push_back(p);
  if (closed && pts.size() > 1 && std::hypot(pts[0][0] - pts.back()[0], pts[0][1] - pts.back()[1]) <= 1e-12)
    pts.pop_back();
  if (pts.size() < 2) throw MeshError("profile: needs at least two distinct points");
  const size_t n = pts.size(), segments = closed ? n : n - 1;
  std::vector<std::array<double, 2>> seg(segments);
  for (size_t i = 0; i < segments; ++i) {
    const auto& a = pts[i];
    const auto& b = pts[(i + 1) % n];
    seg[i] = segment_normal(a[0], a[1], b[0], b[1]);
  }
  const double cos_crease = std::cos(kCreaseDegrees * kPi / 180);
  std::vector<ProfilePoint> out(n);
  for (size_t i = 0; i < n; ++i) {
    const bool has_below = closed || i > 0, has_above = closed || i + 1 < n;
    const auto below = has_below ? seg[(i + segments - 1) % segments] : seg[i];
    const auto above = has_above ? seg[i % segments] : below;
    ProfilePoint p{pts[i][0], pts[i][1], {below[0], below[1]}, {above[0], above[1]}};
    if (below[0] * above[0] + below[1] * above[1] >= cos_crease) {
      const double sr = below[0] + above[0], sz = below[1] + above[1], len = std::hypot(sr, sz);
      p.normal_below[0] = p.normal_above[0] = sr / len;
      p.normal_below[1] = p.normal_above[1] = sz / len;
    }
    out[i] = p;
  }
  return out;
}

// Revolves a profile about z. Points at radius 0 become poles (triangle fans); a pole keeps one
// vertex per segment so that each fan triangle can carry its own normal (a cone's tip).
void revolve(Mesh& mesh, const std::vector<ProfilePoint>& profile, bool closed, int segments, const Material& m) {
  if (segments < 3) throw MeshError("revolve: needs at least 3 segments");
  std::vector<double> cos_t(segments), sin_t(segments), cos_mid(segments), sin_mid(segments);
  for (int j = 0; j < segments; ++j) {
    const double t = 2 * kPi * j / segments, tm = 2 * kPi * (j + 0.5) / segments;
    cos_t[j] = std::cos(t), sin_t[j] = std::sin(t), cos_mid[j] = std::cos(tm), sin_mid[j] = std::sin(tm);
  }
  auto ring = [&](const ProfilePoint& p, const double* n) {
    const uint32_t first = uint32_t(mesh.vertices.size());
    const bool pole = p.r <= 0;
    for (int j = 0; j < segments; ++j) {
      const double c = pole ? cos_mid[j] : cos_t[j], s = pole ? sin_mid[j] : sin_t[j];
      const double r = pole ? 0.0 : p.r;
      push_vertex(mesh, {r * cos_t[j], r * sin_t[j], p.z}, {n[0] * c, n[0] * s, n[1]}, m);
    }
    return first;
  };
  const size_t n = profile.size(), spans = closed ? n : n - 1;
  std::vector<uint32_t> ring_below(n), ring_above(n);
  for (size_t i = 0; i < n; ++i) {
    ring_below[i] = ring(profile[i], profile[i].normal_below);
    ring_above[i] = profile[i].creased() ? ring(profile[i], profile[i].normal_above) : ring_below[i];
  }
  for (size_t i = 0; i < spans; ++i) {
    const size_t k = (i + 1) % n;
    const uint32_t lo = ring_above[i], hi = ring_below[k];
    const bool lo_pole = profile[i].r <= 0, hi_pole = profile[k].r <= 0;
    if (lo_pole && hi_pole) continue;
    for (int j = 0; j < segments; ++j) {
      const uint32_t j1 = uint32_t((j + 1) % segments);
      const uint32_t a = lo + j, b = lo + j1, c = hi + j1, d = hi + j;
      if (!lo_pole) push_triangle(mesh, a, b, c);
      if (!hi_pole) push_triangle(mesh, a, c, d);
    }
  }
}

// Flat disc at height z, facing +z (up) or -z.
void disc(Mesh& mesh, double r, double z, bool up, int segments, const Material& m) {
  const uint32_t centre = uint32_t(mesh.vertices.size());
  const Vec3 n(0, 0, up ? 1 : -1);
  push_vertex(mesh, {0, 0, z}, n, m);
  for (int j = 0; j < segments; ++j) {
    const double t = 2 * kPi * j / segments;
    push_vertex(mesh, {r * std::cos(t), r * std::sin(t), z}, n, m);
  }
  for (int j = 0; j < segments; ++j) {
    const uint32_t a = centre + 1 + j, b = centre + 1 + uint32_t((j + 1) % segments);
    if (up) push_triangle(mesh, centre, a, b);
    else push_triangle(mesh, centre, b, a);
  }
}

double cross2(const std::array<double, 2>& o, const std::array<double, 2>& a, const std::array<double, 2>& b) {
  return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
}

// Ear clipping of a simple counter-clockwise polygon; returns index triples, counter-clockwise.
std::vector<std::array<uint32_t, 3>> triangulate(const std::vector<std::array<double, 2>>& poly) {
  std::vector<uint32_t> remaining(poly.size());
  for (size_t i = 0; i < poly.size(); ++i) remaining[i] = uint32_t(i);
  std::vector<std::array<uint32_t, 3>> out;
  auto inside = [&](const std::array<double, 2>& p, uint32_t a, uint32_t b, uint32_t c) {
    return cross2(poly[a], poly[b], p) >= 0 && cross2(poly[b], poly[c], p) >= 0 && cross2(poly[c], poly[a], p) >= 0;
  };
  while (remaining.size() > 3) {
    const size_t n = remaining.size();
    size_t ear = n, most_convex = 0;
    double best = -1e300;
    for (size_t i = 0; i < n && ear == n; ++i) {
      const uint32_t a = remaining[(i + n - 1) % n], b = remaining[i], c = remaining[(i + 1) % n];
      const double turn = cross2(poly[a], poly[b], poly[c]);
      if (turn > best) best = turn, most_convex = i;
      if (turn <= 0) continue;
      bool blocked = false;
      for (size_t k = 0; k < n && !blocked; ++k) {
        const uint32_t q = remaining[k];
        if (q == a || q == b || q == c) continue;
        const auto& p = poly[q];
        const bool coincident = (p == poly[a]) || (p == poly[b]) || (p == poly[c]);
        blocked = !coincident && inside(p, a, b, c);
      }
      if (!blocked) ear = i;
    }
    // Rounding can leave no clean ear in a nearly degenerate polygon: clip the most convex corner.
    if (ear == n) ear = most_convex;
    out.push_back({remaining[(ear + n - 1) % n], remaining[ear], remaining[(ear + 1) % n]});
    remaining.erase(remaining.begin() + long(ear));
  }
  out.push_back({remaining[0], remaining[1], remaining[2]});
  return out;
}

// Prism of a polygon from z = 0 to z = depth; sides smooth below the crease angle, flat above it.
Mesh extrude(const std::vector<std::array<double, 2>>& polygon, double depth, const Material& m) {
  if (!(depth > 0)) throw MeshError("extrusion: depth must be positive");
  std::vector<std::array<double, 2>> poly;
  for (const auto& p : polygon)
    if (poly.empty() || std::hypot(p[0] - poly.back()[0], p[1] - poly.back()[1]) > 1e-12) poly.push_back(p);
  while (poly.size() > 1 && std::hypot(poly[0][0] - poly.back()[0], poly[0][1] - poly.back()[1]) <= 1e-12)
    poly.pop_back();
  if (poly.size() < 3) throw MeshError("extrusion: the polygon needs at least 3 distinct points");
  double area2 = 0;
  for (size_t i = 0; i < poly.size(); ++i) {
    const auto& a = poly[i];
    const auto& b = poly[(i + 1) % poly.size()];
    area2 += a[0] * b[1] - a[1] * b[0];
  }
  if (std::abs(area2) < 1e-14) throw MeshError("extrusion: the polygon has no area");
  if (area2 < 0) std::reverse(poly.begin(), poly.end());  // accept clockwise input too

  Mesh mesh;
  // The outline in the (r, z) convention of profile_with_normals: x as r, y as z. A counter-
  // clockwise polygon's outward normal is its direction turned clockwise, as for a climbing profile.
  const auto outline = profile_with_normals(poly, /*closed=*/true);
  const size_t n = outline.size();
  for (size_t i = 0; i < n; ++i) {
    const ProfilePoint& p = outline[i];
    const ProfilePoint& q = outline[(i + 1) % n];
    const uint32_t first = uint32_t(mesh.vertices.size());
    const Vec3 np(p.normal_above[0], p.normal_above[1], 0), nq(q.normal_below[0], q.normal_below[1], 0);
    push_vertex(mesh, {p.r, p.z, 0}, np, m);
    push_vertex(mesh, {q.r, q.z, 0}, nq, m);
    push_vertex(mesh, {q.r, q.z, depth}, nq, m);
    push_vertex(mesh, {p.r, p.z, depth}, np, m);
    push_triangle(mesh, first, first + 1, first + 2);
    push_triangle(mesh, first, first + 2, first + 3);
  }
  std::vector<std::array<double, 2>> cleaned(n);
  for (size_t i = 0; i < n; ++i) cleaned[i] = {outline[i].r, outline[i].z};
  const auto caps = triangulate(cleaned);
  for (int top = 0; top < 2; ++top) {
    const uint32_t first = uint32_t(mesh.vertices.size());
    const Vec3 normal(0, 0, top ? 1 : -1);
    for (const auto& p : cleaned) push_vertex(mesh, {p[0], p[1], top ? depth : 0.0}, normal, m);
    for (const auto& t : caps) {
      if (top) push_triangle(mesh, first + t[0], first + t[1], first + t[2]);
      else push_triangle(mesh, first + t[0], first + t[2], first + t[1]);
    }
  }
  return mesh;
}

// Rotation whose third column is `axis` (unit): maps +z onto it.
Mat3 frame_along(const Vec3& axis) {
  const Vec3 helper = std::abs(axis.z) < 0.9 ? Vec3(0, 0, 1) : Vec3(1, 0, 0);
  const Vec3 u = normalized(cross(helper, axis)), v = cross(axis, u);
  Mat3 R;
  R.m = {{{u.x, v.x, axis.x}, {u.y, v.y, axis.y}, {u.z, v.z, axis.z}}};
  return R;
}

}  // namespace

// ---- mesh operations ----------------------------------------------------------------------------

void Mesh::append(const Mesh& other) {
  const uint32_t offset = uint32_t(vertices.size());
  vertices.insert(vertices.end(), other.vertices.begin(), other.vertices.end());
  indices.reserve(indices.size() + other.indices.size());
  for (uint32_t i : other.indices) indices.push_back(i + offset);
}

void Mesh::transform(const Mat3& R, const Vec3& scale, const Vec3& t) {
  if (scale.x == 0 || scale.y == 0 || scale.z == 0) throw MeshError("transform: a scale factor is zero");
  const Vec3 inverse_scale(1 / scale.x, 1 / scale.y, 1 / scale.z);
  for (Vertex& v : vertices) {
    const Vec3 p(v.position[0] * scale.x, v.position[1] * scale.y, v.position[2] * scale.z);
    const Vec3 q = R * p + t;
    // The inverse transpose of R·S is R·S⁻¹ for a rotation R.
    const Vec3 n(v.normal[0] * inverse_scale.x, v.normal[1] * inverse_scale.y, v.normal[2] * inverse_scale.z);
    const Vec3 nq = normalized(R * n);
    v.position[0] = float(q.x), v.position[1] = float(q.y), v.position[2] = float(q.z);
    v.normal[0] = float(nq.x), v.normal[1] = float(nq.y), v.normal[2] = float(nq.z);
  }
  // A mirror turns counter-clockwise faces clockwise: swap two corners to keep fronts outside.
  const double det_R = R.m[0][0] * (R.m[1][1] * R.m[2][2] - R.m[1][2] * R.m[2][1]) -
                       R.m[0][1] * (R.m[1][0] * R.m[2][2] - R.m[1][2] * R.m[2][0]) +
                       R.m[0][2] * (R.m[1][0] * R.m[2][1] - R.m[1][1] * R.m[2][0]);
  if (det_R * scale.x * scale.y * scale.z < 0)
    for (size_t i = 0; i + 2 < indices.size(); i += 3) std::swap(indices[i + 1], indices[i + 2]);
}

void Mesh::set_material(const Material& m) {
  for (Vertex& v : vertices) {
    v.color[0] = float(m.color.x), v.color[1] = float(m.color.y), v.color[2] = float(m.color.z);
    v.specular = float(m.specular);
  }
}

void Mesh::bounds(Vec3& lo, Vec3& hi) const {
  if (vertices.empty()) {
    lo = hi = Vec3();
    return;
  }
  double l[3], h[3];
  for (int k = 0; k < 3; ++k) l[k] = h[k] = vertices[0].position[k];
  for (const Vertex& v : vertices)
    for (int k = 0; k < 3; ++k) l[k] = std::min(l[k], double(v.position[k])), h[k] = std::max(h[k], double(v.position[k]));
  lo = {l[0], l[1], l[2]};
  hi = {h[0], h[1], h[2]};
}

void Mesh::normalize(double diagonal) {
  if (vertices.empty()) throw MeshError("normalize: the mesh has no vertices");
  if (!(diagonal > 0) || !std::isfinite(diagonal)) throw MeshError("normalize: the diagonal must be positive");
  Vec3 lo, hi;
  bounds(lo, hi);
  const double current = norm(hi - lo);
  if (!(current > 0) || !std::isfinite(current))
    throw MeshError("normalize: the mesh's bounding box is degenerate (zero or non-finite size)");
  const Vec3 centre = (lo + hi) * 0.5;
  const double s = diagonal / current;
  for (Vertex& v : vertices)
    for (int k = 0; k < 3; ++k) v.position[k] = float((v.position[k] - centre[k]) * s);
}

void Mesh::validate(const std::string& what) const {
  auto fail = [&](const std::string& problem) { throw MeshError(what + ": " + problem); };
  if (indices.empty()) fail("no triangles");
  if (indices.size() % 3 != 0)
    fail("the index count " + std::to_string(indices.size()) + " is not a multiple of 3");
  for (size_t i = 0; i < indices.size(); ++i)
    if (indices[i] >= vertices.size()) {
      std::ostringstream msg;
      msg << "index " << indices[i] << " (triangle " << i / 3 << ") is out of range: " << vertices.size()
          << " vertices";
      fail(msg.str());
    }
  for (size_t i = 0; i < vertices.size(); ++i) {
    const Vertex& v = vertices[i];
    for (int k = 0; k < 3; ++k) {
      if (!std::isfinite(v.position[k])) fail("vertex " + std::to_string(i) + " has a non-finite position");
      if (!std::isfinite(v.normal[k])) fail("vertex " + std::to_string(i) + " has a non-finite normal");
      if (!std::isfinite(v.color[k])) fail("vertex " + std::to_string(i) + " has a non-finite colour");
    }
    if (!std::isfinite(v.specular)) fail("vertex " + std::to_string(i) + " has a non-finite specular weight");
  }
}

// ---- primitives ---------------------------------------------------------------------------------

Mesh make_box(const Vec3& size, const Material& m) {
  if (!(size.x > 0 && size.y > 0 && size.z > 0)) throw MeshError("box: every extent must be positive");
  Mesh mesh;
  const Vec3 h = size * 0.5;
  // Each face: outward normal and two in-face axes u, v with u × v = normal (counter-clockwise).
  const Vec3 normals[6] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}};
  for (const Vec3& n : normals) {
    const Vec3 u = std::abs(n.z) > 0 ? Vec3(1, 0, 0) : Vec3(0, 0, 1);
    const Vec3 v = cross(n, u);  // then u × v = n
    const Vec3 c(n.x * h.x, n.y * h.y, n.z * h.z);
    const Vec3 du(u.x * h.x, u.y * h.y, u.z * h.z), dv(v.x * h.x, v.y * h.y, v.z * h.z);
    const uint32_t first = uint32_t(mesh.vertices.size());
    push_vertex(mesh, c - du - dv, n, m);
    push_vertex(mesh, c + du - dv, n, m);
    push_vertex(mesh, c + du + dv, n, m);
    push_vertex(mesh, c - du + dv, n, m);
    push_triangle(mesh, first, first + 1, first + 2);
    push_triangle(mesh, first, first + 2, first + 3);
  }
  return mesh;
}

Mesh make_rounded_box(const Vec3& size, double radius, int segments, const Material& m) {
  if (!(size.x > 0 && size.y > 0 && size.z > 0)) throw MeshError("rounded box: every extent must be positive");
  radius = std::min(radius, 0.499 * std::min(size.x, size.y));  // keep the straight sides non-empty
  if (radius <= 0 || segments < 1) return make_box(size, m);
  const double cx = size.x / 2 - radius, cy = size.y / 2 - radius;
  const double centres[4][2] = {{cx, -cy}, {cx, cy}, {-cx, cy}, {-cx, -cy}};
  std::vector<std::array<double, 2>> outline;
  for (int corner = 0; corner < 4; ++corner)
    for (int k = 0; k <= segments; ++k) {
      const double t = (corner - 1) * kPi / 2 + (kPi / 2) * k / segments;
      outline.push_back({centres[corner][0] + radius * std::cos(t), centres[corner][1] + radius * std::sin(t)});
    }
  Mesh mesh = extrude(outline, size.z, m);
  mesh.translate({0, 0, -size.z / 2});
  return mesh;
}

Mesh make_frustum(double r0, double r1, double height, int segments, const Material& m, bool caps) {
  if (!(height > 0)) throw MeshError("frustum: height must be positive");
  if (r0 < 0 || r1 < 0 || (r0 <= 0 && r1 <= 0)) throw MeshError("frustum: radii must be >= 0, one of them > 0");
  const auto n = segment_normal(r0, 0, r1, height);
  const std::vector<ProfilePoint> profile = {{r0, 0, {n[0], n[1]}, {n[0], n[1]}}, {r1, height, {n[0], n[1]}, {n[0], n[1]}}};
  Mesh mesh;
  revolve(mesh, profile, false, segments, m);
  if (caps && r0 > 0) disc(mesh, r0, 0, false, segments, m);
  if (caps && r1 > 0) disc(mesh, r1, height, true, segments, m);
  return mesh;
}

Mesh make_sphere(double r, int segments, int rings, const Material& m) {
  if (!(r > 0)) throw MeshError("sphere: radius must be positive");
  if (rings < 2) throw MeshError("sphere: needs at least 2 rings");
  std::vector<ProfilePoint> profile;
  for (int k = 0; k <= rings; ++k) {
    const double phi = kPi * k / rings;
    const double s = (k == 0 || k == rings) ? 0.0 : std::sin(phi), c = -std::cos(phi);
    profile.push_back({r * s, r * c, {s, c}, {s, c}});
  }
  Mesh mesh;
  revolve(mesh, profile, false, segments, m);
  return mesh;
}

Mesh make_torus(double major, double minor, int segments, int tube_segments, const Material& m) {
  if (!(minor > 0 && major > minor)) throw MeshError("torus: needs major > minor > 0");
  if (tube_segments < 3) throw MeshError("torus: needs at least 3 tube segments");
  std::vector<ProfilePoint> profile;
  for (int k = 0; k < tube_segments; ++k) {
    const double t = 2 * kPi * k / tube_segments, c = std::cos(t), s = std::sin(t);
    profile.push_back({major + minor * c, minor * s, {c, s}, {c, s}});
  }
  Mesh mesh;
  revolve(mesh, profile, true, segments, m);
  return mesh;
}

Mesh make_lathe(const std::vector<std::array<double, 2>>& profile, int segments, const Material& m,
                bool close_bottom, bool close_top) {
  for (const auto& p : profile)
    if (!(p[0] >= 0) || !std::isfinite(p[1])) throw MeshError("lathe: profile radii must be >= 0 and finite");
  const auto points = profile_with_normals(profile, false);
  Mesh mesh;
  revolve(mesh, points, false, segments, m);
  if (close_bottom && points.front().r > 0) disc(mesh, points.front().r, points.front().z, false, segments, m);
  if (close_top && points.back().r > 0) disc(mesh, points.back().r, points.back().z, true, segments, m);
  return mesh;
}

Mesh make_lathe_loop(const std::vector<std::array<double, 2>>& profile, int segments, const Material& m) {
  for (const auto& p : profile)
    if (!(p[0] > 0) || !std::isfinite(p[1])) throw MeshError("lathe loop: profile radii must be > 0 and finite");
  double area2 = 0;  // orientation in the (r, z) plane: counter-clockwise keeps the normals outward
  for (size_t i = 0; i < profile.size(); ++i) {
    const auto& a = profile[i];
    const auto& b = profile[(i + 1) % profile.size()];
    area2 += a[0] * b[1] - a[1] * b[0];
  }
  if (area2 == 0) throw MeshError("lathe loop: the profile encloses no area");
  std::vector<std::array<double, 2>> loop(profile.begin(), profile.end());
  if (area2 < 0) std::reverse(loop.begin(), loop.end());
  Mesh mesh;
  revolve(mesh, profile_with_normals(loop, true), true, segments, m);
  return mesh;
}

Mesh make_tube(const Vec3& a, const Vec3& b, double r, int segments, const Material& m) {
  const double length = norm(b - a);
  if (!(length > 0)) throw MeshError("tube: the two ends coincide");
  Mesh mesh = make_frustum(r, r, length, segments, m);
  mesh.transform(frame_along((b - a) * (1 / length)), {1, 1, 1}, a);
  return mesh;
}

Mesh make_extrusion(const std::vector<std::array<double, 2>>& polygon, double depth, const Material& m) {
  return extrude(polygon, depth, m);
}

Mesh make_swept_tube(const std::vector<Vec3>& input, double r, int segments, const Material& m) {
  if (!(r > 0)) throw MeshError("swept tube: radius must be positive");
  if (segments < 3) throw MeshError("swept tube: needs at least 3 segments");
  std::vector<Vec3> path;
  for (const Vec3& p : input)
    if (path.empty() || norm(p - path.back()) > 1e-12) path.push_back(p);
  if (path.size() < 2) throw MeshError("swept tube: the path needs two distinct points");
  const size_t n = path.size();
  // Tangent at each point: the mean of the adjoining segment directions; the cross-section is scaled
  // by 1/cos(half the bend) in the bend's plane so the tube keeps its thickness through a corner.
  std::vector<Vec3> tangent(n), bend_axis(n);
  std::vector<double> stretch(n, 1.0);
  for (size_t i = 0; i < n; ++i) {
    const Vec3 in = normalized(path[i > 0 ? i : 1] - path[i > 0 ? i - 1 : 0]);
    const Vec3 out = normalized(path[i + 1 < n ? i + 1 : i] - path[i + 1 < n ? i : i - 1]);
    tangent[i] = normalized(in + out);
    if (norm(tangent[i]) < 0.5) throw MeshError("swept tube: the path doubles back on itself");
    stretch[i] = 1 / std::max(0.2, dot(tangent[i], out));
    bend_axis[i] = normalized(out - in);  // zero on straight runs
  }
  // Parallel transport: project the previous frame's normal onto the new tangent's plane.
  std::vector<Vec3> normal(n), binormal(n);
  normal[0] = frame_along(tangent[0]) * Vec3(1, 0, 0);
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) {
      const Vec3 prev = normal[i - 1];
      normal[i] = normalized(prev - tangent[i] * dot(prev, tangent[i]));
    }
    binormal[i] = cross(tangent[i], normal[i]);
  }
  Mesh mesh;
  std::vector<uint32_t> ring(n);
  for (size_t i = 0; i < n; ++i) {
    ring[i] = uint32_t(mesh.vertices.size());
    for (int j = 0; j < segments; ++j) {
      const double t = 2 * kPi * j / segments;
      const Vec3 dir = normal[i] * std::cos(t) + binormal[i] * std::sin(t);
      // Stretch only the component along the bend direction (the mitre plane).
      const Vec3 offset = dir + bend_axis[i] * (dot(dir, bend_axis[i]) * (stretch[i] - 1));
      push_vertex(mesh, path[i] + offset * r, dir, m);
    }
  }
  for (size_t i = 0; i + 1 < n; ++i)
    for (int j = 0; j < segments; ++j) {
      const uint32_t j1 = uint32_t((j + 1) % segments);
      const uint32_t a = ring[i] + j, b = ring[i] + j1, c = ring[i + 1] + j1, d = ring[i + 1] + j;
      push_triangle(mesh, a, b, c);
      push_triangle(mesh, a, c, d);
    }
  // Caps reuse the end rings' positions exactly (copied), with the flat normal of the end.
  for (int end = 0; end < 2; ++end) {
    const size_t i = end ? n - 1 : 0;
    const Vec3 nrm = end ? tangent[i] : -tangent[i];
    const uint32_t centre = uint32_t(mesh.vertices.size());
    push_vertex(mesh, path[i], nrm, m);
    for (int j = 0; j < segments; ++j) {
      Vertex v = mesh.vertices[ring[i] + j];
      v.normal[0] = float(nrm.x), v.normal[1] = float(nrm.y), v.normal[2] = float(nrm.z);
      mesh.vertices.push_back(v);
    }
    for (int j = 0; j < segments; ++j) {
      const uint32_t a = centre + 1 + j, b = centre + 1 + uint32_t((j + 1) % segments);
      if (end) push_triangle(mesh, centre, a, b);
      else push_triangle(mesh, centre, b, a);
    }
  }
  return mesh;
}

}  // namespace jess::render
