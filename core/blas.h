// A thin wrapper over OpenBLAS: row-major SGEMM, delve's worker-thread count, and the choice of kernels.
//
// Debian's OpenBLAS 0.3.21 does not recognise recent Xeons and falls back to its generic
// "Prescott" (SSE3) kernels, about 4-5× slower than its SkylakeX kernels on the same CPU.
// OpenBLAS reads OPENBLAS_CORETYPE only when it loads, so delve re-executes itself once with the
// right core type when it sees the fallback (ensure_fast_blas, first thing in every main()).
#pragma once
#include <string>

namespace delve {

// Call first in main(). If OpenBLAS runs a generic core on a CPU that supports a faster one and the
// user did not set OPENBLAS_CORETYPE, re-executes this program with it set; otherwise returns.
void ensure_fast_blas(int argc, char** argv);

// The core OpenBLAS runs ("SkylakeX", "Haswell", "Prescott", ...).
std::string blas_core();
// The core this CPU supports best among OpenBLAS's kernels, by CPU feature flags.
std::string blas_best_core_for_cpu();
// delve's worker threads (core/thread_pool.h), counting the caller; at least 1. They split a layer's
// work between them and each runs its GEMMs single-threaded, so this also keeps OpenBLAS itself at
// ONE thread (BlasThreadsScope below is the one exception).
void set_worker_threads(int threads);
int worker_threads();

// Lets OpenBLAS use `threads` threads while it lives (a whole-batch GEMM; layers/conv2d.h).
class BlasThreadsScope {
 public:
  explicit BlasThreadsScope(int threads);
  ~BlasThreadsScope();
  BlasThreadsScope(const BlasThreadsScope&) = delete;
  BlasThreadsScope& operator=(const BlasThreadsScope&) = delete;
};

// C[M×N] = alpha · op(A) · op(B) + beta · C, all row-major; op(X) = Xᵀ when trans_x.
void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc);

}  // namespace delve
