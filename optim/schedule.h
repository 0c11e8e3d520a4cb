// Learning-rate schedules, by epoch:
//   constant                 lr = base
//   step {every, gamma}      lr = base · gamma^floor(epoch / every)
//   multistep {milestones, gamma}  lr = base · gamma^(number of milestones ≤ epoch)
//   plateau {patience, factor, threshold, min_lr}
//       the paper's recipe (§3): divide by 10 (factor 0.1) when the error plateaus, i.e. when the
//       evaluation error has not improved on its best by a relative `threshold` for more than
//       `patience` epochs. Never below min_lr.
#pragma once
#include <string>
#include <vector>

namespace delve {

struct ScheduleSpec {
  std::string kind = "constant";  // constant | step | multistep | plateau
  float base_lr = 0.01f;
  int every = 10;                 // step
  std::vector<int> milestones;    // multistep, in epochs
  float gamma = 0.1f;             // step, multistep
  int patience = 2;               // plateau
  float factor = 0.1f;            // plateau
  float threshold = 0.01f;        // plateau: relative improvement that counts
  float min_lr = 1e-5f;           // plateau
};

class LrSchedule {
 public:
  // What must survive a checkpoint for the schedule to continue exactly.
  struct State {
    float lr = 0.f;
    double best_error = 1e300;
    int bad_epochs = 0;
  };

  explicit LrSchedule(ScheduleSpec spec);
  float lr() const { return state_.lr; }
  // Call after each completed epoch (0-based index of the epoch just finished) with the error that
  // decides a plateau (evaluation error; training error when there is no evaluation).
  void on_epoch_end(int epoch, double error);
  const State& state() const { return state_; }
  void restore(const State& s) { state_ = s; }
  const ScheduleSpec& spec() const { return spec_; }

 private:
  ScheduleSpec spec_;
  State state_;
};

}  // namespace delve
