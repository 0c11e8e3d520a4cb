// Trains one run into its directory: config.json, log.jsonl, summary.json,
// checkpoint.safetensors (README: "Run directory"). Resumes bit for bit from the checkpoint.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "experiments/run/config.h"

namespace delve {

class Communicator;

struct RunOptions {
  std::string dir;
  Communicator* comm = nullptr;  // the ranks training this run together (optim/communicator.h); null: world()
  bool resume = false;    // continue from dir/checkpoint.safetensors (experiments/run/resume.h: what it refuses)
  bool force = false;     // start over in a directory that holds a run (its files go only once nothing can fail)
  bool progress = true;   // progress line on stderr
};

struct RunOutcome {
  int exit_code = 0;  // kExitOk, kExitDiverged or kExitInterrupted
  nlohmann::json summary;
};

// The steps, each a function of trainer.cpp: inspect the directory, build the session (data, net,
// batchers, ranks, schedule), resume from the checkpoint, prepare the directory and start the log,
// the step loop (with evaluation and checkpoints), the summary.
RunOutcome train_run(const RunConfig& config, const RunOptions& options);

// The learned PReLU slopes per layer, as summary.json lists them (also used by `delve slopes`).
nlohmann::json slopes_json(class Net& net);

}  // namespace delve
