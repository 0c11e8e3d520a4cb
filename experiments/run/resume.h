// What a resume may do, decided before any file is touched, and what it takes over from the run
// it continues (README: "Using delve", run --resume). Every function is collective where it says
// so: rank 0 reads the run directory and the others learn the answer.
#pragma once
#include <cmath>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "experiments/run/run_directory.h"

namespace delve {

class Communicator;

// The figures a summary reports: the last epoch's train loss and error, the last evaluation.
struct Figures {
  double train_loss = NAN, train_error = NAN, test_loss = NAN, test_error = NAN;
  int64_t eval_iteration = -1;  // of the last evaluation, -1: none yet
};

// The steps a config plans (its resolved "train" section) over `images` training images.
int64_t planned_iterations(const nlohmann::json& train, int64_t images);

// Collective. Whether a resume of a checkpoint at `done` of the `planned` steps of its config
// (`before`), now with `total` steps and config `after`, trains: true to go on, false when the run
// is already complete with this very config (nothing to do; rank 0 says so). UsageError when it
// would shorten the run, or train nothing with a changed config; a changed config that does
// train is named on stderr with its old and new values.
bool check_resume(const RunDirectory& run, int64_t done, int64_t planned, int64_t total, const nlohmann::json& before,
                  const nlohmann::json& after, Communicator& comm);

// Collective. The latest train and test figures the run had logged up to its checkpoint at
// `done`, so that a resumed summary reports them as an uninterrupted run would.
Figures recover_figures(const RunDirectory& run, int64_t done, Communicator& comm);

// summary.json of the run, or null when it is missing or unreadable (rank 0's view).
nlohmann::json read_summary_file(const RunDirectory& run);

}  // namespace delve
