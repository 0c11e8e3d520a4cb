// delve eval CHECKPOINT: loss and error of a saved model on the test (or train) split.
#include <cstdio>

#include "core/error.h"
#include "experiments/checkpoint.h"
#include "experiments/commands.h"
#include "experiments/config.h"
#include "experiments/evaluate.h"
#include "experiments/session.h"

namespace delve {

int command_eval(const EvalArgs& args) {
  LoadedCheckpoint header = read_checkpoint_header(args.checkpoint);
  json user = header.config;
  for (auto& s : args.sets) apply_override(user, s);
  json resolved = resolve_config(user, args.checkpoint + " (config)");
  resolved["train"]["eval_subset"] = 0;  // the whole split
  RunConfig cfg = parse_run_config(resolved);
  auto session = open_session(cfg);
  load_checkpoint(args.checkpoint, session->net, false);
  const Dataset& split = args.split == "test" ? session->data.test : session->data.train;
  Batcher batches(split, *session->normalizer, cfg.data, cfg.train.batch, false);
  EvalResult r = evaluate(session->net, batches);
  std::printf("%s  %s split: %zu images  loss %.4f  error %.2f%%  (iteration %lld)\n", args.checkpoint.c_str(),
              args.split.c_str(), r.images, r.loss, 100.0 * r.error, (long long)header.state.iteration);
  return kExitOk;
}

}  // namespace delve
