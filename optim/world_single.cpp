// world() of a build without MPI (DELVE_MPI=OFF or no MPI found): always a single process.
// CMake compiles exactly one of world_single.cpp and world_mpi.cpp.
#include "optim/communicator.h"

namespace delve {

MpiSession::MpiSession(int&, char**&) {}
MpiSession::~MpiSession() = default;

Communicator& world() {
  static SingleProcess single;
  return single;
}

bool built_with_mpi() { return false; }

}  // namespace delve
