// Helpers for tests that run one computation two ways (conv schedules, fused and unfused layers)
// and compare the results: a relative distance, and the pool's thread count for one test.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "core/point_gemm.h"
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

// The point-GEMM kernels this CPU can run (core/point_gemm.h), each to be tested on its own.
inline std::vector<GemmKernel> available_gemm_kernels() {
  std::vector<GemmKernel> kernels;
  for (GemmKernel k : {GemmKernel::Blas, GemmKernel::Avx2, GemmKernel::Avx512, GemmKernel::Xsmm})
    if (gemm_kernel_available(k)) kernels.push_back(k);
  return kernels;
}

// The kernels a schedule is tested with: all available ones when it runs point GEMMs (Winograd),
// else only the one in use (the others would compute the same thing).
inline std::vector<GemmKernel> gemm_kernels_to_test(bool point_gemms) {
  return point_gemms ? available_gemm_kernels() : std::vector<GemmKernel>{gemm_kernel()};
}

// Forces a point-GEMM kernel for one test, then restores the one in use before.
struct GemmKernelFor {
  GemmKernel saved = gemm_kernel();
  explicit GemmKernelFor(GemmKernel k) { set_gemm_kernel(k); }
  ~GemmKernelFor() { set_gemm_kernel(saved); }
};

// Restores the pool's thread count when a test ends.
struct ThreadsFor {
  int saved = ThreadPool::instance().threads();
  explicit ThreadsFor(int t) { ThreadPool::instance().set_threads(t); }
  ~ThreadsFor() { ThreadPool::instance().set_threads(saved); }
};

}  // namespace delve::test
