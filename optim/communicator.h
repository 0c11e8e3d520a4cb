// The processes of a data-parallel job and the collective operations between them.
//
// delve scales out on MPI, the standard engine of the field, and on nothing home-made: a run
// launched with `mpirun -np P delve run ...` sees P ranks through world(); the trainer (through
// optim/data_parallel.h) and `run --sweep-parallel` are the only users. Without MPI at configure
// time (DELVE_MPI=OFF, or MPI not installed), or when not launched by mpirun, world() is a single
// process and every collective is the identity, so no code outside optim/world_*.cpp knows MPI.
//
// Implementations: SingleProcess (communicator.cpp, always built); the MPI one in world_mpi.cpp,
// compiled only when CMake found MPI. world_single.cpp stands in for it otherwise.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace delve {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;  // 0 .. size()-1
  virtual int size() const = 0;
  // Ranks of this communicator that share this machine (and so its cores).
  virtual int local_size() const = 0;
  bool is_root() const { return rank() == 0; }

  // In-place element-wise sums over every rank, the result on every rank. One call moves the
  // whole buffer (the Net's flat gradient arena: one message per step, not one per tensor).
  virtual void allreduce_sum(float* data, size_t n) = 0;
  virtual void allreduce_sum(double* data, size_t n) = 0;
  // True on every rank when `flag` is true on any (a stop request, a failure on one rank).
  virtual bool any(bool flag) = 0;
  virtual void barrier() = 0;
  // Ends the whole job with `code` (an error on one rank must not leave the others waiting).
  [[noreturn]] virtual void abort(int code) = 0;
  virtual std::string describe() const = 0;  // "MPI (Open MPI v4.1.4), 2 ranks" for logs
};

// One process alone: rank 0 of 1; sums and barriers do nothing.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_size() const override { return 1; }
  void allreduce_sum(float*, size_t) override {}
  void allreduce_sum(double*, size_t) override {}
  bool any(bool flag) override { return flag; }
  void barrier() override {}
  [[noreturn]] void abort(int code) override;
  std::string describe() const override { return "single process"; }
};

// Initialises MPI in main() when the process was launched by mpirun (and delve was built with
// MPI), and finalises it on destruction. Plain `delve run` never starts MPI: it stays a single
// process with no MPI start-up cost and no MPI warnings.
class MpiSession {
 public:
  MpiSession(int& argc, char**& argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  // For main()'s error path: with several ranks, ends the whole job with `code` (a rank that
  // stopped alone would leave the others waiting in a collective forever); else returns `code`.
  int fail(int code);
};

// Every rank of the job (MPI_COMM_WORLD), or a SingleProcess when there is no MPI job.
Communicator& world();
// Whether this build can run under mpirun (configured with DELVE_MPI=ON and MPI found).
bool built_with_mpi();
// The number of ranks an MPI launcher (Open MPI's mpirun, MPICH's hydra, a PMIx launcher) started
// this process among, as it announces in the environment; 0 when no launcher started it.
int launcher_ranks();
// BLAS threads for a process that was given no thread count: this machine's cores shared among
// the ranks of the job on this machine (P × threads = cores, no oversubscription), and no more
// than the cores this process may run on (mpirun binds ranks to cores unless --bind-to none).
int default_threads();

}  // namespace delve
