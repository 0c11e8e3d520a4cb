#include "optim/communicator.h"

#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace delve {

void SingleProcess::abort(int code) { std::exit(code); }

int launcher_ranks() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* n = std::getenv(v)) return std::max(1, std::atoi(n));
  return std::getenv("PMIX_RANK") ? 1 : 0;  // PMIx alone does not say how many
}

int MpiSession::fail(int code) {
  if (world().size() > 1) world().abort(code);  // the other ranks may be waiting in a collective
  return code;
}

int default_threads() {
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  int threads = std::max(1, cores / std::max(1, world().local_size()));
  // mpirun binds each rank to one core by default (for up to 2 ranks): more threads than the
  // cores a process may run on would only take turns on them.
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) threads = std::min(threads, std::max(1, CPU_COUNT(&allowed)));
  return threads;
}

}  // namespace delve
