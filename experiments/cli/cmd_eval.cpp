// delve eval CHECKPOINT: loss and error of a saved model on the test (or train) split.
#include <cstdio>

#include "core/blas.h"
#include "core/error.h"
#include "experiments/run/checkpoint.h"
#include "experiments/cli/commands.h"
#include "experiments/run/config.h"
#include "experiments/run/evaluate.h"
#include "experiments/run/session.h"
#include "optim/communicator.h"

namespace delve {

namespace {

// kEvalSetKeys: the data and how it is batched. The model comes from the checkpoint, and the
// initialisation, the optimiser and the length of training play no part, so overriding them
// would silently change nothing: such a --set is refused.

void check_eval_reads(const std::string& assignment) {
  const std::string key = assignment.substr(0, assignment.find('='));
  const bool reads = key == "data" || key.rfind("data.", 0) == 0 || key == "seed" || key == "train.batch" ||
                     key == "train.eval_subset" || key == "train.threads";
  if (!reads)
    throw ConfigError("--set " + clipped(assignment) + ": eval does not use \"" + clipped(key) + "\" (it reads " +
                      kEvalSetKeys + ")");
}

}  // namespace

int command_eval(const EvalArgs& args) {
  LoadedCheckpoint header = read_checkpoint_header(args.checkpoint);
  json user = header.config;
  if (user.is_object() && user.contains("train") && user["train"].is_object())
    user["train"]["eval_subset"] = 0;  // the whole split, unless --set asks for the first N images
  for (auto& s : args.sets) {
    check_eval_reads(s);
    apply_override(user, s);
  }
  json resolved = resolve_config(user, args.checkpoint + " (config)");
  RunConfig cfg = parse_run_config(resolved);
  set_worker_threads(cfg.train.threads > 0 ? cfg.train.threads : default_threads());
  auto session = open_session(cfg);
  load_checkpoint(args.checkpoint, session->net, false);
  Dataset& split = args.split == "test" ? session->data.test : session->data.train;
  keep_first_images(split, size_t(cfg.train.eval_subset));  // the normaliser was fitted already
  Batcher batches(split, *session->normalizer, cfg.data, cfg.train.batch, false);
  EvalResult r = evaluate(session->net, batches);
  std::printf("%s  %s split: %zu images  loss %.4f  error %.2f%%  (iteration %lld)\n", args.checkpoint.c_str(),
              args.split.c_str(), r.images, r.loss, 100.0 * r.error, (long long)header.state.iteration);
  return kExitOk;
}

}  // namespace delve
