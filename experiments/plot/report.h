// `delve report`: one self-contained HTML page that reads a run or a study the way TensorBoard
// would, without a server, a script or a network: what was run and on what machine, an outcome
// table, the error and loss curves of all runs together, per-layer heat maps, learned PReLU
// slopes beside the paper's Table 1, the probe at initialisation, and each run's resolved config.
// The pictures are the SVG of experiments/plot/plot.h, inlined; the page is only their layout.
#pragma once
#include <string>
#include <vector>

namespace delve {

// The page for `paths`: run directories, or a sweep's parent directory (each expanded as
// expand_run_dirs does). A probe.json (`delve probe CONFIG --json DIR/probe.json`) in a given
// directory or a run directory adds the probe picture. Throws UsageError for a path that does not
// exist or holds no run, Error naming the file for a damaged log, config or summary.
std::string report_html(const std::vector<std::string>& paths);

// The page written to `out` atomically (core/atomic_file.h).
void write_report(const std::vector<std::string>& paths, const std::string& out);

}  // namespace delve
