// The progress line on stderr: epoch, iteration, loss, error, images/s, ETA.
// On a terminal it rewrites one line in place; otherwise (a pipe, a log file, CI) it prints a
// plain line at most every `plain_interval` seconds, so logs stay readable.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace delve {

class Progress {
 public:
  Progress(int64_t total_iterations, bool enabled, double plain_interval = 30.0);
  void update(int64_t iteration, int64_t epoch, int64_t epochs, double loss, double error, double images_per_s);
  void note(const std::string& line);  // a line of its own (evaluation results), keeping the bar intact
  void finish();

 private:
  int64_t total_;
  bool enabled_, tty_, dirty_ = false;
  double plain_interval_;
  std::chrono::steady_clock::time_point start_, last_print_;
  int64_t start_iteration_ = -1;
};

std::string format_duration(double seconds);  // "3m12s", "1h04m"

}  // namespace delve
