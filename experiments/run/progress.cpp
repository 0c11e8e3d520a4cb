#include "experiments/run/progress.h"

#include <unistd.h>

#include <cstdio>

namespace delve {

std::string format_duration(double s) {
  char buf[32];
  if (s < 0 || s != s) return "?";
  long t = long(s + 0.5);
  if (t < 60) std::snprintf(buf, sizeof buf, "%lds", t);
  else if (t < 3600) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  return buf;
}

Progress::Progress(int64_t total, bool enabled, double plain_interval)
    : total_(total), enabled_(enabled), tty_(isatty(2)), plain_interval_(plain_interval) {
  start_ = last_print_ = std::chrono::steady_clock::now();
}

void Progress::update(int64_t it, int64_t epoch, int64_t epochs, double loss, double error, double ips) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (start_iteration_ < 0) {
    start_iteration_ = it;
    start_ = now;
  }
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if (!tty_ && since < plain_interval_ && it < total_) return;
  if (tty_ && since < 0.2 && it < total_) return;
  last_print_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double done = double(it - start_iteration_);
  const double eta = done > 0 ? elapsed / done * double(total_ - it) : -1;
  char line[256];
  std::snprintf(line, sizeof line, "epoch %lld/%lld  iter %lld/%lld  loss %.4f  err %5.2f%%  %.0f img/s  ETA %s",
                (long long)epoch + 1, (long long)epochs, (long long)it, (long long)total_, loss, 100.0 * error, ips,
                format_duration(eta).c_str());
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", line);
    dirty_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line);
  }
  std::fflush(stderr);
}

void Progress::note(const std::string& line) {
  if (!enabled_) return;
  if (dirty_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", line.c_str());
  dirty_ = false;
  std::fflush(stderr);
}

void Progress::finish() {
  if (enabled_ && dirty_) std::fprintf(stderr, "\n");
  dirty_ = false;
}

}  // namespace delve
