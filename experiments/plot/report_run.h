// What the report (experiments/plot/report.h) says about one run directory, read from the files
// the trainer writes there: config.json (the resolved config), summary.json (final figures, once
// the run has ended) and log.jsonl (the start event: version, machine, threads; the curves).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace delve {

struct ReportRun {
  std::string dir, label;  // label: the directory's name, as in the pictures' legends
  nlohmann::json config;   // config.json, else the start event's config, else {}
  nlohmann::json start;    // the latest start event of the log, {} when there is none
  nlohmann::json summary;  // summary.json, {} while the run has not ended
  std::string status;      // completed | diverged | interrupted (summary), else what the log shows
  double best_train_error = 0, best_test_error = 0;  // NaN when never logged
  long long iteration = 0;                           // the latest one logged
  bool has_layers = false;                           // the log holds "layers" events
  bool has_slopes = false;                           // summary.json lists learned PReLU slopes
};

// Reads one run directory. Throws Error naming the file for a log line that is not a JSON event
// (other than a torn last line) and for a config.json or summary.json that is not a JSON object.
ReportRun read_report_run(const std::string& dir);

// The config keys (flattened JSON pointers such as "/init/kind") whose values differ between the
// runs, in sorted order; empty for a single run.
std::vector<std::string> differing_config_keys(const std::vector<ReportRun>& runs);

}  // namespace delve
