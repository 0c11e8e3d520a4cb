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
  CHECK(loss == doctest::Approx(1.2887259920003329).epsilon(1e-6));
  CHECK(errors == 1);
  const Tensor& p = xent.probabilities();
  CHECK(get(p, 0, 0) == doctest::Approx(0.09003057317038046).epsilon(1e-6));
  CHECK(get(p, 1, 0) == doctest::Approx(0.24472847105479767).epsilon(1e-6));
  CHECK(get(p, 2, 0) == doctest::Approx(0.6652409557748219).epsilon(1e-6));
  Tensor d;
  xent.backward(d);
  REQUIRE(d.shape() == z.shape());
  CHECK(get(d, 2, 0) == doctest::Approx((0.6652409557748219 - 1.0) / 2).epsilon(1e-6));
  CHECK(get(d, 0, 0) == doctest::Approx(0.09003057317038046 / 2).epsilon(1e-6));
  // Each column of the gradient sums to 0 (probabilities sum to 1, minus one one-hot).
  for (int n = 0; n < 2; ++n) CHECK(std::abs(get(d, 0, n) + get(d, 1, n) + get(d, 2, n)) < 1e-7);
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
  CHECK(lb == doctest::Approx(la).epsilon(1e-3));  // z + 1000 in float keeps ~4 significant digits of z
  Tensor huge(Shape{1, 2, 1, 1});
  huge[0] = -1e4f, huge[1] = 1e4f;
  const int32_t wrong[1] = {0};
  SoftmaxCrossEntropy c;
  CHECK(c.forward(huge, wrong) == doctest::Approx(2e4));  // -log p = 2e4, no inf
}

TEST_CASE("softmax cross-entropy gradient against central differences of the mean loss") {
  const int K = 5, N = 4;
  Tensor z(Shape{N, K, 1, 1});
  Rng rng(1110);
  fill_normal(z, rng, 2.f);
  const int32_t labels[N] = {0, 4, 2, 2};
  SoftmaxCrossEntropy xent;
  xent.forward(z, labels);
  Tensor d(Shape{N, K, 1, 1});
  d.fill(std::nanf(""));  // backward must overwrite
  xent.backward(d);
  GradCheckOptions o;
  // The loss comes back as a float (rounding ~1e-7) and is smooth: along one logit its third
  // derivative is p(1-p)(1-2p)/N <= 0.1/N. eps = 0.03 keeps rounding/(2·eps) <= 2e-6 and the
  // truncation eps²·f'''/6 <= 4e-6, both well under tol·floor = 2e-5; the gradients are p/N <= 0.25.
  o.eps = 0.03;
  o.smooth = true;
  o.floor = 0.02;
  GradCheckReport r;
  SoftmaxCrossEntropy probe;
  compare_numeric("logits", z.data(), z.size(), d.data(), [&] { return double(probe.forward(z, labels)); }, o, r);
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
