// Procedural furniture: bench, chair, sofa, table, bookshelf, bed. Natural units (metres), +z up,
// the front (where one sits, the open side of a shelf) facing +y.
#include <algorithm>
#include <cmath>

#include "jess/render/catalogue_parts.h"

namespace jess::render::catalogue {

namespace {

// A chair or bench back in its own frame: x across, z up from the seat, leaning back by `tilt`
// about the pivot (the seat's rear edge). Styles: solid panel, vertical slats, horizontal rails,
// rounded-top panel.
Mesh back_rest(Draw& draw, double width, double height, double thickness, const Material& panel,
               const Material& frame, double post_size) {
  Mesh back;
  const int style = draw.weighted({0.3, 0.25, 0.25, 0.2});
  const double gap = draw.uniform(0.0, 0.12) * height;
  if (style == 0 || style == 3) {
    if (style == 0) {
      back.append(box_at({0, 0, gap + (height - gap) / 2}, {width, thickness, height - gap}, panel));
    } else {
      const double radius = draw.uniform(0.3, 0.5) * std::min(width, height - gap);
      Polygon outline = rounded_rectangle(0, gap + (height - gap) / 2, width, height - gap, radius, 6);
      back.append(front_extrusion(outline, -thickness / 2, thickness, panel));
    }
    if (gap > 0.02)  // a panel above a gap needs something to hold it
      for (double side : {-1.0, 1.0})
        back.append(box_at({side * width * 0.3, -thickness * 0.6, (gap + height) / 4}, {post_size, post_size, (gap + height) / 2}, frame));
  } else {
    // Two posts carry slats (vertical) or rails (horizontal).
    for (double side : {-1.0, 1.0})
      back.append(box_at({side * (width / 2 - post_size / 2), 0, height / 2}, {post_size, thickness, height}, frame));
    const double rail = draw.uniform(0.04, 0.09);
    back.append(box_at({0, 0, height - rail / 2}, {width, thickness, rail}, frame));
    if (style == 1) {
      const int slats = draw.integer(2, 6);
      const double slat_width = draw.uniform(0.25, 0.6) * (width - 2 * post_size) / slats;
      const double z0 = gap + 0.02, z1 = height - rail;
      for (int k = 0; k < slats; ++k) {
        const double x = -width / 2 + post_size + (k + 0.5) * (width - 2 * post_size) / slats;
        back.append(box_at({x, 0, (z0 + z1) / 2}, {slat_width, thickness * 0.7, z1 - z0}, panel));
      }
    } else {
      const int rails = draw.integer(1, 4);
      const double rail_height = draw.uniform(0.3, 0.7) * (height - rail - gap) / rails;
      for (int k = 0; k < rails; ++k) {
        const double z = gap + (k + 0.5) * (height - rail - gap) / rails;
        back.append(box_at({0, 0, z}, {width - 2 * post_size, thickness * 0.7, rail_height}, panel));
      }
    }
  }
  return back;
}

}  // namespace

Mesh build_chair(Draw& draw, const Palette& pal) {
  const double w = draw.uniform(0.40, 0.58), d = draw.uniform(0.38, 0.54), h = draw.uniform(0.38, 0.50);
  const double t = draw.uniform(0.025, 0.08);
  const int base = draw.weighted({0.6, 0.25, 0.15});  // four legs, pedestal, cantilever frame
  const bool arms = draw.chance(0.35);
  Mesh out;
  // Seat.
  if (draw.chance(0.5)) out.append(rounded_box_at({0, 0, h - t / 2}, {w, d, t}, draw.uniform(0.02, 0.2) * std::min(w, d), pal.second));
  else out.append(box_at({0, 0, h - t / 2}, {w, d, t}, pal.second));
  // Back.
  const double back_height = draw.uniform(0.3, 0.6), tilt = draw.uniform(0.0, 0.3);
  const double back_thickness = draw.uniform(0.02, 0.05), post_size = draw.uniform(0.025, 0.045);
  const double back_width = w * draw.uniform(0.8, 1.0);
  Mesh back = back_rest(draw, back_width, back_height, back_thickness, draw.chance(0.5) ? pal.second : pal.main, pal.main, post_size);
  out.append(placed(std::move(back), rotation_x(tilt), {0, -d / 2 + back_thickness / 2, h - 0.01}));
  // Base.
  if (base == 0) {
    const LegStyle style = draw_leg_style(draw, 0.025, 0.05);
    const double inset = draw.uniform(0.0, 0.04) + style.top_size / 2, splay = draw.uniform(0, 0.05);
    for (double sx : {-1.0, 1.0})
      for (double sy : {-1.0, 1.0}) {
        const Vec3 top(sx * (w / 2 - inset), sy * (d / 2 - inset), h - t);
        out.append(leg(top, top + Vec3(sx * splay, sy * splay, -(h - t)), style, pal.main));
      }
    if (draw.chance(0.4)) {  // stretchers between the legs
      const double z = draw.uniform(0.08, 0.2), r = 0.35 * style.top_size;
      for (double sx : {-1.0, 1.0}) {
        const double x = sx * (w / 2 - inset + splay * (1 - z / (h - t)));
        const double y = d / 2 - inset + splay * (1 - z / (h - t));
        out.append(make_tube({x, -y, z}, {x, y, z}, r, 8, pal.main));
      }
    }
  } else if (base == 1) {
    const double column = draw.uniform(0.02, 0.04), base_height = draw.uniform(0.05, 0.1);
    out.append(post({0, 0, base_height}, column, column, h - t - base_height, pal.main));
    if (draw.chance(0.3)) {
      out.append(post({0, 0, 0}, draw.uniform(0.18, 0.26), draw.uniform(0.05, 0.12), base_height, pal.main, 28));
    } else {
      const int spokes = draw.integer(4, 5);
      const double reach = draw.uniform(0.24, 0.33), caster = draw.uniform(0.02, 0.03);
      for (int k = 0; k < spokes; ++k) {
        const double a = kPi / 2 + 2 * kPi * k / spokes;
        const Vec3 tip(reach * std::cos(a), reach * std::sin(a), 2 * caster);
        out.append(beam({0, 0, base_height}, tip, 0.04, 0.03, pal.main));
        out.append(placed(make_sphere(caster, 10, 6, pal.third), Mat3::identity(), {tip.x, tip.y, caster}));
      }
    }
  } else {
    const double r = draw.uniform(0.01, 0.018), bend = draw.uniform(0.05, 0.12);
    for (double sx : {-1.0, 1.0}) {
      const double x = sx * (w / 2 - 0.03), z_seat = h - t - r;
      std::vector<Vec3> corners = {{x, -d / 2 + 0.05, z_seat}, {x, d / 2 - 0.02, z_seat}, {x, d / 2 + 0.02, r}, {x, -d / 2, r}};
      out.append(make_swept_tube(rounded_path(corners, bend), r, 10, pal.main));
    }
  }
  // Arms: a rest on each side, on a front support.
  if (arms) {
    const double arm_z = h + draw.uniform(0.16, 0.26), arm_w = draw.uniform(0.035, 0.07);
    const double arm_len = d * draw.uniform(0.7, 0.95), support = draw.uniform(0.02, 0.035);
    for (double sx : {-1.0, 1.0}) {
      const double x = sx * (w / 2 + arm_w / 2 - 0.01);
      out.append(rounded_box_at({x, -d / 2 + arm_len / 2, arm_z}, {arm_w, arm_len, 0.03}, 0.012, pal.main, 3));
      out.append(beam({x, -d / 2 + arm_len - 0.05, h - t}, {x, -d / 2 + arm_len - 0.05, arm_z}, support, support, pal.main));
    }
  }
  return out;
}

Mesh build_table(Draw& draw, const Palette& pal) {
  const double H = draw.uniform(0.42, 0.8), t = draw.uniform(0.025, 0.07);
  const int shape = draw.weighted({0.5, 0.3, 0.2});  // rectangular, round, oval
  double W, D;
  Mesh out;
  if (shape == 1) {
    W = D = 2 * draw.uniform(0.3, 0.55) * (H < 0.55 ? 0.8 : 1.0);  // wider tops would hide the base
    out.append(post({0, 0, H - t}, W / 2 * draw.uniform(0.96, 1.0), W / 2, t, pal.main, 40));
  } else if (shape == 2) {
    W = draw.uniform(1.0, 2.0) * (H < 0.55 ? 0.7 : 1.0), D = W * draw.uniform(0.5, 0.75);
    Mesh top = make_frustum(1, 1, 1, 40, pal.main);
    top.transform(Mat3::identity(), {W / 2, D / 2, t}, {0, 0, H - t});
    out.append(top);
  } else {
    W = draw.uniform(0.7, 2.0) * (H < 0.55 ? 0.7 : 1.0), D = std::max(0.45, W * draw.uniform(0.45, 0.85));
    if (draw.chance(0.5)) out.append(box_at({0, 0, H - t / 2}, {W, D, t}, pal.main));
    else out.append(rounded_box_at({0, 0, H - t / 2}, {W, D, t}, draw.uniform(0.02, 0.15), pal.main, 5));
  }
  const int base = shape == 1 ? draw.weighted({0.3, 0.2, 0.5, 0}) : draw.weighted({0.6, 0, 0.15, 0.25});
  const Material& frame = draw.chance(0.5) ? pal.main : pal.second;
  const double under = H - t;
  if (base == 0 || base == 1) {  // four legs, or three (round tops)
    const LegStyle style = draw_leg_style(draw, 0.03, 0.07);
    const double splay = draw.chance(0.3) ? draw.uniform(0.02, 0.08) : 0.0;
    std::vector<Vec3> tops;
    if (shape == 1) {
      const int n = base == 0 ? 4 : 3;
      const double r = W / 2 * draw.uniform(0.55, 0.8);
      for (int k = 0; k < n; ++k) {
        const double a = (n == 4 ? kPi / 4 : kPi / 2) + 2 * kPi * k / n;
        tops.push_back({r * std::cos(a), r * std::sin(a), under});
      }
    } else {
      const double inset = draw.uniform(0.03, 0.12) + style.top_size / 2;
      const double k = shape == 2 ? 0.72 : 1.0;  // oval corners would stick out
      for (double sx : {-1.0, 1.0})
        for (double sy : {-1.0, 1.0}) tops.push_back({sx * (k * W / 2 - inset), sy * (k * D / 2 - inset), under});
    }
    for (const Vec3& top : tops) {
      const Vec3 out_dir = normalized(Vec3(top.x, top.y, 0));
      out.append(leg(top, Vec3(top.x, top.y, 0) + out_dir * splay, style, frame));
    }
    if (shape == 0 && draw.chance(0.5)) {  // apron under the top
      const double apron = draw.uniform(0.05, 0.12), inset = std::abs(tops[0].x);
      const double in_y = std::abs(tops[0].y), th = 0.02;
      for (double s : {-1.0, 1.0}) {
        out.append(box_at({s * inset, 0, under - apron / 2}, {th, 2 * in_y, apron}, frame));
        out.append(box_at({0, s * in_y, under - apron / 2}, {2 * inset, th, apron}, frame));
      }
    }
    if (shape == 0 && splay == 0 && draw.chance(0.3)) {  // lower shelf
      const double z = draw.uniform(0.1, 0.3) * H;
      out.append(box_at({0, 0, z}, {2 * std::abs(tops[0].x) + style.top_size, 2 * std::abs(tops[0].y) + style.top_size, 0.02}, pal.second));
    }
  } else if (base == 2) {  // pedestal: column on a foot (one, or two under a long top)
    const int pedestals = (shape != 1 && W > 1.4) ? 2 : 1;
    const double column = draw.uniform(0.035, 0.09), foot = draw.uniform(0.18, 0.32) * std::min(1.0, D + 0.2);
    const double bulge = draw.uniform(1.0, 2.2);
    for (int p = 0; p < pedestals; ++p) {
      const double x = pedestals == 1 ? 0.0 : (p ? 1 : -1) * W * 0.28;
      Polygon profile = {{0, 0}, {foot, 0}, {foot * 0.9, 0.04}, {column * 1.3, 0.08}, {column, 0.2 * under},
                         {column * bulge, 0.5 * under}, {column, 0.8 * under}, {column * 1.4, under}, {0, under}};
      Mesh column_mesh = make_lathe(catmull_rom(profile, 3), 24, frame, false, false);
      column_mesh.translate({x, 0, 0});
      out.append(column_mesh);
    }
  } else {  // trestle: two end panels on feet, joined by a stretcher
    const double inset = W / 2 * draw.uniform(0.7, 0.88), panel = draw.uniform(0.04, 0.08);
    const double span = D * draw.uniform(0.25, 0.6);
    for (double s : {-1.0, 1.0}) {
      out.append(box_at({s * inset, 0, under / 2}, {panel, span, under}, frame));
      out.append(box_at({s * inset, 0, 0.03}, {panel * 1.4, D * 0.85, 0.06}, frame));
    }
    out.append(box_at({0, 0, under * draw.uniform(0.3, 0.6)}, {2 * inset, 0.05, 0.08}, frame));
  }
  return out;
}

Mesh build_bench(Draw& draw, const Palette& pal) {
  const double L = draw.uniform(1.0, 2.0), D = draw.uniform(0.3, 0.5), H = draw.uniform(0.38, 0.48);
  const double t = draw.uniform(0.03, 0.06);
  const bool has_back = draw.chance(0.5);
  const int support = draw.weighted({0.45, 0.3, 0.25});  // legs, slab ends, side frames
  const double back_height = draw.uniform(0.3, 0.5), tilt = draw.uniform(0.05, 0.3);
  Mesh out;
  // Seat: one slab or slats along x.
  if (draw.chance(0.5)) {
    out.append(box_at({0, 0, H - t / 2}, {L, D, t}, pal.second));
  } else {
    const int slats = draw.integer(3, 6);
    const double gap = draw.uniform(0.008, 0.025), slat = (D - (slats - 1) * gap) / slats;
    for (int k = 0; k < slats; ++k)
      out.append(box_at({0, -D / 2 + slat / 2 + k * (slat + gap), H - t / 2}, {L, slat, t}, pal.second));
  }
  const double end_inset = draw.uniform(0.05, 0.2) * L;
  const Material& frame = pal.main;
  if (support == 0) {
    const LegStyle style = draw_leg_style(draw, 0.04, 0.07);
    std::vector<double> xs = {-(L / 2 - end_inset), L / 2 - end_inset};
    if (L > 1.5 && draw.chance(0.6)) xs.push_back(0);
    for (double x : xs)
      for (double sy : {-1.0, 1.0}) {
        const Vec3 top(x, sy * (D / 2 - 0.04), H - t);
        out.append(leg(top, {top.x, top.y, 0}, style, frame));
      }
    if (draw.chance(0.5))  // a rail joining the legs lengthwise
      out.append(box_at({0, 0, H * 0.3}, {L - 2 * end_inset, 0.03, 0.04}, frame));
  } else if (support == 1) {
    const double slab = draw.uniform(0.04, 0.1);
    for (double s : {-1.0, 1.0}) out.append(box_at({s * (L / 2 - end_inset), 0, (H - t) / 2}, {slab, D * draw.uniform(0.8, 1.0), H - t}, frame));
  } else {
    // Side frames in the side view: a Π with feet, the rear post rising into the back when there is one.
    const double lw = draw.uniform(0.04, 0.07), crossbar = H - t - draw.uniform(0.05, 0.15);
    const double off = back_height * std::tan(tilt), y0 = -D / 2, y1 = D / 2;
    Polygon frame_outline = {{y0, 0}, {y0 + lw, 0}, {y0 + lw, crossbar}, {y1 - lw, crossbar}, {y1 - lw, 0}, {y1, 0}, {y1, H - t}};
    if (has_back) {
      frame_outline.push_back({y0 + lw, H - t});
      frame_outline.push_back({y0 + lw - off, H + back_height});
      frame_outline.push_back({y0 - off, H + back_height});
    }
    frame_outline.push_back({y0, H - t});
    const double thickness = draw.uniform(0.03, 0.06);
    for (double s : {-1.0, 1.0}) out.append(side_extrusion(frame_outline, thickness, s * (L / 2 - end_inset), frame));
  }
  if (has_back) {
    // Rails on the tilted back plane; posts carry them unless the side frames already do.
    const Vec3 pivot(0, -D / 2 + 0.02, H);
    Mesh back;
    const int rails = draw.integer(1, 4);
    const double rail_height = draw.uniform(0.4, 0.8) * back_height / rails;
    for (int k = 0; k < rails; ++k) {
      const double z = back_height * (k + 0.5) / rails + 0.03;
      back.append(box_at({0, 0, std::min(z, back_height - rail_height / 2)}, {L, 0.025, rail_height}, pal.second));
    }
    if (support != 2)
      for (double s : {-1.0, 1.0})
        back.append(box_at({s * (L / 2 - end_inset), -0.02, back_height / 2 - 0.02}, {0.05, 0.04, back_height + 0.04}, frame));
    out.append(placed(std::move(back), rotation_x(tilt), pivot));
    if (draw.chance(0.4)) {  // armrests
      const double arm_z = H + draw.uniform(0.15, 0.25);
      for (double s : {-1.0, 1.0}) {
        const double x = s * (L / 2 - end_inset);
        out.append(box_at({x, 0, arm_z}, {0.06, D, 0.035}, frame));
        out.append(box_at({x, D / 2 - 0.05, (arm_z + H) / 2}, {0.04, 0.04, arm_z - H}, frame));
      }
    }
  }
  return out;
}

Mesh build_sofa(Draw& draw, const Palette& pal) {
  const int seats = 1 + draw.weighted({0.2, 0.3, 0.35, 0.15});
  const double seat_width = draw.uniform(0.5, 0.7), D = draw.uniform(0.75, 1.0);
  const bool has_arms = seats == 1 || draw.chance(0.85);  // an armless single seat would be a chair
  const double arm_width = has_arms ? draw.uniform(0.08, 0.25) : 0.0;
  const double W = seats * seat_width + 2 * arm_width;
  const double seat_top = draw.uniform(0.38, 0.48), cushion = draw.uniform(0.1, 0.18);
  const double leg_height = draw.chance(0.3) ? 0.0 : draw.uniform(0.04, 0.16);
  const double base_top = seat_top - cushion;
  const double back_depth = draw.uniform(0.15, 0.25), back_height = draw.uniform(0.3, 0.55);
  const double tilt = draw.uniform(0.0, 0.25);
  Mesh out;
  // Plinth.
  out.append(rounded_box_at({0, 0, (leg_height + base_top) / 2}, {W, D, base_top - leg_height}, 0.03, pal.main, 3));
  // Seat cushions: rounded in the side view.
  const double seat_depth = D - back_depth;
  const double radius = draw.uniform(0.02, 0.07);
  const bool bench_cushion = seats > 1 && draw.chance(0.2);
  const int cushions = bench_cushion ? 1 : seats;
  const double cushion_width = (W - 2 * arm_width) / cushions;
  for (int k = 0; k < cushions; ++k) {
    const double x = -W / 2 + arm_width + (k + 0.5) * cushion_width;
    Polygon profile = rounded_rectangle(-D / 2 + back_depth + seat_depth / 2, base_top + cushion / 2, seat_depth, cushion + 0.01, radius, 3);
    out.append(side_extrusion(profile, cushion_width - 0.012, x, pal.second));
  }
  // Back: a frame behind, with one block or one cushion per seat leaning on it.
  out.append(box_at({0, -D / 2 + back_depth * 0.3, (base_top + seat_top + back_height * 0.75) / 2}, {W, back_depth * 0.6, seat_top + back_height * 0.75 - base_top}, pal.main));
  const int back_cushions = draw.chance(0.6) ? cushions : 1;
  const double back_width = (W - 2 * arm_width) / back_cushions;
  for (int k = 0; k < back_cushions; ++k) {
    const double x = -W / 2 + arm_width + (k + 0.5) * back_width;
    Polygon profile = rounded_rectangle(0, back_height / 2, back_depth * 0.6, back_height, draw.uniform(0.03, 0.08), 3);
    Mesh block = side_extrusion(profile, back_width - 0.012, x, pal.second);
    out.append(placed(std::move(block), rotation_x(tilt), {0, -D / 2 + back_depth * 0.65, seat_top - 0.02}));
  }
  // Arms.
  if (has_arms) {
    const double arm_height = draw.chance(0.15) ? back_height * 0.75 : draw.uniform(0.05, 0.3);
    const bool rolled = draw.chance(0.35);
    for (double s : {-1.0, 1.0}) {
      const double x = s * (W / 2 - arm_width / 2);
      const double top = seat_top + arm_height;
      if (rolled) {
        const double roll = arm_width * 0.6;
        out.append(box_at({x, 0, (leg_height + top - roll * 0.5) / 2}, {arm_width, D, top - roll * 0.5 - leg_height}, pal.main));
        Mesh cylinder = make_frustum(roll, roll, D, 20, pal.main);
        out.append(placed(std::move(cylinder), rotation_x(kPi / 2), {x, D / 2, top - roll * 0.5}));
      } else {
        Polygon profile = rounded_rectangle(x, (leg_height + top) / 2, arm_width, top - leg_height, draw.uniform(0.01, 0.5) * arm_width, 4);
        out.append(front_extrusion(profile, -D / 2, D, pal.main));
      }
    }
  }
  // Legs.
  if (leg_height > 0) {
    const LegStyle style = draw_leg_style(draw, 0.03, 0.06);
    std::vector<double> xs = {-(W / 2 - 0.06), W / 2 - 0.06};
    if (seats >= 3) xs.push_back(0);
    for (double x : xs)
      for (double sy : {-1.0, 1.0}) out.append(leg({x, sy * (D / 2 - 0.06), leg_height}, {x, sy * (D / 2 - 0.06), 0}, style, pal.third));
  }
  return out;
}

Mesh build_bookshelf(Draw& draw, const Palette& pal) {
  const double W = draw.uniform(0.6, 1.8), H = draw.uniform(0.8, 2.0), D = draw.uniform(0.25, 0.4);
  const double t = draw.uniform(0.015, 0.035), kick = draw.chance(0.6) ? draw.uniform(0.03, 0.1) : 0.0;
  const int rows = draw.integer(2, std::max(2, std::min(7, int(H / 0.27))));
  const int columns = W > 1.0 ? draw.integer(1, 3) : 1;
  Mesh out;
  const Material& frame = pal.main;
  for (double s : {-1.0, 1.0}) out.append(box_at({s * (W / 2 - t / 2), 0, H / 2}, {t, D, H}, frame));
  const double overhang = draw.chance(0.4) ? draw.uniform(0.01, 0.04) : 0.0;
  out.append(box_at({0, overhang / 2, H - t / 2}, {W + 2 * overhang, D + overhang, t}, frame));
  if (kick > 0) out.append(box_at({0, D / 2 - t, kick / 2}, {W - 2 * t, t, kick}, frame));
  const double bottom = kick + t;  // top surface of the lowest board
  out.append(box_at({0, 0, kick + t / 2}, {W - 2 * t, D, t}, frame));
  const bool back_panel = draw.chance(0.8);
  if (back_panel) out.append(box_at({0, -D / 2 + 0.005, H / 2}, {W - 2 * t, 0.01, H - 0.002}, pal.second));
  // Shelves, evenly spaced, and dividers between columns.
  const double pitch = (H - t - bottom) / rows;
  for (int r = 1; r < rows; ++r) out.append(box_at({0, 0, bottom + r * pitch - t / 2}, {W - 2 * t, D * 0.98, t}, frame));
  const double inner = W - 2 * t, column_width = (inner - (columns - 1) * t) / columns;
  for (int c = 1; c < columns; ++c) {
    const double x = -inner / 2 + c * column_width + (c - 0.5) * t;
    out.append(box_at({x, 0, (bottom + H - t) / 2}, {t, D * 0.98, H - t - bottom}, frame));
  }
  // Books: rows of upright spines, now and then a lying stack.
  int books = 0;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < columns; ++c) {
      if (!draw.chance(0.75)) continue;
      const double floor = bottom + r * pitch, space = pitch - t - 0.01;
      const double x0 = -inner / 2 + c * (column_width + t);
      if (draw.chance(0.2)) {  // a stack lying flat
        const int n = draw.integer(2, 5);
        double z = floor;
        const double bw = std::min(column_width * 0.6, draw.uniform(0.15, 0.25));
        const double x = x0 + draw.uniform(0.05, 0.95) * (column_width - bw) + bw / 2;
        for (int k = 0; k < n && z < floor + space - 0.06 && books < 150; ++k, ++books) {
          const double bt = draw.uniform(0.02, 0.05);
          const Material& m = draw.chance(0.5) ? pal.third : pal.second;
          out.append(box_at({x + draw.uniform(-0.01, 0.01), 0, z + bt / 2}, {bw * draw.uniform(0.85, 1.0), D * draw.uniform(0.6, 0.85), bt}, m));
          z += bt;
        }
        continue;
      }
      double x = x0 + draw.uniform(0.0, 0.1) * column_width;
      const double end = x0 + draw.uniform(0.35, 0.98) * column_width;
      while (books < 150) {
        const double bt = draw.uniform(0.025, 0.06);
        if (x + bt > end) break;
        const double bh = std::min(space, draw.uniform(0.55, 0.92) * space), bd = D * draw.uniform(0.65, 0.9);
        const Material& m = draw.chance(0.5) ? pal.third : draw.chance(0.5) ? pal.second : pal.main;
        out.append(box_at({x + bt / 2, D / 2 - bd / 2 - 0.01, floor + bh / 2}, {bt, bd, bh}, m));
        x += bt + 0.002;
        ++books;
      }
    }
  return out;
}

Mesh build_bed(Draw& draw, const Palette& pal) {
  const double W = draw.uniform(0.9, 1.9), L = draw.uniform(1.9, 2.2);
  const double leg_height = draw.chance(0.4) ? 0.0 : draw.uniform(0.05, 0.2);
  const double frame_top = leg_height + draw.uniform(0.12, 0.3), mattress = draw.uniform(0.15, 0.3);
  Mesh out;
  out.append(box_at({0, 0, (leg_height + frame_top) / 2}, {W, L, frame_top - leg_height}, pal.main));
  const double mattress_top = frame_top + mattress;
  Polygon mattress_profile = rounded_rectangle(0.01, frame_top + mattress / 2, L - 0.06, mattress, draw.uniform(0.02, 0.08), 3);
  out.append(side_extrusion(mattress_profile, W - 0.05, 0, pal.second));
  if (leg_height > 0) {
    const LegStyle style = draw_leg_style(draw, 0.04, 0.08);
    for (double sx : {-1.0, 1.0})
      for (double sy : {-1.0, 1.0}) {
        const Vec3 top(sx * (W / 2 - 0.05), sy * (L / 2 - 0.05), leg_height);
        out.append(leg(top, {top.x, top.y, 0}, style, pal.main));
      }
  }
  // Headboard at the back (-y): a panel, an arched panel, or posts with slats.
  const double head_height = mattress_top + draw.uniform(0.3, 0.9), board = draw.uniform(0.04, 0.1);
  const int head_style = draw.weighted({0.4, 0.3, 0.3});
  const double y_head = -L / 2 - board / 2;
  if (head_style == 0) {
    out.append(box_at({0, y_head, head_height / 2}, {W + 0.04, board, head_height}, pal.main));
  } else if (head_style == 1) {
    const double shoulder = frame_top + (head_height - frame_top) * draw.uniform(0.4, 0.8);
    Polygon arch = {{-W / 2 - 0.02, 0}, {W / 2 + 0.02, 0}, {W / 2 + 0.02, shoulder}};
    const int n = 16;
    for (int k = 1; k < n; ++k) {
      const double a = kPi * k / n;
      arch.push_back({(W / 2 + 0.02) * std::cos(a), shoulder + (head_height - shoulder) * std::sin(a)});
    }
    arch.push_back({-W / 2 - 0.02, shoulder});
    out.append(front_extrusion(arch, y_head - board / 2, board, pal.main));
  } else {
    const double post_size = draw.uniform(0.05, 0.09);
    for (double s : {-1.0, 1.0}) out.append(box_at({s * (W / 2 - post_size / 2 + 0.02), y_head, head_height / 2}, {post_size, post_size, head_height}, pal.main));
    const int slats = draw.integer(3, 9);
    for (int k = 0; k < slats; ++k) {
      const double x = -W / 2 + post_size + (k + 0.5) * (W - 2 * post_size) / slats;
      out.append(box_at({x, y_head, (frame_top + head_height) / 2}, {0.4 * (W - 2 * post_size) / slats, board * 0.6, head_height - frame_top}, pal.main));
    }
    out.append(box_at({0, y_head, head_height - 0.04}, {W, board * 0.8, 0.08}, pal.main));
  }
  if (draw.chance(0.4)) {  // footboard
    const double foot_height = frame_top + draw.uniform(0.05, 0.4);
    out.append(box_at({0, L / 2 + board / 4, foot_height / 2}, {W + 0.04, board / 2, foot_height}, pal.main));
  }
  // Pillows at the head, and now and then a blanket draped over the foot end.
  const int pillows = W > 1.25 ? (draw.chance(0.75) ? 2 : 1) : (draw.chance(0.8) ? 1 : 0);
  const double pillow_w = std::min(0.7, W / std::max(1, pillows) - 0.08), pillow_d = draw.uniform(0.3, 0.45);
  for (int k = 0; k < pillows; ++k) {
    const double x = pillows == 1 ? 0.0 : (k ? 1 : -1) * W / 4;
    Mesh pillow = make_sphere(1, 20, 10, pal.third);
    pillow.transform(Mat3::identity(), {pillow_w / 2, pillow_d / 2, 0.07}, {x, -L / 2 + 0.06 + pillow_d / 2, mattress_top + 0.04});
    out.append(pillow);
  }
  if (draw.chance(0.6)) {
    const double cover = L * draw.uniform(0.4, 0.7), drop = draw.uniform(0.1, 0.3) * mattress + mattress * 0.5;
    const double half = W / 2 + 0.02, th = 0.025;
    Polygon drape = {{-half, mattress_top - drop}, {-half + th, mattress_top - drop}, {-half + th, mattress_top},
                     {half - th, mattress_top}, {half - th, mattress_top - drop}, {half, mattress_top - drop},
                     {half, mattress_top + th}, {-half, mattress_top + th}};
    out.append(front_extrusion(chaikin(drape, 1), L / 2 - 0.02 - cover, cover, pal.third));
  }
  return out;
}

}  // namespace jess::render::catalogue
