// world() of a build without MPI (DELVE_MPI=OFF or no MPI found): always a single process.
// CMake compiles exactly one of world_single.cpp and world_mpi.cpp.
#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "optim/communicator.h"

namespace delve {

MpiSession::MpiSession(int&, char**&) {
  // Under `mpirun -np P` this build would run P copies of the same run into the same directory.
  if (launcher_ranks() > 1) {
    std::fprintf(stderr, "delve: error: started by mpirun with %d ranks, but this delve was built without MPI; "
                 "rebuild with cmake -DDELVE_MPI=ON (apt-get install libopenmpi-dev openmpi-bin)\n", launcher_ranks());
    std::exit(kExitUsage);
  }
}
MpiSession::~MpiSession() = default;

Communicator& world() {
  static SingleProcess single;
  return single;
}

bool built_with_mpi() { return false; }

}  // namespace delve
