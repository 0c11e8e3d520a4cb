// core/point_gemm: every kernel this CPU can run (OpenBLAS, AVX2+FMA, AVX-512), each forced in turn,
// against a float64 product, on shapes whose rows, columns and sums end inside a register tile and
// a vector, with points strided apart by more than their size; and the kernel names and errors.
//
// Tolerance (tests/float_bounds.h): an element of A·B is a sum of k products, so within
// γ_k · Σ_p |a_ip · b_pj| of the exact value whatever the order of the sum (ascending p, or vector
// lanes then a tree); C += A·Bᵀ adds one rounding more and |C₀| to the magnitudes: γ_{k+1}.
// A wrong row, point or stride moves an element by about its size, far above the bound.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/point_gemm.h"
#include "core/rng.h"
#include "tests/float_bounds.h"
#include "tests/run_delve.h"
#include "tests/temp_dir.h"
#include "tests/schedule_compare.h"

using namespace delve;
using namespace delve::test;

namespace {

std::vector<float> normal(size_t n, Rng& rng) {
  std::vector<float> v(n);
  for (float& x : v) x = rng.normal();
  return v;
}

// C[ξ] (+)= A[ξ]·op(B[ξ]) in float64 with its magnitudes; b_transposed: B[ξ] is n×k.
Reference reference(const PointGemm& g, const float* A, const float* B, const float* C0, bool b_transposed) {
  Reference ref(16 * g.c_stride);
  for (int xi = 0; xi < 16; ++xi)
    for (int i = 0; i < g.m; ++i)
      for (int j = 0; j < g.n; ++j) {
        const size_t c = xi * g.c_stride + size_t(i) * g.n + j;
        double sum = C0 ? C0[c] : 0.0, mag = C0 ? std::abs(double(C0[c])) : 0.0;
        for (int p = 0; p < g.k; ++p) {
          const double a = A[xi * g.a_stride + size_t(i) * g.k + p];
          const double b = b_transposed ? B[xi * g.b_stride + size_t(j) * g.k + p] : B[xi * g.b_stride + size_t(p) * g.n + j];
          sum += a * b;
          mag += std::abs(a * b);
        }
        ref.exact[c] = sum;
        ref.magnitude[c] = mag;
      }
  return ref;
}

// Elements of C between the points (the stride's padding) must keep their fill.
void check_padding_untouched(const PointGemm& g, const std::vector<float>& C, const std::vector<float>& before) {
  size_t changed = 0;
  for (int xi = 0; xi < 16; ++xi)
    for (size_t e = size_t(g.m) * g.n; e < g.c_stride; ++e)
      changed += C[xi * g.c_stride + e] != before[xi * g.c_stride + e];
  CHECK(changed == 0);
}

void check_shape(int m, int n, int k) {
  Rng rng(uint64_t(m) * 1000003 + n * 1009 + k);
  // Points 3 floats further apart than their size: a kernel that ignores a stride reads the wrong point.
  const PointGemm nn{m, n, k, size_t(m) * k + 3, size_t(k) * n + 3, size_t(m) * n + 3};
  const PointGemm nt{m, n, k, size_t(m) * k + 3, size_t(n) * k + 3, size_t(m) * n + 3};
  const std::vector<float> A = normal(16 * nn.a_stride, rng), B = normal(16 * nn.b_stride, rng);
  const std::vector<float> Bt = normal(16 * nt.b_stride, rng), C0 = normal(16 * nn.c_stride, rng);
  const Reference ref_nn = reference(nn, A.data(), B.data(), nullptr, false);
  const Reference ref_nt = reference(nt, A.data(), Bt.data(), C0.data(), true);
  for (GemmKernel kernel : available_gemm_kernels()) {
    GemmKernelFor forced(kernel);
    INFO("kernel ", std::string(gemm_kernel_name(kernel)), " m ", m, " n ", n, " k ", k);
    std::vector<float> C = C0;
    point_gemm_nn(nn, A.data(), B.data(), C.data());
    std::vector<float> got(C), again = C0;
    for (int xi = 0; xi < 16; ++xi)  // the padding is not part of the reference: compare it apart
      for (size_t e = size_t(m) * n; e < nn.c_stride; ++e) got[xi * nn.c_stride + e] = float(ref_nn.exact[xi * nn.c_stride + e]);
    const BoundReport r = bound_report(got.data(), ref_nn, k);
    CHECK_MESSAGE(r.worst_ratio <= 1.0, "C = A·B: ", r.str());
    check_padding_untouched(nn, C, C0);
    point_gemm_nn(nn, A.data(), B.data(), again.data());
    CHECK(again == C);  // the same bits on every call

    C = C0;
    point_gemm_nt_add(nt, A.data(), Bt.data(), C.data());
    got = C;
    for (int xi = 0; xi < 16; ++xi)
      for (size_t e = size_t(m) * n; e < nt.c_stride; ++e) got[xi * nt.c_stride + e] = float(ref_nt.exact[xi * nt.c_stride + e]);
    const BoundReport rt = bound_report(got.data(), ref_nt, k + 1);
    CHECK_MESSAGE(rt.worst_ratio <= 1.0, "C += A·Bᵀ: ", rt.str());
    check_padding_untouched(nt, C, C0);
  }
}

}  // namespace

TEST_CASE("point GEMMs: every available kernel within its rounding bound of a float64 product") {
  CHECK(gemm_kernel_available(GemmKernel::Blas));
  MESSAGE("kernels on this CPU: ", available_gemm_kernels().size(), " (in use: ", std::string(gemm_kernel_name(gemm_kernel())), ")");
  check_shape(1, 1, 1);
  check_shape(13, 37, 19);   // rows, columns and sums all ending inside a tile and a vector
  check_shape(9, 49, 33);    // one row past an AVX-512 tile, one column past three vectors
  check_shape(16, 512, 16);  // plain nets' 32×32 layers: 16 channels, 2 images of 256 tiles
  check_shape(64, 128, 64);  // and their 8×8 layers: 64 channels, 8 images of 16 tiles
  check_shape(64, 16, 128);  // ∂L/∂U's shape there: C × D summed over the tiles
}

TEST_CASE("point GEMM kernel names, and the errors for unknown or unavailable ones") {
  for (GemmKernel k : {GemmKernel::Blas, GemmKernel::Avx2, GemmKernel::Avx512, GemmKernel::Xsmm})
    CHECK(parse_gemm_kernel(gemm_kernel_name(k)) == k);
  try {
    parse_gemm_kernel("sse9");
    FAIL("sse9 was accepted");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).find("\"sse9\"") != std::string::npos);
    CHECK(e.code == kExitConfig);
  }
  for (GemmKernel k : {GemmKernel::Avx2, GemmKernel::Avx512, GemmKernel::Xsmm})
    if (!gemm_kernel_available(k)) CHECK_THROWS_AS(set_gemm_kernel(k), ConfigError);
}

TEST_CASE("DELVE_GEMM with an unknown kernel: delve stops with a config error naming it") {
  TempDir tmp("point_gemm_env");
  ::setenv("DELVE_GEMM", "sse9", 1);  // the child inherits it; this process read its own at start
  const DelveResult r = run_delve({"bench", "plain14", "--batch", "2", "--warmup", "0", "--steps", "1", "--threads", "1"},
                                  tmp.str());
  ::unsetenv("DELVE_GEMM");
  CHECK(r.exit_code == kExitConfig);
  CHECK(r.err.find("DELVE_GEMM") != std::string::npos);
  CHECK(r.err.find("\"sse9\"") != std::string::npos);
}
