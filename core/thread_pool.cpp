#include "core/thread_pool.h"

namespace delve {

namespace {
thread_local bool inside_task = false;  // a run() from a task runs serially
}

ThreadPool& ThreadPool::instance() {
  static ThreadPool pool(int(std::max(1u, std::thread::hardware_concurrency())));
  return pool;
}

ThreadPool::ThreadPool(int threads) { start(threads); }
ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::set_threads(int threads) {
  if (threads < 1) threads = 1;
  if (threads == threads_) return;
  stop();
  start(threads);
}

void ThreadPool::start(int threads) {
  threads_ = threads < 1 ? 1 : threads;
  quit_ = false;
  for (int w = 1; w < threads_; ++w) workers_.emplace_back([this, w] { work(w); });
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

void ThreadPool::take_tasks(int worker) {
  if (worker >= max_workers_) return;
  const bool outer = inside_task;
  inside_task = true;
  for (int t = next_.fetch_add(1); t < tasks_; t = next_.fetch_add(1)) call_(ctx_, t, worker);
  inside_task = outer;
}

void ThreadPool::work(int worker) {
  unsigned seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return quit_ || generation_ != seen; });
      if (quit_) return;
      seen = generation_;
    }
    take_tasks(worker);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_ == 0) done_.notify_one();
    }
  }
}

void ThreadPool::run_erased(int tasks, int max_workers, Trampoline call, void* ctx) {
  if (tasks <= 0) return;
  if (threads_ == 1 || tasks == 1 || max_workers <= 1 || inside_task) {
    const bool outer = inside_task;
    inside_task = true;
    for (int t = 0; t < tasks; ++t) call(ctx, t, 0);
    inside_task = outer;
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    call_ = call;
    ctx_ = ctx;
    tasks_ = tasks;
    max_workers_ = max_workers;
    next_.store(0);
    busy_ = int(workers_.size());
    ++generation_;
  }
  wake_.notify_all();
  take_tasks(0);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return busy_ == 0; });
}

}  // namespace delve
