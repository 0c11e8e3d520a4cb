// delve bench-gemm: GFLOP/s of SGEMM through delve's wrapper (core/blas.h) on the OpenBLAS core
// delve chose, at 1 and 2 threads, for a large square product and the conv shapes of the paper's nets.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "core/blas.h"
#include "core/rng.h"
#include "experiments/cli/commands.h"

namespace delve {

namespace {

// Median GFLOP/s of `repeats` products C[M×N] = A[M×K]·B[K×N] after one warm-up.
double gemm_gflops(int M, int N, int K, int repeats) {
  std::vector<float> A(size_t(M) * K), B(size_t(K) * N), C(size_t(M) * N);
  Rng rng(1);
  for (auto& v : A) v = rng.uniformf() - 0.5f;
  for (auto& v : B) v = rng.uniformf() - 0.5f;
  sgemm(false, false, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C.data(), N);
  std::vector<double> rates;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    sgemm(false, false, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C.data(), N);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(2.0 * M * N * K / s * 1e-9);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // namespace

int command_bench_gemm(int repeats) {
  struct Case {
    const char* what;
    int M, N, K;
  };
  // Conv shapes are y[d, N·H·W] = w[d, 9c] · cols: M = d, N = batch·H·W, K = 9c.
  const Case cases[] = {{"square 2048^3", 2048, 2048, 2048},
                        {"conv M=64 N=8192 K=576", 64, 8192, 576},
                        {"conv 16->16 @32x32, batch 128", 16, 131072, 144},
                        {"conv 128->128 @8x8, batch 128", 128, 8192, 1152}};
  std::printf("OpenBLAS core: %s\n", blas_core().c_str());
  std::printf("%-34s %12s %12s\n", "shape", "1 thread", "2 threads");
  for (const Case& c : cases) {
    double one, two;
    {
      BlasThreadsScope threads(1);  // OpenBLAS's own threads for the one call (core/blas.h)
      one = gemm_gflops(c.M, c.N, c.K, repeats);
    }
    {
      BlasThreadsScope threads(2);
      two = gemm_gflops(c.M, c.N, c.K, repeats);
    }
    std::printf("%-34s %8.1f GF/s %8.1f GF/s\n", c.what, one, two);
  }
  return 0;
}

}  // namespace delve
