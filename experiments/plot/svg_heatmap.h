// Heat maps as self-contained SVG: one value per (row, column) cell, e.g. a per-layer statistic
// (rows: weight layers by depth) against training iterations (columns). A line per layer would be
// thirty tangled lines for plain30; a map shows at a glance which layers change, and when.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace delve {

struct Heatmap {
  std::string title, x_label, y_label, value_label;
  std::vector<double> x;          // column positions, strictly increasing (cells span the midpoints)
  std::vector<std::string> rows;  // row labels, drawn top to bottom
  std::vector<double> values;     // rows.size() × x.size(), row-major; non-finite = no value (grey)
  double lo = 0, hi = 1;          // colour scale limits; values outside are clamped
  bool log_scale = false;         // colour by log10(value); lo must then be > 0; values <= 0 black
  // With a centre, a diverging scale (blue below, white at the centre, red above), for quantities
  // with a meaningful middle such as P(y > 0) = ½; without, a sequential (viridis) scale.
  std::optional<double> centre;
};

// The maps laid out left to right, top to bottom, `columns` per row, each map_width x map_height
// pixels with its own colour bar. Throws Error on inconsistent sizes, non-increasing x or unusable
// limits.
std::string render_heatmaps_svg(const std::vector<Heatmap>& maps, int columns = 2, int map_width = 520,
                                int map_height = 420);

}  // namespace delve
