// delve report RUN_DIR... -o report.html: one self-contained HTML page of a run or a study
// (experiments/plot/report.h).
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "experiments/cli/commands.h"
#include "experiments/plot/plot.h"
#include "experiments/plot/report.h"

namespace delve {

int command_report(const ReportArgs& args) {
  const size_t runs = expand_run_dirs(args.runs).size();  // refuses a bad path before any work
  write_report(args.runs, args.out);
  std::printf("wrote %s (%zu run%s, %ju bytes)\n", args.out.c_str(), runs, runs == 1 ? "" : "s",
              std::uintmax_t(std::filesystem::file_size(args.out)));
  return kExitOk;
}

}  // namespace delve
