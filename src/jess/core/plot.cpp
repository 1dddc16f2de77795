#include "jess/core/plot.h"

#include <cairo-svg.h>
#include <cairo.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <limits>

namespace jess::plot {
namespace {

const char* kFont = "DejaVu Sans";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Renders with `draw` onto a PNG or SVG surface and moves the result into place atomically.
void render(const std::string& path, int width, int height, const std::function<void(cairo_t*)>& draw) {
  const bool svg = ends_with(path, ".svg");
  if (!svg && !ends_with(path, ".png")) throw PlotError("plot file '" + path + "' must end in .png or .svg");
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  cairo_surface_t* surface = svg ? cairo_svg_surface_create(tmp.c_str(), width, height)
                                 : cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(surface);
    throw PlotError("cannot create plot surface for '" + path + "'");
  }
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  draw(cr);
  cairo_destroy(cr);
  cairo_surface_flush(surface);
  cairo_status_t status = CAIRO_STATUS_SUCCESS;
  if (!svg) status = cairo_surface_write_to_png(surface, tmp.c_str());
  cairo_surface_finish(surface);
  if (status == CAIRO_STATUS_SUCCESS) status = cairo_surface_status(surface);
  cairo_surface_destroy(surface);
  if (status != CAIRO_STATUS_SUCCESS || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw PlotError("cannot write plot '" + path + "' (" + cairo_status_to_string(status) + ")");
  }
}

void text(cairo_t* cr, double x, double y, const std::string& s, double size, double align_x = 0.5,
          double align_y = 0.5, bool bold = false, double angle = 0) {
  cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_text_extents_t ext;
  cairo_text_extents(cr, s.c_str(), &ext);
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle);
  cairo_move_to(cr, -ext.x_bearing - ext.width * align_x, -ext.y_bearing - ext.height * align_y);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  cairo_show_text(cr, s.c_str());
  cairo_restore(cr);
}

struct Range {
  double lo, hi;
};

Range finite_range(const std::vector<double>& v) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double x : v)
    if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
  if (!(lo <= hi)) return {0, 1};
  if (lo == hi) return {lo - 0.5, hi + 0.5};
  return {lo, hi};
}

void draw_axes_box(cairo_t* cr, double x, double y, double w, double h) {
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, x + 0.5, y + 0.5, w, h);
  cairo_stroke(cr);
}

void draw_heatmap(cairo_t* cr, const Heatmap& hm, Range r, double x0, double y0, double w, double h) {
  const int cols = int(hm.cols), rows = int(hm.rows);
  cairo_surface_t* img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, cols, rows);
  unsigned char* px = cairo_image_surface_get_data(img);
  const int stride = cairo_image_surface_get_stride(img);
  cairo_surface_flush(img);
  for (int i = 0; i < rows; ++i) {
    // Row 0 of the data is drawn at the bottom.
    uint32_t* line = reinterpret_cast<uint32_t*>(px + (rows - 1 - i) * stride);
    for (int j = 0; j < cols; ++j) {
      double v = hm.values[size_t(i) * cols + j];
      std::array<uint8_t, 3> c = std::isfinite(v) ? viridis((v - r.lo) / (r.hi - r.lo)) : std::array<uint8_t, 3>{255, 0, 255};
      line[j] = (uint32_t(c[0]) << 16) | (uint32_t(c[1]) << 8) | c[2];
    }
  }
  cairo_surface_mark_dirty(img);
  cairo_save(cr);
  cairo_rectangle(cr, x0, y0, w, h);
  cairo_clip(cr);
  cairo_translate(cr, x0, y0);
  cairo_scale(cr, w / cols, h / rows);
  cairo_set_source_surface(cr, img, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
  cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
  cairo_paint(cr);
  cairo_restore(cr);
  cairo_surface_destroy(img);
  draw_axes_box(cr, x0, y0, w, h);

  // Ticks and labels.
  const double fs = 10;
  for (double t : nice_ticks(hm.x_min, hm.x_max, 5)) {
    double px_x = x0 + (t - hm.x_min) / (hm.x_max - hm.x_min) * w;
    cairo_move_to(cr, px_x, y0 + h);
    cairo_line_to(cr, px_x, y0 + h + 4);
    cairo_stroke(cr);
    auto ticks = nice_ticks(hm.x_min, hm.x_max, 5);
    text(cr, px_x, y0 + h + 6, tick_label(t, ticks.size() > 1 ? ticks[1] - ticks[0] : 1), fs, 0.5, 0);
  }
  auto yt = nice_ticks(hm.y_min, hm.y_max, 5);
  for (double t : yt) {
    double px_y = y0 + h - (t - hm.y_min) / (hm.y_max - hm.y_min) * h;
    cairo_move_to(cr, x0, px_y);
    cairo_line_to(cr, x0 - 4, px_y);
    cairo_stroke(cr);
    text(cr, x0 - 6, px_y, tick_label(t, yt.size() > 1 ? yt[1] - yt[0] : 1), fs, 1, 0.5);
  }
  text(cr, x0 + w / 2, y0 + h + 20, hm.x_label, 11, 0.5, 0);
  text(cr, x0 - 40, y0 + h / 2, hm.y_label, 11, 0.5, 0.5, false, -M_PI / 2);
  text(cr, x0 + w / 2, y0 - 8, hm.title, 11, 0.5, 1, true);
}

void draw_colorbar(cairo_t* cr, Range r, double x0, double y0, double w, double h, const std::string& label) {
  const int n = 128;
  for (int i = 0; i < n; ++i) {
    auto c = viridis((i + 0.5) / n);
    cairo_set_source_rgb(cr, c[0] / 255.0, c[1] / 255.0, c[2] / 255.0);
    cairo_rectangle(cr, x0, y0 + h - (i + 1) * h / n, w, h / n + 0.5);
    cairo_fill(cr);
  }
  draw_axes_box(cr, x0, y0, w, h);
  auto ticks = nice_ticks(r.lo, r.hi, 5);
  for (double t : ticks) {
    if (t < r.lo || t > r.hi) continue;
    double py = y0 + h - (t - r.lo) / (r.hi - r.lo) * h;
    cairo_move_to(cr, x0 + w, py);
    cairo_line_to(cr, x0 + w + 3, py);
    cairo_stroke(cr);
    text(cr, x0 + w + 5, py, tick_label(t, ticks.size() > 1 ? ticks[1] - ticks[0] : 1), 9, 0, 0.5);
  }
  text(cr, x0 + w / 2, y0 - 6, label, 10, 0.5, 1);
}
}  // namespace

std::array<uint8_t, 3> viridis(double t) {
  // Anchor colours of matplotlib's viridis at t = 0, 1/8, ..., 1; linear in between.
  static const double anchors[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},
                                       {44, 113, 142}, {33, 144, 141}, {39, 173, 129},
                                       {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * 8;
  int i = std::min(7, int(t));
  double f = t - i;
  std::array<uint8_t, 3> c;
  for (int k = 0; k < 3; ++k) c[k] = uint8_t(std::lround(anchors[i][k] * (1 - f) + anchors[i + 1][k] * f));
  return c;
}

std::string tick_label(double v, double step) {
  char buf[32];
  if (v != 0 && (std::fabs(v) >= 1e5 || std::fabs(v) < 1e-3)) {
    std::snprintf(buf, sizeof buf, "%.2g", v);
  } else {
    // As many decimals as the step needs to be exact (1 -> "3", 0.5 -> "3.5", 0.25 -> "3.25", 2.5 -> "7.5").
    int decimals = 0;
    for (double scaled = step; decimals < 6 && std::fabs(scaled - std::round(scaled)) > 1e-6 * scaled; scaled *= 10)
      ++decimals;
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  }
  return buf;
}

std::array<double, 2> least_crowded_corner(const std::vector<std::vector<std::array<double, 2>>>& polylines,
                                           double left, double top, double width, double height, double box_w,
                                           double box_h) {
  const std::array<std::array<double, 2>, 4> corners = {{{left + width - box_w, top},
                                                         {left, top},
                                                         {left + width - box_w, top + height - box_h},
                                                         {left, top + height - box_h}}};
  std::array<double, 2> best = corners[0];
  size_t fewest = std::numeric_limits<size_t>::max();
  for (const auto& c : corners) {
    size_t inside = 0;
    for (const auto& line : polylines)
      for (size_t i = 0; i + 1 < line.size(); ++i)
        for (int k = 0; k <= 20; ++k) {  // points along the segment, as it is drawn
          const double u = line[i][0] + (line[i + 1][0] - line[i][0]) * k / 20.0;
          const double v = line[i][1] + (line[i + 1][1] - line[i][1]) * k / 20.0;
          inside += u >= c[0] && u <= c[0] + box_w && v >= c[1] && v <= c[1] + box_h;
        }
    if (inside < fewest) fewest = inside, best = c;
  }
  return best;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  double raw = (hi - lo) / std::max(1, target);
  double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> out;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    out.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  return out;
}

void heatmaps(const std::vector<Heatmap>& panels, const HeatmapOptions& opt, const std::string& path) {
  if (panels.empty()) throw PlotError("nothing to plot");
  for (const auto& p : panels)
    if (p.rows <= 0 || p.cols <= 0 || p.values.size() != size_t(p.rows * p.cols))
      throw PlotError("heat map '" + p.title + "' has inconsistent size");
  const int ncol = std::max(1, std::min<int>(opt.columns, int(panels.size())));
  const int nrow = int((panels.size() + ncol - 1) / ncol);
  const double left = 62, right = 70, top = 30, bottom = 44, title_h = opt.title.empty() ? 8 : 34;
  const double cell_w = left + opt.panel_width + right, cell_h = top + opt.panel_height + bottom;
  const int W = int(ncol * cell_w), H = int(title_h + nrow * cell_h);
  Range shared{0, 1};
  if (opt.shared_scale) {
    std::vector<double> all;
    for (const auto& p : panels) all.insert(all.end(), p.values.begin(), p.values.end());
    shared = finite_range(all);
  }
  render(path, W, H, [&](cairo_t* cr) {
    if (!opt.title.empty()) text(cr, W / 2.0, 10, opt.title, 15, 0.5, 0, true);
    for (size_t i = 0; i < panels.size(); ++i) {
      double cx = (i % ncol) * cell_w, cy = title_h + (i / ncol) * cell_h;
      Range r = opt.shared_scale ? shared : finite_range(panels[i].values);
      draw_heatmap(cr, panels[i], r, cx + left, cy + top, opt.panel_width, opt.panel_height);
      draw_colorbar(cr, r, cx + left + opt.panel_width + 10, cy + top + 12, 12, opt.panel_height - 12,
                    opt.colorbar_label);
    }
  });
}

void image_grid(const std::vector<Image>& images, int columns, int scale, const std::string& title,
                const std::string& path) {
  if (images.empty()) throw PlotError("no images to draw");
  for (const auto& im : images)
    if (im.height <= 0 || im.width <= 0 || (im.channels != 1 && im.channels != 3) ||
        im.values.size() != size_t(im.channels * im.height * im.width))
      throw PlotError("image '" + im.label + "' has inconsistent size");
  const int ncol = std::max(1, std::min<int>(columns, int(images.size())));
  const int nrow = int((images.size() + ncol - 1) / ncol);
  int64_t ch = 0, cw = 0;
  for (const auto& im : images) ch = std::max(ch, im.height), cw = std::max(cw, im.width);
  const double pad = 6, label_h = 16, title_h = title.empty() ? 4 : 30;
  const double cell_w = double(cw * scale) + pad, cell_h = double(ch * scale) + pad + label_h;
  const int W = int(ncol * cell_w + pad), H = int(title_h + nrow * cell_h + pad);
  render(path, W, H, [&](cairo_t* cr) {
    if (!title.empty()) text(cr, W / 2.0, 8, title, 14, 0.5, 0, true);
    for (size_t i = 0; i < images.size(); ++i) {
      const auto& im = images[i];
      const double x0 = pad + double(i % ncol) * cell_w, y0 = title_h + double(i / ncol) * cell_h;
      const int64_t hw = im.height * im.width;
      for (int64_t r = 0; r < im.height; ++r)
        for (int64_t c = 0; c < im.width; ++c) {
          auto at = [&](int64_t k) { return std::clamp(im.values[size_t(k * hw + r * im.width + c)], 0.0, 1.0); };
          if (im.channels == 1)
            cairo_set_source_rgb(cr, at(0), at(0), at(0));
          else
            cairo_set_source_rgb(cr, at(0), at(1), at(2));
          cairo_rectangle(cr, x0 + double(c * scale), y0 + double(r * scale), scale, scale);
          cairo_fill(cr);
        }
      if (!im.label.empty()) text(cr, x0 + double(im.width * scale) / 2, y0 + double(im.height * scale) + 2, im.label, 10, 0.5, 0);
    }
  });
}

void lines(const std::vector<Series>& series, const LineOptions& opt, const std::string& path) {
  if (series.empty()) throw PlotError("nothing to plot");
  auto tx = [&](double v) { return opt.log_x ? std::log10(v) : v; };
  auto ty = [&](double v) { return opt.log_y ? std::log10(v) : v; };
  std::vector<double> xs, ys;
  for (const auto& s : series) {
    if (s.x.size() != s.y.size()) throw PlotError("series '" + s.label + "' has x and y of different lengths");
    for (size_t i = 0; i < s.x.size(); ++i) {
      double a = tx(s.x[i]), b = ty(s.y[i]);
      if (std::isfinite(a) && std::isfinite(b)) xs.push_back(a), ys.push_back(b);
    }
  }
  Range rx = finite_range(xs), ry = finite_range(ys);
  double pad = 0.05 * (ry.hi - ry.lo);
  ry = {ry.lo - pad, ry.hi + pad};
  size_t labelled = 0;
  for (const auto& s : series) labelled += !s.label.empty();
  // Many curves: the legend goes beside the plot instead of over the data.
  const bool legend_outside = labelled > 4;
  const double left = 74, right = legend_outside ? 190 : 20, top = opt.title.empty() ? 16 : 40, bottom = 50;
  const double w = opt.width - left - right, h = opt.height - top - bottom;
  // tab10: ten distinguishable colours (ten methods in one plot)
  static const double palette[10][3] = {{0.12, 0.47, 0.71}, {1.0, 0.5, 0.05},  {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16},
                                        {0.58, 0.4, 0.74},  {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.5, 0.5, 0.5},
                                        {0.74, 0.74, 0.13}, {0.09, 0.75, 0.81}};
  render(path, opt.width, opt.height, [&](cairo_t* cr) {
    if (!opt.title.empty()) text(cr, opt.width / 2.0, 12, opt.title, 14, 0.5, 0, true);
    auto px = [&](double v) { return left + (v - rx.lo) / (rx.hi - rx.lo) * w; };
    auto py = [&](double v) { return top + h - (v - ry.lo) / (ry.hi - ry.lo) * h; };
    cairo_set_line_width(cr, 1);
    auto xt = nice_ticks(rx.lo, rx.hi, 6), yt = nice_ticks(ry.lo, ry.hi, 6);
    for (double t : xt) {
      cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
      cairo_move_to(cr, px(t), top);
      cairo_line_to(cr, px(t), top + h);
      cairo_stroke(cr);
      std::string lab = opt.log_x ? "1e" + tick_label(t, 1) : tick_label(t, xt.size() > 1 ? xt[1] - xt[0] : 1);
      text(cr, px(t), top + h + 6, lab, 10, 0.5, 0);
    }
    for (double t : yt) {
      cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
      cairo_move_to(cr, left, py(t));
      cairo_line_to(cr, left + w, py(t));
      cairo_stroke(cr);
      std::string lab = opt.log_y ? "1e" + tick_label(t, 1) : tick_label(t, yt.size() > 1 ? yt[1] - yt[0] : 1);
      text(cr, left - 6, py(t), lab, 10, 1, 0.5);
    }
    draw_axes_box(cr, left, top, w, h);
    text(cr, left + w / 2, top + h + 26, opt.x_label, 12, 0.5, 0);
    text(cr, 16, top + h / 2, opt.y_label, 12, 0.5, 0.5, false, -M_PI / 2);
    cairo_save(cr);
    cairo_rectangle(cr, left, top, w, h);
    cairo_clip(cr);
    // Each curve in pixels, split where a point is not finite: drawn below, and avoided by the legend.
    std::vector<std::vector<std::array<double, 2>>> drawn;
    std::vector<size_t> drawn_series;  // which series each piece belongs to
    for (size_t k = 0; k < series.size(); ++k) {
      bool open = false;
      for (size_t i = 0; i < series[k].x.size(); ++i) {
        const double a = tx(series[k].x[i]), b = ty(series[k].y[i]);
        if (!std::isfinite(a) || !std::isfinite(b)) {
          open = false;
          continue;
        }
        if (!open) drawn.emplace_back(), drawn_series.push_back(k), open = true;
        drawn.back().push_back({px(a), py(b)});
      }
    }
    for (size_t k = 0; k < series.size(); ++k) {
      const auto& c = palette[k % 10];
      cairo_set_source_rgb(cr, c[0], c[1], c[2]);
      cairo_set_line_width(cr, 1.8);
      for (size_t p = 0; p < drawn.size(); ++p) {
        if (drawn_series[p] != k) continue;
        cairo_move_to(cr, drawn[p][0][0], drawn[p][0][1]);
        for (size_t i = 1; i < drawn[p].size(); ++i) cairo_line_to(cr, drawn[p][i][0], drawn[p][i][1]);
      }
      cairo_stroke(cr);
      if (series[k].markers)
        for (size_t p = 0; p < drawn.size(); ++p)
          if (drawn_series[p] == k)
            for (const auto& q : drawn[p]) {
              cairo_arc(cr, q[0], q[1], 3, 0, 2 * M_PI);
              cairo_fill(cr);
            }
    }
    cairo_restore(cr);
    // Legend: beside the plot for many curves; inside, in the corner the curves cross least (top right on a
    // tie), on a translucent white box.
    const double box_w = 152, box_h = 16.0 * double(labelled) + 2;
    double box_x = left + w - box_w - 4, box_y = top + 2;
    if (!legend_outside && labelled > 0) {
      const auto corner = least_crowded_corner(drawn, left + 4, top + 2, w - 8, h - 4, box_w, box_h);
      box_x = corner[0], box_y = corner[1];
      cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
      cairo_rectangle(cr, box_x, box_y, box_w, box_h);
      cairo_fill(cr);
    }
    double ly = legend_outside ? top + 10 : box_y + 9;
    for (size_t k = 0; k < series.size(); ++k) {
      if (series[k].label.empty()) continue;
      const auto& c = palette[k % 10];
      cairo_set_source_rgb(cr, c[0], c[1], c[2]);
      cairo_set_line_width(cr, 2.5);
      const double lx = legend_outside ? left + w + 12 : box_x + 6;
      cairo_move_to(cr, lx, ly);
      cairo_line_to(cr, lx + 22, ly);
      cairo_stroke(cr);
      text(cr, lx + 28, ly, series[k].label, 10, 0, 0.5);
      ly += 16;
    }
  });
}

void scatter(const Scatter& d, const ScatterOptions& opt, const std::string& path) {
  const size_t n = d.x.size();
  if (n == 0) throw PlotError("scatter: no points");
  if (d.y.size() != n) throw PlotError("scatter: x and y have different lengths");
  if (!d.categories.empty() && d.categories.size() != n) throw PlotError("scatter: one category per point needed");
  if (!d.values.empty() && d.values.size() != n) throw PlotError("scatter: one value per point needed");
  for (const auto& e : d.edges)
    if (e[0] < 0 || e[1] < 0 || size_t(e[0]) >= d.nodes.size() || size_t(e[1]) >= d.nodes.size())
      throw PlotError("scatter: an edge refers to a node that does not exist");
  std::vector<double> xs(d.x), ys(d.y);
  for (const auto& p : d.nodes) xs.push_back(p[0]), ys.push_back(p[1]);
  Range rx = finite_range(xs), ry = finite_range(ys);
  const bool categorical = !d.categories.empty(), numeric = !categorical && !d.values.empty();
  // Category order: first appearance, unless every category is a number (then numeric order).
  std::vector<std::string> cats;
  for (const auto& c : d.categories)
    if (std::find(cats.begin(), cats.end(), c) == cats.end()) cats.push_back(c);
  bool all_numbers = !cats.empty();
  for (const auto& c : cats) {
    char* end = nullptr;
    std::strtod(c.c_str(), &end);
    all_numbers = all_numbers && !c.empty() && end && *end == 0;
  }
  if (all_numbers)
    std::sort(cats.begin(), cats.end(), [](const std::string& a, const std::string& b) { return std::stod(a) < std::stod(b); });
  const double legend_w = categorical ? 130 : (numeric ? 80 : 0);
  const double left = 60, right = 16 + legend_w, top = opt.title.empty() ? 16 : 40, bottom = 48;
  double w = opt.width - left - right, h = opt.height - top - bottom;
  double pad_x = 0.04 * (rx.hi - rx.lo), pad_y = 0.04 * (ry.hi - ry.lo);
  rx = {rx.lo - pad_x, rx.hi + pad_x};
  ry = {ry.lo - pad_y, ry.hi + pad_y};
  if (opt.equal_aspect) {  // widen the narrower data range so both axes share one scale
    const double sx = (rx.hi - rx.lo) / w, sy = (ry.hi - ry.lo) / h, s = std::max(sx, sy);
    const double cx = (rx.hi + rx.lo) / 2, cy = (ry.hi + ry.lo) / 2;
    rx = {cx - s * w / 2, cx + s * w / 2};
    ry = {cy - s * h / 2, cy + s * h / 2};
  }
  Range rv{0, 1};
  if (numeric) rv = finite_range(d.values);
  // tab10: distinguishable categorical colours
  static const double tab10[10][3] = {{0.12, 0.47, 0.71}, {1.0, 0.5, 0.05},  {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16},
                                      {0.58, 0.4, 0.74},  {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.5, 0.5, 0.5},
                                      {0.74, 0.74, 0.13}, {0.09, 0.75, 0.81}};
  auto category_colour = [&](size_t k, double out[3]) {
    if (k < 10) {
      for (int c = 0; c < 3; ++c) out[c] = tab10[k][c];
    } else {  // beyond ten categories: spread over viridis
      auto v = viridis(double(k - 10) / double(std::max<size_t>(1, cats.size() - 10)));
      for (int c = 0; c < 3; ++c) out[c] = v[size_t(c)] / 255.0;
    }
  };
  render(path, opt.width, opt.height, [&](cairo_t* cr) {
    if (!opt.title.empty()) text(cr, opt.width / 2.0, 12, opt.title, 14, 0.5, 0, true);
    auto px = [&](double v) { return left + (v - rx.lo) / (rx.hi - rx.lo) * w; };
    auto py = [&](double v) { return top + h - (v - ry.lo) / (ry.hi - ry.lo) * h; };
    draw_axes_box(cr, left, top, w, h);
    auto xt = nice_ticks(rx.lo, rx.hi, 6), yt = nice_ticks(ry.lo, ry.hi, 6);
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (double t : xt) text(cr, px(t), top + h + 6, tick_label(t, xt.size() > 1 ? xt[1] - xt[0] : 1), 10, 0.5, 0);
    for (double t : yt) text(cr, left - 6, py(t), tick_label(t, yt.size() > 1 ? yt[1] - yt[0] : 1), 10, 1, 0.5);
    text(cr, left + w / 2, top + h + 26, opt.x_label, 12, 0.5, 0);
    text(cr, 16, top + h / 2, opt.y_label, 12, 0.5, 0.5, false, -M_PI / 2);
    cairo_save(cr);
    cairo_rectangle(cr, left, top, w, h);
    cairo_clip(cr);
    std::vector<size_t> cat_of(categorical ? n : 0);
    for (size_t i = 0; i < cat_of.size(); ++i)
      cat_of[i] = size_t(std::find(cats.begin(), cats.end(), d.categories[i]) - cats.begin());
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(d.x[i]) || !std::isfinite(d.y[i])) continue;
      double c[3] = {0.35, 0.35, 0.35};
      if (categorical) {
        category_colour(cat_of[i], c);
      } else if (numeric && std::isfinite(d.values[i])) {
        auto v = viridis((d.values[i] - rv.lo) / (rv.hi - rv.lo));
        for (int k = 0; k < 3; ++k) c[k] = v[size_t(k)] / 255.0;
      } else if (numeric) {
        c[0] = c[1] = c[2] = 0.75;
      }
      cairo_set_source_rgba(cr, c[0], c[1], c[2], 0.8);
      cairo_arc(cr, px(d.x[i]), py(d.y[i]), opt.point_radius, 0, 2 * M_PI);
      cairo_fill(cr);
    }
    // The graph on top: white halo under black lines so it stays visible over dense points.
    for (int pass = 0; pass < 2; ++pass)
      for (size_t e = 0; e < d.edges.size(); ++e) {
        const bool dashed = e < d.dashed_edges.size() && d.dashed_edges[e];
        const auto& a = d.nodes[size_t(d.edges[e][0])];
        const auto& b = d.nodes[size_t(d.edges[e][1])];
        if (pass == 0) cairo_set_source_rgba(cr, 1, 1, 1, 0.8), cairo_set_line_width(cr, 3.2);
        else cairo_set_source_rgb(cr, 0, 0, 0), cairo_set_line_width(cr, 1.3);
        double dash[] = {3.0, 2.5};
        cairo_set_dash(cr, dash, dashed && pass == 1 ? 2 : 0, 0);
        cairo_move_to(cr, px(a[0]), py(a[1]));
        cairo_line_to(cr, px(b[0]), py(b[1]));
        cairo_stroke(cr);
      }
    cairo_set_dash(cr, nullptr, 0, 0);
    for (const auto& p : d.nodes) {
      cairo_set_source_rgb(cr, 1, 1, 1);
      cairo_arc(cr, px(p[0]), py(p[1]), 3.4, 0, 2 * M_PI);
      cairo_fill(cr);
      cairo_set_source_rgb(cr, 0, 0, 0);
      cairo_arc(cr, px(p[0]), py(p[1]), 2.4, 0, 2 * M_PI);
      cairo_fill(cr);
    }
    cairo_restore(cr);
    const double lx = left + w + 14;
    if (categorical) {
      text(cr, lx, top + 4, opt.color_label, 11, 0, 0, true);
      double ly = top + 24;
      const size_t shown = std::min<size_t>(cats.size(), size_t((h - 30) / 15));
      for (size_t k = 0; k < shown; ++k) {
        double c[3];
        category_colour(k, c);
        cairo_set_source_rgb(cr, c[0], c[1], c[2]);
        cairo_arc(cr, lx + 5, ly, 4.5, 0, 2 * M_PI);
        cairo_fill(cr);
        std::string label = cats[k].size() > 16 ? cats[k].substr(0, 15) + "." : cats[k];
        text(cr, lx + 14, ly, label, 10, 0, 0.5);
        ly += 15;
      }
      if (shown < cats.size()) text(cr, lx, ly, "(+" + std::to_string(cats.size() - shown) + " more)", 10, 0, 0.5);
    } else if (numeric) {
      draw_colorbar(cr, rv, lx, top + 12, 12, h - 12, opt.color_label);
    }
  });
}

}  // namespace jess::plot
