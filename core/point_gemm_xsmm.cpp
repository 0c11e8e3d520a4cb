// C[ξ] = A[ξ]·B[ξ] through libxsmm (Debian's libxsmm-dev 1.17), which JIT-compiles a kernel for the
// shape and the best instruction set it finds on the CPU (AVX2 or AVX-512), by itself, whatever
// OPENBLAS_CORETYPE says; looked up once per batched call of 16 points (libxsmm caches each
// shape's code after the first). libxsmm is column-major: row-major C = A·B is Cᵀ = Bᵀ·Aᵀ there.
#include <libxsmm.h>

#include "core/point_gemm.h"

namespace delve {

bool xsmm_available() { return libxsmm_get_target_archid() >= LIBXSMM_X86_AVX2; }

bool gemm_nn_xsmm(const PointGemm& g, const float* A, const float* B, float* C) {
  const libxsmm_blasint m = g.n, n = g.m, k = g.k;  // column-major Cᵀ [n × m]
  const float alpha = 1.f, beta = 0.f;
  const libxsmm_smmfunction kernel = libxsmm_smmdispatch(m, n, k, &m, &k, &m, &alpha, &beta, nullptr, nullptr);
  if (!kernel) return false;
  for (int xi = 0; xi < 16; ++xi) kernel(B + xi * g.b_stride, A + xi * g.a_stride, C + xi * g.c_stride);
  return true;
}

}  // namespace delve
