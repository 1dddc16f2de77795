// Procedural vessels: bottle, mug, vase, teapot. Surfaces of revolution from random control points,
// with handles and spouts swept along curves; a handle sits at -x, to the right seen from the front
// camera (+y looking back at the origin with +z up).
#include <algorithm>
#include <cmath>

#include "jess/render/catalogue_parts.h"

namespace jess::render::catalogue {

namespace {

constexpr int kRound = 36;  // segments around a vessel

// A smooth radius profile r(z) through control points with increasing z: Catmull-Rom on the radii,
// z linear within each span, so the curve stays a function of z (walls can be offset inwards).
Polygon radius_profile(const std::vector<double>& zs, const std::vector<double>& rs, int per_span) {
  const size_t n = zs.size();
  Polygon out;
  for (size_t i = 0; i + 1 < n; ++i) {
    const double r0 = rs[i > 0 ? i - 1 : 0], r1 = rs[i], r2 = rs[i + 1], r3 = rs[i + 2 < n ? i + 2 : n - 1];
    for (int k = 0; k < per_span; ++k) {
      const double t = double(k) / per_span, t2 = t * t, t3 = t2 * t;
      const double r = 0.5 * (2 * r1 + (-r0 + r2) * t + (2 * r0 - 5 * r1 + 4 * r2 - r3) * t2 + (-r0 + 3 * r1 - 3 * r2 + r3) * t3);
      out.push_back({r, zs[i] + t * (zs[i + 1] - zs[i])});
    }
  }
  out.push_back({rs.back(), zs.back()});
  return out;
}

// Radius of a profile (increasing z) at height z, by linear interpolation.
double radius_at(const Polygon& profile, double z) {
  if (z <= profile.front()[1]) return profile.front()[0];
  for (size_t i = 0; i + 1 < profile.size(); ++i)
    if (z <= profile[i + 1][1]) {
      const double u = (z - profile[i][1]) / std::max(1e-12, profile[i + 1][1] - profile[i][1]);
      return profile[i][0] + u * (profile[i + 1][0] - profile[i][0]);
    }
  return profile.back()[0];
}

// A vessel open at the top: the outer profile (increasing z) up to the rim, across the rim, down the
// inner wall (`wall` thinner) to a floor at `floor_z`, and in to the axis.
Polygon hollow_profile(const Polygon& outer, double wall, double floor_z, double bevel) {
  Polygon p = {{0, 0}, {std::max(0.01, outer.front()[0] - bevel), 0}};
  for (const auto& q : outer)
    if (q[1] > 0) p.push_back(q);
  const double rim_r = outer.back()[0], top = outer.back()[1];
  p.push_back({rim_r - wall / 2, top + wall * 0.25});  // a softly rounded rim
  for (auto it = outer.rbegin(); it != outer.rend(); ++it)
    if ((*it)[1] > floor_z + 1e-6) p.push_back({std::max(0.005, (*it)[0] - wall), (*it)[1]});
  p.push_back({std::max(0.005, radius_at(outer, floor_z) - wall), floor_z});
  p.push_back({0, floor_z});
  return p;
}

// Handle in the xz plane on the -x side of a vessel: a superellipse arc from z_top down to z_bottom,
// reaching `reach` out from the wall; `squareness` 2 is an ellipse (a C), larger is squarer (a D).
std::vector<Vec3> handle_path(const Polygon& outer, double z_top, double z_bottom, double reach, double squareness,
                              double embed, int samples) {
  std::vector<Vec3> path;
  const double zc = (z_top + z_bottom) / 2, hz = (z_top - z_bottom) / 2, e = 2 / squareness;
  // The loop is measured from the chord between the two attachments, pushed out by as much as the
  // wall bulges beyond that chord: a handle that followed a curvy wall (a vase's shoulder) would
  // copy its bends and could fold; one measured from the chord alone could sink into a belly.
  const double r_top = radius_at(outer, z_top), r_bottom = radius_at(outer, z_bottom);
  auto chord = [&](double z) { return r_bottom + (r_top - r_bottom) * (z - z_bottom) / (z_top - z_bottom); };
  double bulge = 0;
  for (int k = 0; k <= 32; ++k) {
    const double z = z_bottom + (z_top - z_bottom) * k / 32;
    bulge = std::max(bulge, radius_at(outer, z) - chord(z));
  }
  for (int k = 0; k <= samples; ++k) {
    const double phi = kPi * k / samples, c = std::cos(phi), s = std::pow(std::abs(std::sin(phi)), e);
    const double z = zc + hz * (c < 0 ? -1 : 1) * std::pow(std::abs(c), e);
    path.push_back({-(chord(z) - embed) - (bulge + reach) * s, 0, z});
  }
  return path;
}

// The handle as a tube `thick` thick. A tube thicker than its path's tightest radius of curvature
// folds over itself on the inside of that bend, so it is thinned to fit (the radius of the circle
// through each three consecutive path points).
Mesh handle(const Polygon& outer, double z_top, double z_bottom, double reach, double squareness, double embed,
            double thick, int samples, const Material& m) {
  const auto path = handle_path(outer, z_top, z_bottom, reach, squareness, embed, samples);
  double tightest = 1e300;
  for (size_t i = 1; i + 1 < path.size(); ++i) {
    const Vec3 a = path[i - 1], b = path[i], c = path[i + 1];
    const double twice_area = norm(cross(b - a, c - a));
    if (twice_area > 0) tightest = std::min(tightest, norm(b - a) * norm(c - b) * norm(c - a) / (2 * twice_area));
  }
  return make_swept_tube(path, std::min(thick, 0.6 * tightest), 12, m);
}

}  // namespace

Mesh build_bottle(Draw& draw, const Palette& pal) {
  const double R = 1.0, body = draw.uniform(1.4, 4.0), shoulder = draw.uniform(0.3, 1.6);
  const double neck_r = draw.uniform(0.22, 0.5), neck_len = draw.uniform(0.3, 2.2), bevel = draw.uniform(0.03, 0.2);
  const int body_style = draw.weighted({0.5, 0.25, 0.25});  // straight, tapered, waisted or bulging
  const double taper = draw.uniform(-0.2, 0.15), waist = draw.uniform(-0.12, 0.18);
  const double shoulder_shape = draw.uniform(1.0, 3.0);  // 1: a cone, 2: a round shoulder, 3: boxy
  auto body_radius = [&](double u) {
    if (body_style == 1) return R * (1 + taper * u);
    if (body_style == 2) return R * (1 - waist * std::sin(kPi * u));
    return R;
  };
  Polygon profile = {{0, 0}, {body_radius(0) - bevel, 0}};
  for (int k = 0; k <= 8; ++k) {
    const double u = double(k) / 8;
    profile.push_back({body_radius(u), bevel + u * (body - bevel)});
  }
  const double top_r = body_radius(1);
  for (int k = 1; k <= 8; ++k) {
    const double u = double(k) / 8;
    const double g = std::pow(std::max(0.0, 1 - std::pow(u, shoulder_shape)), 1 / shoulder_shape);
    profile.push_back({neck_r + (top_r - neck_r) * g, body + u * shoulder});
  }
  const double neck_top = body + shoulder + neck_len, top_neck_r = neck_r * draw.uniform(0.8, 1.0);
  profile.push_back({top_neck_r, neck_top - 0.12 * neck_r});
  const bool lip = draw.chance(0.6);
  if (lip) {
    profile.push_back({top_neck_r * 1.18, neck_top - 0.1 * neck_r});
    profile.push_back({top_neck_r * 1.18, neck_top});
  } else {
    profile.push_back({top_neck_r, neck_top});
  }
  Mesh out = make_lathe(profile, kRound, pal.main, false, true);
  if (draw.chance(0.6)) {  // a cap
    const double cap_r = top_neck_r * (lip ? 1.25 : 1.12), cap_h = draw.uniform(0.5, 1.6) * cap_r;
    out.append(post({0, 0, neck_top - 0.3 * cap_h}, cap_r, cap_r * draw.uniform(0.85, 1.0), cap_h, pal.second, kRound));
  }
  if (body_style == 0 && draw.chance(0.45)) {  // a label wrapped round the body
    const double z0 = body * draw.uniform(0.15, 0.4), z1 = body * draw.uniform(0.55, 0.9);
    out.append(post({0, 0, z0}, R * 1.012, R * 1.012, z1 - z0, pal.third, kRound));
  }
  return out;
}

Mesh build_mug(Draw& draw, const Palette& pal) {
  const double R = 1.0, H = R * draw.uniform(1.6, 3.0), taper = draw.uniform(-0.2, 0.15), bulge = draw.uniform(-0.05, 0.14);
  const double wall = draw.uniform(0.05, 0.1), floor_z = draw.uniform(0.08, 0.2), bevel = draw.uniform(0.02, 0.1);
  std::vector<double> zs, rs;
  for (int k = 0; k <= 8; ++k) {
    const double u = double(k) / 8;
    zs.push_back(bevel + u * (H - bevel));
    rs.push_back(R * (1 + taper * u) + R * bulge * std::sin(kPi * u));
  }
  const Polygon outer = radius_profile(zs, rs, 1);
  Mesh out = make_lathe(hollow_profile(outer, wall, floor_z, bevel), kRound, pal.main, false, false);
  // The handle.
  const double z_top = H * draw.uniform(0.68, 0.88), z_bottom = H * draw.uniform(0.12, 0.38);
  const double reach = H * draw.uniform(0.18, 0.4), squareness = draw.uniform(2.0, 5.0), thick = R * draw.uniform(0.06, 0.11);
  out.append(handle(outer, z_top, z_bottom, reach, squareness, wall / 2, thick, 24, draw.chance(0.7) ? pal.main : pal.second));
  return out;
}

Mesh build_vase(Draw& draw, const Palette& pal) {
  const double H = draw.uniform(2.0, 4.0), wall = draw.uniform(0.04, 0.08);
  const bool footed = draw.chance(0.25);
  std::vector<double> zs, rs;
  const double base_r = draw.uniform(0.5, 1.0), belly_r = std::min(0.45 * H, draw.uniform(0.8, 1.6)), neck_r = draw.uniform(0.3, 0.9);
  const double lip_r = neck_r * draw.uniform(1.0, 1.8);
  if (footed) {
    const double foot_h = H * draw.uniform(0.08, 0.15);
    zs = {0, foot_h * 0.3, foot_h, foot_h * 2.2};
    rs = {base_r, base_r * 0.9, draw.uniform(0.25, 0.4), belly_r * 0.7};
  } else {
    zs = {0};
    rs = {base_r};
  }
  const double z_belly = std::max(zs.back() + 0.1 * H, H * draw.uniform(0.25, 0.5));
  const double z_neck = std::max(z_belly + 0.15 * H, H * draw.uniform(0.6, 0.85));
  zs.insert(zs.end(), {z_belly, z_neck, H});
  rs.insert(rs.end(), {belly_r, neck_r, lip_r});
  Polygon outer = radius_profile(zs, rs, 4);
  for (auto& p : outer) p[0] = std::max(p[0], 2.5 * wall + 0.05);  // room for the inner wall
  const double floor_z = (footed ? zs[3] : 0.0) + H * draw.uniform(0.03, 0.1);
  Mesh out = make_lathe(hollow_profile(outer, wall, floor_z, 0.03), 40, pal.main, false, false);
  if (draw.chance(0.25)) {  // a pair of ear handles between shoulder and neck
    const double z_top = z_neck + (H - z_neck) * draw.uniform(0.0, 0.6), z_bottom = z_belly + (z_neck - z_belly) * draw.uniform(0.2, 0.6);
    const double reach = draw.uniform(0.25, 0.6), thick = draw.uniform(0.05, 0.09);
    Mesh ear = handle(outer, z_top, z_bottom, reach, draw.uniform(2, 4), wall / 2, thick, 20, pal.second);
    out.append(ear);
    out.append(placed(std::move(ear), rotation_z(kPi), {}));
  }
  return out;
}

Mesh build_teapot(Draw& draw, const Palette& pal) {
  const double R = 1.0, Hb = draw.uniform(0.9, 1.6);
  const double base_r = R * draw.uniform(0.55, 0.8), top_r = R * draw.uniform(0.45, 0.75);
  const double belly_z = Hb * draw.uniform(0.3, 0.55);
  const Polygon outer = radius_profile({0.03, belly_z, Hb}, {base_r, R, top_r}, 8);
  Polygon body = {{0, 0}, {base_r - 0.03, 0}};
  body.insert(body.end(), outer.begin(), outer.end());
  body.push_back({top_r * 0.96, Hb + 0.02});
  // Lid: a dome (or a flatter cap) with a knob on top.
  const double lid_h = draw.uniform(0.1, 0.4) * top_r * 2;
  for (int k = 0; k <= 6; ++k) {
    const double a = kPi / 2 * k / 6;
    body.push_back({k == 6 ? 0.0 : top_r * 0.96 * std::cos(a), Hb + 0.02 + lid_h * std::sin(a)});
  }
  Mesh out = make_lathe(body, kRound, pal.main, false, false);
  const double knob = draw.uniform(0.07, 0.15);
  out.append(placed(make_sphere(knob, 16, 8, pal.second), Mat3::identity(), {0, 0, Hb + 0.02 + lid_h + knob * 0.6}));
  // Spout at +x: a cone from the body into a curved pipe.
  const double spout_r = draw.uniform(0.07, 0.13), spout_len = draw.uniform(0.5, 1.0), rise = Hb * draw.uniform(0.5, 1.0);
  const Vec3 root(radius_at(outer, belly_z * 0.8) - 0.15, 0, belly_z * 0.8);
  const Vec3 tip(R + spout_len, 0, belly_z * 0.8 + rise);
  const Vec3 control(R + spout_len * draw.uniform(0.3, 0.7), 0, belly_z * 0.8 + rise * draw.uniform(0.0, 0.4));
  std::vector<Vec3> spout;
  for (int k = 0; k <= 12; ++k) {
    const double t = double(k) / 12;
    spout.push_back(root * ((1 - t) * (1 - t)) + control * (2 * t * (1 - t)) + tip * (t * t));
  }
  out.append(make_swept_tube(spout, spout_r, 12, pal.main));
  Mesh flare = make_frustum(spout_r * 2.2, spout_r * 1.05, 0.45 * norm(control - root), 14, pal.main);
  const Vec3 axis = normalized(control - root);
  flare.transform(rotation_y(std::atan2(axis.x, axis.z)), {1, 1, 1}, root);
  out.append(flare);
  // Handle at -x.
  const double z_top = Hb * draw.uniform(0.7, 0.9), z_bottom = Hb * draw.uniform(0.15, 0.35);
  const double reach = draw.uniform(0.3, 0.6), squareness = draw.uniform(2.0, 4.0), thick = draw.uniform(0.05, 0.09);
  out.append(handle(outer, z_top, z_bottom, reach, squareness, 0.06, thick, 22, draw.chance(0.7) ? pal.main : pal.second));
  return out;
}

}  // namespace jess::render::catalogue
