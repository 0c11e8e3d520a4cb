#include "experiments/plot/report_tables.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <set>

#include "experiments/plot/svg_text.h"

using nlohmann::json;

namespace delve {

std::string escape_html(const std::string& text) { return escape_xml(text); }  // the same five characters

namespace {

// A JSON value as table text: strings bare, numbers in four significant digits, null as "-".
std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number()) return general(v.get<double>());
  if (v.is_null()) return "-";
  return v.dump();
}

std::string percent(double fraction) { return std::isfinite(fraction) ? fixed(100 * fraction, 2) + "%" : "-"; }
std::string percent(const json& v) { return v.is_number() ? percent(v.get<double>()) : "-"; }

std::string seconds_text(double s) {
  if (!std::isfinite(s)) return "-";
  if (s < 120) return fixed(s, 1) + " s";
  return fixed(s / 60, 1) + " min";
}

// The summary's best test error (over all evaluations); the log's while the run has not ended.
double best_test_error(const ReportRun& r) {
  const json v = r.summary.value("best_test_error", json());
  return v.is_number() ? v.get<double>() : r.best_test_error;
}

// "2026-12-01 23:58:12 UTC" for seconds since the Unix epoch.
std::string utc_time(double unix_seconds) {
  const std::time_t t = std::time_t(unix_seconds);
  std::tm parts{};
  gmtime_r(&t, &parts);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &parts);
  return text;
}

// The distinct values of a start-event field over the runs, in first-seen order.
std::string start_field(const std::vector<ReportRun>& runs, const char* key) {
  std::vector<std::string> seen;
  for (const ReportRun& r : runs) {
    if (!r.start.contains(key)) continue;
    const std::string v = text_of(r.start[key]);
    if (std::find(seen.begin(), seen.end(), v) == seen.end()) seen.push_back(v);
  }
  std::string out;
  for (auto& v : seen) out += (out.empty() ? "" : ", ") + v;
  return out.empty() ? "not recorded" : out;
}

// "/init/kind" -> "init.kind", the form --set and sweeps use.
std::string dotted(const std::string& pointer) {
  std::string out = pointer.substr(pointer.empty() ? 0 : 1);
  for (char& c : out) c = c == '/' ? '.' : c;
  return out;
}

std::string row(const std::string& name, const std::string& value) {
  return "<tr><th>" + escape_html(name) + "</th><td>" + escape_html(value) + "</td></tr>\n";
}

// When the runs started (the earliest start event) and their wall time together.
std::string when_rows(const std::vector<ReportRun>& runs) {
  double first = INFINITY, total = 0;
  for (const ReportRun& r : runs) {
    if (r.start.contains("time") && r.start["time"].is_number()) first = std::min(first, r.start["time"].get<double>());
    total += r.summary.value("seconds", 0.0);
  }
  return row("started", std::isfinite(first) ? utc_time(first) : "not recorded") +
         row("wall time", seconds_text(total) + (runs.size() > 1 ? " (all runs, one after another)" : ""));
}

}  // namespace

std::string report_header(const std::vector<ReportRun>& runs) {
  std::set<std::string> names;
  for (const ReportRun& r : runs) names.insert(r.config.value("name", r.label));
  std::string configs, members, keys;
  for (auto& n : names) configs += (configs.empty() ? "" : ", ") + n;
  for (const ReportRun& r : runs) members += (members.empty() ? "" : ", ") + r.label;
  for (auto& k : differing_config_keys(runs)) keys += (keys.empty() ? "" : ", ") + dotted(k);
  std::string out = "<header>\n<h1>delve report: " + escape_html(configs) + "</h1>\n<table class=\"facts\">\n";
  out += row("config", configs);
  out += row(runs.size() == 1 ? "run" : "runs (" + std::to_string(runs.size()) + ")", members);
  if (runs.size() > 1) out += row("they differ in", keys.empty() ? "nothing (the same config)" : keys);
  out += when_rows(runs);
  out += row("delve version", start_field(runs, "version"));
  out += row("CPU", start_field(runs, "cpu"));
  out += row("BLAS core", start_field(runs, "blas_core") + " (point GEMM: " + start_field(runs, "point_gemm") + ")");
  out += row("threads", start_field(runs, "threads") + " (ranks: " + start_field(runs, "ranks") + ")");
  out += row("parameters", start_field(runs, "parameters"));
  return out + "</table>\n</header>\n";
}

std::string outcome_table(const std::vector<ReportRun>& runs) {
  const std::vector<std::string> keys = differing_config_keys(runs);
  std::string out = "<table class=\"outcome\">\n<thead><tr><th>run</th>";
  for (auto& k : keys) out += "<th>" + escape_html(dotted(k)) + "</th>";
  out += "<th>status</th><th>iterations</th><th>train error</th><th>best train error</th><th>test error</th>"
         "<th>best test error</th><th>train loss</th><th>test loss</th><th>images/s</th><th>skipped steps</th>"
         "<th>time</th></tr></thead>\n<tbody>\n";
  for (const ReportRun& r : runs) {
    const json& s = r.summary;
    auto cell = [](const std::string& text) { return "<td>" + escape_html(text) + "</td>"; };
    out += "<tr><th>" + escape_html(r.label) + "</th>";
    for (auto& k : keys) out += cell(r.config.contains(json::json_pointer(k)) ? text_of(r.config[json::json_pointer(k)]) : "-");
    const std::string status_class = r.status == "completed" ? "ok" : r.status == "diverged" ? "bad" : "warn";
    out += "<td class=\"" + status_class + "\">" + escape_html(r.status) + "</td>";
    out += cell(std::to_string(r.iteration)) + cell(percent(s.value("train_error", json()))) +
           cell(percent(r.best_train_error)) + cell(percent(s.value("test_error", json()))) +
           cell(percent(best_test_error(r))) + cell(text_of(s.value("train_loss", json()))) +
           cell(text_of(s.value("test_loss", json()))) + cell(s.contains("images_per_s") ? fixed(s.value("images_per_s", 0.0), 0) : "-") +
           cell(text_of(s.value("skipped_steps", json()))) + cell(seconds_text(s.value("seconds", NAN)));
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n";
}

std::string config_details(const std::vector<ReportRun>& runs) {
  std::string out;
  for (const ReportRun& r : runs)
    out += "<details><summary>" + escape_html(r.label) + ": resolved config</summary>\n<pre>" +
           escape_html(r.config.dump(2, ' ', false, json::error_handler_t::replace)) + "</pre></details>\n";
  return out;
}

}  // namespace delve
