// delve bench: images/s, GFLOP/s, peak memory and per-layer times of a net on synthetic data.
#include <cstdio>

#include "core/error.h"
#include "experiments/bench/bench.h"
#include "experiments/cli/commands.h"
#include "experiments/run/config.h"

namespace delve {

int command_bench(const BenchArgs& args) {
  BenchOptions o;
  const bool preset = args.net == "plain14" || args.net == "plain22" || args.net == "plain30";
  if (preset) {
    o.model.family = args.net;
  } else {
    // A config file: its model, input and batch (the data itself is not loaded).
    const RunConfig cfg = parse_run_config(load_resolved_config(args.net, args.sets));
    o.model = cfg.model;
    o.batch = cfg.train.batch;
    o.threads = cfg.train.threads;
  }
  if (!args.activation.empty()) o.model.activation = args.activation;
  if (args.batch > 0) o.batch = args.batch;
  if (args.threads > 0) o.threads = args.threads;
  o.channels = args.channels;
  o.height = o.width = args.size;
  o.warmup = args.warmup;
  o.steps = args.steps;
  o.layers = args.layers;
  o.conv_algo = args.conv_algo;
  const BenchResult r = run_bench(o);
  if (args.json)
    std::printf("%s\n", bench_json(r).c_str());
  else
    print_bench(r, args.layers);
  return kExitOk;
}

}  // namespace delve
