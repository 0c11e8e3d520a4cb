// core/: tensor layout and views, the RNG's determinism and saved state, GEMM against a naive
// product on the kernels OpenBLAS actually runs, im2col/col2im as adjoint operators.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "core/blas.h"
#include "core/error.h"
#include "core/im2col.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "tests/float_bounds.h"

using namespace delve;
using namespace delve::test;

TEST_CASE("tensor is channel-major and resize keeps capacity") {
  Tensor t(Shape{2, 3, 4, 5});
  CHECK(t.size() == 120);
  CHECK(t.offset(1, 2, 3, 4) == ((2 * 2 + 1) * 4 + 3) * 5 + 4);
  CHECK(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
  t.at(1, 2, 3, 4) = 7.f;
  CHECK(t.channel(2)[(1 * 4 + 3) * 5 + 4] == 7.f);
  float* before = t.data();
  t.resize(Shape{1, 3, 4, 5});
  CHECK(t.data() == before);
  CHECK(t.size() == 60);
  std::vector<float> mem(6);
  Tensor v = Tensor::view(mem.data(), Shape{1, 2, 3, 1});
  CHECK_FALSE(v.owns());
  CHECK_THROWS_AS(v.resize(Shape{1, 2, 4, 1}), ShapeError);
}

TEST_CASE("rng: same seed same stream, state restores exactly, normal has unit variance") {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 10; ++i) CHECK(a.next_u64() == b.next_u64());
  CHECK(a.next_u64() != c.next_u64());
  a.normal();  // leaves a spare value in the state
  std::string saved = a.save();
  std::vector<double> first;
  for (int i = 0; i < 5; ++i) first.push_back(a.normal());
  Rng r;
  r.restore(saved);
  for (int i = 0; i < 5; ++i) CHECK(r.normal() == first[i]);
  CHECK_THROWS_AS(r.restore("nonsense"), CheckpointError);
  CHECK_THROWS_AS(r.restore("xoshiro256ss:zz"), CheckpointError);

  Rng g(7);
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double x = g.normal();
    s += x;
    s2 += x * x;
  }
  CHECK(std::abs(s / n) < 0.01);
  CHECK(std::abs(s2 / n - 1.0) < 0.01);
  uint64_t counts[3] = {0, 0, 0};
  for (int i = 0; i < 30000; ++i) counts[g.below(3)]++;
  for (auto k : counts) CHECK(std::abs(double(k) - 10000.0) < 400.0);
}

// C = A·B (op(A) M × K, op(B) K × N) in float64 with the magnitudes Σ_k |a·b| + |c0| of the
// sums sgemm forms for C = A·B + 0.5·c0 (c0 = 1 here).
static Reference naive_gemm(bool ta, bool tb, int M, int N, int K, const std::vector<float>& A,
                            const std::vector<float>& B) {
  Reference r(size_t(M) * N);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double s = 0.5, m = 0.5;
      for (int k = 0; k < K; ++k) {
        double a = ta ? A[size_t(k) * M + i] : A[size_t(i) * K + k];
        double b = tb ? B[size_t(j) * K + k] : B[size_t(k) * N + j];
        s += a * b;
        m += std::abs(a * b);
      }
      r.exact[size_t(i) * N + j] = s;
      r.magnitude[size_t(i) * N + j] = m;
    }
  return r;
}

TEST_CASE("sgemm on the selected OpenBLAS core matches a naive product") {
  // The core is the one ensure_fast_blas chose in main(): this checks its kernels, not a generic one.
  MESSAGE("OpenBLAS core: " << blas_core() << ", best for this CPU: " << blas_best_core_for_cpu());
  Rng rng(1);
  for (auto [M, N, K] : {std::tuple{64, 300, 576}, std::tuple{33, 17, 129}, std::tuple{128, 128, 128}}) {
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        std::vector<float> A(size_t(M) * K), B(size_t(K) * N), C(size_t(M) * N, 1.f);
        for (auto& v : A) v = float(rng.normal());
        for (auto& v : B) v = float(rng.normal());
        const Reference ref = naive_gemm(ta, tb, M, N, K, A, B);
        sgemm(ta, tb, M, N, K, 1.f, A.data(), ta ? M : K, B.data(), tb ? K : N, 0.5f, C.data(), N);
        // K products and β·C (0.5·1, exact) summed in any order: γ_{K+1}·M (tests/float_bounds.h).
        INFO("M N K ", M, " ", N, " ", K, " transposes ", ta, tb);
        check_within_bound("C", C.data(), ref, K + 1);
      }
  }
}

TEST_CASE("fast BLAS core is used when the CPU supports one") {
  std::string best = blas_best_core_for_cpu();
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr && !best.empty()) {
    std::string core = blas_core();
    for (auto& ch : core) ch = char(std::tolower(ch));
    for (auto& ch : best) ch = char(std::tolower(ch));
    // ensure_fast_blas replaces only OpenBLAS's generic fallbacks with `best`; a core OpenBLAS
    // recognised itself is kept (on a Zen 5 it picks Cooperlake, a superset of SkylakeX).
    INFO("core ", core, ", best for this CPU ", best);
    CHECK((core == best || (core != "prescott" && core != "core2" && core != "nehalem")));
  }
}

TEST_CASE("col2im is the adjoint of im2col (stride 2, padding)") {
  // <im2col(x), c> == <x, col2im(c)> for every x, c holds exactly when col2im is im2col's transpose.
  Rng rng(3);
  for (auto g : {ConvGeometry{3, 3, 1, 1}, ConvGeometry{3, 3, 2, 1}, ConvGeometry{2, 3, 2, 0}}) {
    Shape in{2, 3, 7, 6};
    int Ho = g.out_h(in.h), Wo = g.out_w(in.w);
    size_t rows = size_t(in.c) * g.kh * g.kw, cols_n = size_t(in.n) * Ho * Wo;
    std::vector<float> x(in.count()), c(rows * cols_n), cx(rows * cols_n), xc(in.count());
    for (auto& v : x) v = float(rng.normal());
    for (auto& v : c) v = float(rng.normal());
    im2col(x.data(), in, g, cx.data());
    col2im(c.data(), in, g, xc.data());
    // im2col copies (exact), col2im adds at most kh·kw column entries per pixel in float: each xc
    // within γ_{kh·kw}·Σ|c| of exact, so |lhs − rhs| ≤ γ_{kh·kw}·Σ|cx·c| (plus double rounding of
    // both sums, γ_n in 2⁻⁵³ for n terms: tests/float_bounds.h).
    double lhs = 0, rhs = 0, magnitude = 0;
    for (size_t i = 0; i < c.size(); ++i) lhs += double(cx[i]) * c[i], magnitude += std::abs(double(cx[i]) * c[i]);
    for (size_t i = 0; i < x.size(); ++i) rhs += double(x[i]) * xc[i];
    const double n = double(c.size());
    CHECK(std::abs(lhs - rhs) <= (gamma_n(g.kh * g.kw) + 2 * gamma_n(n, kDoubleUnitRoundoff)) * magnitude);
  }
}
