#include "core/thread_pool.h"

#include <climits>
#include <stdexcept>

namespace delve {

namespace {
thread_local bool inside_task = false;  // a run() from a task runs serially

// Marks the thread as inside a task for its lifetime, also when the task throws.
class TaskScope {
 public:
  TaskScope() : outer_(inside_task) { inside_task = true; }
  ~TaskScope() { inside_task = outer_; }
  TaskScope(const TaskScope&) = delete;
  TaskScope& operator=(const TaskScope&) = delete;

 private:
  bool outer_;
};
}  // namespace

ThreadPool& ThreadPool::instance() {
  static ThreadPool pool(int(std::max(1u, std::thread::hardware_concurrency())));
  return pool;
}

ThreadPool::ThreadPool(int threads) { start(threads); }
ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::set_threads(int threads) {
  if (inside_task) throw std::logic_error("ThreadPool::set_threads called from inside a task");
  if (threads < 1) threads = 1;
  if (threads == threads_) return;
  stop();
  start(threads);
}

void ThreadPool::start(int threads) {
  threads_ = threads < 1 ? 1 : threads;
  uint64_t now;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    quit_ = false;
    now = generation_;
  }
  // A new worker joins the generation current now, so it waits for the next run() and never
  // mistakes the last one, from before the restart, for work of its own.
  for (int w = 1; w < threads_; ++w) workers_.emplace_back([this, w, now] { work(w, now); });
}

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    quit_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void ThreadPool::run_share(const Job& job, int worker) {
  TaskScope scope;
  const int end = first_task(job.tasks, job.workers, worker + 1);
  for (int t = first_task(job.tasks, job.workers, worker); t < end; ++t) {
    try {
      job.call(job.ctx, t, worker);
    } catch (...) {
      // This worker's later tasks are skipped; of all the tasks that threw, the lowest-indexed
      // one is reported, so the caller sees the same exception whatever the timing.
      std::lock_guard<std::mutex> lock(mutex_);
      if (t < error_task_) {
        error_ = std::current_exception();
        error_task_ = t;
      }
      return;
    }
  }
}

void ThreadPool::work(int worker, uint64_t joined) {
  uint64_t seen = joined;
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return quit_ || generation_ != seen; });
      if (quit_) return;
      seen = generation_;
      job = job_;
    }
    // A worker with no share in this run() is not counted in busy_: it goes back to sleep.
    // One with a share cannot miss its generation: run() does not return, and so no later
    // run() can begin, until it has counted itself out.
    if (worker >= job.workers) continue;
    run_share(job, worker);
    std::lock_guard<std::mutex> lock(mutex_);
    if (--busy_ == 0) done_.notify_one();
  }
}

void ThreadPool::run_erased(int tasks, int max_workers, Trampoline call, void* ctx) {
  if (tasks <= 0) return;
  const int workers = workers_for(tasks, max_workers);
  if (workers == 1 || inside_task) {  // worker 0 of 1: all tasks in order; an exception propagates
    TaskScope scope;
    for (int t = 0; t < tasks; ++t) call(ctx, t, 0);
    return;
  }
  const Job job{call, ctx, tasks, workers};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = job;
    busy_ = workers - 1;
    error_ = nullptr;
    error_task_ = INT_MAX;
    ++generation_;
  }
  wake_.notify_all();
  run_share(job, 0);
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return busy_ == 0; });
    error = std::move(error_);
    error_ = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace delve
