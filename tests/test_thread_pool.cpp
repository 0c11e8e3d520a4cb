// core/thread_pool: every task runs exactly once, run() returns only after all of them, the
// assignment of tasks to workers is the documented static one, and a throwing task reaches the
// caller and leaves the pool usable. Each test uses a pool of its own, not the process's one.
// Doctest's checks are not thread-safe: tasks only record, the test thread checks.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/thread_pool.h"

using namespace delve;

namespace {
// Ends the test program with a message if it lives longer than `seconds`: a run() that never
// returns (a pool whose count of busy workers went wrong) fails the suite instead of hanging it.
class Watchdog {
 public:
  Watchdog(int seconds, const char* what)
      : thread_([this, seconds, what] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (!done_changed_.wait_for(lock, std::chrono::seconds(seconds), [&] { return done_; })) {
            std::fprintf(stderr, "%s: still running after %d s, a run() never returned\n", what, seconds);
            std::_Exit(1);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    done_changed_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_changed_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members it uses exist
};
}  // namespace

TEST_CASE("thread pool: restarts between runs never let a run() return early or run a task twice") {
  // A freshly started worker must join only runs that begin after it started. Each round
  // restarts the pool with another thread count and runs at once, when a worker that mistook
  // the previous run for its own would take tasks of this one. The last task sleeps so that it
  // is still running on another worker when the caller has finished its own share. (A pool whose
  // new workers start at generation 0 fails this: a task counted twice, or a later run() that
  // never returns, which the watchdog turns into a failure.)
  Watchdog watchdog(30, "thread pool stress test");
  ThreadPool pool(1);
  constexpr int kTasks = 13, kRounds = 4000;
  std::array<std::atomic<int>, kTasks> runs{};
  std::atomic<int> running{0};
  int early_returns = 0, miscounted = 0;
  for (int round = 0; round < kRounds; ++round) {
    pool.set_threads(1 + round % 4);
    for (auto& r : runs) r.store(0);
    pool.run(kTasks, [&](int task, int) {
      running.fetch_add(1);
      if (task == kTasks - 1) std::this_thread::sleep_for(std::chrono::microseconds(20));
      runs[task].fetch_add(1);
      running.fetch_sub(1);
    });
    early_returns += running.load() != 0;
    for (auto& r : runs) miscounted += r.load() != 1;
    if (early_returns || miscounted) break;  // a pool in that state may hang in its next run
  }
  CHECK(early_returns == 0);
  CHECK(miscounted == 0);
}

TEST_CASE("thread pool: worker w of W runs tasks w·T/W up to (w+1)·T/W, in order, on every run") {
  ThreadPool pool(1);
  for (int threads = 1; threads <= 5; ++threads) {
    pool.set_threads(threads);
    for (int max_workers : {1, 2, 3, 1 << 30})
      for (int tasks : {1, 2, 3, 7, 16, 33}) {
        const int W = std::min({threads, max_workers, tasks});
        CHECK(pool.workers_for(tasks, max_workers) == W);
        // The documented split, written out here rather than taken from the pool.
        std::vector<int> expected(size_t(tasks), -1);
        for (int w = 0; w < W; ++w)
          for (int t = w * tasks / W; t < (w + 1) * tasks / W; ++t) expected[size_t(t)] = w;
        for (int repeat = 0; repeat < 20; ++repeat) {
          std::vector<int> worker_of(size_t(tasks), -1);
          std::vector<std::vector<int>> order(size_t(W), std::vector<int>{});  // each worker appends to its own only
          std::vector<std::thread::id> thread_of(size_t(W), std::thread::id{});
          pool.run(tasks, [&](int t, int w) {
            worker_of[size_t(t)] = w;
            order[size_t(w)].push_back(t);
            thread_of[size_t(w)] = std::this_thread::get_id();
          }, max_workers);
          INFO("threads ", threads, ", max_workers ", max_workers, ", tasks ", tasks, ", repeat ", repeat);
          REQUIRE(worker_of == expected);
          for (auto& o : order) CHECK(std::is_sorted(o.begin(), o.end()));
          CHECK(thread_of[0] == std::this_thread::get_id());  // worker 0 is the caller
          std::vector<std::thread::id> ids = thread_of;
          std::sort(ids.begin(), ids.end());
          CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());  // W distinct threads
        }
      }
  }
}

namespace {
// Runs 9 tasks on 3 workers ([0,3) [3,6) [6,9)); the tasks in `throwing` throw "task N".
// Returns what reached the caller ("" if nothing) and, in ran, which tasks ran to their end.
std::string run_throwing(ThreadPool& pool, std::vector<int> throwing, std::array<std::atomic<int>, 9>& ran) {
  for (auto& r : ran) r.store(0);
  try {
    pool.run(9, [&](int t, int) {
      if (t == 6) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // busy while the others throw
      if (std::find(throwing.begin(), throwing.end(), t) != throwing.end())
        throw std::runtime_error("task " + std::to_string(t));
      ran[size_t(t)].fetch_add(1);
    });
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("thread pool: a throwing task's exception reaches the caller, and the pool works afterwards") {
  ThreadPool pool(3);
  std::array<std::atomic<int>, 9> ran{};
  auto ran_set = [&] {
    std::string s;
    for (size_t t = 0; t < ran.size(); ++t) s += ran[t].load() ? char('0' + t) : '.';
    return s;
  };
  for (int repeat = 0; repeat < 50; ++repeat) {
    // Tasks 4 and 7 throw on workers 1 and 2: the lower one is reported, every time; each of
    // those workers skips the rest of its share, the others finish theirs before run() returns.
    CHECK(run_throwing(pool, {7, 4}, ran) == "task 4");
    CHECK(ran_set() == "0123..6..");
    // The caller's own task throws: it is rethrown after the other workers have finished.
    CHECK(run_throwing(pool, {1}, ran) == "task 1");
    CHECK(ran_set() == "0..345678");
  }
  // Serially (one thread) the first throwing task ends the run, as a plain loop would.
  pool.set_threads(1);
  CHECK(run_throwing(pool, {5, 2}, ran) == "task 2");
  CHECK(ran_set() == "01.......");
  // Afterwards all tasks run once, spread over all workers again (the caller is not left marked
  // as inside a task, which would make every later run serial).
  pool.set_threads(3);
  CHECK(run_throwing(pool, {}, ran).empty());
  CHECK(ran_set() == "012345678");
  std::vector<int> worker_of(9, -1);
  pool.run(9, [&](int t, int w) { worker_of[size_t(t)] = w; });
  CHECK(worker_of == std::vector<int>{0, 0, 0, 1, 1, 1, 2, 2, 2});
}

TEST_CASE("thread pool: set_threads from inside a task is refused, not a deadlock") {
  ThreadPool pool(2);
  CHECK_THROWS_AS(pool.run(2, [&](int, int) { pool.set_threads(3); }), std::logic_error);
  CHECK(pool.threads() == 2);
  std::atomic<int> sum{0};
  pool.run(4, [&](int t, int) { sum.fetch_add(t + 1); });
  CHECK(sum.load() == 10);
}
