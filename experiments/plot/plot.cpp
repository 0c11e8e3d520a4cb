#include "experiments/plot/plot.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "experiments/plot/paper_values.h"
#include "experiments/run/run_log.h"
#include "experiments/plot/svg_chart.h"
#include "experiments/plot/svg_heatmap.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace delve {

std::vector<std::string> expand_run_dirs(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (auto& p : paths) {
    if (fs::exists(fs::path(p) / "log.jsonl")) {
      out.push_back(p);
      continue;
    }
    if (!fs::exists(p)) throw UsageError("'" + p + "' does not exist");
    if (!fs::is_directory(p)) throw UsageError("'" + p + "' is not a run directory (no log.jsonl) nor a directory of runs");
    std::vector<std::string> members;
    for (auto& e : fs::directory_iterator(p))
      if (e.is_directory() && fs::exists(e.path() / "log.jsonl")) members.push_back(e.path().string());
    if (members.empty()) throw UsageError("'" + p + "' holds no runs (no log.jsonl in it or in its sub-directories)");
    std::sort(members.begin(), members.end());
    out.insert(out.end(), members.begin(), members.end());
  }
  return out;
}

std::string run_label(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

namespace {

double num(const json& e, const char* key) {
  return e.contains(key) && e[key].is_number() ? e[key].get<double>() : NAN;
}

// Fractions and slopes read best on a linear axis; standard deviations, norms and ratios span
// decades.
bool log_metric(const std::string& m) {
  return m != "positive_fraction" && m != "positive_min" && m != "positive_max" && m.rfind("slope", 0) != 0;
}

std::vector<json> layer_events(const std::string& dir) {
  std::vector<json> events;
  for (auto& e : read_run_log((fs::path(dir) / "log.jsonl").string()))
    if (e.value("event", "") == "layers") events.push_back(std::move(e));
  return events;
}

struct Curves {
  Series train_error, test_error, train_loss;
};

Curves read_curves(const std::string& dir, const std::string& label) {
  Curves c;
  c.train_error.label = label + " train";
  c.test_error.label = label + " test";
  c.train_loss.label = label;  // the loss panel's legend: the runs, all trained
  for (auto& e : read_run_log((fs::path(dir) / "log.jsonl").string())) {
    const std::string kind = e.value("event", "");
    if (kind == "train") {
      c.train_error.x.push_back(num(e, "epoch"));
      c.train_error.y.push_back(100 * num(e, "error"));
      c.train_loss.x.push_back(num(e, "epoch"));
      c.train_loss.y.push_back(num(e, "loss"));
    } else if (kind == "eval") {
      c.test_error.x.push_back(num(e, "epoch"));
      c.test_error.y.push_back(100 * num(e, "error"));
    }
  }
  return c;
}

}  // namespace

// One colour per run, the same in both panels, and one line style per split: train solid, test
// dashed. The legend says each once: the runs by colour, the splits by a grey swatch.
std::string comparison_svg(const std::vector<std::string>& dirs, const std::string& title, Splits splits) {
  if (splits == Splits::kTest) return test_error_svg(dirs, title);
  Chart errors{title.empty() ? "error" : title + ": error", "epochs", "error (%)", {}, 0.0, std::nullopt, false};
  Chart loss{"training loss", "epochs", "loss", {}, std::nullopt, std::nullopt, true};
  const bool one_run = dirs.size() == 1, with_test = splits == Splits::kBoth;
  const int train = LineStyle::kSolid, test = LineStyle::kDashed;
  for (size_t r = 0; r < dirs.size(); ++r) {
    const int colour = int(r);
    Curves c = read_curves(dirs[r], one_run ? "train" : run_label(dirs[r]));
    c.train_error.style = c.train_loss.style = LineStyle{colour, train};
    c.test_error.style = LineStyle{colour, test};
    if (!one_run) errors.legend.push_back({run_label(dirs[r]), {colour, train}});
    errors.series.push_back(std::move(c.train_error));
    if (with_test && !c.test_error.x.empty()) errors.series.push_back(std::move(c.test_error));
    loss.series.push_back(std::move(c.train_loss));
  }
  const int key = one_run ? 0 : LineStyle::kNeutral;  // one run: its own colour; several: grey
  errors.legend.push_back({"train (running mean)", {key, train}});
  if (with_test) errors.legend.push_back({"test", {key, test}});
  return render_svg({errors, loss}, 2);
}

// The paper's Figures 2-3 plot the error on 3,000 held-out images only: one line per run.
std::string test_error_svg(const std::vector<std::string>& dirs, const std::string& title) {
  Chart errors{title.empty() ? "test error" : title + ": test error", "epochs", "error (%)", {}, 0.0, std::nullopt,
               false};
  for (size_t r = 0; r < dirs.size(); ++r) {
    Curves c = read_curves(dirs[r], run_label(dirs[r]));
    if (c.test_error.x.empty())
      throw UsageError("'" + dirs[r] + "' has no test evaluations (\"eval\" events; set train.eval_every)");
    c.test_error.label = run_label(dirs[r]);
    c.test_error.style = LineStyle{int(r), LineStyle::kSolid};
    errors.series.push_back(std::move(c.test_error));
  }
  return render_svg({errors}, 1, 640, 420);
}

void write_comparison_plot(const std::vector<std::string>& dirs, const std::string& out, const std::string& title,
                           Splits splits) {
  write_text_file_atomic(out, comparison_svg(dirs, title, splits));
}

void write_run_plot(const std::string& dir) {
  write_comparison_plot({dir}, (fs::path(dir) / "curves.svg").string(), run_label(dir), Splits::kBoth);
}

std::string layers_svg(const std::vector<std::string>& dirs, const std::string& metric, const std::string& title) {
  std::vector<std::string> metrics =
      metric.empty() ? std::vector<std::string>{"response_std", "grad_input_std", "positive_fraction", "update_ratio"}
                     : std::vector<std::string>{metric};
  std::vector<Chart> charts;
  for (auto& m : metrics) {
    const bool log_scale = log_metric(m);
    Chart chart{(title.empty() ? "" : title + ": ") + m, "weight layer (depth)", m, {}, std::nullopt, std::nullopt, log_scale};
    const bool several = dirs.size() > 1;
    for (size_t r = 0; r < dirs.size(); ++r) {
      const std::vector<json> events = layer_events(dirs[r]);
      if (events.empty()) continue;
      std::vector<const json*> picks{&events.front()};
      if (events.size() > 1) picks.push_back(&events.back());
      for (size_t k = 0; k < picks.size(); ++k) {
        Series s;
        s.label = (several ? run_label(dirs[r]) + " " : "") + "iter " +
                  std::to_string((*picks[k])["iteration"].get<long long>());
        // Several runs: a colour per run, the first event solid and the last dashed, said once each
        // in the legend (long per-line labels would crowd the plot).
        if (several) s.style = LineStyle{int(r), k == 0 ? LineStyle::kSolid : LineStyle::kDashed};
        for (auto& l : (*picks[k])["layers"]) {
          s.x.push_back(l["depth"].get<double>());
          s.y.push_back(num(l, m.c_str()));
        }
        chart.series.push_back(std::move(s));
      }
      if (several) chart.legend.push_back({run_label(dirs[r]), {int(r), LineStyle::kSolid}});
    }
    if (chart.series.empty()) throw UsageError("no \"layers\" events in the given runs");
    if (several) {
      chart.legend.push_back({"first layers event", {LineStyle::kNeutral, LineStyle::kSolid}});
      chart.legend.push_back({"last layers event", {LineStyle::kNeutral, LineStyle::kDashed}});
    }
    charts.push_back(std::move(chart));
  }
  return render_svg(charts, charts.size() > 1 ? 2 : 1);
}

void write_layers_plot(const std::vector<std::string>& dirs, const std::string& out, const std::string& metric,
                       const std::string& title) {
  write_text_file_atomic(out, layers_svg(dirs, metric, title));
}

std::string layers_heatmap_svg(const std::vector<std::string>& dirs, const std::string& metric,
                               const std::string& title) {
  const std::string m = metric.empty() ? "positive_fraction" : metric;
  std::vector<Heatmap> maps;
  double lo = INFINITY, hi = -INFINITY;
  for (auto& d : dirs) {
    const std::vector<json> events = layer_events(d);
    if (events.empty()) continue;
    Heatmap map;
    map.title = (title.empty() ? "" : title + ": ") + run_label(d);
    map.x_label = "iteration";
    map.y_label = "weight layer (depth)";
    map.value_label = m;
    for (auto& l : events.front()["layers"])
      map.rows.push_back(std::to_string(l["depth"].get<int>()) + " " + l.value("layer", ""));
    std::vector<const json*> columns;  // one per iteration: a resumed run may log one twice
    for (auto& e : events) {
      const double it = e["iteration"].get<double>();
      if (!map.x.empty() && !(it > map.x.back())) continue;
      map.x.push_back(it);
      columns.push_back(&e);
    }
    map.values.assign(map.rows.size() * map.x.size(), NAN);
    for (size_t j = 0; j < columns.size(); ++j) {
      const auto& layers = (*columns[j])["layers"];
      for (size_t i = 0; i < map.rows.size() && i < layers.size(); ++i) {
        const double v = num(layers[i], m.c_str());
        map.values[i * map.x.size() + j] = v;
        if (std::isfinite(v) && (!log_metric(m) || v > 0)) lo = std::min(lo, v), hi = std::max(hi, v);
      }
    }
    maps.push_back(std::move(map));
  }
  if (maps.empty()) throw UsageError("no \"layers\" events in the given runs (set train.layers_every)");
  if (!(lo <= hi)) throw UsageError("no run has a value of '" + m + "' in its \"layers\" events");
  // One colour scale for all the maps, so that runs compare by colour.
  for (auto& map : maps) {
    map.log_scale = log_metric(m);
    if (m == "positive_fraction" || m == "positive_min" || m == "positive_max") {
      map.lo = 0, map.hi = 1, map.centre = 0.5;  // the paper's assumption: P(y > 0) = 1/2
    } else if (map.log_scale) {
      map.lo = std::pow(10.0, std::floor(std::log10(lo)));
      map.hi = std::pow(10.0, std::ceil(std::log10(hi)));
      if (map.lo >= map.hi) map.hi = map.lo * 10;
    } else {
      map.lo = lo, map.hi = hi > lo ? hi : lo + 1;
    }
  }
  return render_heatmaps_svg(maps, maps.size() > 1 ? 2 : 1);
}

void write_layers_heatmap(const std::vector<std::string>& dirs, const std::string& out, const std::string& metric,
                          const std::string& title) {
  write_text_file_atomic(out, layers_heatmap_svg(dirs, metric, title));
}

namespace {

const json* layer_at_depth(const json& layers, int depth) {
  for (const json& l : layers)
    if (l.contains("depth") && l["depth"].is_number() && l["depth"].get<int>() == depth) return &l;
  return nullptr;
}

// The depths asked for, else the first, the middle and the deepest weight layer of the first run.
std::vector<int> history_depths(const std::vector<std::vector<json>>& runs, const std::vector<int>& asked) {
  if (!asked.empty()) return asked;
  for (auto& events : runs) {
    if (events.empty()) continue;
    const int n = int(events.front()["layers"].size());
    std::vector<int> depths{1};
    if ((n + 1) / 2 > 1) depths.push_back((n + 1) / 2);
    if (n > depths.back()) depths.push_back(n);
    return depths;
  }
  throw UsageError("no \"layers\" events in the given runs (set train.layers_every)");
}

// One layer's statistic against epochs in one run, a point per layers event (a resumed run's
// repeated iteration once).
Series layer_history(const std::string& dir, const std::vector<json>& events, int depth, const std::string& m,
                     std::string& layer_name) {
  Series s;
  s.label = run_label(dir);
  double last_iteration = -1;
  for (const json& e : events) {
    const double it = num(e, "iteration");
    if (!(it > last_iteration)) continue;
    last_iteration = it;
    const json* l = layer_at_depth(e["layers"], depth);
    if (!l) throw UsageError("'" + dir + "' has no weight layer at depth " + std::to_string(depth) + " (it has " +
                             std::to_string(e["layers"].size()) + ")");
    if (layer_name.empty()) layer_name = l->value("layer", "");
    s.x.push_back(num(e, "epoch"));
    s.y.push_back(num(*l, m.c_str()));
  }
  return s;
}

}  // namespace

std::string history_svg(const std::vector<std::string>& dirs, const std::string& metric,
                        const std::vector<int>& depths_asked, const std::string& title) {
  const std::string m = metric.empty() ? "positive_fraction" : metric;
  std::vector<std::vector<json>> runs;
  for (auto& d : dirs) runs.push_back(layer_events(d));
  std::vector<Chart> charts;
  for (int depth : history_depths(runs, depths_asked)) {
    Chart chart{"", "epochs", m, {}, std::nullopt, std::nullopt, log_metric(m)};
    std::string layer_name;
    bool any = false;
    for (size_t r = 0; r < dirs.size(); ++r) {
      if (runs[r].empty()) continue;
      Series s = layer_history(dirs[r], runs[r], depth, m, layer_name);
      s.style = LineStyle{int(r), LineStyle::kSolid};
      for (double v : s.y) any = any || std::isfinite(v);
      chart.series.push_back(std::move(s));
    }
    if (!any) throw UsageError("no run has a value of '" + m + "' at depth " + std::to_string(depth));
    chart.title = (title.empty() ? "" : title + ": ") + "depth " + std::to_string(depth) +
                  (layer_name.empty() ? "" : " (" + layer_name + ")");
    charts.push_back(std::move(chart));
  }
  return render_svg(charts, std::min<int>(int(charts.size()), 3), 460, 340);
}

void write_history_plot(const std::vector<std::string>& dirs, const std::string& out, const std::string& metric,
                        const std::vector<int>& depths, const std::string& title) {
  write_text_file_atomic(out, history_svg(dirs, metric, depths, title));
}

std::string slopes_svg(const std::vector<std::string>& dirs, const std::string& title) {
  Chart chart{title.empty() ? "learned PReLU slopes" : title, "layer (depth among PReLU layers)", "slope a (mean over channels)",
              {}, std::nullopt, std::nullopt, false};
  for (auto& d : dirs) {
    std::ifstream in(fs::path(d) / "summary.json");
    if (!in) throw UsageError("'" + d + "' has no summary.json (the run has not finished)");
    json summary = json::parse(in, nullptr, false);
    if (summary.is_discarded() || !summary.contains("slopes")) throw UsageError("'" + d + "/summary.json' is not a delve summary");
    Series s;
    s.label = run_label(d);
    int depth = 0;
    for (auto& row : summary["slopes"]) {
      s.x.push_back(++depth);
      s.y.push_back(row["mean"].get<double>());
    }
    if (!s.x.empty()) chart.series.push_back(std::move(s));
  }
  Series shared{"paper Table 1, channel-shared", {}, {}}, wise{"paper Table 1, channel-wise", {}, {}};
  for (size_t i = 0; i < paper::kTable1.size(); ++i) {
    shared.x.push_back(double(i + 1));
    shared.y.push_back(paper::kTable1[i].channel_shared);
    wise.x.push_back(double(i + 1));
    wise.y.push_back(paper::kTable1[i].channel_wise_mean);
  }
  chart.series.push_back(shared);
  chart.series.push_back(wise);
  return render_svg({chart}, 1);
}

void write_slopes_plot(const std::vector<std::string>& dirs, const std::string& out, const std::string& title) {
  write_text_file_atomic(out, slopes_svg(dirs, title));
}

std::string probe_svg(const json& probe, const std::string& source) {
  if (!probe.is_object() || !probe.contains("members") || !probe["members"].is_array())
    throw Error("'" + source + "' is not the output of delve probe --json (no \"members\" list)");
  Chart fwd{"forward: std of the response y_l", "weight layer (depth)", "std(y)", {}, std::nullopt, std::nullopt, true};
  Chart bwd{"backward: std of dL/dx_l", "weight layer (depth)", "std(dL/dx)", {}, std::nullopt, std::nullopt, true};
  Chart pos{"P(y_l > 0)", "weight layer (depth)", "fraction positive", {}, 0.0, 1.0, false};
  for (const json& m : probe["members"]) {
    if (!m.is_object() || !m.contains("layers") || !m["layers"].is_array())
      throw Error("'" + source + "': a member without a \"layers\" list");
    const std::string label = m.value("name", "");
    Series f{label, {}, {}}, b{label, {}, {}}, p{label, {}, {}};
    for (const json& l : m["layers"]) {
      const double depth = num(l, "depth");
      f.x.push_back(depth), f.y.push_back(num(l, "response_std"));
      b.x.push_back(depth), b.y.push_back(num(l, "grad_input_std"));
      p.x.push_back(depth), p.y.push_back(num(l, "positive_fraction"));
    }
    fwd.series.push_back(f), bwd.series.push_back(b), pos.series.push_back(p);
  }
  return render_svg({fwd, bwd, pos}, 3, 460, 360);
}

}  // namespace delve
