// delve's own worker threads: the one place its CPU parallelism comes from.
//
// Why not OpenBLAS's threads: a threaded GEMM on the shapes of small conv layers (16-64 output
// channels, K = 9·c) spends much of its time packing, synchronising and spinning, and it leaves
// every elementwise layer single-threaded. delve instead splits a layer's work (a conv's batch in
// chunks of images, an elementwise layer's array in ranges) across its workers and runs each GEMM
// on one thread (core/blas.h sets OpenBLAS to one thread). Workers sleep on a condition variable
// between calls, so idle cores cost nothing and do not fight other processes on a shared machine.
//
// The contract that makes results reproducible (same data and thread count, same bits, however
// the operating system schedules the threads):
// - Static assignment. run(T, fn, max_workers) uses W = workers_for(T, max_workers) =
//   min(threads(), max_workers, T) workers, and worker w runs exactly the tasks
//   [first_task(T, W, w), first_task(T, W, w + 1)) = [⌊w·T/W⌋, ⌊(w+1)·T/W⌋), one after another in
//   index order. Worker 0 is the calling thread. Which worker runs a task is a function of
//   (task, T, W) alone, never of which thread happened to be free.
// - So anything a worker accumulates in its own slot (a partial sum over its tasks) is a fixed
//   function of the data and W. A reduction must then add the per-worker (or per-task) partials
//   in index order on one thread after run() returns, never in the order workers finish.
// - Exceptions. A task that throws ends its worker's share (its later tasks are skipped); the
//   other workers finish theirs. run() then rethrows, in the caller, the exception of the
//   lowest-indexed task that threw (the same one on every run), and the pool stays usable.
//
// run() allocates nothing: the task is passed as a pointer and a trampoline, not a std::function.
// A run() from inside a task runs serially on the calling thread as worker 0 of 1 (no nested
// parallelism): a nested caller must not index scratch that the outer run gives to worker 0.
// run() and set_threads() are for one controlling thread at a time; set_threads() from a task is
// an error (it would wait for itself).
#pragma once
#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace delve {

class ThreadPool {
 public:
  // The process's pool; starts with one thread per core.
  static ThreadPool& instance();

  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void set_threads(int threads);  // counting the caller; at least 1
  int threads() const { return threads_; }

  // The number of workers a run(tasks, fn, max_workers) uses: min(threads(), max_workers, tasks).
  int workers_for(int tasks, int max_workers) const {
    return std::max(1, std::min({threads_, max_workers, tasks}));
  }
  // The first task of worker w when T tasks are split over W workers: ⌊w·T/W⌋.
  static int first_task(int tasks, int workers, int w) { return int(int64_t(tasks) * w / workers); }

  // Calls fn(task, worker) for every task in [0, tasks), each on the worker the contract above
  // names; worker is in [0, workers_for(tasks, max_workers)) and no two tasks run on the same
  // worker at once (index per-worker scratch by it). Returns when every task has finished.
  // max_workers caps the workers (a layer whose per-worker scratch was sized for fewer threads
  // than the pool has now).
  template <class F>
  void run(int tasks, F&& fn, int max_workers = 1 << 30) {
    auto call = [](void* ctx, int task, int worker) { (*static_cast<std::remove_reference_t<F>*>(ctx))(task, worker); };
    run_erased(tasks, max_workers, call, &fn);
  }

 private:
  using Trampoline = void (*)(void*, int, int);
  struct Job {  // one run(): what to call and how the tasks are split
    Trampoline call = nullptr;
    void* ctx = nullptr;
    int tasks = 0, workers = 0;
  };
  void run_erased(int tasks, int max_workers, Trampoline call, void* ctx);
  void work(int worker, uint64_t joined);  // a worker's loop; `joined` is the generation it starts at
  void run_share(const Job& job, int worker);  // the worker's tasks, in index order
  void start(int threads);
  void stop();

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  Job job_;                     // the current run(), read by workers under mutex_
  int busy_ = 0;                // workers [1, job_.workers) not yet done with the current run()
  uint64_t generation_ = 0;     // bumped by every run() that wakes workers
  bool quit_ = false;
  std::exception_ptr error_;    // of the lowest-indexed task that threw in the current run()
  int error_task_ = 0;
};

// Elements below which splitting an elementwise pass is not worth waking a worker (~10 µs of work).
constexpr size_t kElementwiseGrain = size_t(1) << 14;

// Splits [0, n) into about threads() contiguous ranges of at least `grain` elements and calls
// fn(begin, end) for each, in parallel. The ranges depend only on n, grain and threads().
template <class F>
void parallel_for(size_t n, size_t grain, F&& fn) {
  ThreadPool& pool = ThreadPool::instance();
  size_t parts = pool.threads();
  if (grain > 0 && n / grain < parts) parts = n / grain;
  if (parts <= 1) {
    if (n > 0) fn(size_t(0), n);
    return;
  }
  pool.run(int(parts), [&](int task, int) {
    const size_t b = n * size_t(task) / parts, e = n * size_t(task + 1) / parts;
    fn(b, e);
  });
}

}  // namespace delve
