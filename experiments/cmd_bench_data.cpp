// delve bench-data [CONFIG]: the data pipeline alone (data/bench.h).
#include <iostream>

#include "data/bench.h"
#include "experiments/commands.h"
#include "experiments/config.h"

namespace delve {

int command_bench_data(const std::string& config, const std::vector<std::string>& sets, int batch, int batches) {
  json user = config.empty() ? json::object() : load_config_file(config);
  for (auto& s : sets) apply_override(user, s);
  json resolved = resolve_config(user, config.empty() ? "defaults" : config);
  resolved.erase("sweep");
  if (resolved["model"]["family"] == "plain") resolved["model"]["family"] = "plain14";  // the model is not used
  return run_data_benchmark(parse_run_config(resolved).data, batch, batches, std::cout);
}

}  // namespace delve
