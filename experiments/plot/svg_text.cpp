#include "experiments/plot/svg_text.h"

#include <algorithm>
#include <charconv>

namespace delve {

std::string escape_xml(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;
    }
  }
  return out;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
  std::string s(buf, r.ptr);
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);  // "-0.0"
  return s;
}

std::string general(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 4);
  return std::string(buf, r.ptr);
}

}  // namespace delve

namespace delve {

std::string svg_grid(size_t count, int columns, int panel_width, int panel_height,
                     const std::function<void(std::string& out, size_t i)>& draw) {
  columns = std::max(1, std::min(columns, int(std::max<size_t>(1, count))));
  const int rows = std::max(1, int((count + size_t(columns) - 1) / size_t(columns)));
  const int width = columns * panel_width, height = rows * panel_height;
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
                    std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " +
                    std::to_string(height) +
                    "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
                    "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  for (size_t i = 0; i < count; ++i) {
    const int cx = int(i % size_t(columns)) * panel_width, cy = int(i / size_t(columns)) * panel_height;
    out += "<g transform=\"translate(" + std::to_string(cx) + " " + std::to_string(cy) + ")\">\n";
    draw(out, i);
    out += "</g>\n";
  }
  return out + "</svg>\n";
}

}  // namespace delve
