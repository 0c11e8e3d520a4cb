#include "experiments/plot/report_run.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "experiments/plot/plot.h"
#include "experiments/run/run_log.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace delve {

namespace {

// A JSON object file of the run directory; {} when the file is absent.
json read_object_file(const fs::path& path) {
  if (!fs::exists(path)) return json::object();
  std::ifstream in(path);
  if (!in) throw Error("cannot read '" + path.string() + "'");
  std::stringstream text;
  text << in.rdbuf();
  json value = json::parse(text.str(), nullptr, false);
  if (value.is_discarded() || !value.is_object())
    throw Error("'" + path.string() + "' is not a JSON object (a damaged file)");
  return value;
}

double lower(double best, const json& e) {
  if (!e.contains("error") || !e["error"].is_number()) return best;
  const double v = e["error"].get<double>();
  return std::isnan(best) || v < best ? v : best;
}

// What the log says about the run: its start event, best errors, latest iteration, end status.
void read_log(ReportRun& run, std::string& end_status) {
  for (const json& e : read_run_log((fs::path(run.dir) / "log.jsonl").string(), true)) {
    const std::string kind = e.value("event", "");
    if (e.contains("iteration") && e["iteration"].is_number()) run.iteration = e["iteration"].get<long long>();
    if (kind == "start") run.start = e, end_status.clear();
    else if (kind == "train") run.best_train_error = lower(run.best_train_error, e);
    else if (kind == "eval") run.best_test_error = lower(run.best_test_error, e);
    else if (kind == "layers") run.has_layers = true;
    else if (kind == "end") end_status = e.value("status", "");
  }
}

}  // namespace

ReportRun read_report_run(const std::string& dir) {
  ReportRun run;
  run.dir = dir;
  run.label = run_label(dir);
  run.best_train_error = run.best_test_error = NAN;
  run.start = json::object();
  std::string end_status;
  read_log(run, end_status);
  run.config = read_object_file(fs::path(dir) / "config.json");
  if (run.config.empty() && run.start.contains("config")) run.config = run.start["config"];
  run.summary = read_object_file(fs::path(dir) / "summary.json");
  run.status = run.summary.contains("status") && run.summary["status"].is_string() ? run.summary["status"].get<std::string>()
               : !end_status.empty()                                                ? end_status
                                                                                     : "running, or killed";
  run.has_slopes = run.summary.contains("slopes") && run.summary["slopes"].is_array() && !run.summary["slopes"].empty();
  return run;
}

std::vector<std::string> differing_config_keys(const std::vector<ReportRun>& runs) {
  std::map<std::string, std::set<std::string>> values;  // key -> the distinct values' text
  for (const ReportRun& r : runs) {
    const json flat = r.config.flatten();
    for (auto& [key, value] : flat.items()) values[key].insert(value.dump());
  }
  std::vector<std::string> keys;
  for (auto& [key, seen] : values) {
    size_t holders = 0;  // a key that some runs lack differs too
    for (const ReportRun& r : runs) holders += r.config.contains(json::json_pointer(key)) ? 1 : 0;
    if (seen.size() > 1 || holders < runs.size()) keys.push_back(key);
  }
  return keys;
}

}  // namespace delve
