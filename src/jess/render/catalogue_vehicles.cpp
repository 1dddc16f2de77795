// Procedural vehicles: airplanes and cars, nose towards +y. An airplane is a lathed fuselage with
// extruded wing, stabiliser and fin planforms (sweep, taper, dihedral, tail layout, engine count);
// a car is a side profile extruded across its width (lower body and a narrower cabin) on wheels.
#include <algorithm>
#include <cmath>

#include "jess/render/catalogue_parts.h"

namespace jess::render::catalogue {

namespace {

// Half a lifting surface (wing or stabiliser) in the plan view: root chord at x = 0 from y_le back,
// tip at x = span swept back by `sweep`, `thickness` thick, centred on z = 0.
Mesh half_surface(double span, double root, double taper, double sweep, double y_le, double thickness, const Material& m) {
  const double back = span * std::tan(sweep);
  Polygon plan = {{0, y_le}, {0, y_le - root}, {span, y_le - back - root * taper}, {span, y_le - back}};
  Mesh mesh = make_extrusion(plan, thickness, m);
  mesh.translate({0, 0, -thickness / 2});
  return mesh;
}

// Both halves, the right one lifted by `dihedral`, the left its mirror image; centred on x = 0.
Mesh surface_pair(Mesh right, double dihedral, const Vec3& at) {
  right.transform(rotation_y(-dihedral), {1, 1, 1}, at);
  Mesh left = right;
  left.transform(Mat3::identity(), {-1, 1, 1}, {});
  right.append(left);
  return right;
}

// Vertical fin in the side view: root chord along y at z = z0, swept tip at z0 + height.
Mesh fin(double root, double taper, double sweep, double height, double y_le, double z0, double x, double thickness, const Material& m) {
  const double back = height * std::tan(sweep);
  Polygon side = {{y_le, z0}, {y_le - back, z0 + height}, {y_le - back - root * taper, z0 + height}, {y_le - root, z0}};
  return side_extrusion(side, thickness, x, m);
}

// An engine nacelle along +y from y (exhaust) to y + length, centred at (x, z).
Mesh nacelle(double radius, double length, const Vec3& rear_centre, const Material& m) {
  const Polygon profile = {{0, 0}, {radius * 0.6, 0}, {radius * 0.85, 0.2 * length}, {radius, 0.65 * length},
                           {radius * 0.95, length}, {0, length}};
  return placed(make_lathe(profile, 18, m, false, false), rotation_x(-kPi / 2), rear_centre);
}

}  // namespace

Mesh build_airplane(Draw& draw, const Palette& pal) {
  const double L = draw.uniform(3.0, 5.0), R = L * draw.uniform(0.04, 0.075);
  const int engines = 2 * draw.weighted({0.3, 0.5, 0.2});  // 0, 2 or 4
  // Fuselage: radius along the length s (0 at the tail, L at the nose), laid along +y.
  const double nose = R * draw.uniform(1.2, 3.0), tail = L * draw.uniform(0.2, 0.35), tail_r = draw.uniform(0.1, 0.35);
  Polygon body = {{0, 0}};
  for (int k = 0; k <= 8; ++k) body.push_back({R * (tail_r + (1 - tail_r) * std::sin(kPi / 2 * k / 8)), tail * k / 8});
  for (int k = 0; k <= 8; ++k) {
    const double a = kPi / 2 * k / 8;
    body.push_back({k == 8 ? 0.0 : R * std::cos(a), L - nose + nose * std::sin(a)});
  }
  Mesh out = placed(make_lathe(body, 24, pal.main, false, false), rotation_x(-kPi / 2), {0, -L / 2, 0});
  // Wings.
  const double span = L * draw.uniform(0.35, 0.6), root = L * draw.uniform(0.14, 0.24), taper = draw.uniform(0.25, 0.8);
  const double sweep = engines == 0 ? draw.uniform(0.0, 0.12) : draw.uniform(0.05, 0.65);
  const double dihedral = draw.uniform(0.0, 0.12), thickness = root * draw.uniform(0.06, 0.1);
  const double wing_z = R * std::vector<double>{-0.6, 0.0, 0.6}[size_t(draw.integer(0, 2))];
  const double wing_le = L * draw.uniform(-0.02, 0.15) + root / 2;
  const Material& wing_m = draw.chance(0.6) ? pal.main : pal.second;
  out.append(surface_pair(half_surface(span, root, taper, sweep, wing_le, thickness, wing_m), dihedral, {0, 0, wing_z}));
  // Tail: conventional, T-tail, or twin fins at the stabiliser's tips.
  const int tail_style = draw.weighted({0.5, 0.3, 0.2});
  const double h_span = span * draw.uniform(0.28, 0.42), h_root = root * draw.uniform(0.45, 0.7);
  const double h_sweep = std::min(0.8, sweep + draw.uniform(0.0, 0.2)), h_taper = draw.uniform(0.4, 0.8);
  const double fin_height = L * draw.uniform(0.09, 0.17), fin_root = h_root * draw.uniform(1.0, 1.5);
  const double fin_sweep = draw.uniform(0.2, 0.8), fin_taper = draw.uniform(0.35, 0.8);
  const double tail_le = -L / 2 + std::max(fin_root, h_root) * draw.uniform(1.0, 1.2);
  const double h_thickness = h_root * 0.08;
  if (tail_style == 2) {
    const double twin_height = fin_height * 0.7;
    out.append(surface_pair(half_surface(h_span, h_root, h_taper, h_sweep, tail_le, h_thickness, wing_m), 0.0, {0, 0, R * 0.2}));
    const double back = h_span * std::tan(h_sweep);
    for (double s : {-1.0, 1.0})
      out.append(fin(fin_root * 0.7, fin_taper, fin_sweep, twin_height, tail_le - back + 0.1 * h_root, R * 0.2 - twin_height * 0.35,
                     s * h_span, h_thickness, wing_m));
  } else {
    out.append(fin(fin_root, fin_taper, fin_sweep, fin_height + R * 0.5, tail_le, R * 0.1, 0.0, fin_root * 0.08, wing_m));
    if (tail_style == 1) {
      const double top = R * 0.1 + fin_height + R * 0.5, back = (fin_height + R * 0.5) * std::tan(fin_sweep);
      out.append(surface_pair(half_surface(h_span * 0.85, fin_root * fin_taper, h_taper, h_sweep, tail_le - back, h_thickness, wing_m),
                              0.0, {0, 0, top}));
    } else {
      out.append(surface_pair(half_surface(h_span, h_root, h_taper, h_sweep, tail_le, h_thickness, wing_m), draw.uniform(0.0, 0.1), {0, 0, R * 0.2}));
    }
  }
  // Engines: under the wings, or (some twins) on the rear fuselage; none means a propeller.
  const double rn = R * draw.uniform(0.35, 0.6), ln = L * draw.uniform(0.1, 0.16);
  const Material& engine_m = draw.chance(0.5) ? pal.second : pal.third;
  if (engines == 2 && draw.chance(0.25)) {
    for (double s : {-1.0, 1.0}) {
      const double x = s * (R + rn * 1.2);
      out.append(nacelle(rn, ln, {x, tail_le + fin_root * 0.2, R * 0.35}, engine_m));
      out.append(beam({0, tail_le + fin_root * 0.2 + ln * 0.5, R * 0.35}, {x, tail_le + fin_root * 0.2 + ln * 0.5, R * 0.35}, R * 0.15, ln * 0.4, engine_m));
    }
  } else if (engines > 0) {
    std::vector<double> fractions = {draw.uniform(0.28, 0.42)};
    if (engines == 4) fractions.push_back(draw.uniform(0.58, 0.72));
    for (double f : fractions)
      for (double s : {-1.0, 1.0}) {
        const double x = f * span, le = wing_le - x * std::tan(sweep), z_wing = wing_z + x * std::tan(dihedral);
        const Vec3 rear(s * x, le + ln * 0.35 - ln, z_wing - thickness / 2 - rn * 1.15);
        out.append(nacelle(rn, ln, rear, engine_m));
        out.append(box_at({s * x, le - ln * 0.15, z_wing - thickness / 2 - rn * 0.55}, {rn * 0.25, ln * 0.5, rn * 1.2}, engine_m));
      }
  } else {
    const int blades = draw.integer(2, 4);
    const double prop = R * draw.uniform(1.3, 2.2), y = L / 2 - nose * 0.25;
    for (int k = 0; k < blades; ++k) {
      Mesh blade = box_at({0, 0, prop / 2}, {R * 0.22, R * 0.06, prop}, engine_m);
      out.append(placed(std::move(blade), rotation_y(2 * kPi * k / blades + draw.uniform(0, 0.3)), {0, y, 0}));
    }
  }
  if (draw.chance(0.5)) {  // cockpit canopy
    Mesh canopy = make_sphere(1, 16, 8, pal.third);
    canopy.transform(Mat3::identity(), {R * 0.55, nose * 0.8, R * 0.45}, {0, L / 2 - nose * 1.1, R * 0.65});
    out.append(canopy);
  }
  return out;
}

Mesh build_car(Draw& draw, const Palette& pal) {
  const int style = draw.weighted({0.35, 0.25, 0.25, 0.15});  // sedan, hatchback, SUV or van, pickup
  const bool six_wheels = style >= 2 && draw.chance(0.3);
  const double L = draw.uniform(3.6, 4.8) + (six_wheels ? 0.9 : 0.0), W = draw.uniform(1.6, 2.0);
  const double wheel_r = draw.uniform(0.3, 0.42) * (style >= 2 ? 1.15 : 1.0);
  const double clearance = wheel_r * draw.uniform(0.55, 0.95);  // the lower half of each wheel shows
  const double belt = clearance + draw.uniform(0.45, 0.7) + (style >= 2 ? 0.15 : 0.0);
  const double roof = belt + (style == 2 ? draw.uniform(0.45, 0.8) : draw.uniform(0.35, 0.55));
  const bool rounded = draw.chance(0.5);
  const double front = L / 2, rear = -L / 2;
  const double nose_z = belt - draw.uniform(0.1, 0.35) * (belt - clearance);
  const double hood_round = draw.uniform(0.1, 0.45), tail_round = draw.uniform(0.05, 0.3);
  Polygon lower = {{rear, clearance}, {front, clearance}, {front, nose_z}, {front - hood_round, belt},
                   {rear + tail_round, belt}, {rear, belt - draw.uniform(0.0, 0.15)}};
  // Cabin (glasshouse) corners: windshield base, roof front, roof rear, rear window base.
  const double cabin_h = roof - belt;
  double y_ws, y_rf, y_rr, y_rw;
  if (style == 2) {
    y_ws = front - L * draw.uniform(0.14, 0.3);
    y_rf = y_ws - cabin_h * draw.uniform(0.4, 1.0);
    y_rw = rear + 0.05;
    y_rr = rear + draw.uniform(0.05, 0.25);
  } else if (style == 3) {
    y_ws = front - L * draw.uniform(0.25, 0.35);
    y_rf = y_ws - cabin_h * draw.uniform(0.6, 1.2);
    y_rr = y_rf - draw.uniform(0.5, 0.9);
    y_rw = y_rr - 0.08;
  } else {
    y_ws = front - L * draw.uniform(0.27, 0.4);
    y_rf = y_ws - cabin_h * draw.uniform(0.8, 1.6);
    y_rw = style == 0 ? rear + L * draw.uniform(0.13, 0.25) : rear + draw.uniform(0.05, 0.2);
    y_rr = y_rw + cabin_h * (style == 0 ? draw.uniform(0.9, 1.6) : draw.uniform(0.3, 0.8));
  }
  y_rr = std::min(y_rr, y_rf - 0.3);
  y_rw = std::min(y_rw, y_rr - 0.02);
  Polygon cabin = {{y_rw, belt - 0.03}, {y_ws, belt - 0.03}, {y_rf, roof}, {y_rr, roof}};
  const int smoothing = rounded ? 3 : 1;
  Mesh out = side_extrusion(chaikin(lower, smoothing), W, 0, pal.main);
  const double cabin_w = W * draw.uniform(0.82, 0.94);
  out.append(side_extrusion(chaikin(cabin, smoothing), cabin_w, 0, draw.chance(0.5) ? pal.second : pal.main));
  if (style == 3) {  // the pickup's bed: side walls and a tailgate on the rear deck
    const double wall = draw.uniform(0.12, 0.25), bed_front = y_rw - 0.05, bed_rear = rear + tail_round * 0.5;
    for (double s : {-1.0, 1.0})
      out.append(box_at({s * (W / 2 - 0.04), (bed_front + bed_rear) / 2, belt + wall / 2 - 0.02}, {0.08, bed_front - bed_rear, wall + 0.04}, pal.main));
    out.append(box_at({0, bed_rear + 0.04, belt + wall / 2 - 0.02}, {W - 0.16, 0.08, wall + 0.04}, pal.main));
  }
  // Wheels: a tyre and a hub on each side of each axle.
  std::vector<double> axles = {front - wheel_r - draw.uniform(0.3, 0.75), rear + wheel_r + draw.uniform(0.3, 0.8)};
  if (six_wheels) axles.push_back(axles[1] + 2.15 * wheel_r);
  const double tyre_w = draw.uniform(0.18, 0.3), hub_r = wheel_r * draw.uniform(0.45, 0.7);
  for (double y : axles)
    for (double s : {-1.0, 1.0}) {
      const double x0 = s > 0 ? W / 2 - tyre_w + 0.03 : -W / 2 - 0.03;
      out.append(placed(make_frustum(wheel_r, wheel_r, tyre_w, 20, pal.second), rotation_y(kPi / 2), {x0, y, wheel_r}));
      out.append(placed(make_frustum(hub_r, hub_r, tyre_w + 0.02, 14, pal.third), rotation_y(kPi / 2), {x0 - 0.01, y, wheel_r}));
    }
  if (draw.chance(0.8)) {  // headlights
    const double light_w = draw.uniform(0.15, 0.35), light_h = draw.uniform(0.06, 0.14);
    for (double s : {-1.0, 1.0})
      out.append(box_at({s * (W / 2 - light_w / 2 - 0.08), front - 0.02, nose_z - light_h}, {light_w, 0.06, light_h}, pal.third));
  }
  if (style == 2 && draw.chance(0.35))  // roof rails
    for (double s : {-1.0, 1.0})
      out.append(box_at({s * cabin_w * 0.4, (y_rf + y_rr) / 2, roof + 0.03}, {0.05, (y_rf - y_rr) * 0.8, 0.06}, pal.third));
  return out;
}

}  // namespace jess::render::catalogue
