#pragma once
// Triangle meshes for the renderer (no torch): indexed vertices with a normal, a display-encoded albedo
// and a specular weight each, plus the primitives the procedural catalogue assembles objects from.
// Every primitive is closed (or explicitly open, e.g. a lathe without caps), has outward normals and
// counter-clockwise front faces.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "jess/render/geometry.h"

namespace jess::render {

class MeshError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Vertex {
  float position[3];
  float normal[3];
  float color[3];     // albedo in [0, 1], display (sRGB-like, gamma 2.2) encoded as a user would pick it
  float specular;     // 0 = matte, 1 = glossy (Blinn–Phong weight)
};

// What a part is made of: its albedo and how glossy it is.
struct Material {
  Vec3 color{0.7, 0.7, 0.7};
  double specular = 0.2;
};

struct Mesh {
  std::vector<Vertex> vertices;
  std::vector<uint32_t> indices;  // triangles, 3 per face, counter-clockwise seen from outside

  size_t triangles() const { return indices.size() / 3; }
  bool empty() const { return indices.empty(); }
  // Appends `other` (indices shifted).
  void append(const Mesh& other);
  // p ↦ t + R·diag(scale)·p; normals follow the inverse transpose (renormalised).
  void transform(const Mat3& R, const Vec3& scale, const Vec3& t);
  void translate(const Vec3& t) { transform(Mat3::identity(), {1, 1, 1}, t); }
  void set_material(const Material& m);
  // Axis-aligned bounding box of the vertices.
  void bounds(Vec3& lo, Vec3& hi) const;
  // 3DIEBench's object normalisation: the bounding box's centre moves to the origin and the box's
  // diagonal becomes `diagonal` (ShapeNetCore's convention: 1). Throws MeshError on an empty or
  // degenerate (zero-size) mesh.
  void normalize(double diagonal = 1.0);
  // Throws MeshError naming the first problem: no triangles, an index out of range, a non-finite
  // coordinate.
  void validate(const std::string& what) const;
};

// ---- primitives (all centred at the origin unless stated, in the given material) ----
// Axis-aligned box of full extents (sx, sy, sz), flat-shaded faces.
Mesh make_box(const Vec3& size, const Material& m);
// Box with rounded vertical edges: `radius` of the rounding in the xy plane, `segments` per corner.
Mesh make_rounded_box(const Vec3& size, double radius, int segments, const Material& m);
// Cylinder along z from z = 0 to z = height; radius r0 at the bottom, r1 at the top (a cone or a
// frustum when they differ; r1 = 0 is a cone), `segments` around; caps where the radius is > 0.
Mesh make_frustum(double r0, double r1, double height, int segments, const Material& m, bool caps = true);
// UV sphere of radius r.
Mesh make_sphere(double r, int segments, int rings, const Material& m);
// Torus in the xy plane around z: `major` radius of the ring, `minor` of the tube.
Mesh make_torus(double major, double minor, int segments, int tube_segments, const Material& m);
// Surface of revolution about z: `profile` is a polyline of (radius, z) points from bottom to top,
// smooth-shaded; `close_bottom` / `close_top` add flat discs where the radius is > 0. A profile that
// folds back (inner wall of a mug) gives a hollow vessel.
Mesh make_lathe(const std::vector<std::array<double, 2>>& profile, int segments, const Material& m,
                bool close_bottom, bool close_top);
// Surface of revolution of a closed profile loop (counter-clockwise in the (radius, z) half plane,
// every radius > 0): a ring-shaped solid open along the axis, e.g. a lamp shade open at both ends.
Mesh make_lathe_loop(const std::vector<std::array<double, 2>>& profile, int segments, const Material& m);
// Straight tube (cylinder of radius r) from a to b; for legs, struts and handles.
Mesh make_tube(const Vec3& a, const Vec3& b, double r, int segments, const Material& m);
// Extrudes a closed counter-clockwise polygon in the xy plane along z from 0 to `depth`, with caps
// (ear-clipping triangulation: the polygon may be concave but not self-intersecting).
Mesh make_extrusion(const std::vector<std::array<double, 2>>& polygon, double depth, const Material& m);
// Tube of radius r swept along a polyline (at least two points; bends keep the cross-section by
// parallel transport), smooth sides and flat caps at both ends: for handles, bent arms and frames.
Mesh make_swept_tube(const std::vector<Vec3>& path, double r, int segments, const Material& m);

}  // namespace jess::render
