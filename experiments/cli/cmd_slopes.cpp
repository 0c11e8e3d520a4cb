// delve slopes RUN_DIR...: the learned PReLU coefficients as the paper's Table 1.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "experiments/cli/commands.h"
#include "experiments/run/config.h"
#include "experiments/plot/paper_values.h"
#include "experiments/plot/plot.h"

namespace fs = std::filesystem;

namespace delve {

int command_slopes(const SlopesArgs& args) {
  const auto dirs = expand_run_dirs(args.runs);
  json all = json::array();
  for (auto& d : dirs) {
    std::ifstream in(fs::path(d) / "summary.json");
    if (!in) throw UsageError("'" + d + "' has no summary.json (the run has not finished)");
    json summary = json::parse(in, nullptr, false);
    if (summary.is_discarded() || !summary.contains("slopes"))
      throw UsageError("'" + (fs::path(d) / "summary.json").string() + "' is not a delve summary");
    if (summary["slopes"].empty()) throw UsageError("'" + d + "' has no PReLU layers (model.activation is not prelu)");
    all.push_back({{"run", d}, {"label", run_label(d)}, {"slopes", summary["slopes"]}});
  }
  if (args.json) {
    std::printf("%s\n", all.dump(2).c_str());
    return kExitOk;
  }
  // One column per run. The paper's columns stand beside them when the nets have its 13 PReLU
  // layers (the plain14 family: conv1 · 4 × conv 64 · 6 × conv 128 · fc1 · fc2), row for row.
  size_t rows = 0;
  for (auto& r : all) rows = std::max(rows, r["slopes"].size());
  const bool with_paper = rows == paper::kTable1.size();
  std::printf("| depth | layer | shape |");
  for (auto& r : all) std::printf(" %s |", r["label"].get<std::string>().c_str());
  if (with_paper) std::printf(" paper layer | paper shared | paper channel-wise |");
  std::printf("\n|---|---|---|");
  for (size_t i = 0; i < all.size() + (with_paper ? 3 : 0); ++i) std::printf("---|");
  std::printf("\n");
  const json& first = all[0]["slopes"];
  for (size_t i = 0; i < rows; ++i) {
    std::printf("| %zu | %s | %s |", i + 1, i < first.size() ? first[i]["layer"].get<std::string>().c_str() : "",
                i < first.size() ? first[i]["shape"].get<std::string>().c_str() : "");
    for (auto& r : all) {
      const json& s = r["slopes"];
      if (i < s.size()) std::printf(" %.3f%s |", s[i]["mean"].get<double>(), s[i]["channel_shared"].get<bool>() ? "" : " (mean)");
      else std::printf(" |");
    }
    if (with_paper)
      std::printf(" %s | %.3f | %.3f |", paper::kTable1[i].layer, paper::kTable1[i].channel_shared,
                  paper::kTable1[i].channel_wise_mean);
    std::printf("\n");
  }
  if (with_paper)
    std::printf("\nPaper: He et al. 2015, Table 1, the 14-layer ImageNet model (7x7 and 2x2 filters there, 3x3 here).\n");
  else
    std::printf("\nThe paper's Table 1 has 13 PReLU layers and this net %zu, so its columns are left out; the plain14\n"
                "family matches it row for row.\n", rows);
  return kExitOk;
}

}  // namespace delve
