// Pictures of runs, drawn as SVG by delve itself (experiments/plot/svg_chart.h): error curves against
// epochs (the paper's Figures 2-3), per-layer statistics against depth, PReLU slopes against depth, and
// the probe at initialisation.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace delve {

// Expands a sweep's parent directory into its member run directories; a run directory stays.
std::vector<std::string> expand_run_dirs(const std::vector<std::string>& paths);
// A short label for a run directory: "kind-xavier" for runs/fig3/kind-xavier.
std::string run_label(const std::string& dir);

// Which error curves a comparison draws: training and test, training only, or test only (the
// paper's Figures 2-3 plot the held-out error alone).
enum class Splits { kBoth, kTrain, kTest };

// Each picture as SVG text (for a page that inlines it, experiments/plot/report.h), and written to
// a file (atomically) by the write_* functions below.
std::string comparison_svg(const std::vector<std::string>& dirs, const std::string& title,
                           Splits splits = Splits::kBoth);
std::string test_error_svg(const std::vector<std::string>& dirs, const std::string& title);
std::string layers_svg(const std::vector<std::string>& dirs, const std::string& metric, const std::string& title);
std::string layers_heatmap_svg(const std::vector<std::string>& dirs, const std::string& metric,
                               const std::string& title);
std::string slopes_svg(const std::vector<std::string>& dirs, const std::string& title);

// curves.svg in a run directory: train/test error and train loss against epochs.
void write_run_plot(const std::string& dir);
// The same for several runs in one picture (a sweep), legend from the run names.
// Splits::kTest draws the test error alone, one line per run, and refuses a run without evaluations.
void write_comparison_plot(const std::vector<std::string>& dirs, const std::string& out, const std::string& title,
                           Splits splits = Splits::kBoth);
// Per-layer statistics against depth, at initialisation and at the end of each run.
void write_layers_plot(const std::vector<std::string>& dirs, const std::string& out, const std::string& metric,
                       const std::string& title);
// A per-layer statistic (rows: weight layers by depth) against iterations (columns), one heat map
// per run on a shared colour scale; P(y > 0) by default, centred on the paper's ½.
void write_layers_heatmap(const std::vector<std::string>& dirs, const std::string& out, const std::string& metric,
                          const std::string& title);
// A per-layer statistic against epochs, one chart per chosen weight layer (by depth; default: the
// first, the middle and the deepest) and one line per run: e.g. slope_mean, to see PReLU slopes
// settle. Throws UsageError naming a run that lacks a depth, or a metric no run has there.
std::string history_svg(const std::vector<std::string>& dirs, const std::string& metric,
                        const std::vector<int>& depths, const std::string& title);
void write_history_plot(const std::vector<std::string>& dirs, const std::string& out, const std::string& metric,
                        const std::vector<int>& depths, const std::string& title);
// Learned PReLU slope (mean over channels) against depth, with the paper's Table 1 beside it.
void write_slopes_plot(const std::vector<std::string>& dirs, const std::string& out, const std::string& title);


// The picture of `delve probe` (per weight layer at initialisation: std of the response, of the
// gradient at the layer's input, P(y > 0); one line per sweep member), from the JSON that
// `delve probe --json` writes: {"members": [{"name", "layers": [{"depth", "response_std",
// "grad_input_std", "positive_fraction", ...}]}]}. Throws Error naming `source` when it is not.
std::string probe_svg(const nlohmann::json& probe, const std::string& source);

}  // namespace delve
