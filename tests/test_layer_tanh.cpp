// layers/tanh: values and gradients (a smooth layer: small step, no kink test).
#include <doctest/doctest.h>

#include <cmath>

#include "layers/tanh.h"
#include "tests/gradcheck.h"

using namespace delve;
using namespace delve::test;

TEST_CASE("tanh forward matches std::tanh") {
  Tanh t("tanh1");
  LayerHarness h(t, Shape{2, 3, 2, 2});
  Rng rng(31);
  Tensor x(h.in), y(h.out);
  fill_normal(x, rng, 2.f);
  h.forward(x, y, Mode::Eval);
  for (size_t i = 0; i < x.size(); ++i) CHECK(y[i] == std::tanh(x[i]));
  CHECK(y.size() == 24);
}

TEST_CASE("tanh gradients on conv and fc activations") {
  for (Shape s : {Shape{3, 4, 3, 3}, Shape{5, 7, 1, 1}}) {
    Tanh t("tanh");
    LayerHarness h(t, s);
    Rng rng(32);
    Tensor x(h.in);
    fill_normal(x, rng, 1.5f);
    GradCheckOptions o;
    o.eps = 1e-2;
    o.smooth = true;
    o.third_derivative = 2;  // |tanh‴| = |2·sech²·(3·tanh² − 1)| ≤ 2
    // tanhf is within 2 ulp (4 roundings of u), and ∂L/∂x = dy·(1 − y·y) adds 3 roundings to a
    // path through y: magnitude |dy|·(1 + y²) ≤ 2·|dy|; the forward's magnitude is |y| ≤ tanh(|x| + eps).
    o.forward_depth = 4;
    o.backward_depth = 7;
    o.magnitudes = [](LayerHarness& lh, const Tensor& xa, const Tensor& dya) {
      Tensor ya(lh.out);
      lh.forward(xa, ya, Mode::Eval);
      GradMagnitudes m;
      for (size_t j = 0; j < dya.size(); ++j) m.loss += dya[j] * ya[j], m.analytic.push_back(2.0 * dya[j]);
      return m;
    };
    GradCheckReport r = gradcheck(h, x, 33, o);
    INFO("input ", s.str());
    expect_clean(r, coordinates(h));
  }
}

TEST_CASE("tanh is a parameter-free activation") {
  Tanh t("tanh");
  ParamRegistry reg;
  t.declare(Shape{2, 3, 4, 4}, reg);
  CHECK(reg.all().empty());
  CHECK(t.is_activation());
  CHECK(t.reshape(Shape{2, 3, 4, 4}) == Shape{2, 3, 4, 4});
  CHECK(t.describe() == "tanh");
  CHECK(std::string(t.kind()) == "tanh");
}
