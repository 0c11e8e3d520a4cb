// Line charts as self-contained SVG text, for the curves delve writes into a run directory
// (training error, loss, response std per layer). No Python, no plotting library: the files open
// in any browser, and they are plain text that diffs and greps.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace delve {

// How a line is drawn: a colour of the palette (kNeutral: grey, for a legend key that stands for
// a line style alone) and a dash pattern (0 solid, 1 dashed, 2 dotted, 3 dash-dot).
struct LineStyle {
  static constexpr int kNeutral = -1;            // a colour: grey
  static constexpr int kSolid = 0, kDashed = 1;  // dash patterns (2 dotted, 3 dash-dot)
  int colour = 0, dash = kSolid;
};

// One curve. x and y have equal length; a point with a non-finite coordinate (or y <= 0 on a log
// axis) is skipped and breaks the line there, so a diverged stretch shows as a gap.
struct Series {
  std::string label;
  std::vector<double> x, y;
  // Unset: the k-th series takes colour k (and dashes once the colours run out).
  std::optional<LineStyle> style;
};

// A row of the legend: a swatch of the style and its label.
struct LegendEntry {
  std::string label;
  LineStyle style;
};

struct Chart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  std::optional<double> y_min, y_max;  // fixed y limits; otherwise fitted to the data
  bool log_y = false;                  // ticks at powers of ten
  // The legend's rows; empty: one per series, in its style. Give them when styles carry meaning
  // of their own (a colour per run, a dash per split) so that each meaning is said once.
  std::vector<LegendEntry> legend;
};

// About `target` round tick values (1, 2 or 5 times a power of ten apart) running from at or below
// `lo` to at or above `hi`, e.g. (0.08, 0.93, 5) -> 0, 0.2, ..., 1. A zero-width range is widened
// so there is always something to label; non-finite input, or a range wider than a double can
// hold, gives no ticks.
std::vector<double> nice_ticks(double lo, double hi, int target);

// The charts laid out left to right, top to bottom, `columns` per row, each chart_width x
// chart_height pixels: title, axes with tick labels and grid, one line per series in a fixed
// colour-blind-safe palette (dash patterns tell series apart after the first eight colours), and
// a legend that never covers a curve: inside the plot where no line passes, else to the right of
// a narrowed plot. Labels are XML-escaped. Throws Error if a series' x and y differ in length or fixed
// limits are unusable (y_min >= y_max, or y_min <= 0 on a log axis).
std::string render_svg(const std::vector<Chart>& charts, int columns = 1, int chart_width = 560,
                       int chart_height = 380);

}  // namespace delve
