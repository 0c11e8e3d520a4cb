// C[ξ] = A[ξ]·B[ξ] through libxsmm (Debian's libxsmm-dev 1.17), which JIT-compiles a kernel for the
// shape and the best instruction set it finds on the CPU (AVX2 or AVX-512), by itself, whatever
// OPENBLAS_CORETYPE says; dispatched once per shape and thread (kernel_for), then called for the
// 16 points. libxsmm is column-major: row-major C = A·B is Cᵀ = Bᵀ·Aᵀ there.
#include <libxsmm.h>

#include "core/point_gemm.h"

namespace delve {

bool xsmm_available() { return libxsmm_get_target_archid() >= LIBXSMM_X86_AVX2; }

namespace {
// The kernels of the last shapes this thread used (a layer's forward and backward products, a
// batch's last chunk), so that a shape is dispatched once per thread, not once per call.
struct Dispatched {
  int m = 0, n = 0, k = 0;
  libxsmm_smmfunction kernel = nullptr;
};
constexpr int kRemembered = 8;
thread_local Dispatched remembered[kRemembered];
thread_local int next_slot = 0;

libxsmm_smmfunction kernel_for(int m, int n, int k) {
  for (const Dispatched& d : remembered)
    if (d.kernel && d.m == m && d.n == n && d.k == k) return d.kernel;
  const libxsmm_blasint lm = m, ln = n, lk = k;
  const float alpha = 1.f, beta = 0.f;
  const libxsmm_smmfunction kernel = libxsmm_smmdispatch(lm, ln, lk, &lm, &lk, &lm, &alpha, &beta, nullptr, nullptr);
  if (kernel) {
    remembered[next_slot] = {m, n, k, kernel};
    next_slot = (next_slot + 1) % kRemembered;
  }
  return kernel;
}
}  // namespace

bool gemm_nn_xsmm(const PointGemm& g, const float* A, const float* B, float* C) {
  const libxsmm_smmfunction kernel = kernel_for(g.n, g.m, g.k);  // column-major Cᵀ [n × m]
  if (!kernel) return false;
  for (int xi = 0; xi < 16; ++xi) kernel(B + xi * g.b_stride, A + xi * g.a_stride, C + xi * g.c_stride);
  return true;
}

}  // namespace delve
