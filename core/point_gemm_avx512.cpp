// core/point_gemm_kernel.h compiled for AVX-512 (AVX512F), whatever the rest of delve is compiled
// for; called only when the CPU has it (core/point_gemm.cpp).
#pragma GCC target("avx512f")
// GCC 12's AVX-512 casts and extracts fill their unused lanes from an _mm*_undefined_* placeholder,
// which -Wuninitialized reports inside the intrinsics when AVX-512 comes from a pragma.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstddef>

#include "core/point_gemm.h"

namespace delve {
namespace {

struct Isa {
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int L = 16;
  static constexpr int kNnRows = 8, kNnVectors = 3;  // 24 accumulators of 32 registers
  static constexpr int kNtRowsA = 4, kNtRowsB = 4;
  static V zero() { return _mm512_setzero_ps(); }
  static Mask mask_of(int n) { return n >= L ? Mask(0xFFFF) : n <= 0 ? Mask(0) : Mask((1u << n) - 1); }
  static V load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, V v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static V bcast(const float* p) { return _mm512_set1_ps(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static float hsum(V v) {  // a fixed tree: halves added until one lane is left
    const __m256 high = _mm512_castps512_ps256(_mm512_shuffle_f32x4(v, v, 0xEE));  // lanes 8..15
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), high);
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
  }
  // The sums of v0..v3 in lanes 0..3, by a fixed tree: halves of pairs of vectors added, twice, then
  // the four lanes of each 128-bit quarter.
  static __m128 hsum4(V v0, V v1, V v2, V v3) {
    const V s01 = _mm512_add_ps(_mm512_shuffle_f32x4(v0, v1, 0x44), _mm512_shuffle_f32x4(v0, v1, 0xEE));
    const V s23 = _mm512_add_ps(_mm512_shuffle_f32x4(v2, v3, 0x44), _mm512_shuffle_f32x4(v2, v3, 0xEE));
    V t = _mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, 0x88), _mm512_shuffle_f32x4(s01, s23, 0xDD));
    t = _mm512_add_ps(t, _mm512_permute_ps(t, 0xB1));  // lanes (1, 0, 3, 2) of each quarter
    t = _mm512_add_ps(t, _mm512_permute_ps(t, 0x4E));  // lanes (2, 3, 0, 1)
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), t));
  }
};

#include "core/point_gemm_kernel.h"

}  // namespace

void gemm_nn_avx512(int m, int n, int k, const float* A, const float* B, float* C) { nn(m, n, k, A, B, C); }
void gemm_nt_add_avx512(int m, int n, int k, const float* A, const float* B, float* C) { nt_add(m, n, k, A, B, C); }

}  // namespace delve
