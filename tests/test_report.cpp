// delve report (experiments/plot/report.h): the page of a real tiny run and of a 2-member sweep,
// made by the real binary, is well-formed HTML in the strict subset of tests/html_check.h, every
// inline SVG is well-formed XML, nothing points outside the file, and the sections hold the run
// names and the figures of summary.json. Bad input gets a clear error and a non-zero exit.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tests/file_bytes.h"
#include "tests/html_check.h"
#include "tests/run_delve.h"
#include "tests/temp_dir.h"
#include "tests/xml_check.h"

namespace fs = std::filesystem;
using namespace delve;
using nlohmann::json;
using test::read_bytes;

namespace {

// A few steps of a small PReLU net with per-layer statistics; its name needs escaping everywhere.
constexpr const char* kConfig = R"({
  "name": "t<b>&\"'",
  "data": {"source": "synthetic", "synthetic_train": 64, "synthetic_test": 32, "synthetic_channels": 1,
           "synthetic_classes": 4, "prefetch": 0},
  "model": {"family": "plain", "stages": [{"convs": 2, "width": 4}], "fc": [8], "activation": "prelu"},
  "train": {"iterations": 8, "batch": 16, "log_every": 2, "layers_every": 4, "threads": 1}
})";

std::string write_config(const test::TempDir& tmp, const std::string& patch = "{}") {
  json config = json::parse(kConfig);
  config.merge_patch(json::parse(patch));
  const std::string path = tmp / "config.json";
  test::write_bytes(path, config.dump());
  return path;
}

test::DelveResult run_cli(const std::vector<std::string>& args, const test::TempDir& tmp) {
  return test::run_delve(args, tmp.str());
}

// Each inline <svg>...</svg> of the page (delve never nests them).
std::vector<std::string> inline_svgs(const std::string& html) {
  std::vector<std::string> svgs;
  for (size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) {
    const size_t end = html.find("</svg>", at);
    if (end == std::string::npos) break;
    svgs.push_back(html.substr(at, end + 6 - at));
  }
  return svgs;
}

// "" when nothing in the page reaches outside it: no URL (the SVG namespace name is no link), no
// src=, no url() other than to an id, and every href= and url(#...) names an id of the page,
// each id given once.
std::string outside_reference(std::string html) {
  for (size_t at; (at = html.find(" xmlns=\"http://www.w3.org/2000/svg\"")) != std::string::npos;) html.erase(at, 35);
  for (const char* bad : {"http://", "https://", "src=", "@import", "//"})
    if (html.find(bad) != std::string::npos) return std::string("found '") + bad + "'";
  std::set<std::string> ids;
  for (size_t at = html.find(" id=\""); at != std::string::npos; at = html.find(" id=\"", at + 1))
    if (!ids.insert(html.substr(at + 5, html.find('"', at + 5) - at - 5)).second) return "id given twice";
  for (const std::string ref : {"href=\"", "url("}) {
    for (size_t at = html.find(ref); at != std::string::npos; at = html.find(ref, at + 1)) {
      const size_t start = at + ref.size();
      if (html[start] != '#') return ref + " to something else than an id of the page";
      const std::string id = html.substr(start + 1, html.find_first_of("\")", start) - start - 1);
      if (!ids.count(id)) return ref + "#" + id + " names no id of the page";
    }
  }
  return "";
}

// The checks every page must pass, whatever runs it shows.
void check_page(const std::string& html) {
  REQUIRE(!html.empty());
  CHECK_MESSAGE(test::html_problem(html) == "", test::html_problem(html));
  const std::vector<std::string> svgs = inline_svgs(html);
  CHECK(svgs.size() == test::count(html, "<svg"));
  for (auto& svg : svgs) CHECK_MESSAGE(test::xml_problem(svg) == "", test::xml_problem(svg));
  CHECK_MESSAGE(outside_reference(html) == "", outside_reference(html));
  CHECK(html.find("<script") == std::string::npos);
  for (const char* section : {"id=\"outcome\"", "id=\"curves\"", "id=\"layers\"", "id=\"configs\""})
    CHECK_MESSAGE(html.find(section) != std::string::npos, section);
  // The config's name, escaped in the header, the configs and the titles, never raw.
  CHECK(html.find("t&lt;b&gt;&amp;&quot;&apos;") != std::string::npos);
  CHECK(html.find("<b>") == std::string::npos);
}

// A percentage as the page shows it, formatted here independently of the page's code.
std::string percent(const json& fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%", 100 * fraction.get<double>());
  return text;
}

// The outcome table's row of run `label` holds the figures of its summary.json.
void check_outcome_row(const std::string& html, const std::string& label, const std::string& dir) {
  const json summary = json::parse(read_bytes(dir + "/summary.json"));
  const size_t at = html.find("<tr><th>" + label + "</th>", html.find("<tbody>", html.find("<table class=\"outcome\">")));
  REQUIRE_MESSAGE(at != std::string::npos, label);
  const std::string row = html.substr(at, html.find("</tr>", at) - at);
  CHECK(row.find(">" + summary["status"].get<std::string>() + "<") != std::string::npos);
  CHECK(row.find(">" + percent(summary["train_error"]) + "<") != std::string::npos);
  CHECK(row.find(">" + percent(summary["test_error"]) + "<") != std::string::npos);
  CHECK(row.find(">" + std::to_string(summary["iterations"].get<long long>()) + "<") != std::string::npos);
  CHECK(row.find(">" + std::to_string(summary["skipped_steps"].get<long long>()) + "<") != std::string::npos);
}

}  // namespace

TEST_CASE("report: a run's page is well-formed, self-contained, and holds the run's figures, slopes and probe") {
  test::TempDir tmp("report_run");
  const std::string config = write_config(tmp), run = tmp / "run";
  const test::DelveResult trained = run_cli({"run", config, "--out", run, "--quiet"}, tmp);
  REQUIRE_MESSAGE(trained.exit_code == kExitOk, trained.err);
  // delve run wrote the page of the run and said where.
  CHECK(trained.out.find("report: " + run + "/report.html") != std::string::npos);
  check_page(read_bytes(run + "/report.html"));

  const test::DelveResult probed = run_cli({"probe", config, "--batches", "1", "--json", run + "/probe.json"}, tmp);
  REQUIRE_MESSAGE(probed.exit_code == kExitOk, probed.err);
  const std::string out = tmp / "page.html";
  const test::DelveResult made = run_cli({"report", run, "-o", out}, tmp);
  REQUIRE_MESSAGE(made.exit_code == kExitOk, made.err);
  CHECK(made.out.find("wrote " + out + " (1 run,") != std::string::npos);
  const std::string html = read_bytes(out);
  check_page(html);
  check_outcome_row(html, "run", run);
  // PReLU slopes beside Table 1, the probe picture, per-layer maps of the three statistics.
  for (const char* part : {"id=\"slopes\"", "paper Table 1, channel-wise", "id=\"probe\"", "forward: std of the response",
                           "id=\"heatmap-positive_fraction\"", "id=\"heatmap-grad_input_std\"", "id=\"heatmap-response_std\""})
    CHECK_MESSAGE(html.find(part) != std::string::npos, part);
  // The header: what ran where, from the start event.
  const json start = json::parse(read_bytes(run + "/log.jsonl").substr(0, read_bytes(run + "/log.jsonl").find('\n')));
  for (const char* key : {"version", "cpu", "blas_core"})
    CHECK_MESSAGE(html.find("<td>" + start[key].get<std::string>()) != std::string::npos, key);
  CHECK(html.find("<details><summary>run: resolved config</summary>") != std::string::npos);
}

TEST_CASE("report: a 2-member sweep's page compares both members and names the key they differ in") {
  test::TempDir tmp("report_sweep");
  const std::string config = write_config(tmp, R"({"sweep": {"init.kind": ["xavier", "kaiming"]}})");
  const std::string base = tmp / "sweep";
  const test::DelveResult trained = run_cli({"run", config, "--out", base, "--quiet"}, tmp);
  REQUIRE_MESSAGE(trained.exit_code == kExitOk, trained.err);
  CHECK(trained.out.find("report: " + base + "/report.html") != std::string::npos);
  for (const std::string& page : {base + "/report.html", base + "/kind-xavier/report.html", base + "/kind-kaiming/report.html"})
    CHECK_MESSAGE(fs::exists(page), page);
  const std::string html = read_bytes(base + "/report.html");
  check_page(html);
  for (const std::string member : {"kind-xavier", "kind-kaiming"}) {
    check_outcome_row(html, member, base + "/" + member);
    CHECK(html.find("<details><summary>" + member + ": resolved config</summary>") != std::string::npos);
  }
  CHECK(html.find("<tr><th>they differ in</th><td>init.kind</td></tr>") != std::string::npos);
  CHECK(html.find("<th>init.kind</th>") != std::string::npos);
  // One heat map per member in each statistic's picture (their titles are the members' names).
  CHECK(test::count(html, ">kind-xavier</text>") >= 3);
  CHECK(test::count(html, ">kind-kaiming</text>") >= 3);
}

TEST_CASE("report: bad input gets a short error naming the path and a non-zero exit; a torn last log line is no error") {
  test::TempDir tmp("report_bad");
  const std::string config = write_config(tmp), run = tmp / "run";
  REQUIRE(run_cli({"run", config, "--out", run, "--quiet"}, tmp).exit_code == kExitOk);
  const std::string log = read_bytes(run + "/log.jsonl");
  auto copy_with = [&](const std::string& name, const std::string& file, const std::string& bytes) {
    const std::string dir = tmp / name;
    fs::copy(run, dir, fs::copy_options::recursive);
    test::write_bytes(dir + "/" + file, bytes);
    return dir;
  };
  const size_t second_line = log.find('\n') + 1;
  const std::string damaged = copy_with("damaged", "log.jsonl", log.substr(0, second_line) + "{\"event\": tr\n" + log.substr(second_line));
  const std::string torn = copy_with("torn", "log.jsonl", log + "{\"event\": \"tra");
  const std::string bad_summary = copy_with("bad_summary", "summary.json", "{\"status\": ");
  const std::string bad_config = copy_with("bad_config", "config.json", "[1");
  const std::string log_dir = copy_with("log_dir", "summary.json", read_bytes(run + "/summary.json"));
  fs::remove(log_dir + "/log.jsonl");
  fs::create_directory(log_dir + "/log.jsonl");  // there, but unreadable as a file
  fs::create_directories(tmp / "empty/sub");
  struct Row {
    std::vector<std::string> args;
    int exit_code;
    std::string mentions;
  };
  const std::vector<Row> rows = {
      {{"report", tmp / "missing", "-o", tmp / "x.html"}, kExitUsage, tmp / "missing' does not exist"},
      {{"report", tmp / "empty", "-o", tmp / "x.html"}, kExitUsage, tmp / "empty' holds no runs"},
      {{"report", damaged, "-o", tmp / "x.html"}, kExitError, damaged + "/log.jsonl' line 2 is not a JSON event"},
      {{"report", bad_summary, "-o", tmp / "x.html"}, kExitError, bad_summary + "/summary.json' is not a JSON object"},
      {{"report", bad_config, "-o", tmp / "x.html"}, kExitError, bad_config + "/config.json' is not a JSON object"},
      {{"report", log_dir, "-o", tmp / "x.html"}, kExitError, "cannot read log '" + log_dir + "/log.jsonl'"},
      {{"report", run, "-o", tmp / "no/such/dir/x.html"}, kExitError, tmp / "no/such/dir/x.html"},
      {{"report", "-o", tmp / "x.html"}, kExitUsage, "runs is required"},
  };
  for (const Row& row : rows) {
    const test::DelveResult r = run_cli(row.args, tmp);
    CAPTURE(row.args[1]);
    CHECK(r.exit_code == row.exit_code);
    CHECK_MESSAGE(r.err.find(row.mentions) != std::string::npos, r.err);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);  // one line
    CHECK(!fs::exists(tmp / "x.html"));
  }
  // A crash mid-write leaves a torn last line: the page shows the run as the rest of the log has it.
  const test::DelveResult r = run_cli({"report", torn, "-o", tmp / "torn.html"}, tmp);
  CHECK_MESSAGE(r.exit_code == kExitOk, r.err);
  check_page(read_bytes(tmp / "torn.html"));
}

TEST_CASE("report: the page checks catch a broken page") {
  // A small page in the report's form, then one defect at a time: each must be caught.
  const std::string good =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>a &amp; b</title>\n</head>\n"
      "<body>\n<nav><a href=\"#f\">f</a></nav>\n<figure id=\"f\"><svg xmlns=\"http://www.w3.org/2000/svg\">"
      "<clipPath id=\"f-c\"><rect x=\"0\"/></clipPath><g clip-path=\"url(#f-c)\"><text>1 &lt; 2</text></g></svg>"
      "</figure>\n</body>\n</html>\n";
  REQUIRE(test::html_problem(good) == "");
  REQUIRE(outside_reference(good) == "");
  REQUIRE(test::xml_problem(inline_svgs(good).at(0)) == "");
  auto broken = [&](const std::string& from, const std::string& to) {
    std::string page = good;
    const size_t at = page.find(from);
    REQUIRE(at != std::string::npos);
    return page.replace(at, from.size(), to);
  };
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"</nav>", ""},                            // an element never closed
           {"a &amp; b", "a & b"},                    // a bare '&'
           {"1 &lt; 2", "1 > 2"},                     // a bare '>'
           {"lang=\"en\"", "lang=en"},                // an unquoted attribute
           {"<meta charset=\"utf-8\"/>", "<meta charset=\"utf-8\">"},  // a void element left open
           {"<nav>", "<div/><nav>"},                  // a self-closed non-void HTML element
           {"<!DOCTYPE html>\n", ""},                 // no doctype
           {"</figure>", "</section>"}})              // closed out of order
    CHECK_MESSAGE(test::html_problem(broken(from, to)) != "", from);
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"href=\"#f\"", "href=\"https://example.org/\""},
           {"href=\"#f\"", "href=\"#nowhere\""},
           {"url(#f-c)", "url(#c)"},
           {"<rect x=\"0\"/>", "<image src=\"x.png\"/>"},
           {"id=\"f-c\"", "id=\"f\""}})
    CHECK_MESSAGE(outside_reference(broken(from, to)) != "", to);
}
