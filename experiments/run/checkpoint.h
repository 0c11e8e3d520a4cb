// checkpoint.safetensors: the whole state of a run, so that --resume continues bit for bit.
//
// Tensors: every parameter under its PyTorch name and shape ("conv1.weight" [out,in,kh,kw],
// "fc1.weight" [out,in], "prelu1.weight" [C] or [1]) and its momentum as "momentum.<name>".
// __metadata__ (strings, as the format requires): format, format_version, iteration, epoch,
// batch_in_epoch (the data cursor: the next batch to draw), rng (the net's dropout generator),
// lr / lr_best_error / lr_bad_epochs (the schedule), best_test_error, elapsed_seconds, config
// (the resolved config as JSON), delve_version.
// Written atomically (temp file, fsync, rename): a crash leaves the previous checkpoint whole.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "layers/net.h"
#include "optim/schedule.h"

namespace delve {

constexpr int kCheckpointFormatVersion = 1;

// The running sums behind the logged means: the train events' current interval, the current epoch,
// and the steps skipped so far. A checkpoint holds them, so that a resumed run logs the same means
// as an uninterrupted one, also for the epoch an interrupt cut in two.
struct RunningSums {
  double interval_loss = 0, interval_error = 0, epoch_loss = 0, epoch_error = 0;
  int64_t interval_steps = 0, epoch_steps = 0, skipped = 0;
};

struct TrainState {
  int64_t iteration = 0;       // steps done
  int64_t epoch = 0;           // epoch of the next batch
  int64_t batch_in_epoch = 0;  // index of the next batch within its epoch
  LrSchedule::State schedule;
  double best_test_error = -1;  // -1: not evaluated yet
  double elapsed_seconds = 0;
  RunningSums sums;
};

void save_checkpoint(const std::string& path, Net& net, const TrainState& state, const nlohmann::json& config);

struct LoadedCheckpoint {
  TrainState state;
  nlohmann::json config;
};
// Reads the config and state only (no net needed): for `delve eval` and for resume checks.
LoadedCheckpoint read_checkpoint_header(const std::string& path);
// Loads parameters (and momentum, with_momentum) into a built net. Refuses, naming the first
// mismatching tensor, a checkpoint whose tensors do not match the net.
LoadedCheckpoint load_checkpoint(const std::string& path, Net& net, bool with_momentum = true);

}  // namespace delve
