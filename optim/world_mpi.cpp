// world() of a build with MPI (DELVE_MPI=ON and CMake found MPI): MPI_COMM_WORLD when launched by
// mpirun, else a single process. CMake compiles exactly one of world_mpi.cpp and world_single.cpp.
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "core/error.h"
#include "optim/communicator.h"

namespace delve {

namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(std::string(what) + " failed: " + std::string(text, size_t(len)));
}

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    MPI_Comm local;  // the ranks that share memory with this one: the same machine
    check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local), "MPI_Comm_split_type");
    check(MPI_Comm_size(local, &local_size_), "MPI_Comm_size");
    MPI_Comm_free(&local);
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(version, &len);
    library_.assign(version, size_t(len));
    library_ = library_.substr(0, library_.find_first_of(",\n"));  // "Open MPI v4.1.4"
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }
  void allreduce_sum(float* data, size_t n) override { reduce(data, n, MPI_FLOAT); }
  void allreduce_sum(double* data, size_t n) override { reduce(data, n, MPI_DOUBLE); }
  bool any(bool flag) override {
    int v = flag ? 1 : 0;
    check(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD), "MPI_Allreduce");
    return v != 0;
  }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);  // MPI_Abort does not return; this satisfies [[noreturn]]
  }
  std::string describe() const override { return "MPI (" + library_ + "), " + std::to_string(size_) + " ranks"; }

 private:
  template <class T>
  void reduce(T* data, size_t n, MPI_Datatype type) {
    // MPI counts are int: a buffer beyond 2^31 elements goes in slices (never the case for delve's
    // nets, but a silent truncation would be wrong).
    for (size_t done = 0; done < n;) {
      const int count = int(std::min<size_t>(n - done, INT_MAX));
      check(MPI_Allreduce(MPI_IN_PLACE, data + done, count, type, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
      done += size_t(count);
    }
  }
  int rank_ = 0, size_ = 1, local_size_ = 1;
  std::string library_;
};

std::unique_ptr<MpiWorld> g_world;

}  // namespace

namespace {
// MPI_Init and the world's wire-up, which throw Error on failure.
void start_world(int& argc, char**& argv) {
  // FUNNELED: only the main thread calls MPI; the batcher's prefetch thread and OpenBLAS's
  // threads never do.
  int provided = 0;
  check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  g_world = std::make_unique<MpiWorld>();
  // A launcher that promised P ranks but a world of another size (a failed wire-up leaves each
  // process a singleton rank 0) would have every process train and write the same run directory.
  const int promised = launcher_ranks();
  if (promised > 1 && g_world->size() != promised)
    throw Error("mpirun started " + std::to_string(promised) + " ranks but MPI joined a world of " +
                std::to_string(g_world->size()) + "; refusing to run (each process would write the same run directory)");
}
}  // namespace

MpiSession::MpiSession(int& argc, char**& argv) {
  if (launcher_ranks() == 0) return;  // started by hand: a single process, MPI never started
  try {
    start_world(argc, argv);
  } catch (const Error& e) {  // before main()'s handlers exist: report and stop here
    std::fprintf(stderr, "delve: error: %s\n", e.what());
    if (g_world) {
      g_world.reset();
      MPI_Finalize();
    }
    std::exit(kExitError);
  }
}

MpiSession::~MpiSession() {
  if (!g_world) return;
  g_world.reset();
  MPI_Finalize();
}

Communicator& world() {
  static SingleProcess single;
  if (g_world) return *g_world;
  return single;
}

bool built_with_mpi() { return true; }

}  // namespace delve
