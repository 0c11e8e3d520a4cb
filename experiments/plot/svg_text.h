// Text pieces shared by delve's SVG pictures (experiments/plot/svg_chart, experiments/plot/svg_heatmap):
// XML escaping and locale-independent numbers.
#pragma once
#include <string>
#include <string_view>

namespace delve {

// Text safe inside an element or a double-quoted attribute. Control characters other than tab and
// newline are not allowed in XML 1.0 at all, so they are dropped.
std::string escape_xml(std::string_view text);
// Locale-independent number text (printf would write "0,5" under a German locale); "-0.0" -> "0.0".
std::string fixed(double v, int decimals);
// Four significant digits, scientific when shorter ("1e-05", "0.25", "1234").
std::string general(double v);
// A pixel coordinate: one decimal.
inline std::string px(double v) { return fixed(v, 1); }

}  // namespace delve

#include <functional>

namespace delve {

// A whole SVG document of `count` panels laid out left to right, top to bottom, `columns` per row,
// each panel_width x panel_height pixels on white; draw(out, i) appends panel i in its own
// coordinates (0, 0 at its top left).
std::string svg_grid(size_t count, int columns, int panel_width, int panel_height,
                     const std::function<void(std::string& out, size_t i)>& draw);

}  // namespace delve
