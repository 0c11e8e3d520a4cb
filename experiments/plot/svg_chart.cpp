#include "experiments/plot/svg_chart.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "experiments/plot/svg_text.h"

namespace delve {
namespace {

// Okabe & Ito's palette, distinguishable with the common colour-vision deficiencies. Yellow, the
// weakest on white, comes last.
constexpr const char* kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                    "#E69F00", "#56B4E9", "#000000", "#F0E442"};
constexpr int kColours = sizeof(kPalette) / sizeof(kPalette[0]);
// Series 9-16 repeat the colours dashed, 17-24 dotted, and so on.
constexpr const char* kDashes[] = {"", "7 4", "2 3", "9 3 2 3"};
constexpr int kDashCount = sizeof(kDashes) / sizeof(kDashes[0]);

constexpr double kFontSize = 11;
constexpr double kCharWidth = 0.6 * kFontSize;  // DejaVu Sans averages a little under this

// Labels for evenly spaced ticks: as many decimals as the step needs, scientific notation when
// fixed notation would be unreadably long.
std::vector<std::string> linear_labels(const std::vector<double>& ticks) {
  std::vector<std::string> labels;
  if (ticks.empty()) return labels;
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1.0;
  const double largest = std::max(std::abs(ticks.front()), std::abs(ticks.back()));
  const bool scientific = largest >= 1e6 || !(step >= 1e-4);
  // Scientific notation takes over below a step of 1e-4, so four decimals are the most needed.
  // (A step that is not a positive finite number comes only from ranges near the limits of
  // double, which get scientific labels anyway.)
  const double digits = -std::floor(std::log10(step) + 1e-9);
  const int decimals = std::isfinite(digits) ? int(std::clamp(digits, 0.0, 4.0)) : 0;
  for (double t : ticks) labels.push_back(scientific ? general(t) : fixed(t, decimals));
  return labels;
}

// "10<sup>−6</sup>" as SVG: a raised, smaller exponent with a true minus sign.
std::string power_of_ten_label(int exponent) {
  std::string e = std::to_string(std::abs(exponent));
  if (exponent < 0) e = "\u2212" + e;
  return "10<tspan dy=\"-5\" font-size=\"" + px(kFontSize * 0.8) + "\">" + e + "</tspan>";
}

// One axis: the value range it spans, where the ticks go and what they say.
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<double> ticks, minor_ticks;
  std::vector<std::string> labels;  // SVG text content, already escaped

  // Position of v along the axis, 0 at lo and 1 at hi.
  double fraction(double v) const {
    return log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo))
               : (v - lo) / (hi - lo);
  }
};

// A linear axis over [lo, hi] of the data; a fixed end stays exactly where it was asked to be,
// a free end moves out to the next tick.
Axis linear_axis(double lo, double hi, std::optional<double> fixed_lo,
                 std::optional<double> fixed_hi, int target) {
  if (fixed_lo) lo = *fixed_lo;
  if (fixed_hi) hi = *fixed_hi;
  // A fixed end beyond all the data: move the free end past it. (Constant data with free ends
  // is nice_ticks' business: it widens the range on both sides.)
  const double pad = std::max(std::abs(fixed_lo ? lo : hi), 1.0);
  if (fixed_lo && lo >= hi) hi = lo + pad;
  if (fixed_hi && lo >= hi) lo = hi - pad;
  Axis axis;
  const std::vector<double> ticks = nice_ticks(lo, hi, target);
  if (ticks.size() < 2) {  // a range too wide for doubles: label only the ends
    axis.lo = lo, axis.hi = hi, axis.ticks = {lo, hi};
  } else {
    axis.lo = fixed_lo ? lo : ticks.front();
    axis.hi = fixed_hi ? hi : ticks.back();
    const double slack = 1e-9 * (ticks[1] - ticks[0]);
    for (double t : ticks) {
      if (t >= axis.lo - slack && t <= axis.hi + slack) axis.ticks.push_back(t);
    }
  }
  axis.labels = linear_labels(axis.ticks);
  return axis;
}

// A log axis: free ends round out to whole decades, labelled ticks at powers of ten (every k-th
// decade when there are many), unlabelled minor grid at 2..9 times each power.
Axis log_axis(double lo, double hi, std::optional<double> fixed_lo, std::optional<double> fixed_hi,
              int target) {
  Axis axis;
  axis.log = true;
  // Kept within [1e-300, 1e300] so that powers of ten and their logs stay finite.
  axis.lo = fixed_lo ? *fixed_lo : std::pow(10.0, std::max(-300.0, std::floor(std::log10(lo))));
  axis.hi = fixed_hi ? *fixed_hi : std::pow(10.0, std::min(300.0, std::ceil(std::log10(hi))));
  if (fixed_lo && axis.lo >= axis.hi) axis.hi = axis.lo * 10;
  if (!fixed_lo && axis.lo >= axis.hi) axis.lo = axis.hi / 10;
  const int first = int(std::ceil(std::log10(axis.lo) - 1e-9));
  const int last = int(std::floor(std::log10(axis.hi) + 1e-9));
  const int decades = std::max(1, last - first);
  const int every = std::max(1, (decades + target - 2) / std::max(1, target - 1));
  const bool plain = first >= -3 && last <= 4;  // 0.001 ... 10000 read fine as plain numbers
  for (int e = first; e <= last; ++e) {
    if ((e - first) % every != 0) continue;
    axis.ticks.push_back(std::pow(10.0, e));
    axis.labels.push_back(plain ? general(std::pow(10.0, e)) : power_of_ten_label(e));
  }
  if (every == 1 && decades <= 8) {
    for (int e = first - 1; e <= last; ++e) {
      for (int m = 2; m <= 9; ++m) {
        const double v = m * std::pow(10.0, e);
        if (v > axis.lo && v < axis.hi) axis.minor_ticks.push_back(v);
      }
    }
  }
  return axis;
}

bool drawable(double x, double y, bool log_y) {
  return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0);
}

void validate(const Chart& chart) {
  const std::string which = "chart '" + chart.title + "'";
  for (const Series& s : chart.series) {
    if (s.x.size() != s.y.size()) {
      throw Error(which + ": series '" + s.label + "' has " + std::to_string(s.x.size()) +
                  " x values but " + std::to_string(s.y.size()) + " y values");
    }
  }
  if (chart.y_min && chart.y_max && !(*chart.y_min < *chart.y_max)) {
    throw Error(which + ": y_min must be below y_max");
  }
  for (const auto& limit : {chart.y_min, chart.y_max}) {
    if (limit && (!std::isfinite(*limit) || (chart.log_y && *limit <= 0))) {
      throw Error(which + ": y limit " + general(*limit) +
                  (chart.log_y ? " must be positive and finite on a log axis" : " must be finite"));
    }
  }
}

struct Point {
  double x, y;
};
using Polyline = std::vector<Point>;  // an unbroken stretch of a series, in pixels

// The plot area of one chart (in the chart's own pixel coordinates) and its two axes.
struct Plot {
  double left, top, right, bottom;
  Axis x, y;

  double width() const { return right - left; }
  double height() const { return bottom - top; }
  // Far-off points are clamped to a few plot sizes away: renderers choke on huge coordinates,
  // the segment still leaves the plot within a pixel of the right place, and the clip path hides
  // the rest.
  // A NaN fraction (only from ranges near the limits of double) goes off the plot too.
  static double on_axis(double f) { return std::isnan(f) ? -50.0 : std::clamp(f, -50.0, 51.0); }
  double to_x(double v) const { return left + width() * on_axis(x.fraction(v)); }
  double to_y(double v) const { return bottom - height() * on_axis(y.fraction(v)); }
};

// Axes fitted to the points that will be drawn, and margins that fit their labels.
Plot make_plot(const Chart& chart, double width, double height) {
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const Series& s : chart.series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!drawable(s.x[i], s.y[i], chart.log_y)) continue;
      x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
      y_lo = std::min(y_lo, s.y[i]), y_hi = std::max(y_hi, s.y[i]);
    }
  }
  if (x_lo > x_hi) x_lo = 0, x_hi = 1;  // nothing to draw: still show empty axes
  if (y_lo > y_hi) y_lo = chart.log_y ? 0.1 : 0, y_hi = 1;

  Plot plot;
  plot.x = linear_axis(x_lo, x_hi, std::nullopt, std::nullopt, std::max(2, int(width / 90)));
  // Powers of ten are short labels on a regular grid; they can sit closer than linear ones.
  const int y_target = std::max(2, int(height / (chart.log_y ? 40 : 55)));
  plot.y = chart.log_y ? log_axis(y_lo, y_hi, chart.y_min, chart.y_max, y_target)
                       : linear_axis(y_lo, y_hi, chart.y_min, chart.y_max, y_target);

  size_t widest_y_label = 1;  // in characters; "10^-6" counts as about five
  for (const std::string& l : plot.y.labels) {
    widest_y_label = std::max(widest_y_label, plot.y.log ? 5 : l.size());
  }
  const double last_x_label = plot.x.labels.empty() ? 0 : double(plot.x.labels.back().size());
  plot.left = (chart.y_label.empty() ? 10 : 30) + kCharWidth * double(widest_y_label) + 8;
  plot.right = width - std::max(18.0, kCharWidth * last_x_label / 2 + 6);  // room for its label
  plot.top = chart.title.empty() ? 16 : 38;
  plot.bottom = height - (chart.x_label.empty() ? 30 : 48);
  return plot;
}

// The series split at every point that cannot be drawn, mapped to pixels.
std::vector<Polyline> trace(const Series& s, const Plot& plot, bool log_y) {
  std::vector<Polyline> lines(1);
  for (size_t i = 0; i < s.x.size(); ++i) {
    if (drawable(s.x[i], s.y[i], log_y)) {
      lines.back().push_back({plot.to_x(s.x[i]), plot.to_y(s.y[i])});
    } else if (!lines.back().empty()) {
      lines.emplace_back();
    }
  }
  if (lines.back().empty()) lines.pop_back();
  return lines;
}

// SVG path data: a subpath per polyline; a lone point becomes a small ring of two arcs, since a
// one-point subpath would be invisible.
std::string path_data(const std::vector<Polyline>& lines) {
  constexpr double r = 2;
  const std::string half_circle = " a" + px(r) + " " + px(r) + " 0 1 0 ";
  std::string d;
  for (const Polyline& line : lines) {
    if (!d.empty()) d += ' ';
    if (line.size() == 1) {
      d += 'M';
      d += px(line[0].x - r) + " " + px(line[0].y);
      d += half_circle + px(2 * r) + " 0" + half_circle + px(-2 * r) + " 0";
      continue;
    }
    for (size_t i = 0; i < line.size(); ++i) {
      d += i == 0 ? "M" : " L";
      d += px(line[i].x) + " " + px(line[i].y);
    }
  }
  return d;
}

// The style of the k-th series: its own, else colour k, dashed once the colours run out.
LineStyle style_of(const Series& s, size_t k) {
  return s.style ? *s.style : LineStyle{int(k % kColours), int(k / kColours)};
}

// Stroke colour and dash of a style, shared by lines and legend swatches.
std::string stroke_attrs(const LineStyle& style) {
  const char* colour = style.colour == LineStyle::kNeutral ? "#666666" : kPalette[std::max(0, style.colour) % kColours];
  std::string attrs = std::string(" stroke=\"") + colour + "\"";
  const char* dash = kDashes[std::max(0, style.dash) % kDashCount];
  if (*dash) attrs += std::string(" stroke-dasharray=\"") + dash + "\"";
  return attrs;
}

std::string line_element(double x1, double y1, double x2, double y2, const std::string& attrs) {
  return "<line x1=\"" + px(x1) + "\" y1=\"" + px(y1) + "\" x2=\"" + px(x2) + "\" y2=\"" + px(y2) +
         "\"" + attrs + "/>\n";
}

// Title, axis labels, grid, frame and tick labels.
void draw_axes(std::string& out, const Chart& chart, const Plot& plot, double width,
               double height) {
  if (!chart.title.empty()) {
    out += "<text x=\"" + px(width / 2) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\"" +
           " font-weight=\"bold\" fill=\"#222\">" + escape_xml(chart.title) + "</text>\n";
  }
  if (!chart.x_label.empty()) {
    out += "<text x=\"" + px((plot.left + plot.right) / 2) + "\" y=\"" + px(height - 10) +
           "\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222\">" + escape_xml(chart.x_label) +
           "</text>\n";
  }
  if (!chart.y_label.empty()) {
    const std::string cy = px((plot.top + plot.bottom) / 2);
    out += "<text x=\"16\" y=\"" + cy + "\" transform=\"rotate(-90 16 " + cy +
           ")\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222\">" +
           escape_xml(chart.y_label) + "</text>\n";
  }
  out += "<g stroke=\"#f0f0f0\">\n";
  for (double t : plot.y.minor_ticks) {
    out += line_element(plot.left, plot.to_y(t), plot.right, plot.to_y(t), "");
  }
  out += "</g>\n<g stroke=\"#dddddd\">\n";
  for (double t : plot.x.ticks) {
    out += line_element(plot.to_x(t), plot.top, plot.to_x(t), plot.bottom, "");
  }
  for (double t : plot.y.ticks) {
    out += line_element(plot.left, plot.to_y(t), plot.right, plot.to_y(t), "");
  }
  out += "</g>\n<rect x=\"" + px(plot.left) + "\" y=\"" + px(plot.top) + "\" width=\"" +
         px(plot.width()) + "\" height=\"" + px(plot.height()) +
         "\" fill=\"none\" stroke=\"#888888\"/>\n";
  out += "<g font-size=\"" + px(kFontSize) + "\" fill=\"#444\">\n";
  for (size_t i = 0; i < plot.x.ticks.size(); ++i) {
    out += "<text x=\"" + px(plot.to_x(plot.x.ticks[i])) + "\" y=\"" + px(plot.bottom + 16) +
           "\" text-anchor=\"middle\">" + plot.x.labels[i] + "</text>\n";
  }
  for (size_t i = 0; i < plot.y.ticks.size(); ++i) {
    out += "<text x=\"" + px(plot.left - 6) + "\" y=\"" + px(plot.to_y(plot.y.ticks[i]) + 4) +
           "\" text-anchor=\"end\">" + plot.y.labels[i] + "</text>\n";
  }
  out += "</g>\n";
}

// Whether segment ab (a point if a == b) touches the box [x0, x1] x [y0, y1] (Liang-Barsky).
bool touches(Point a, Point b, double x0, double y0, double x1, double y1) {
  double t0 = 0, t1 = 1;
  auto inside = [&](double p, double q) {  // keeps the part of the segment where p*t <= q
    if (p == 0) return q >= 0;
    const double t = q / p;
    (p < 0 ? t0 : t1) = p < 0 ? std::max(t0, t) : std::min(t1, t);
    return t0 <= t1;
  };
  const double dx = b.x - a.x, dy = b.y - a.y;
  return inside(-dx, a.x - x0) && inside(dx, x1 - a.x) && inside(-dy, a.y - y0) &&
         inside(dy, y1 - a.y);
}

// The legend's rows: the chart's own, else one per series in its style.
std::vector<LegendEntry> legend_entries(const Chart& chart) {
  if (!chart.legend.empty()) return chart.legend;
  std::vector<LegendEntry> entries;
  for (size_t k = 0; k < chart.series.size(); ++k) entries.push_back({chart.series[k].label, style_of(chart.series[k], k)});
  return entries;
}

struct Box {
  double x, y, w, h;
};

constexpr double kLegendRow = 16, kSwatch = 24, kLegendInset = 8;

// The legend's size; zero when no row has a label.
Box legend_size(const std::vector<LegendEntry>& entries) {
  size_t longest = 0;
  for (const LegendEntry& e : entries) longest = std::max(longest, e.label.size());
  if (longest == 0) return {0, 0, 0, 0};
  return {0, 0, 8 + kSwatch + 6 + kCharWidth * double(longest) + 8, 6 + kLegendRow * double(entries.size())};
}

// Line segments of the traces that pass within 2 pixels (a line's width) of the box.
size_t segments_under(const Box& b, const std::vector<std::vector<Polyline>>& traces) {
  size_t hidden = 0;
  for (const auto& lines : traces)
    for (const Polyline& line : lines)
      for (size_t i = 0; i < line.size(); ++i)
        hidden += touches(line[i], line[std::min(i + 1, line.size() - 1)], b.x - 2, b.y - 2, b.x + b.w + 2,
                          b.y + b.h + 2);
  return hidden;
}

// A place inside the plot where the legend hides no line: the corners first (top right first:
// falling training curves usually leave it empty), then the middles of the edges and the centre.
// With no such place, the corner that hides the fewest segments, and `clear` is false.
Box legend_spot(const Plot& plot, Box box, const std::vector<std::vector<Polyline>>& traces, bool& clear) {
  const double xs[] = {plot.right - box.w - kLegendInset, plot.left + kLegendInset,
                       (plot.left + plot.right - box.w) / 2};
  const double ys[] = {plot.top + kLegendInset, plot.bottom - box.h - kLegendInset,
                       (plot.top + plot.bottom - box.h) / 2};
  const int order[][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}, {0, 2}, {1, 2}, {2, 0}, {2, 1}, {2, 2}};
  Box best = box;
  size_t best_hidden = SIZE_MAX;
  for (const auto& [xi, yi] : order) {
    box.x = xs[xi], box.y = ys[yi];
    if (box.x < plot.left || box.y < plot.top) continue;  // larger than the plot
    const size_t hidden = segments_under(box, traces);
    if (hidden < best_hidden) best = box, best_hidden = hidden;
    if (hidden == 0) break;
  }
  clear = best_hidden == 0;
  if (best_hidden == SIZE_MAX) best.x = plot.left + kLegendInset, best.y = plot.top + kLegendInset;
  return best;
}

void draw_legend(std::string& out, const std::vector<LegendEntry>& entries, const Box& b) {
  out += "<g class=\"legend\" font-size=\"" + px(kFontSize) + "\" fill=\"#222\">\n<rect x=\"" + px(b.x) +
         "\" y=\"" + px(b.y) + "\" width=\"" + px(b.w) + "\" height=\"" + px(b.h) +
         "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#cccccc\" rx=\"3\"/>\n";
  for (size_t k = 0; k < entries.size(); ++k) {
    const double y = b.y + 3 + kLegendRow * (double(k) + 0.5);
    out += line_element(b.x + 8, y, b.x + 8 + kSwatch, y, stroke_attrs(entries[k].style) + " stroke-width=\"2\"");
    out += "<text x=\"" + px(b.x + 8 + kSwatch + 6) + "\" y=\"" + px(y + 4) + "\">" + escape_xml(entries[k].label) +
           "</text>\n";
  }
  out += "</g>\n";
}

std::vector<std::vector<Polyline>> trace_all(const Chart& chart, const Plot& plot) {
  std::vector<std::vector<Polyline>> traces;
  for (const Series& s : chart.series) traces.push_back(trace(s, plot, chart.log_y));
  return traces;
}

// One chart, in its own coordinates (the caller translates it to its grid cell). The legend goes
// where it hides no line; failing that, to the right of a plot narrowed to make room for it
// (unless that would leave the plot under half the chart: then where it hides the least).
void render_chart(std::string& out, const Chart& chart, int index, double width, double height) {
  validate(chart);
  Plot plot = make_plot(chart, width, height);
  std::vector<std::vector<Polyline>> traces = trace_all(chart, plot);
  const std::vector<LegendEntry> entries = legend_entries(chart);
  Box legend = legend_size(entries);
  bool clear = true;
  if (legend.w > 0) legend = legend_spot(plot, legend, traces, clear);
  if (!clear && width - legend.w - 2 * kLegendInset >= width / 2) {
    plot = make_plot(chart, width - legend.w - 2 * kLegendInset, height);
    traces = trace_all(chart, plot);
    legend.x = width - legend.w - kLegendInset, legend.y = plot.top;
  }
  draw_axes(out, chart, plot, width, height);
  const std::string clip_id = "plot-area-" + std::to_string(index);
  out += "<clipPath id=\"" + clip_id + "\"><rect x=\"" + px(plot.left) + "\" y=\"" + px(plot.top) +
         "\" width=\"" + px(plot.width()) + "\" height=\"" + px(plot.height()) +
         "\"/></clipPath>\n";
  // One <path> per series that has anything to draw; gaps are breaks between its subpaths.
  out += "<g clip-path=\"url(#" + clip_id + ")\" fill=\"none\" stroke-width=\"1.8\"" +
         " stroke-linejoin=\"round\" stroke-linecap=\"round\">\n";
  for (size_t k = 0; k < traces.size(); ++k) {
    if (traces[k].empty()) continue;
    out += "<path d=\"" + path_data(traces[k]) + "\"" + stroke_attrs(style_of(chart.series[k], k)) + "/>\n";
  }
  out += "</g>\n";
  if (legend.w > 0) draw_legend(out, entries, legend);
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (lo > hi) std::swap(lo, hi);
  target = std::clamp(target, 2, 100);
  // Constant data (or a range below double resolution at this magnitude): give it some width.
  if (hi - lo <= 1e-9 * std::max(std::abs(lo), std::abs(hi))) {
    const double pad = lo == 0 ? 1.0 : 0.1 * std::abs(lo);
    lo -= pad, hi += pad;
  }
  const double raw_step = (hi - lo) / (target - 1);
  if (!std::isfinite(raw_step)) return {};  // a range wider than doubles can hold
  // Round the step to 1, 2 or 5 times a power of ten (Heckbert, "Nice numbers for graph labels").
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  const double f = raw_step / magnitude;
  const double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * magnitude;
  // Ticks are whole multiples of the step, so 0 is exactly 0 and no error accumulates.
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double i = first; i <= last; ++i) ticks.push_back(i * step);
  return ticks;
}

std::string render_svg(const std::vector<Chart>& charts, int columns, int chart_width,
                       int chart_height) {
  chart_width = std::max(chart_width, 240);  // below this the margins leave no plot
  chart_height = std::max(chart_height, 180);
  return svg_grid(charts.size(), columns, chart_width, chart_height, [&](std::string& out, size_t i) {
    render_chart(out, charts[i], int(i), chart_width, chart_height);
  });
}

}  // namespace delve
