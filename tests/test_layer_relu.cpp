// layers/relu: values, gradients away from the kink, contract flags.
#include <doctest/doctest.h>

#include "layers/relu.h"
#include "tests/gradcheck.h"

using namespace delve;
using namespace delve::test;

TEST_CASE("relu forward is max(0, x)") {
  ReLU relu("relu1");
  LayerHarness h(relu, Shape{1, 1, 1, 5});
  Tensor x(h.in), y(h.out);
  const float v[5] = {-2.f, -0.f, 0.f, 0.5f, 3.f};
  for (int i = 0; i < 5; ++i) x[i] = v[i];
  h.forward(x, y, Mode::Eval);
  CHECK(y[0] == 0.f);
  CHECK(y[1] == 0.f);
  CHECK(y[2] == 0.f);
  CHECK(y[3] == 0.5f);
  CHECK(y[4] == 3.f);
}

TEST_CASE("relu gradients on conv and fc activations (inputs away from 0)") {
  for (Shape s : {Shape{3, 4, 5, 5}, Shape{6, 10, 1, 1}}) {
    ReLU relu("relu");
    LayerHarness h(relu, s);
    Rng rng(21);
    Tensor x(h.in);
    fill_away_from_zero(x, rng, 2 * float(GradCheckOptions{}.eps));
    GradCheckReport r = gradcheck(h, x, 22);
    INFO("input ", s.str());
    expect_clean(r, coordinates(h));
  }
}

TEST_CASE("relu backward passes dy where x > 0 and zero elsewhere") {
  ReLU relu("relu");
  LayerHarness h(relu, Shape{1, 2, 1, 2});
  Tensor x(h.in), y(h.out), dy(h.out), dx(h.in);
  x[0] = -1.f, x[1] = 2.f, x[2] = 0.f, x[3] = 0.1f;
  dy[0] = 5.f, dy[1] = 6.f, dy[2] = 7.f, dy[3] = 8.f;
  h.forward(x, y, Mode::Train);
  h.backward(x, y, dy, &dx);
  CHECK(dx[0] == 0.f);
  CHECK(dx[1] == 6.f);
  CHECK(dx[2] == 0.f);  // f'(0) taken as 0, like PReLU's Eq. 1 with a = 0
  CHECK(dx[3] == 8.f);
}

TEST_CASE("relu is an activation with no parameters and no scratch") {
  ReLU relu("relu");
  ParamRegistry reg;
  relu.declare(Shape{2, 3, 4, 4}, reg);
  CHECK(reg.all().empty());
  CHECK(relu.is_activation());
  CHECK(relu.weight() == nullptr);
  CHECK(relu.reshape(Shape{2, 3, 4, 4}) == Shape{2, 3, 4, 4});
  CHECK(relu.scratch_floats(Shape{2, 3, 4, 4}) == 0);
  CHECK(relu.describe() == "relu");
  CHECK(std::string(relu.kind()) == "relu");
}
