// Pictures of runs, drawn as SVG by delve itself (experiments/plot/svg_chart.h): error curves against
// epochs (the paper's Figures 2-3), per-layer statistics against depth, PReLU slopes against depth.
#pragma once
#include <string>
#include <vector>

namespace delve {

// Expands a sweep's parent directory into its member run directories; a run directory stays.
std::vector<std::string> expand_run_dirs(const std::vector<std::string>& paths);
// A short label for a run directory: "kind-xavier" for runs/fig3/kind-xavier.
std::string run_label(const std::string& dir);

// curves.svg in a run directory: train/test error and train loss against epochs.
void write_run_plot(const std::string& dir);
// The same for several runs in one picture (a sweep), legend from the run names.
void write_comparison_plot(const std::vector<std::string>& dirs, const std::string& out, const std::string& title);
// Per-layer statistics against depth, at initialisation and at the end of each run.
void write_layers_plot(const std::vector<std::string>& dirs, const std::string& out, const std::string& metric,
                       const std::string& title);
// A per-layer statistic (rows: weight layers by depth) against iterations (columns), one heat map
// per run on a shared colour scale; P(y > 0) by default, centred on the paper's ½.
void write_layers_heatmap(const std::vector<std::string>& dirs, const std::string& out, const std::string& metric,
                          const std::string& title);
// Learned PReLU slope (mean over channels) against depth, with the paper's Table 1 beside it.
void write_slopes_plot(const std::vector<std::string>& dirs, const std::string& out, const std::string& title);

}  // namespace delve
