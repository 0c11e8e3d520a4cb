#include "core/fma_peak.h"

#include <immintrin.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace delve {

namespace {

// 12 independent accumulators cover the FMA latency (4 cycles) × 2 ports with room to spare.
__attribute__((target("avx512f"))) double fma_avx512(long iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(float(i) * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  return double(out[0]);  // the caller keeps it, so the loop is not dead code
}

__attribute__((target("avx2,fma"))) double fma_avx2(long iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(float(i) * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  float out[8];
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  _mm256_storeu_ps(out, s);
  return double(out[0]);
}

}  // namespace

double measured_fma_peak_gflops(int threads, double seconds) {
  __builtin_cpu_init();
  const bool wide = __builtin_cpu_supports("avx512f");
  const double flops_per_iter = 2.0 * (wide ? 16 : 8) * 12;
  auto run = [&](long iters) { return wide ? fma_avx512(iters) : fma_avx2(iters); };
  // Calibrate the iteration count on one thread so the measured run lasts about `seconds`.
  long iters = 1 << 16;
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
    volatile double sink = run(iters);
    (void)sink;
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (dt > seconds / 4) {
      iters = long(double(iters) * seconds / dt);
      break;
    }
    iters *= 4;
  }
  if (threads < 1) threads = 1;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<double> elapsed(size_t(threads), 0.0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      const auto t0 = std::chrono::steady_clock::now();
      volatile double sink = run(iters);
      (void)sink;
      elapsed[size_t(t)] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    });
  while (ready.load() < threads) std::this_thread::yield();
  go.store(true);
  for (auto& th : pool) th.join();
  double total = 0;
  for (double e : elapsed) total += flops_per_iter * double(iters) / e;
  return total / 1e9;
}

}  // namespace delve
