// Procedural lamps and guitars. A lamp is a base, a stem (straight, an articulated desk arm or a
// floor arc) and a shade; a guitar is a two-lobed extruded body with a neck and a headstock,
// standing on its bottom edge with its face (sound hole, strings side) towards +y.
#include <algorithm>
#include <cmath>

#include "jess/render/catalogue_parts.h"

namespace jess::render::catalogue {

namespace {

// A shade closed at the top and open below (a desk lamp's dome or cone): the profile runs from the
// axis under the top, down the inside, round the lip and up the outside back to the axis. z = 0 is
// the opening; the shade hangs from its top at z = height.
Mesh hanging_shade(double radius, double height, bool dome, double thickness, const Material& m) {
  Polygon profile;
  if (dome) {
    const int n = 8;
    for (int k = n; k >= 0; --k) {
      const double a = kPi / 2 * k / n;
      profile.push_back({k == n ? 0.0 : (radius - thickness) * std::cos(a), (height - thickness) * std::sin(a)});
    }
    for (int k = 0; k <= n; ++k) {
      const double a = kPi / 2 * k / n;
      profile.push_back({k == n ? 0.0 : radius * std::cos(a), height * std::sin(a)});
    }
  } else {
    const double top_r = radius * 0.3;
    profile = {{0, height - thickness}, {top_r - thickness * 0.5, height - thickness}, {radius - thickness, 0},
               {radius, 0}, {top_r, height}, {0, height}};
  }
  return make_lathe(profile, 32, m, false, false);
}

// A table lamp's shade, open at both ends: a drum, a cone or a bell, `thickness` thick.
Mesh open_shade(double r_bottom, double r_top, double height, double curve, double thickness, const Material& m) {
  Polygon loop;
  const int n = 6;
  for (int k = 0; k <= n; ++k) {
    const double u = double(k) / n;
    loop.push_back({r_bottom + (r_top - r_bottom) * u - curve * std::sin(kPi * u), height * u});
  }
  for (int k = n; k >= 0; --k) loop.push_back({loop[size_t(k)][0] - thickness, loop[size_t(k)][1]});
  return make_lathe_loop(loop, 36, m);
}

}  // namespace

Mesh build_lamp(Draw& draw, const Palette& pal) {
  const int kind = draw.weighted({0.45, 0.3, 0.25});  // straight stem, desk arm, floor arc
  const int base_style = draw.weighted({0.35, 0.25, 0.25, kind == 0 ? 0.15 : 0.0});  // disc, square, dome, tripod
  const double base_r = kind == 2 ? draw.uniform(0.15, 0.3) : draw.uniform(0.08, 0.2), base_h = draw.uniform(0.02, 0.06);
  const double stem_r = draw.uniform(0.008, 0.02);
  const Material& metal = pal.main;
  Mesh out;
  double stem_foot = base_h;
  if (base_style == 0) {
    out.append(post({0, 0, 0}, base_r, base_r * draw.uniform(0.6, 1.0), base_h, metal, 32));
  } else if (base_style == 1) {
    out.append(rounded_box_at({0, 0, base_h / 2}, {2 * base_r, 2 * base_r * draw.uniform(0.6, 1.0), base_h}, draw.uniform(0, 0.3) * base_r, metal, 3));
  } else if (base_style == 2) {
    Polygon dome;
    const double dome_h = base_h * draw.uniform(1.5, 3.5);
    for (int k = 0; k <= 8; ++k) {
      const double a = kPi / 2 * k / 8;
      dome.push_back({k == 8 ? 0.0 : base_r * std::cos(a), dome_h * std::sin(a)});
    }
    dome.insert(dome.begin(), {0, 0});
    out.append(make_lathe(dome, 32, metal, false, false));
    stem_foot = dome_h * 0.9;
  } else {
    stem_foot = draw.uniform(0.2, 0.5);
    for (int k = 0; k < 3; ++k) {
      const double a = kPi / 2 + 2 * kPi * k / 3;
      out.append(make_tube({0, 0, stem_foot + 0.02}, {1.6 * base_r * std::cos(a), 1.6 * base_r * std::sin(a), 0.005}, stem_r, 8, metal));
    }
  }
  const Material& shade_m = draw.chance(0.7) ? pal.second : pal.main;
  if (kind == 0) {
    // Table lamp (a short stem under a big shade) or floor lamp (a long pole).
    const double shade_r = draw.uniform(0.1, 0.25);
    const double shade_h = shade_r * draw.uniform(0.6, 1.3);
    const double stem_len = draw.chance(0.35) ? draw.uniform(1.0, 1.5) : shade_h * draw.uniform(0.8, 2.5);
    const bool drum = draw.chance(0.4);  // else a cone
    const double top_r = drum ? shade_r * draw.uniform(0.9, 1.0) : shade_r * draw.uniform(0.45, 0.8);
    const double curve = drum ? 0.0 : draw.uniform(-0.08, 0.0) * shade_r;  // cones may flare a little
    const double shade_z = stem_foot + stem_len;
    const double stem_top = shade_z + shade_h * draw.uniform(0.3, 0.8);
    if (draw.chance(0.4)) {  // a turned (lathe) stem
      const double bulb = draw.uniform(1.5, 4.0) * stem_r;
      const double mid = stem_foot + (shade_z - stem_foot) * draw.uniform(0.2, 0.6);
      Polygon profile = catmull_rom({{stem_r * 1.5, stem_foot - 0.01}, {bulb, mid}, {stem_r, shade_z}, {stem_r, stem_top}}, 5);
      profile.insert(profile.begin(), {0, stem_foot - 0.01});
      profile.push_back({0, stem_top});
      out.append(make_lathe(profile, 20, metal, false, false));
    } else {
      out.append(post({0, 0, stem_foot - 0.01}, stem_r, stem_r, stem_top - stem_foot + 0.01, metal, 12));
    }
    out.append(placed(open_shade(shade_r, top_r, shade_h, curve, 0.008, shade_m), Mat3::identity(), {0, 0, shade_z}));
    out.append(placed(make_sphere(std::min(0.05, top_r * 0.5), 12, 8, pal.third), Mat3::identity(), {0, 0, stem_top}));
  } else if (kind == 1) {
    // Desk lamp: the lower arm leans back, the upper arm reaches forward, the head looks down.
    const double lower = draw.uniform(0.25, 0.45), upper = draw.uniform(0.25, 0.45);
    const double lean = draw.uniform(0.05, 0.5), reach = draw.uniform(-0.5, 0.6);
    const Vec3 foot(0, -base_r * 0.4, stem_foot), elbow = foot + Vec3(0, -std::sin(lean), std::cos(lean)) * lower;
    const Vec3 wrist = elbow + Vec3(0, std::cos(reach), std::sin(reach)) * upper;
    const double arm_r = stem_r * 0.8;
    out.append(make_tube(foot, elbow, arm_r, 10, metal));
    out.append(make_tube(elbow, wrist, arm_r, 10, metal));
    if (draw.chance(0.5)) {  // twin rods, as on a sprung arm
      const Vec3 side(0.03, 0, 0);
      out.append(make_tube(foot - side, elbow - side, arm_r * 0.7, 8, metal));
      out.append(make_tube(elbow - side, wrist - side, arm_r * 0.7, 8, metal));
    }
    for (const Vec3& joint : {foot, elbow, wrist}) out.append(placed(make_sphere(arm_r * 2.2, 12, 6, pal.third), Mat3::identity(), joint));
    const double shade_r = draw.uniform(0.07, 0.14), shade_h = shade_r * draw.uniform(0.7, 1.4);
    const double aim = draw.uniform(0.2, 0.9);  // tilt of the opening towards the front
    Mesh head = hanging_shade(shade_r, shade_h, draw.chance(0.5), 0.006, shade_m);
    head.translate({0, 0, -shade_h});
    out.append(placed(std::move(head), rotation_x(aim), wrist));
  } else {
    // Arc floor lamp: a post, then a long arc forward and down to a hanging shade.
    const double height = draw.uniform(1.5, 2.1), reach = draw.uniform(0.6, 1.3);
    const double post_h = height * draw.uniform(0.45, 0.8), end_z = std::min(height - 0.25, draw.uniform(0.9, 1.4));
    std::vector<Vec3> path = {{0, -reach * 0.3, stem_foot - 0.01}};
    const int n = 18;
    for (int k = 0; k <= n; ++k) {
      const double a = kPi * k / n, across = (1 - std::cos(a)) / 2;  // over the top from the post to the hanging point
      path.push_back({0, -reach * 0.3 + reach * across, post_h + (height - post_h) * std::sin(a) + (end_z - post_h) * across});
    }
    out.append(make_swept_tube(path, stem_r, 10, metal));
    const double shade_r = draw.uniform(0.18, 0.32), shade_h = shade_r * draw.uniform(0.5, 1.0);
    Mesh head = hanging_shade(shade_r, shade_h, draw.chance(0.6), 0.008, shade_m);
    out.append(placed(std::move(head), Mat3::identity(), path.back() - Vec3(0, 0, shade_h)));
  }
  return out;
}

Mesh build_guitar(Draw& draw, const Palette& pal) {
  // Local frame: x across the body, y along the guitar (0 at its bottom), z out of its face.
  const bool electric = draw.chance(0.35);
  const double Lb = draw.uniform(0.42, 0.55), R1 = draw.uniform(0.16, 0.21), R2 = R1 * draw.uniform(0.66, 0.9);
  const double a1 = draw.uniform(0.28, 0.33) * Lb, a2 = draw.uniform(0.24, 0.28) * Lb;
  const double waist = draw.uniform(2.0, 6.0);  // soft-max exponent: low fills the waist, high pinches it
  const double cutaway = electric && draw.chance(0.6) ? draw.uniform(0.3, 0.7) : 1.0;
  const double depth = electric ? draw.uniform(0.035, 0.05) : draw.uniform(0.08, 0.12);
  auto lobe = [](double t, double centre, double half_length, double radius) {
    const double u = (t - centre) / half_length;
    return radius * std::sqrt(std::max(0.0, 1 - u * u));
  };
  auto width = [&](double t, double upper_scale) {
    const double lo = lobe(t, a1, a1, R1), up = upper_scale * lobe(t, Lb - a2, a2, R2);
    return std::pow(std::pow(lo, waist) + std::pow(up, waist), 1 / waist);
  };
  const int n = 40;
  Polygon outline;
  for (int i = 0; i <= n; ++i) {
    const double t = Lb * (1 - std::cos(kPi * i / n)) / 2;  // denser near the rounded ends
    outline.push_back({i == 0 || i == n ? 0.0 : width(t, cutaway), t});
  }
  for (int i = n - 1; i >= 1; --i) {
    const double t = Lb * (1 - std::cos(kPi * i / n)) / 2;
    outline.push_back({-width(t, 1.0), t});
  }
  Mesh g = make_extrusion(outline, depth, pal.main);
  g.translate({0, 0, -depth});
  // Neck and fretboard, then the headstock (tilted back on most acoustics).
  const double neck_len = draw.uniform(0.4, 0.5), neck_w = draw.uniform(0.045, 0.06), neck_t = 0.025;
  const double neck_start = Lb - 0.06;
  g.append(box_at({0, neck_start + neck_len / 2, -neck_t / 2 + 0.004}, {neck_w, neck_len, neck_t}, pal.second));
  const double head_len = draw.uniform(0.14, 0.2), head_w = draw.uniform(0.06, 0.1), head_tilt = electric ? 0.0 : draw.uniform(0.0, 0.25);
  const double skew = electric && draw.chance(0.5) ? draw.uniform(0.01, 0.04) : 0.0;  // six-in-line heads lean to one side
  Polygon head = {{-neck_w / 2, 0}, {neck_w / 2, 0}, {head_w / 2 + skew, head_len}, {-head_w / 2 + skew, head_len}};
  if (draw.chance(0.5)) head = chaikin(head, 2);
  Mesh headstock = make_extrusion(head, 0.018, pal.second);
  headstock.translate({0, 0, -0.018});
  const bool inline_pegs = skew > 0;
  for (int k = 0; k < 6; ++k) {
    const double along = head_len * (0.2 + 0.65 * (inline_pegs ? k / 5.0 : (k % 3) / 2.0));
    const double side = inline_pegs ? -1.0 : (k < 3 ? -1.0 : 1.0);
    const double edge = inline_pegs ? head_w / 2 - skew : head_w / 2;
    headstock.append(make_tube({side * (edge - 0.01), along, -0.009}, {side * (edge + 0.02), along, -0.009}, 0.005, 8, pal.third));
  }
  g.append(placed(std::move(headstock), rotation_x(-head_tilt), {0, neck_start + neck_len, 0.004}));
  // Face details: bridge, sound hole or pickups and knobs, now and then a pickguard.
  g.append(box_at({0, Lb * draw.uniform(0.2, 0.28), 0.004}, {draw.uniform(0.1, 0.16), 0.02, 0.01}, pal.third));
  if (!electric) {
    const double hole = draw.uniform(0.04, 0.055);
    g.append(post({0, Lb * draw.uniform(0.58, 0.66), -0.001}, hole, hole, 0.003, pal.third, 28));
  } else {
    const int pickups = draw.integer(1, 3);
    for (int k = 0; k < pickups; ++k)
      g.append(box_at({0, Lb * (0.3 + 0.12 * (k + 1)), 0.003}, {0.075, 0.025, 0.008}, pal.third));
    const int knobs = draw.integer(2, 4);
    for (int k = 0; k < knobs; ++k) g.append(post({-R1 * 0.55 - 0.02 * (k % 2), Lb * (0.14 + 0.06 * k), -0.001}, 0.012, 0.011, 0.015, pal.third, 12));
  }
  if (draw.chance(0.4)) {
    Polygon guard = chaikin({{R1 * 0.2, Lb * 0.45}, {R1 * 0.7, Lb * 0.42}, {R1 * 0.75, Lb * 0.62}, {R1 * 0.35, Lb * 0.72}}, 2);
    g.append(plan_extrusion(guard, -0.001, 0.003, pal.second));
  }
  // Stand it up: local x -> -x, y (along the guitar) -> +z, z (the face normal) -> +y. A rotation.
  Mat3 R;
  R.m = {{{-1, 0, 0}, {0, 0, 1}, {0, 1, 0}}};
  return placed(std::move(g), R, {});
}

}  // namespace jess::render::catalogue
