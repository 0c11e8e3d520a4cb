// SIGINT/SIGTERM: the first one asks the trainer to finish its step, save and stop; a second one
// is not caught (the checkpoint on disk is always whole, being written by rename).
#pragma once

namespace delve {

void install_stop_handlers();
bool stop_requested();
int stop_signal();  // the signal that asked, or 0
void request_stop_for_test(int signal);  // tests: as if `signal` arrived

}  // namespace delve
