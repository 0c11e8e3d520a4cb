// The register-tiled GEMM kernels behind core/point_gemm.h, written once for any vector ISA.
//
// Included only by core/point_gemm_avx2.cpp and core/point_gemm_avx512.cpp, each inside an
// anonymous namespace after `#pragma GCC target(...)` and a struct Isa giving the vector type V
// (L floats), its Mask, and zero/load/bcast/fma/store/mask_of/hsum, plus the tile sizes: so each
// file compiles its own copy for its ISA, with internal linkage (no copy can leak into the other).
//
// NN, C = A·B: an R × (NV·L) tile of C lives in registers; each step p broadcasts A[i][p] of the
// tile's R rows and multiplies NV vectors of B's row p into it, so every C element is Σ_p in
// ascending p, one FMA a term. Column blocks outside, row blocks inside: the B panel (k × NV·L)
// stays in L1 while A (the transformed weights, at most 64×64 floats here) is reread from L1.
// NT, C += A·Bᵀ: RA × 4 dot products of rows of A and B, each in a vector of L lanes (lane j sums
// the terms p ≡ j mod L in ascending p), reduced four at a time by Isa::hsum4's fixed tree (one by
// one by Isa::hsum at the last columns of C), then added to C.
// Rows past the end of an operand reread its last row (valid memory) and are not stored: one tile
// code for every shape; columns past n and terms past k are masked off.

// Loops over the tile's registers unroll before GCC decides where arrays live, so that acc, the
// masks and the row pointers stay in registers (without it, acc went to the stack every step).
#define DELVE_UNROLL _Pragma("GCC unroll 16")

template <int R, int NV>
void nn_tile(int k, const float* A, int lda, int rows, const float* B, int ldb, int cols, float* C, int ldc) {
  using V = typename Isa::V;
  typename Isa::Mask mask[NV];
  DELVE_UNROLL for (int v = 0; v < NV; ++v) mask[v] = Isa::mask_of(cols - v * Isa::L);
  const float* a[R];
  DELVE_UNROLL for (int r = 0; r < R; ++r) a[r] = A + (r < rows ? r : rows - 1) * lda;
  V acc[R][NV];
  DELVE_UNROLL for (int r = 0; r < R; ++r)
    DELVE_UNROLL for (int v = 0; v < NV; ++v) acc[r][v] = Isa::zero();
  for (int p = 0; p < k; ++p) {
    V b[NV];
    DELVE_UNROLL for (int v = 0; v < NV; ++v) b[v] = Isa::load(B + size_t(p) * ldb + v * Isa::L, mask[v]);
    DELVE_UNROLL for (int r = 0; r < R; ++r) {
      const V s = Isa::bcast(a[r] + p);
      DELVE_UNROLL for (int v = 0; v < NV; ++v) acc[r][v] = Isa::fma(s, b[v], acc[r][v]);
    }
  }
  // Unconditional stores (rows past the end into `spill`), so that acc can stay in registers.
  float spill[NV * Isa::L];
  DELVE_UNROLL for (int r = 0; r < R; ++r) {
    float* c = r < rows ? C + size_t(r) * ldc : spill;
    DELVE_UNROLL for (int v = 0; v < NV; ++v) Isa::store(c + v * Isa::L, acc[r][v], mask[v]);
  }
}

inline void nn(int m, int n, int k, const float* A, const float* B, float* C) {
  constexpr int R = Isa::kNnRows, W = Isa::kNnVectors * Isa::L;
  for (int j = 0; j < n; j += W)
    for (int i = 0; i < m; i += R)
      nn_tile<R, Isa::kNnVectors>(k, A + size_t(i) * k, k, m - i < R ? m - i : R, B + j, n, n - j < W ? n - j : W,
                                  C + size_t(i) * n + j, n);
}

template <int RA, int RB>
void nt_tile(int k, const float* A, int rows_a, const float* B, int rows_b, float* C, int ldc) {
  using V = typename Isa::V;
  const float* a[RA];
  const float* b[RB];
  DELVE_UNROLL for (int i = 0; i < RA; ++i) a[i] = A + size_t(i < rows_a ? i : rows_a - 1) * k;
  DELVE_UNROLL for (int j = 0; j < RB; ++j) b[j] = B + size_t(j < rows_b ? j : rows_b - 1) * k;
  V acc[RA][RB];
  DELVE_UNROLL for (int i = 0; i < RA; ++i)
    DELVE_UNROLL for (int j = 0; j < RB; ++j) acc[i][j] = Isa::zero();
  auto step = [&](int p, typename Isa::Mask mask) __attribute__((always_inline)) {
    V x[RA];
    DELVE_UNROLL for (int i = 0; i < RA; ++i) x[i] = Isa::load(a[i] + p, mask);
    DELVE_UNROLL for (int j = 0; j < RB; ++j) {
      const V y = Isa::load(b[j] + p, mask);
      DELVE_UNROLL for (int i = 0; i < RA; ++i) acc[i][j] = Isa::fma(x[i], y, acc[i][j]);
    }
  };
  const typename Isa::Mask full = Isa::mask_of(Isa::L);
  int p = 0;
  for (; p + Isa::L <= k; p += Isa::L) step(p, full);
  if (p < k) step(p, Isa::mask_of(k - p));  // the last terms, in the same lanes
  static_assert(RB == 4, "a row of the tile is reduced by Isa::hsum4");
  DELVE_UNROLL for (int i = 0; i < RA; ++i) {  // constant bounds, so that acc stays in registers
    float* c = C + size_t(i) * ldc;
    if (i >= rows_a) continue;
    if (rows_b == RB) {
      _mm_storeu_ps(c, _mm_add_ps(_mm_loadu_ps(c), Isa::hsum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3])));
    } else {
      DELVE_UNROLL for (int j = 0; j < RB; ++j)
        if (j < rows_b) c[j] += Isa::hsum(acc[i][j]);
    }
  }
}

inline void nt_add(int m, int n, int k, const float* A, const float* B, float* C) {
  constexpr int RA = Isa::kNtRowsA, RB = Isa::kNtRowsB;
  for (int i = 0; i < m; i += RA)
    for (int j = 0; j < n; j += RB)
      nt_tile<RA, RB>(k, A + size_t(i) * k, m - i < RA ? m - i : RA, B + size_t(j) * k, n - j < RB ? n - j : RB,
                      C + size_t(i) * n + j, n);
}

#undef DELVE_UNROLL
