#include "optim/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace delve {

LrSchedule::LrSchedule(ScheduleSpec spec) : spec_(std::move(spec)) {
  const auto& k = spec_.kind;
  if (k != "constant" && k != "step" && k != "multistep" && k != "plateau")
    throw ConfigError("unknown schedule '" + k + "' (expected constant, step, multistep or plateau)");
  if (!(spec_.base_lr > 0.f)) throw ConfigError("learning rate must be positive");
  if (k == "step" && spec_.every <= 0) throw ConfigError("schedule 'step' needs every > 0");
  if (!std::is_sorted(spec_.milestones.begin(), spec_.milestones.end()))
    throw ConfigError("schedule milestones must be increasing");
  state_.lr = spec_.base_lr;
}

void LrSchedule::on_epoch_end(int epoch, double error) {
  const int next = epoch + 1;  // the epoch about to start
  if (spec_.kind == "step") {
    state_.lr = spec_.base_lr * std::pow(spec_.gamma, float(next / spec_.every));
  } else if (spec_.kind == "multistep") {
    auto passed = std::upper_bound(spec_.milestones.begin(), spec_.milestones.end(), next) - spec_.milestones.begin();
    state_.lr = spec_.base_lr * std::pow(spec_.gamma, float(passed));
  } else if (spec_.kind == "plateau") {
    if (error < state_.best_error * (1.0 - spec_.threshold)) {
      state_.best_error = error;
      state_.bad_epochs = 0;
    } else if (++state_.bad_epochs > spec_.patience) {
      state_.lr = std::max(spec_.min_lr, state_.lr * spec_.factor);
      state_.bad_epochs = 0;
      state_.best_error = std::min(state_.best_error, error);
    }
  }
}

}  // namespace delve
