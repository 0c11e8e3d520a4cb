// layers/softmax_xent: the loss on a hand-computed example, error counting, numerical stability,
// and the gradient (p - onehot)/N against central differences of the mean loss.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "layers/softmax_xent.h"
#include "tests/gradcheck.h"

using namespace delve;
using namespace delve::test;

namespace {
// logits is K × N (Shape{N, K, 1, 1}): element (k, n) at k·N + n.
void set(Tensor& t, int k, int n, float v) { t[size_t(k) * t.shape().n + n] = v; }
float get(const Tensor& t, int k, int n) { return t[size_t(k) * t.shape().n + n]; }
}  // namespace

TEST_CASE("softmax cross-entropy on a hand-computed example") {
  // Column 0: logits (1, 2, 3), label 2: loss = log(e + e² + e³) - 3 = 0.40760596444438013.
  // Column 1: logits (2, 0, -1), label 1: loss = log(e² + 1 + e⁻¹) - 0 = 2.1698460195562856,
  //           and argmax 0 ≠ 1: one error. Mean = 1.2887259920003329.
  Tensor z(Shape{2, 3, 1, 1});
  set(z, 0, 0, 1.f), set(z, 1, 0, 2.f), set(z, 2, 0, 3.f);
  set(z, 0, 1, 2.f), set(z, 1, 1, 0.f), set(z, 2, 1, -1.f);
  const int32_t labels[2] = {2, 1};
  SoftmaxCrossEntropy xent;
  int errors = -1;
  const float loss = xent.forward(z, labels, &errors);
  // Bounds (softmax_rounding, tests/float_bounds.h): column 0 spans R = 2 below its maximum,
  // column 1 R = 3; the loss adds each column's log-sum error over N = 2 and rounds to float.
  const SoftmaxRounding r0 = softmax_rounding(2), r1 = softmax_rounding(3);
  const double want_loss = 1.2887259920003329;
  CHECK(std::abs(loss - want_loss) <= (r0.log_sum() + r1.log_sum()) / 2 + kFloatUnitRoundoff * want_loss);
  CHECK(errors == 1);
  const Tensor& p = xent.probabilities();
  const double p00 = 0.09003057317038046, p10 = 0.24472847105479767, p20 = 0.6652409557748219;
  CHECK(std::abs(get(p, 0, 0) - p00) <= r0.p_relative() * p00);
  CHECK(std::abs(get(p, 1, 0) - p10) <= r0.p_relative() * p10);
  CHECK(std::abs(get(p, 2, 0) - p20) <= r0.p_relative() * p20);
  Tensor d;
  xent.backward(d);
  REQUIRE(d.shape() == z.shape());
  // d = p·½ (exact) − ½ at the label (one rounding of a value below 1/2).
  const double e20 = r0.p_relative() * p20 / 2 + kFloatUnitRoundoff / 2, e00 = r0.p_relative() * p00 / 2;
  CHECK(std::abs(get(d, 2, 0) - (p20 - 1.0) / 2) <= e20);
  CHECK(std::abs(get(d, 0, 0) - p00 / 2) <= e00);
  // Each column of the gradient sums to 0 (probabilities sum to 1, minus one one-hot): within the
  // three values' bounds (each p_k·p_relative/2, the label's + u/2) and this sum's two roundings.
  for (int n = 0; n < 2; ++n) {
    const SoftmaxRounding& rn = n == 0 ? r0 : r1;
    const float sum = get(d, 0, n) + get(d, 1, n) + get(d, 2, n);
    const double magnitude = std::abs(get(d, 0, n)) + std::abs(get(d, 1, n)) + std::abs(get(d, 2, n));
    CHECK(std::abs(sum) <= rn.p_relative() / 2 + kFloatUnitRoundoff / 2 + gamma_n(2) * magnitude);
  }
}

TEST_CASE("softmax cross-entropy is stable for large logits and invariant to a shift") {
  Tensor z(Shape{3, 4, 1, 1}), zs(Shape{3, 4, 1, 1});
  Rng rng(1100);
  fill_normal(z, rng, 3.f);
  for (size_t i = 0; i < z.size(); ++i) zs[i] = z[i] + 1000.f;  // exp(1000) overflows a float
  const int32_t labels[3] = {0, 3, 1};
  SoftmaxCrossEntropy a, b;
  const float la = a.forward(z, labels), lb = b.forward(zs, labels);
  CHECK(std::isfinite(lb));
  // z + 1000 rounds each logit by at most u·|z + 1000| (1 ulp of 1000 is 6e-5: about 4 significant
  // digits of z survive), and the mean loss is 2-Lipschitz in the max norm of the logits (see the
  // golden test); each loss also carries its own rounding (logits within R = max − min of the max).
  double shift = 0, R = 0;
  for (size_t i = 0; i < zs.size(); ++i) shift = std::max(shift, kFloatUnitRoundoff * std::abs(zs[i]));
  for (size_t i = 0; i < z.size(); ++i)
    for (size_t j = 0; j < z.size(); ++j) R = std::max(R, double(z[i]) - z[j]);
  const double own = softmax_rounding(R).log_sum() + kFloatUnitRoundoff * std::abs(la);
  CHECK(std::abs(lb - la) <= 2 * shift + 2 * own);
  Tensor huge(Shape{1, 2, 1, 1});
  huge[0] = -1e4f, huge[1] = 1e4f;
  const int32_t wrong[1] = {0};
  SoftmaxCrossEntropy c;
  // -log p = 2e4 + log(1 + e^-2e4): exp(-2e4) is 0 in float, log 1 = 0, 1e4 − (−1e4) exact.
  CHECK(c.forward(huge, wrong) == 2e4f);  // no inf
}

TEST_CASE("softmax cross-entropy gradient against central differences of the mean loss") {
  const int K = 5, N = 4;
  Tensor z(Shape{N, K, 1, 1});
  Rng rng(1110);
  fill_normal(z, rng, 2.f);
  const int32_t labels[N] = {0, 4, 2, 2};
  SoftmaxCrossEntropy xent;
  const double L0 = xent.forward(z, labels);
  Tensor d(Shape{N, K, 1, 1});
  d.fill(std::nanf(""));  // backward must overwrite
  xent.backward(d);
  // The mean loss along one logit: f‴ = p(1−p)(1−2p)/N, at most 0.0963/N (p = ½ ± √3/6). The loss
  // rounds per softmax_rounding (tests/float_bounds.h; logits N(0, 2²) within R of their maximum,
  // R bounded below with the step) and to float; the gradient p/N − [label]/N carries p's relative
  // error and, at the label, one more rounding of a value below 1/N (tests/test_golden.cpp).
  GradCheckOptions o;
  o.eps = 0.03;
  o.smooth = true;
  double R = 0;
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < K; ++j) R = std::max(R, double(get(z, k, n)) - get(z, j, n) + 2 * o.eps);
  const SoftmaxRounding sr = softmax_rounding(R);
  Allowance allow;
  // |L| at a perturbed point: within 2·eps/N of L0 (2-Lipschitz, one logit moved by eps).
  allow.loss_error = sr.log_sum() + kFloatUnitRoundoff * (std::abs(L0) + 2 * o.eps / N);
  allow.analytic_error = [&](size_t i, double) {
    return sr.p_relative() * xent.probabilities()[i] / N + 2 * kFloatUnitRoundoff / N;
  };
  allow.truncation = [&](size_t, double h) { return h * h / 6 * 0.0963 / N; };
  GradCheckReport r;
  SoftmaxCrossEntropy probe;
  compare_numeric("logits", z.data(), z.size(), d.data(), [&] { return double(probe.forward(z, labels)); }, o, allow,
                  r);
  CHECK_MESSAGE(r.failed == 0, r.summary());
  CHECK(r.checked == size_t(K * N));
}

TEST_CASE("softmax cross-entropy errors: argmax with the first maximum on ties, labels validated") {
  Tensor z(Shape{3, 2, 1, 1});
  set(z, 0, 0, 1.f), set(z, 1, 0, 1.f);  // tie: argmax 0
  set(z, 0, 1, 0.f), set(z, 1, 1, 2.f);  // argmax 1
  set(z, 0, 2, 5.f), set(z, 1, 2, 4.f);  // argmax 0
  SoftmaxCrossEntropy xent;
  int errors = -1;
  const int32_t l1[3] = {0, 1, 0};
  xent.forward(z, l1, &errors);
  CHECK(errors == 0);
  const int32_t l2[3] = {1, 0, 1};
  xent.forward(z, l2, &errors);
  CHECK(errors == 3);
  const int32_t bad[3] = {0, 2, 0};
  CHECK_THROWS_AS(xent.forward(z, bad), DataError);
  const int32_t neg[3] = {0, -1, 0};
  CHECK_THROWS_AS(xent.forward(z, neg), DataError);
  Tensor conv_shaped(Shape{3, 2, 2, 2});
  CHECK_THROWS_AS(xent.forward(conv_shaped, l1), ShapeError);
}
