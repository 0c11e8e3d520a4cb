// core/point_gemm_kernel.h compiled for AVX2 + FMA (x86-64-v3), whatever the rest of delve is
// compiled for; called only when the CPU has them (core/point_gemm.cpp).
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include <cstddef>

#include "core/point_gemm.h"

namespace delve {
namespace {

struct Isa {
  using V = __m256;
  using Mask = __m256i;
  static constexpr int L = 8;
  static constexpr int kNnRows = 6, kNnVectors = 2;  // 12 accumulators of 16 registers
  static constexpr int kNtRowsA = 3, kNtRowsB = 4;
  static V zero() { return _mm256_setzero_ps(); }
  static Mask mask_of(int n) {  // lane j on when j < n
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, V v, Mask m) { _mm256_maskstore_ps(p, m, v); }
  static V bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static float hsum(V v) {  // a fixed tree: halves added until one lane is left
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
  }
  // The sums of v0..v3 in lanes 0..3, by a fixed tree: the halves of each added, then pairwise.
  static __m128 hsum4(V v0, V v1, V v2, V v3) {
    auto fold = [](V v) { return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)); };
    return _mm_hadd_ps(_mm_hadd_ps(fold(v0), fold(v1)), _mm_hadd_ps(fold(v2), fold(v3)));
  }
};

#include "core/point_gemm_kernel.h"

}  // namespace

void gemm_nn_avx2(int m, int n, int k, const float* A, const float* B, float* C) { nn(m, n, k, A, B, C); }
void gemm_nt_add_avx2(int m, int n, int k, const float* A, const float* B, float* C) { nt_add(m, n, k, A, B, C); }

}  // namespace delve
