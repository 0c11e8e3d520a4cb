// delve plot RUN_DIR... -o FILE.svg
#include <cstdio>

#include "core/error.h"
#include "experiments/cli/commands.h"
#include "experiments/plot/plot.h"

namespace delve {

int command_plot(const PlotArgs& args) {
  const auto dirs = expand_run_dirs(args.runs);
  if (!args.depths.empty() && args.what != "history") throw UsageError("--layers goes with --what history");
  if (args.split != "both" && args.what != "curves") throw UsageError("--split goes with --what curves");
  const Splits splits = args.split == "test" ? Splits::kTest : args.split == "train" ? Splits::kTrain : Splits::kBoth;
  if (args.what == "curves") write_comparison_plot(dirs, args.out, args.title, splits);
  else if (args.what == "history") write_history_plot(dirs, args.out, args.metric, args.depths, args.title);
  else if (args.what == "layers") write_layers_plot(dirs, args.out, args.metric, args.title);
  else if (args.what == "heatmap") write_layers_heatmap(dirs, args.out, args.metric, args.title);
  else write_slopes_plot(dirs, args.out, args.title);
  std::printf("wrote %s (%zu run%s)\n", args.out.c_str(), dirs.size(), dirs.size() == 1 ? "" : "s");
  return kExitOk;
}

}  // namespace delve
