#pragma once
// Internal to the procedural catalogue (catalogue*.cpp): the per-instance random draws, the shared
// material distribution, placement helpers and one builder per class. Builders work in natural
// units (metres, roughly), +z up, the front facing +y; make_procedural normalises afterwards.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "jess/core/rng.h"
#include "jess/render/mesh.h"

namespace jess::render::catalogue {

using Polygon = std::vector<std::array<double, 2>>;

// Shape draws of one instance. Uniforms come straight from 64-bit integers (jess::Rng), never from
// std:: distributions, whose output differs between standard libraries.
class Draw {
 public:
  explicit Draw(const jess::Rng& rng) : rng_(rng) {}
  double uniform(double lo, double hi) { return rng_.uniform(lo, hi); }
  int integer(int lo, int hi) { return int(rng_.integer(lo, hi)); }  // inclusive
  bool chance(double p) { return rng_.uniform() < p; }
  // Index drawn with the given (unnormalised) weights.
  int weighted(const std::vector<double>& weights);

 private:
  jess::Rng rng_;
};

// Up to three materials per instance, each drawn from the one distribution every class shares
// (random hue, saturation and value, gloss); `second` and `third` often repeat `main`. Classes only
// decide which part wears which, so colour statistics carry no class information.
struct Palette {
  Material main, second, third;
};
Palette draw_palette(Draw& draw);

// ---- placement helpers ----
Mesh placed(Mesh mesh, const Mat3& R, const Vec3& t);
Mesh box_at(const Vec3& centre, const Vec3& size, const Material& m);
Mesh rounded_box_at(const Vec3& centre, const Vec3& size, double radius, const Material& m, int segments = 4);
// Vertical cylinder (or frustum) standing on `base`.
Mesh post(const Vec3& base, double r_bottom, double r_top, double height, const Material& m, int segments = 14);
// Polygon in the side view (y forward, z up) extruded across x, centred on x = x_centre.
Mesh side_extrusion(const Polygon& yz, double width, double x_centre, const Material& m);
// Polygon in the front view (x right, z up) extruded along y from y0 to y0 + depth.
Mesh front_extrusion(const Polygon& xz, double y0, double depth, const Material& m);
// Polygon in the plan view (x, y) extruded up from z0 to z0 + height.
Mesh plan_extrusion(const Polygon& xy, double z0, double height, const Material& m);
// Box of cross-section (width, depth) whose long axis runs from a to b; its width axis stays as close
// to x as it can (a slat, a splayed square leg, a spoke).
Mesh beam(const Vec3& a, const Vec3& b, double width, double depth, const Material& m);
// A leg from its top to its foot: round (tapering from top_size to foot_size diameters) or square.
struct LegStyle {
  bool round = true;
  double top_size = 0.04, foot_size = 0.03;
};
LegStyle draw_leg_style(Draw& draw, double min_size, double max_size);
Mesh leg(const Vec3& top, const Vec3& foot, const LegStyle& style, const Material& m);
// Polyline with its interior corners rounded (quadratic Bézier arcs of about `radius`), for swept tubes.
std::vector<Vec3> rounded_path(const std::vector<Vec3>& corners, double radius, int samples_per_corner = 6);
// A closed polygon's corners cut `iterations` times (Chaikin): boxy outlines become rounded ones.
Polygon chaikin(const Polygon& closed_polygon, int iterations);
// Smooth curve through control points (uniform Catmull-Rom), `per_span` samples
// between consecutive points, endpoints included.
Polygon catmull_rom(const Polygon& points, int per_span);
// Rounded rectangle outline of full extents (w, h) centred at (cx, cy), `segments` per corner.
Polygon rounded_rectangle(double cx, double cy, double w, double h, double radius, int segments);

// ---- the classes ----
Mesh build_airplane(Draw& draw, const Palette& palette);
Mesh build_bench(Draw& draw, const Palette& palette);
Mesh build_bottle(Draw& draw, const Palette& palette);
Mesh build_car(Draw& draw, const Palette& palette);
Mesh build_chair(Draw& draw, const Palette& palette);
Mesh build_lamp(Draw& draw, const Palette& palette);
Mesh build_mug(Draw& draw, const Palette& palette);
Mesh build_sofa(Draw& draw, const Palette& palette);
Mesh build_table(Draw& draw, const Palette& palette);
Mesh build_vase(Draw& draw, const Palette& palette);
Mesh build_bookshelf(Draw& draw, const Palette& palette);
Mesh build_guitar(Draw& draw, const Palette& palette);
Mesh build_teapot(Draw& draw, const Palette& palette);
Mesh build_bed(Draw& draw, const Palette& palette);

}  // namespace jess::render::catalogue
