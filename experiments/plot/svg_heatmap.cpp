#include "experiments/plot/svg_heatmap.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "experiments/plot/svg_chart.h"
#include "experiments/plot/svg_text.h"

namespace delve {
namespace {

struct Rgb {
  double r, g, b;
};

// Viridis (perceptually uniform, readable in grey and with colour-vision deficiencies), sampled
// at nine points; and ColorBrewer's RdBu reversed, blue = low, red = high.
constexpr Rgb kViridis[] = {{68, 1, 84},    {72, 40, 120},  {62, 74, 137},  {49, 104, 142}, {38, 130, 142},
                            {31, 158, 137}, {53, 183, 121}, {110, 206, 88}, {253, 231, 37}};
constexpr Rgb kDiverging[] = {{5, 48, 97},    {33, 102, 172},  {67, 147, 195}, {146, 197, 222}, {247, 247, 247},
                              {244, 165, 130}, {214, 96, 77},  {178, 24, 43},  {103, 0, 31}};

template <size_t N>
std::string interpolate(const Rgb (&ramp)[N], double t) {
  t = std::clamp(t, 0.0, 1.0) * double(N - 1);
  const size_t i = std::min(size_t(t), N - 2);
  const double f = t - double(i);
  auto mix = [&](double a, double b) { return int(std::lround(a + f * (b - a))); };
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", mix(ramp[i].r, ramp[i + 1].r), mix(ramp[i].g, ramp[i + 1].g),
                mix(ramp[i].b, ramp[i + 1].b));
  return buf;
}

// Where v sits on the map's colour scale, 0 at lo and 1 at hi. A diverging scale puts the centre
// at ½ and stretches each side on its own, so equal distances from the centre get equal shades
// only when the centre is midway.
double scale_position(const Heatmap& m, double v) {
  auto pos = [&](double a) { return m.log_scale ? std::log10(std::max(a, m.lo)) : a; };
  const double lo = pos(m.lo), hi = pos(m.hi), x = std::clamp(pos(v), lo, hi);
  if (!m.centre) return (x - lo) / (hi - lo);
  const double c = pos(*m.centre);
  return x < c ? 0.5 * (x - lo) / (c - lo) : 0.5 + 0.5 * (x - c) / (hi - c);
}

// Exact zeros on a log scale (a layer whose gradient is exactly 0 because every rectifier above
// it is off) get their own colour instead of being clamped to the scale's bottom.
constexpr const char* kZeroColour = "#000000";
constexpr const char* kMissingColour = "#d9d9d9";

std::string colour(const Heatmap& m, double v) {
  if (!std::isfinite(v)) return kMissingColour;
  if (m.log_scale && v <= 0) return kZeroColour;
  const double t = scale_position(m, v);
  return m.centre ? interpolate(kDiverging, t) : interpolate(kViridis, t);
}

void validate(const Heatmap& m) {
  const std::string which = "heat map '" + m.title + "'";
  if (m.values.size() != m.rows.size() * m.x.size())
    throw Error(which + ": " + std::to_string(m.values.size()) + " values for " + std::to_string(m.rows.size()) +
                " rows x " + std::to_string(m.x.size()) + " columns");
  for (size_t j = 1; j < m.x.size(); ++j)
    if (!(m.x[j] > m.x[j - 1])) throw Error(which + ": column positions must increase");
  if (!std::isfinite(m.lo) || !std::isfinite(m.hi) || !(m.lo < m.hi) || (m.log_scale && m.lo <= 0))
    throw Error(which + ": unusable colour limits " + general(m.lo) + " .. " + general(m.hi));
  if (m.centre && !(*m.centre > m.lo && *m.centre < m.hi))
    throw Error(which + ": the centre " + general(*m.centre) + " must lie inside the colour limits");
}

// Cell edges: midway between neighbouring columns, the outer ones half a gap beyond the ends.
std::vector<double> column_edges(const std::vector<double>& x) {
  std::vector<double> e;
  if (x.size() == 1) return {x[0] - 0.5, x[0] + 0.5};
  e.push_back(x[0] - 0.5 * (x[1] - x[0]));
  for (size_t j = 1; j < x.size(); ++j) e.push_back(0.5 * (x[j - 1] + x[j]));
  e.push_back(x.back() + 0.5 * (x.back() - x[x.size() - 2]));
  return e;
}

std::string text(double x, double y, const std::string& anchor, const std::string& content,
                 const std::string& extra = "") {
  return "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\" text-anchor=\"" + anchor + "\"" + extra + ">" + content +
         "</text>\n";
}

// The colour bar at x = bx between top and bottom: 64 bands from lo (bottom) to hi (top), ticks at
// round values of the scale, and a black key for exact zeros on a log scale.
void render_colour_bar(std::string& out, const Heatmap& m, double bx, double top, double bottom, double bar_width) {
  constexpr int kBands = 64;
  for (int b = 0; b < kBands; ++b) {
    const double t = (b + 0.5) / kBands;
    double v;
    if (m.centre) {
      const double c = m.log_scale ? std::log10(*m.centre) : *m.centre;
      const double lo = m.log_scale ? std::log10(m.lo) : m.lo, hi = m.log_scale ? std::log10(m.hi) : m.hi;
      v = t < 0.5 ? lo + 2 * t * (c - lo) : c + (2 * t - 1) * (hi - c);
    } else {
      v = m.log_scale ? std::log10(m.lo) + t * (std::log10(m.hi) - std::log10(m.lo)) : m.lo + t * (m.hi - m.lo);
    }
    if (m.log_scale) v = std::pow(10.0, v);
    const double y = bottom - (bottom - top) * double(b + 1) / kBands;
    out += "<rect x=\"" + px(bx) + "\" y=\"" + px(y) + "\" width=\"" + px(bar_width) + "\" height=\"" +
           px((bottom - top) / kBands + 0.5) + "\" fill=\"" + colour(m, v) + "\" stroke=\"none\"/>\n";
  }
  std::vector<double> ticks;
  if (m.log_scale) {
    for (int e = int(std::ceil(std::log10(m.lo) - 1e-9)); e <= int(std::floor(std::log10(m.hi) + 1e-9)); ++e)
      ticks.push_back(std::pow(10.0, e));
    if (ticks.size() > 8) {  // keep about six labels
      std::vector<double> fewer;
      const size_t step = (ticks.size() + 5) / 6;
      for (size_t k = 0; k < ticks.size(); k += step) fewer.push_back(ticks[k]);
      ticks = fewer;
    }
  } else {
    ticks = nice_ticks(m.lo, m.hi, 6);
  }
  for (double t : ticks) {
    if (t < m.lo || t > m.hi) continue;
    const double y = bottom - (bottom - top) * scale_position(m, t);
    out += "<line x1=\"" + px(bx + bar_width) + "\" y1=\"" + px(y) + "\" x2=\"" + px(bx + bar_width + 3) +
           "\" y2=\"" + px(y) + "\" stroke=\"#444\"/>\n";
    out += text(bx + bar_width + 5, y + 4, "start", general(t));
  }
}

void render_map(std::string& out, const Heatmap& m, double width, double height) {
  validate(m);
  size_t longest_row = 1;
  for (auto& r : m.rows) longest_row = std::max(longest_row, r.size());
  const double left = (m.y_label.empty() ? 10 : 30) + 6.6 * double(longest_row) + 8;  // 6.6 px: 11 px DejaVu Sans
  const double top = m.title.empty() ? 16 : 38, bar_width = 14;
  const double right = width - 86, bottom = height - 48;
  if (!m.title.empty())
    out += text(width / 2, 24, "middle", escape_xml(m.title), " font-size=\"15\" font-weight=\"bold\" fill=\"#222\"");
  if (!m.x_label.empty())
    out += text((left + right) / 2, height - 10, "middle", escape_xml(m.x_label), " font-size=\"12\" fill=\"#222\"");
  if (!m.y_label.empty()) {
    const std::string cy = px((top + bottom) / 2);
    out += "<text x=\"16\" y=\"" + cy + "\" transform=\"rotate(-90 16 " + cy +
           ")\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222\">" + escape_xml(m.y_label) + "</text>\n";
  }
  if (m.x.empty() || m.rows.empty()) return;

  const std::vector<double> edges = column_edges(m.x);
  const double x0 = edges.front(), x1 = edges.back();
  auto to_x = [&](double v) { return left + (right - left) * (v - x0) / (x1 - x0); };
  const double row_height = (bottom - top) / double(m.rows.size());
  // Cells overlap by a fraction of a pixel so no hairline gaps show between them.
  out += "<g shape-rendering=\"crispEdges\">\n";
  for (size_t i = 0; i < m.rows.size(); ++i)
    for (size_t j = 0; j < m.x.size(); ++j)
      out += "<rect x=\"" + px(to_x(edges[j])) + "\" y=\"" + px(top + row_height * double(i)) + "\" width=\"" +
             px(to_x(edges[j + 1]) - to_x(edges[j]) + 0.5) + "\" height=\"" + px(row_height + 0.5) + "\" fill=\"" +
             colour(m, m.values[i * m.x.size() + j]) + "\"/>\n";
  out += "</g>\n<rect x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" + px(right - left) + "\" height=\"" +
         px(bottom - top) + "\" fill=\"none\" stroke=\"#888888\"/>\n";

  out += "<g font-size=\"11\" fill=\"#444\">\n";
  for (double t : nice_ticks(m.x.front(), m.x.back(), std::max(2, int((right - left) / 90))))
    if (t >= x0 && t <= x1) out += text(to_x(t), bottom + 16, "middle", general(t));
  const size_t every = std::max<size_t>(1, size_t(std::ceil(14.0 / row_height)));  // labels 14 px apart at least
  for (size_t i = 0; i < m.rows.size(); i += every)
    out += text(left - 6, top + row_height * (double(i) + 0.5) + 4, "end", escape_xml(m.rows[i]));

  const double bx = right + 14;
  render_colour_bar(out, m, bx, top, bottom, bar_width);
  out += "</g>\n";
  bool zeros = false;
  for (double v : m.values) zeros |= m.log_scale && std::isfinite(v) && v <= 0;
  if (zeros) {
    out += "<rect x=\"" + px(bx) + "\" y=\"" + px(bottom + 14) + "\" width=\"" + px(bar_width) + "\" height=\"10\" fill=\"" +
           kZeroColour + "\" stroke=\"none\"/>\n";
    out += text(bx + bar_width + 5, bottom + 23, "start", "0", " font-size=\"11\" fill=\"#444\"");
  }
  if (!m.value_label.empty()) {
    const double vx = width - 6, cy = (top + bottom) / 2;
    out += "<text x=\"" + px(vx) + "\" y=\"" + px(cy) + "\" transform=\"rotate(-90 " + px(vx) + " " + px(cy) +
           ")\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222\">" + escape_xml(m.value_label) + "</text>\n";
  }
}

}  // namespace

std::string render_heatmaps_svg(const std::vector<Heatmap>& maps, int columns, int map_width, int map_height) {
  map_width = std::max(map_width, 300);  // below this the margins and colour bar leave no map
  map_height = std::max(map_height, 200);
  return svg_grid(maps.size(), columns, map_width, map_height,
                  [&](std::string& out, size_t i) { render_map(out, maps[i], map_width, map_height); });
}

}  // namespace delve
