// `delve plot --what layers`: a statistic against depth at the first and the last layers event of
// each run; several runs share one legend (a colour per run, solid first, dashed last).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "experiments/plot/plot.h"
#include "tests/temp_dir.h"
#include "tests/xml_check.h"

using namespace delve;
using delve::test::count;
using delve::test::xml_problem;

namespace {

std::string write_run(const test::TempDir& tmp, const std::string& name) {
  const std::string dir = tmp.file(name);
  std::filesystem::create_directories(dir);
  std::ofstream log(dir + "/log.jsonl");
  for (int it : {1, 50, 100})
    log << R"({"event":"layers","iteration":)" << it << R"(,"layers":[)"
        << R"({"depth":1,"layer":"conv1","grad_input_std":)" << 1e-8 * it << "},"
        << R"({"depth":2,"layer":"conv2","grad_input_std":1e-5},{"depth":3,"layer":"fc1","grad_input_std":1e-3}]})"
        << "\n";
  return dir;
}

}  // namespace

TEST_CASE("plot --what layers: first and last event per run; several runs by colour, events by dash") {
  test::TempDir tmp("plot_layers");
  const std::string one = layers_svg({write_run(tmp, "kind-xavier")}, "grad_input_std", "");
  REQUIRE(xml_problem(one).empty());
  CHECK(count(one, "<path d=") == 2);  // iterations 1 and 100, not 50
  CHECK(count(one, ">iter 1</text>") == 1);
  CHECK(count(one, ">iter 100</text>") == 1);

  const std::string two =
      layers_svg({tmp / "kind-xavier", write_run(tmp, "kind-kaiming")}, "grad_input_std", "Figure 3");
  REQUIRE(xml_problem(two).empty());
  CHECK(count(two, "<path d=") == 4);
  CHECK(count(two, ">kind-xavier</text>") == 1);  // a legend row per run, not per line
  CHECK(count(two, ">kind-kaiming</text>") == 1);
  CHECK(count(two, ">last layers event</text>") == 1);
  CHECK(count(two, "stroke=\"#666666\" stroke-dasharray") == 1);  // the grey key of the last event
  CHECK(count(two, "stroke-dasharray") == 2 + 1);                 // each run's last event, the key

  std::filesystem::create_directories(tmp / "bare");
  std::ofstream(tmp / "bare/log.jsonl") << R"({"event":"start","iteration":0})" "\n";
  CHECK_THROWS_WITH_AS(layers_svg({tmp / "bare"}, "", ""), doctest::Contains("layers"), UsageError);
}
