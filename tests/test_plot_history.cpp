// `delve plot --what history` (a per-layer statistic against epochs, a chart per chosen layer) and
// `--split` of the error curves (the paper's Figures 2-3 draw the held-out error alone).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "experiments/plot/plot.h"
#include "tests/file_bytes.h"
#include "tests/temp_dir.h"
#include "tests/xml_check.h"

using namespace delve;
using delve::test::count;
using delve::test::xml_problem;

namespace {

// A run of three weight layers (conv1 and conv2 PReLU, fc1 without slopes), layers events at
// iterations 0, 50, 100 and 100 again (a resume), train events, and test evaluations if asked.
std::string write_run(const test::TempDir& tmp, const std::string& name, bool with_eval) {
  const std::string dir = tmp.file(name);
  std::filesystem::create_directories(dir);
  std::ofstream log(dir + "/log.jsonl");
  for (int it : {0, 50, 100, 100}) {
    const double epoch = it / 100.0, slope = 0.25 + it / 1000.0;
    log << R"({"event":"layers","iteration":)" << it << R"(,"epoch":)" << epoch << R"(,"layers":[)"
        << R"({"depth":1,"layer":"conv1","positive_fraction":0.5,"slope_mean":)" << slope << "},"
        << R"({"depth":2,"layer":"conv2","positive_fraction":0.4,"slope_mean":)" << slope / 2 << "},"
        << R"({"depth":3,"layer":"fc1","positive_fraction":0.3}]})" << "\n";
    log << R"({"event":"train","iteration":)" << it << R"(,"epoch":)" << epoch << R"(,"error":0.5,"loss":1.5})" << "\n";
    if (with_eval) log << R"({"event":"eval","epoch":)" << epoch << R"(,"error":0.4})" << "\n";
  }
  return dir;
}

}  // namespace

TEST_CASE("plot --what history: a chart per chosen layer, a line per run, a resumed iteration once") {
  test::TempDir tmp("plot_history");
  const std::vector<std::string> runs{write_run(tmp, "activation-prelu", true), write_run(tmp, "activation-shared", true)};
  const std::string svg = history_svg(runs, "slope_mean", {1, 2}, "Table 1");
  REQUIRE(xml_problem(svg).empty());
  CHECK(count(svg, "<path d=") == 2 * 2);  // two layers' charts, two runs in each
  CHECK(count(svg, ">Table 1: depth 1 (conv1)</text>") == 1);
  CHECK(count(svg, ">Table 1: depth 2 (conv2)</text>") == 1);
  // Three points per line (iterations 0, 50, 100; the repeated 100 once): a move and two lines.
  CHECK(count(svg, " L") == 4 * 2);

  // By default the first, the middle and the deepest layer.
  const std::string all = history_svg({runs[0]}, "", {}, "");
  CHECK(count(all, ">depth 1 (conv1)</text>") == 1);
  CHECK(count(all, ">depth 2 (conv2)</text>") == 1);
  CHECK(count(all, ">depth 3 (fc1)</text>") == 1);
}

TEST_CASE("plot --what history: a missing depth or metric is named") {
  test::TempDir tmp("plot_history_bad");
  const std::string run = write_run(tmp, "run", false);
  CHECK_THROWS_WITH_AS(history_svg({run}, "slope_mean", {7}, ""), doctest::Contains("depth 7"), UsageError);
  CHECK_THROWS_WITH_AS(history_svg({run}, "slope_mean", {3}, ""),
                       doctest::Contains("'slope_mean' at depth 3"), UsageError);
  std::filesystem::create_directories(tmp / "bare");
  std::ofstream(tmp / "bare/log.jsonl") << R"({"event":"start","iteration":0})" "\n";
  CHECK_THROWS_WITH_AS(history_svg({tmp / "bare"}, "", {}, ""), doctest::Contains("layers_every"), UsageError);
}

TEST_CASE("plot --split: test alone draws a solid line per run; train alone no dashes") {
  test::TempDir tmp("plot_split");
  const std::vector<std::string> runs{write_run(tmp, "kind-kaiming", true), write_run(tmp, "kind-xavier", true)};
  const std::string test_only = comparison_svg(runs, "Figure 3", Splits::kTest);
  REQUIRE(xml_problem(test_only).empty());
  CHECK(count(test_only, "<path d=") == 2);
  CHECK(count(test_only, "stroke-dasharray") == 0);
  CHECK(count(test_only, ">Figure 3: test error</text>") == 1);
  CHECK(count(test_only, "training loss") == 0);

  const std::string train_only = comparison_svg(runs, "", Splits::kTrain);
  CHECK(count(train_only, "<path d=") == 4);  // train error and loss of each run
  CHECK(count(train_only, "stroke-dasharray") == 0);
  CHECK(count(train_only, ">test</text>") == 0);

  const std::string no_eval = write_run(tmp, "no-eval", false);
  CHECK_THROWS_WITH_AS(comparison_svg({no_eval}, "", Splits::kTest), doctest::Contains("no-eval"), UsageError);
}
