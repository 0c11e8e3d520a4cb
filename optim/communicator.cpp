#include "optim/communicator.h"

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace delve {

void SingleProcess::abort(int code) { std::exit(code); }

int MpiSession::fail(int code) {
  if (world().size() > 1) world().abort(code);  // the other ranks may be waiting in a collective
  return code;
}

int default_threads() {
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, world().local_size()));
}

}  // namespace delve
