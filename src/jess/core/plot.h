#pragma once
// Figures people look at instead of reading numbers: grids of space-time heat maps and line plots,
// written as PNG or SVG (chosen by the file extension) with labelled axes, ticks and colour bars.
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace jess::plot {

class PlotError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Heatmap {
  int64_t rows = 0, cols = 0;  // rows run along the vertical axis, row 0 at the bottom
  std::vector<double> values;  // rows * cols, row-major
  std::string title;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  std::string x_label = "x", y_label = "t";
};

struct HeatmapOptions {
  std::string title;
  int columns = 3;
  std::string colorbar_label = "u";
  bool shared_scale = false;  // one colour scale for all panels
  int panel_width = 300, panel_height = 230;
};

void heatmaps(const std::vector<Heatmap>& panels, const HeatmapOptions& options, const std::string& path);

struct Series {
  std::vector<double> x, y;
  std::string label;
  bool markers = false;
};

struct LineOptions {
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;
  int width = 640, height = 420;
};

void lines(const std::vector<Series>& series, const LineOptions& options, const std::string& path);

// A grid of images (grey or RGB, values in [0, 1]), drawn pixel-exact at `scale`, with a label under
// each and a title: what augmentation pipelines produce, for looking at.
struct Image {
  int64_t height = 0, width = 0, channels = 1;  // 1 (grey) or 3 (RGB)
  std::vector<double> values;                   // channels x height x width, row 0 at the top
  std::string label;
};
void image_grid(const std::vector<Image>& images, int columns, int scale, const std::string& title,
                const std::string& path);

// Perceptually uniform colour map (viridis), t in [0, 1].
// A 2-D embedding: points coloured by a categorical label (legend) or a numeric value (viridis colour
// bar), with an optional graph drawn over them (e.g. the DTAE density tree: edges between nodes).
struct Scatter {
  std::vector<double> x, y;
  std::vector<std::string> categories;  // one per point, or empty
  std::vector<double> values;           // one per point (NaN: grey), or empty; used when categories is empty
  std::vector<std::array<double, 2>> nodes;   // graph vertices drawn as black dots (may be empty)
  std::vector<std::array<int, 2>> edges;      // pairs of node indices
  std::vector<bool> dashed_edges;             // per edge (e.g. ghost edges), or empty
};

struct ScatterOptions {
  std::string title, x_label = "dimension 1", y_label = "dimension 2", color_label;
  int width = 760, height = 640;
  double point_radius = 1.6;
  bool equal_aspect = true;  // embeddings: one unit is the same length on both axes
};

void scatter(const Scatter& data, const ScatterOptions& options, const std::string& path);

std::array<uint8_t, 3> viridis(double t);
// Round tick positions covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target_count = 5);
// A tick's label with as many decimals as the tick step needs (0.25 -> two); %.2g outside [1e-3, 1e5).
std::string tick_label(double value, double step);
// Where a legend box of box_w x box_h pixels covers the fewest points of the drawn curves (polylines in pixels,
// y down) among the four corners of the area (left, top, width, height): the box's top-left position. Ties
// go to top right, then top left, bottom right, bottom left.
std::array<double, 2> least_crowded_corner(const std::vector<std::vector<std::array<double, 2>>>& polylines,
                                           double left, double top, double width, double height, double box_w,
                                           double box_h);

}  // namespace jess::plot
