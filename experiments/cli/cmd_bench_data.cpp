// delve bench-data [CONFIG]: the data pipeline alone (data/bench.h).
#include <iostream>

#include "data/bench.h"
#include "experiments/cli/commands.h"
#include "experiments/run/config.h"

namespace delve {

int command_bench_data(const BenchDataArgs& args) {
  json user = args.config.empty() ? json::object() : load_config_file(args.config);
  for (auto& s : args.sets) apply_override(user, s);
  json resolved = resolve_config(user, args.config.empty() ? "defaults" : args.config);
  resolved.erase("sweep");
  if (resolved["model"]["family"] == "plain") resolved["model"]["family"] = "plain14";  // the model is not used
  return run_data_benchmark(parse_run_config(resolved).data, args.batch, args.batches, std::cout);
}

}  // namespace delve
