// delve's own worker threads: the one place its CPU parallelism comes from.
//
// Why not OpenBLAS's threads: a threaded GEMM on the shapes of small conv layers (16-64 output
// channels, K = 9·c) spends much of its time packing, synchronising and spinning, and it leaves
// every elementwise layer single-threaded. delve instead splits a layer's work (a conv's batch in
// chunks of images, an elementwise layer's array in ranges) across its workers and runs each GEMM
// on one thread (core/blas.h sets OpenBLAS to one thread). Workers sleep on a condition variable
// between calls, so idle cores cost nothing and do not fight other processes on a shared machine.
//
// run() allocates nothing: the task is passed as a pointer and a trampoline, not a std::function.
// A run() from inside a task runs serially on the calling thread (no nested parallelism).
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
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

  // Calls fn(task, worker) for every task in [0, tasks), spread over the threads; worker is in
  // [0, threads()) and no two tasks run on the same worker at once (index per-worker scratch by it).
  // Returns when every task has finished. With max_workers, only workers [0, max_workers) take
  // tasks (a layer whose per-worker scratch was sized for fewer threads than the pool has now).
  template <class F>
  void run(int tasks, F&& fn, int max_workers = 1 << 30) {
    auto call = [](void* ctx, int task, int worker) { (*static_cast<std::remove_reference_t<F>*>(ctx))(task, worker); };
    run_erased(tasks, max_workers, call, &fn);
  }

 private:
  using Trampoline = void (*)(void*, int, int);
  void run_erased(int tasks, int max_workers, Trampoline call, void* ctx);
  void work(int worker);          // a worker's loop
  void take_tasks(int worker);    // pulls tasks until none are left
  void start(int threads);
  void stop();

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  Trampoline call_ = nullptr;
  void* ctx_ = nullptr;
  int tasks_ = 0;
  int max_workers_ = 0;
  std::atomic<int> next_{0};
  int busy_ = 0;                // workers still inside the current generation
  unsigned generation_ = 0;     // bumped by every run()
  bool quit_ = false;
};

// Elements below which splitting an elementwise pass is not worth waking a worker (~10 µs of work).
constexpr size_t kElementwiseGrain = size_t(1) << 14;

// Splits [0, n) into about threads() contiguous ranges of at least `grain` elements and calls
// fn(begin, end) for each, in parallel.
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
