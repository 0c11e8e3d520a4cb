#include "experiments/plot/report.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "experiments/plot/plot.h"
#include "experiments/plot/report_run.h"
#include "experiments/plot/report_tables.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace delve {

namespace {

// No script, no external font or image: the page reads the same offline and in a mail client.
// (No '<', '>' or '&' in here: the page's checker treats style text as text.)
constexpr const char* kStyle = R"(
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 1.5em auto; max-width: 1100px;
       padding: 0 1em; color: #222; background: white; }
h1 { font-size: 1.5em; margin-bottom: 0.4em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ccc; }
nav { margin-top: 1em; } nav a { margin-right: 1em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
table.outcome td { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
thead th { background: #f3f3f3; }
td.ok { color: #1a7f37; } td.bad { color: #c62828; font-weight: bold; } td.warn { color: #b26a00; }
figure { margin: 1em 0; } figcaption { font-size: 0.85em; color: #555; margin-top: 0.3em; }
svg { max-width: 100%; height: auto; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.8em; }
details { margin: 0.4em 0; } summary { cursor: pointer; }
p.note { color: #555; font-size: 0.9em; }
)";

// Several pictures share one HTML document and so one id namespace: each picture's ids (its
// clip paths) get the picture's own prefix, in the definitions and in the references alike.
std::string with_id_prefix(std::string svg, const std::string& prefix) {
  for (const std::string from : {"id=\"", "url(#"}) {
    const std::string to = from + prefix + "-";
    for (size_t at = svg.find(from); at != std::string::npos; at = svg.find(from, at + to.size()))
      svg.replace(at, from.size(), to);
  }
  return svg;
}

std::string figure(const std::string& id, const std::string& svg, const std::string& caption) {
  return "<figure id=\"" + id + "\">\n" + with_id_prefix(svg, id) + "<figcaption>" + escape_html(caption) +
         "</figcaption>\n</figure>\n";
}

std::string section(const std::string& id, const std::string& title, const std::string& body) {
  return "<section id=\"" + id + "\">\n<h2>" + escape_html(title) + "</h2>\n" + body + "</section>\n";
}

std::string note(const std::string& text) { return "<p class=\"note\">" + escape_html(text) + "</p>\n"; }

std::vector<std::string> dirs_of(const std::vector<ReportRun>& runs, bool ReportRun::*has) {
  std::vector<std::string> dirs;
  for (const ReportRun& r : runs)
    if (!has || r.*has) dirs.push_back(r.dir);
  return dirs;
}

// One heat map per run and statistic, on a colour scale shared by the runs.
std::string heatmaps(const std::vector<ReportRun>& runs) {
  const std::vector<std::string> dirs = dirs_of(runs, &ReportRun::has_layers);
  if (dirs.empty()) return note("No \"layers\" events in the logs: set train.layers_every to record per-layer statistics.");
  const struct { const char* metric; const char* what; } maps[] = {
      {"positive_fraction", "P(y > 0) per weight layer over training; white is the paper's 1/2 (Eq. 10 assumes it)."},
      {"grad_input_std", "Std of the gradient at each weight layer's input: a stalling deep net shows it vanish (Eq. 14)."},
      {"response_std", "Std of each weight layer's response: it should neither explode nor vanish with depth (Eq. 10)."}};
  std::string out;
  for (auto& m : maps) {
    try {
      out += figure(std::string("heatmap-") + m.metric, layers_heatmap_svg(dirs, m.metric, ""), m.what);
    } catch (const UsageError&) {  // e.g. a run that diverged before its first finite statistic
      out += note(std::string("No finite values of ") + m.metric + " in the logs.");
    }
  }
  return out;
}

// The probe.json files in the given directories and the run directories, each once.
std::vector<std::string> probe_files(const std::vector<std::string>& paths, const std::vector<ReportRun>& runs) {
  std::vector<std::string> candidates = paths, found;
  for (const ReportRun& r : runs) candidates.push_back(r.dir);
  std::set<fs::path> seen;
  for (auto& c : candidates) {
    const fs::path file = fs::path(c) / "probe.json";
    if (fs::is_regular_file(file) && seen.insert(fs::weakly_canonical(file)).second) found.push_back(file.string());
  }
  return found;
}

std::string probes(const std::vector<std::string>& files) {
  std::string out;
  for (size_t i = 0; i < files.size(); ++i) {
    std::ifstream in(files[i]);
    std::stringstream text;
    text << in.rdbuf();
    const json probe = json::parse(text.str(), nullptr, false);
    if (!in || probe.is_discarded()) throw Error("'" + files[i] + "' is not a JSON file (a damaged probe)");
    out += figure("probe-" + std::to_string(i), probe_svg(probe, files[i]),
                  files[i] + ": at initialisation, per weight layer (delve probe).");
  }
  return out;
}

}  // namespace

namespace {

struct Part {
  std::string id, title, body;
};

// The pictures' sections, each only when the runs have something to show in it.
std::vector<Part> picture_parts(const std::vector<std::string>& paths, const std::vector<ReportRun>& runs) {
  const std::string name = runs.size() == 1 ? runs.front().label : "";
  std::vector<Part> parts;
  parts.push_back({"curves", "Error and loss",
                   figure("curves-figure", comparison_svg(dirs_of(runs, nullptr), name),
                          "Train error (running mean over the logged steps, solid), test error (dashed) and "
                          "training loss against epochs.")});
  parts.push_back({"layers", "Per-layer statistics", heatmaps(runs)});
  const std::vector<std::string> sloped = dirs_of(runs, &ReportRun::has_slopes);
  if (!sloped.empty())
    parts.push_back({"slopes", "Learned PReLU slopes",
                     figure("slopes-figure", slopes_svg(sloped, ""),
                            "Mean learned slope a per PReLU layer against depth, beside the paper's Table 1 "
                            "(14-layer ImageNet model, channel-shared and channel-wise).")});
  const std::vector<std::string> probe = probe_files(paths, runs);
  if (!probe.empty()) parts.push_back({"probe", "Probe at initialisation", probes(probe)});
  return parts;
}

std::string page(const std::string& title, const std::string& header, const std::vector<Part>& parts) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>" +
                    escape_html(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n" + header +
                    "<nav>";
  for (const Part& p : parts) out += "<a href=\"#" + p.id + "\">" + escape_html(p.title) + "</a>";
  out += "</nav>\n";
  for (const Part& p : parts) out += section(p.id, p.title, p.body);
  return out + "</body>\n</html>\n";
}

}  // namespace

std::string report_html(const std::vector<std::string>& paths) {
  std::vector<ReportRun> runs;
  for (const std::string& dir : expand_run_dirs(paths)) runs.push_back(read_report_run(dir));
  std::vector<Part> parts = {{"outcome", "Outcome", outcome_table(runs)}};
  for (Part& p : picture_parts(paths, runs)) parts.push_back(std::move(p));
  parts.push_back({"configs", "Configs", config_details(runs)});
  std::string title = "delve report: " + (runs.size() == 1 ? runs.front().label : run_label(paths.front()));
  return page(title, report_header(runs), parts);
}

void write_report(const std::vector<std::string>& paths, const std::string& out) {
  write_text_file_atomic(out, report_html(paths));
}

}  // namespace delve
