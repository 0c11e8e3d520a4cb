#include "core/blas.h"

#include "core/thread_pool.h"

#include <cblas.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <strings.h>

namespace delve {

std::string blas_core() {
  const char* name = openblas_get_corename();
  return name ? name : "unknown";
}

std::string blas_best_core_for_cpu() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  if (__builtin_cpu_supports("avx")) return "SandyBridge";
  return "";
}

void ensure_fast_blas(int /*argc*/, char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // the user's choice stands
  if (std::getenv("DELVE_BLAS_REEXEC") != nullptr) return;  // already tried once: never loop
  const std::string current = blas_core();
  // Only the generic fallbacks are replaced; a core OpenBLAS recognised is trusted.
  const bool generic = strcasecmp(current.c_str(), "prescott") == 0 ||
                       strcasecmp(current.c_str(), "core2") == 0 ||
                       strcasecmp(current.c_str(), "nehalem") == 0;
  const std::string best = blas_best_core_for_cpu();
  if (!generic || best.empty()) return;
  setenv("OPENBLAS_CORETYPE", best.c_str(), 1);
  setenv("DELVE_BLAS_REEXEC", "1", 1);
  execv("/proc/self/exe", argv);
  // exec failed (no /proc?): carry on with the slow kernels, and say so.
  std::fprintf(stderr, "delve: warning: OpenBLAS runs its generic '%s' kernels and re-executing with "
               "OPENBLAS_CORETYPE=%s failed; set it yourself for ~4x faster GEMMs\n",
               current.c_str(), best.c_str());
  unsetenv("OPENBLAS_CORETYPE");
}

// OpenBLAS starts with one thread per core; delve's workers call it concurrently, so it must run
// one thread per call from the start, also in programs that never call set_worker_threads (tests).
const bool kOpenBlasSingleThreaded = (openblas_set_num_threads(1), true);

void set_worker_threads(int threads) {
  ThreadPool::instance().set_threads(threads < 1 ? 1 : threads);
  openblas_set_num_threads(1);
}
int worker_threads() { return ThreadPool::instance().threads(); }

BlasThreadsScope::BlasThreadsScope(int threads) { openblas_set_num_threads(threads < 1 ? 1 : threads); }
BlasThreadsScope::~BlasThreadsScope() { openblas_set_num_threads(1); }

void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M,
              N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace delve
