// Helpers for tests that run one computation two ways (conv schedules, fused and unfused layers)
// and compare the results: a relative distance, and the pool's thread count for one test.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "core/thread_pool.h"

namespace delve::test {

// max_i |a_i - b_i| / (1 + |b_i|); infinite when either side is not finite.
inline double worst_relative(const float* a, const float* b, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return INFINITY;
    worst = std::max(worst, std::abs(double(a[i]) - b[i]) / (1.0 + std::abs(double(b[i]))));
  }
  return worst;
}

// Restores the pool's thread count when a test ends.
struct ThreadsFor {
  int saved = ThreadPool::instance().threads();
  explicit ThreadsFor(int t) { ThreadPool::instance().set_threads(t); }
  ~ThreadsFor() { ThreadPool::instance().set_threads(saved); }
};

}  // namespace delve::test
