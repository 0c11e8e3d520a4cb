// experiments/plot/svg_chart and core/atomic_file's text writer: tick choice, well-formed and escaped
// SVG, one line per drawable series, gaps at non-finite points, log axes, degenerate data.
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "experiments/plot/plot.h"
#include "experiments/plot/svg_chart.h"
#include "tests/float_bounds.h"
#include "tests/temp_dir.h"
#include "tests/xml_check.h"

using namespace delve;
using namespace delve::test;
using delve::test::count;
using delve::test::xml_problem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

void check_ticks(double lo, double hi, int target, const std::vector<double>& expected) {
  const std::vector<double> ticks = nice_ticks(lo, hi, target);
  INFO("nice_ticks(", lo, ", ", hi, ", ", target, ")");
  REQUIRE(ticks.size() == expected.size());
  // A tick is i·step, step = k·10^p: pow within 1 ulp (2 roundings), two products; the expected
  // decimal rounds once: within γ_5 of double's u of |tick| (tests/float_bounds.h), 0 exactly.
  for (size_t i = 0; i < ticks.size(); ++i)
    CHECK(std::abs(ticks[i] - expected[i]) <= gamma_n(5, kDoubleUnitRoundoff) * std::abs(expected[i]));
}

Series line(const std::string& label, std::vector<double> y) {
  Series s{label, {}, std::move(y)};
  for (size_t i = 0; i < s.y.size(); ++i) s.x.push_back(double(i));
  return s;
}

}  // namespace

TEST_CASE("nice_ticks: round steps covering the range") {
  check_ticks(0, 1, 5, {0, 0.2, 0.4, 0.6, 0.8, 1.0});
  check_ticks(0.08, 0.93, 5, {0, 0.2, 0.4, 0.6, 0.8, 1.0});
  check_ticks(0, 100, 5, {0, 20, 40, 60, 80, 100});
  check_ticks(0, 37, 5, {0, 10, 20, 30, 40});
  check_ticks(-3, 7, 6, {-4, -2, 0, 2, 4, 6, 8});
  check_ticks(7, -3, 6, {-4, -2, 0, 2, 4, 6, 8});  // order of the ends does not matter
  check_ticks(1e-5, 4.2e-5, 4, {1e-5, 2e-5, 3e-5, 4e-5, 5e-5});
  check_ticks(0, 0, 5, {-1, -0.5, 0, 0.5, 1});  // constant: widened around the value
  const std::vector<double> around_3 = nice_ticks(3, 3, 5);
  REQUIRE(around_3.size() >= 3);
  CHECK(around_3.front() < 3);
  CHECK(around_3.back() > 3);
  CHECK(nice_ticks(0, 1, 5)[0] == 0.0);  // exactly zero, not -1e-17
  CHECK(nice_ticks(kNaN, 1, 5).empty());
  CHECK(nice_ticks(0, kInf, 5).empty());
  CHECK(nice_ticks(-1e308, 1e308, 5).empty());  // the width overflows
  CHECK(nice_ticks(0, 1, 0).size() >= 2);
}

TEST_CASE("svg: well-formed, escaped, one path per series that has points") {
  Chart chart;
  chart.title = "Error <top-1> & \"friends\"";
  chart.x_label = "epoch";
  chart.y_label = "error (%)";
  chart.series = {line("PReLU & <ReLU>", {60, 40, 30, 25}), line("it's empty", {}),
                  line("all NaN", {kNaN, kNaN}), line("Xavier", {70, 50, 35, 31})};
  const std::string svg = render_svg({chart});
  INFO(svg);
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.substr(svg.find_last_not_of('\n') - 5, 6) == "</svg>");
  CHECK(xml_problem(svg) == "");
  CHECK(svg.find("Error &lt;top-1&gt; &amp; &quot;friends&quot;") != std::string::npos);
  CHECK(svg.find("PReLU &amp; &lt;ReLU&gt;") != std::string::npos);
  CHECK(svg.find("it&apos;s empty") != std::string::npos);
  CHECK(svg.find("<top-1>") == std::string::npos);
  CHECK(count(svg, "<path") == 2);  // the empty and the all-NaN series draw nothing
  CHECK(svg.find("epoch") != std::string::npos);
}

TEST_CASE("svg: non-finite points break the line and never reach the output") {
  Chart chart;
  chart.series = {{"loss", {0, 1, 2, 3, 4, 5, 6}, {2.3, 1.9, kNaN, 1.5, kInf, 1.2, 1.1}},
                  {"weird x", {0, kNaN, 2, -kInf}, {1, 2, 3, 4}}};
  const std::string svg = render_svg({chart});
  INFO(svg);
  CHECK(xml_problem(svg) == "");
  CHECK(lower(svg).find("nan") == std::string::npos);
  CHECK(lower(svg).find("inf") == std::string::npos);
  CHECK(count(svg, "<path") == 2);
  // "loss": a line over x = 0..1, a lone point at 3 (a ring of two arcs), a line over 5..6.
  const size_t loss = svg.find("<path");
  const std::string d = svg.substr(loss, svg.find("/>", loss) - loss);
  CHECK(count(d, "M") == 3);
  CHECK(count(d, " a") == 2);
  CHECK(count(svg, " a") == 2 + 4);  // "weird x": two lone points
}

TEST_CASE("svg: log scale over 1e-6 .. 1 ticks every power of ten") {
  Chart chart;
  chart.log_y = true;
  chart.title = "gradient std";
  std::vector<double> y;
  for (int i = 0; i <= 60; ++i) y.push_back(std::pow(10.0, -6.0 + i / 10.0));
  y[30] = 0;   // not drawable on a log axis: a gap, not a crash
  y[31] = -1;  // likewise
  chart.series = {line("conv1", y)};
  const std::string svg = render_svg({chart});
  INFO(svg);
  CHECK(xml_problem(svg) == "");
  CHECK(lower(svg).find("nan") == std::string::npos);
  CHECK(lower(svg).find("inf") == std::string::npos);
  for (int e = 1; e <= 6; ++e) {
    CHECK(svg.find("\u2212" + std::to_string(e) + "</tspan>") != std::string::npos);
  }
  CHECK(count(svg, "10<tspan") == 7);  // 10^-6 ... 10^0
  CHECK(count(svg, "<path") == 1);
  CHECK(count(svg, "d=\"M") == 1);
  CHECK(count(svg.substr(svg.find("d=\"M")), " M") == 1);  // one gap

  chart.series = {line("small range", {0.02, 0.5})};  // within a few decades: plain labels
  const std::string plain = render_svg({chart});
  CHECK(plain.find(">0.01<") != std::string::npos);
  CHECK(plain.find(">1<") != std::string::npos);
  CHECK(plain.find("tspan") == std::string::npos);
}

TEST_CASE("svg: degenerate data draws without dividing by zero") {
  Chart single, constant, nothing, fixed;
  single.series = {{"one point", {3}, {0.5}}};
  constant.series = {line("flat", {2, 2, 2, 2})};
  constant.log_y = true;
  fixed.series = {line("clipped", {-5, 50, 500})};
  fixed.y_min = 0;
  fixed.y_max = 100;
  const std::string svg = render_svg({single, constant, nothing, fixed}, 2);
  INFO(svg);
  CHECK(xml_problem(svg) == "");
  CHECK(lower(svg).find("nan") == std::string::npos);
  CHECK(lower(svg).find("inf") == std::string::npos);
  CHECK(count(svg, "<path") == 3);  // the single point, flat and clipped
  CHECK(count(svg, "<clipPath") == 4);
  CHECK(svg.find("width=\"1120\" height=\"760\"") != std::string::npos);  // 2 x 2 grid
  CHECK(xml_problem(render_svg({})) == "");

  // Values at the edges of double precision on both kinds of axis.
  const double big = std::numeric_limits<double>::max(), tiny = 4.9e-324;
  Chart extreme_linear, extreme_log;
  extreme_linear.series = {{"huge", {-big, 0, big}, {big, -big, tiny}}};
  extreme_log.log_y = true;
  extreme_log.series = {{"huge", {0, 1, 2}, {tiny, 1, big}}};
  const std::string edges = render_svg({extreme_linear, extreme_log});
  INFO(edges);
  CHECK(xml_problem(edges) == "");
  CHECK(lower(edges).find("nan") == std::string::npos);
  CHECK(lower(edges).find("inf") == std::string::npos);
}

TEST_CASE("svg: more series than colours switch to dashes") {
  Chart chart;
  for (int k = 0; k < 10; ++k) {
    std::string label = "s";
    label += std::to_string(k);
    chart.series.push_back(line(label, {1.0 * k, 2}));
  }
  const std::string svg = render_svg({chart});
  CHECK(count(svg, "<path") == 10);
  CHECK(count(svg, "stroke-dasharray") == 4);  // series 9 and 10: path and legend swatch
}

TEST_CASE("svg: bad charts are refused with a message naming the chart") {
  Chart mismatched;
  mismatched.title = "curves";
  mismatched.series = {{"train", {1, 2, 3}, {1, 2}}};
  CHECK_THROWS_WITH_AS(render_svg({mismatched}),
                       "chart 'curves': series 'train' has 3 x values but 2 y values", Error);
  Chart log_zero;
  log_zero.title = "loss";
  log_zero.log_y = true;
  log_zero.y_min = 0;
  CHECK_THROWS_AS(render_svg({log_zero}), Error);
  Chart inverted;
  inverted.y_min = 1;
  inverted.y_max = 0;
  CHECK_THROWS_AS(render_svg({inverted}), Error);
}

TEST_CASE("write_text_file_atomic: writes, replaces, and names the path on failure") {
  delve::test::TempDir dir("svg_write");
  const std::string path = dir.file("chart.svg");
  write_text_file_atomic(path, "first");
  write_text_file_atomic(path, render_svg({Chart{}}));
  CHECK(delve::test::read_bytes(path).rfind("<svg", 0) == 0);
  const std::string missing = dir.file("no/such/dir/chart.svg");
  try {
    write_text_file_atomic(missing, "x");
    FAIL("wrote into a missing directory");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find(missing) != std::string::npos);
    CHECK(std::string(e.what()).find(std::strerror(ENOENT)) != std::string::npos);
  }
}

// --- the legend keeps off the data; runs by colour, splits by line style ----------------------

namespace {

struct Rect {
  double x, y, w, h;
};

double attribute(const std::string& tag, const std::string& name) {
  const size_t at = tag.find(" " + name + "=\"");
  REQUIRE(at != std::string::npos);
  return std::stod(tag.substr(at + name.size() + 3));
}

// The legend's frame and the plot area (the clip rectangle) of a one-chart SVG.
Rect rect_after(const std::string& svg, const std::string& marker) {
  const size_t start = svg.find("<rect", svg.find(marker));
  REQUIRE(start != std::string::npos);
  const std::string tag = svg.substr(start, svg.find('>', start) - start);
  return {attribute(tag, "x"), attribute(tag, "y"), attribute(tag, "width"), attribute(tag, "height")};
}

// Every polyline of every <path d="M x y L x y ..."> (the charts here have no lone points).
std::vector<std::vector<std::pair<double, double>>> polylines(const std::string& svg) {
  std::vector<std::vector<std::pair<double, double>>> lines;
  for (size_t at = svg.find("<path d=\""); at != std::string::npos; at = svg.find("<path d=\"", at + 1)) {
    std::string text = svg.substr(at + 9, svg.find('"', at + 9) - at - 9), spaced;
    for (char c : text) spaced += c == 'M' || c == 'L' ? std::string(" ") + c + " " : std::string(1, c);
    std::istringstream d(spaced);
    std::string command;
    double x, y;
    while (d >> command >> x >> y) {
      if (command == "M") lines.emplace_back();
      lines.back().push_back({x, y});
    }
  }
  return lines;
}

// Whether any drawn line comes within `margin` pixels of the rectangle: each segment sampled
// every 0.1 px or finer, so a crossing cannot slip between two samples.
bool covers_a_line(const Rect& r, const std::string& svg, double margin) {
  for (const auto& line : polylines(svg)) {
    for (size_t i = 0; i + 1 < line.size(); ++i) {
      const auto [x0, y0] = line[i];
      const auto [x1, y1] = line[i + 1];
      const int steps = 1 + int(10 * std::hypot(x1 - x0, y1 - y0));
      for (int k = 0; k <= steps; ++k) {
        const double x = x0 + (x1 - x0) * k / steps, y = y0 + (y1 - y0) * k / steps;
        if (x > r.x - margin && x < r.x + r.w + margin && y > r.y - margin && y < r.y + r.h + margin) return true;
      }
    }
  }
  return false;
}

Series across(const std::string& label, double from, double to, int points = 31) {
  Series s{label, {}, {}};
  for (int i = 0; i < points; ++i) {
    s.x.push_back(0.1 * i);
    s.y.push_back(from + (to - from) * std::sqrt(i / double(points - 1)));
  }
  return s;
}

}  // namespace

TEST_CASE("svg: the legend goes where no line passes (Figure 3: one curve high, one falling low)") {
  // As in fig3_plain30_lr0001: Xavier flat near 90% blocks the top corners, Kaiming's curve
  // falling from 75% to 15% blocks the bottom ones and the left edge.
  Chart chart;
  chart.y_min = 0, chart.y_max = 100;
  chart.series = {across("kind-kaiming train", 75, 15), across("kind-kaiming test", 30, 16),
                  across("kind-xavier train", 90, 90), across("kind-xavier test", 89, 89)};
  const std::string svg = render_svg({chart});
  REQUIRE(xml_problem(svg).empty());
  const Rect legend = rect_after(svg, "class=\"legend\""), plot = rect_after(svg, "<clipPath");
  INFO("legend at ", legend.x, ", ", legend.y, " size ", legend.w, " x ", legend.h);
  size_t points = 0;
  for (const auto& l : polylines(svg)) points += l.size();
  REQUIRE(points == 4 * 31);  // the checks below see every point drawn
  CHECK(!covers_a_line(legend, svg, 1.0));
  // Inside the plot: there was room.
  CHECK(legend.x >= plot.x);
  CHECK(legend.x + legend.w <= plot.x + plot.w);
}

TEST_CASE("svg: with lines everywhere in the plot, the legend goes beside it") {
  Chart chart;
  for (int k = 0; k <= 20; ++k) chart.series.push_back(across("level " + std::to_string(5 * k), 5 * k, 5 * k));
  chart.series.push_back(across("rising", 0, 100));
  const std::string svg = render_svg({chart}, 1, 560, 380);
  const Rect legend = rect_after(svg, "class=\"legend\""), plot = rect_after(svg, "<clipPath");
  CHECK(!covers_a_line(legend, svg, 1.0));
  CHECK(legend.x > plot.x + plot.w);  // right of the plot area, which was narrowed for it
  CHECK(legend.x + legend.w <= 560);
}

TEST_CASE("curves of several runs: one colour per run in both panels, train solid and test dashed") {
  delve::test::TempDir dir("svg_runs");
  std::vector<std::string> runs;
  for (const std::string name : {"kind-kaiming", "kind-xavier"}) {
    const std::string run = dir.file(name);
    std::filesystem::create_directories(run);
    std::ofstream log(run + "/log.jsonl");
    for (int i = 1; i <= 4; ++i)
      log << R"({"event": "train", "epoch": )" << 0.25 * i << R"(, "error": 0.5, "loss": 1.5})" << "\n";
    log << R"({"event": "eval", "epoch": 1, "error": 0.4})" << "\n";
    runs.push_back(run);
  }
  const std::string out = dir.file("curves.svg");
  write_comparison_plot(runs, out, "sweep");
  const std::string svg = delve::test::read_bytes(out);
  REQUIRE(xml_problem(svg).empty());
  // Run 1 blue, run 2 orange: train error, test error and loss each, plus one legend swatch.
  CHECK(count(svg, "<path d=") == 6);
  CHECK(count(svg, "stroke=\"#0072B2\"") == 3 + 2);  // its error legend row and its loss legend row
  CHECK(count(svg, "stroke=\"#D55E00\"") == 3 + 2);
  // Dashed: the two test curves and the grey "test" key; nothing else.
  CHECK(count(svg, "stroke-dasharray") == 3);
  CHECK(count(svg, "stroke=\"#666666\" stroke-dasharray") == 1);
  CHECK(count(svg, ">train (running mean)</text>") == 1);
  CHECK(count(svg, ">test</text>") == 1);
  CHECK(count(svg, ">kind-kaiming</text>") == 2);  // error panel and loss panel
  CHECK(count(svg, ">kind-xavier</text>") == 2);
}
