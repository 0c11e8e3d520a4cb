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
    o.eps = 1e-2;  // truncation eps²·|f'''|/6 <= 3.4e-5 relative to dy
    o.smooth = true;
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
