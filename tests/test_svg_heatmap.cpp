// experiments/plot/svg_heatmap and `delve plot --what heatmap`: one cell per (layer, iteration), colours
// on the stated scale (P(y>0) = ½ white), missing values grey, bad maps refused, runs without
// layer statistics named.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "experiments/plot/plot.h"
#include "experiments/plot/svg_heatmap.h"
#include "tests/temp_dir.h"
#include "tests/xml_check.h"

using namespace delve;
using delve::test::count;
using delve::test::xml_problem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Heatmap fraction_map() {
  Heatmap m;
  m.title = "P(y>0) <relu & prelu>";
  m.x = {0, 100, 200};
  m.rows = {"1 conv1", "2 conv2"};
  m.values = {0.5, 0.0, 1.0,  //
              0.25, kNaN, 0.75};
  m.lo = 0, m.hi = 1, m.centre = 0.5;
  return m;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("heatmap: well-formed, escaped, one cell per value, diverging colours around the centre") {
  const std::string svg = render_heatmaps_svg({fraction_map()});
  CHECK(xml_problem(svg) == "");
  CHECK(svg.find("&lt;relu &amp; prelu&gt;") != std::string::npos);
  // Six cells (the 64 colour-bar bands have stroke="none"; cells do not).
  CHECK(count(svg, "<rect") - count(svg, "stroke=\"none\"") == 6 + 2);  // + background and frame
  CHECK(count(svg, "fill=\"#f7f7f7\"/>") == 1);  // 0.5: the centre is white
  CHECK(count(svg, "fill=\"#053061\"/>") == 1);  // 0: darkest blue
  CHECK(count(svg, "fill=\"#67001f\"/>") == 1);  // 1: darkest red
  CHECK(count(svg, "fill=\"#d9d9d9\"/>") == 1);  // the missing value: grey
  CHECK(svg.find("2 conv2") != std::string::npos);
}

TEST_CASE("heatmap: sequential log scale runs from viridis' purple to its yellow") {
  Heatmap m;
  m.x = {10};
  m.rows = {"a", "b", "c"};
  m.values = {1e-6, 1e-3, 1.0};
  m.lo = 1e-6, m.hi = 1, m.log_scale = true;
  std::string svg = render_heatmaps_svg({m, m}, 2);
  CHECK(xml_problem(svg) == "");
  CHECK(count(svg, "fill=\"#440154\"/>") == 2);  // 1e-6, once per map
  CHECK(count(svg, "fill=\"#fde725\"/>") == 2);  // 1
  CHECK(svg.find("1e-06") != std::string::npos);  // colour-bar ticks at decades
  CHECK(svg.find("#000000") == std::string::npos);
  // An exact 0 (a dead layer's gradient) is black, not the bottom of the scale, and the bar says so.
  m.values[1] = 0.0;
  svg = render_heatmaps_svg({m});
  CHECK(count(svg, "fill=\"#000000\"/>") == 1);
  CHECK(count(svg, "fill=\"#000000\" stroke=\"none\"/>") == 1);
}

TEST_CASE("heatmap: bad maps are refused with a message naming the map") {
  Heatmap m = fraction_map();
  m.values.pop_back();
  CHECK_THROWS_WITH_AS(render_heatmaps_svg({m}), doctest::Contains("5 values for 2 rows x 3 columns"), Error);
  m = fraction_map();
  m.x = {0, 100, 100};
  CHECK_THROWS_WITH_AS(render_heatmaps_svg({m}), doctest::Contains("increase"), Error);
  m = fraction_map();
  m.lo = 1, m.hi = 0;
  CHECK_THROWS_WITH_AS(render_heatmaps_svg({m}), doctest::Contains("colour limits"), Error);
  m = fraction_map();
  m.centre = 2;
  CHECK_THROWS_WITH_AS(render_heatmaps_svg({m}), doctest::Contains("centre"), Error);
  m = fraction_map();
  m.centre.reset();
  m.log_scale = true;
  CHECK_THROWS_WITH_AS(render_heatmaps_svg({m}), doctest::Contains("P(y>0)"), Error);
}

TEST_CASE("plot --what heatmap: a column per layers event, a row per weight layer") {
  test::TempDir tmp("heatmap_plot");
  std::filesystem::create_directories(tmp / "run");
  {
    std::ofstream log(tmp / "run/log.jsonl");
    log << R"({"event":"start","iteration":0,"time":1})" "\n";
    for (int it : {0, 50, 100, 100})  // a resumed run may log iteration 100 twice: one column
      log << R"({"event":"layers","iteration":)" << it
          << R"(,"time":2,"layers":[{"depth":1,"layer":"conv1","positive_fraction":0.5,"grad_input_std":null},)"
          << R"({"depth":2,"layer":"fc1","positive_fraction":)" << 0.1 + it / 1000.0 << R"(,"grad_input_std":0.01}]})"
          << "\n";
  }
  write_layers_heatmap({tmp / "run"}, tmp / "p.svg", "", "");
  const std::string svg = read(tmp / "p.svg");
  CHECK(xml_problem(svg) == "");
  CHECK(count(svg, "<rect") - count(svg, "stroke=\"none\"") == 2 * 3 + 2);
  CHECK(svg.find("2 fc1") != std::string::npos);
  CHECK(svg.find("positive_fraction") != std::string::npos);

  // grad_input_std on a log scale; the first layer's null is drawn as missing.
  write_layers_heatmap({tmp / "run"}, tmp / "g.svg", "grad_input_std", "");
  CHECK(count(read(tmp / "g.svg"), "fill=\"#d9d9d9\"/>") == 3);

  CHECK_THROWS_WITH_AS(write_layers_heatmap({tmp / "run"}, tmp / "x.svg", "no_such_metric", ""),
                       doctest::Contains("no_such_metric"), UsageError);
  std::filesystem::create_directories(tmp / "bare");
  std::ofstream(tmp / "bare/log.jsonl") << R"({"event":"start","iteration":0,"time":1})" "\n";
  CHECK_THROWS_WITH_AS(write_layers_heatmap({tmp / "bare"}, tmp / "x.svg", "", ""),
                       doctest::Contains("layers_every"), UsageError);
}
