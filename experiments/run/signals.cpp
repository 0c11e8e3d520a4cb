#include "experiments/run/signals.h"

#include <atomic>
#include <csignal>

namespace delve {

namespace {
std::atomic<int> g_signal{0};

void on_signal(int sig) {
  g_signal.store(sig);
  std::signal(sig, SIG_DFL);  // a second signal stops the process at once
}
}  // namespace

void install_stop_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool stop_requested() { return g_signal.load() != 0; }
int stop_signal() { return g_signal.load(); }
void request_stop_for_test(int sig) { g_signal.store(sig); }

}  // namespace delve
