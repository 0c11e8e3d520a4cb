// layers/linear: gradients on 4-d and fc inputs, PyTorch's (c, h, w) feature order against a
// naive product, declared parameters, scratch and shapes.
#include <doctest/doctest.h>

#include "core/error.h"
#include "layers/linear.h"
#include "tests/conv_gradcheck.h"
#include "tests/conv_reference.h"
#include "tests/gradcheck.h"

using namespace delve;
using namespace delve::test;

namespace {
void check_grad(Shape in, int out, bool bias, uint64_t seed) {
  Linear fc("fc", out, bias);
  LayerHarness h(fc, in);
  Rng rng(seed);
  h.randomize_params(rng);
  Tensor x(h.in);
  fill_normal(x, rng);
  // As a convolution whose kernel covers the image: sums of C·H·W (forward) and N (∂L/∂w) terms.
  GradCheckReport r = gradcheck(h, x, seed + 1, conv_gradcheck_options(ConvCase{in, out, in.h, in.w, 1, 0}, false));
  INFO("input ", in.str(), " -> ", out, bias ? " with bias" : " without bias");
  expect_clean(r, coordinates(h));
}
}  // namespace

TEST_CASE("linear gradients on a 4-d (conv) input") { check_grad(Shape{3, 4, 2, 3}, 5, true, 500); }
TEST_CASE("linear gradients on an fc input") { check_grad(Shape{4, 6, 1, 1}, 3, true, 600); }
TEST_CASE("linear gradients without bias") { check_grad(Shape{2, 3, 3, 1}, 4, false, 700); }

TEST_CASE("linear forward flattens each image in PyTorch's (c, h, w) order") {
  const Shape in{3, 2, 3, 4};  // N = 3, C = 2, H = 3, W = 4: 24 features per image
  Linear fc("fc1", 5);
  LayerHarness h(fc, in);
  Rng rng(41);
  h.randomize_params(rng);
  Tensor x(h.in), y(h.out);
  fill_normal(x, rng);
  h.forward(x, y, Mode::Train);
  REQUIRE(h.out == Shape{3, 5, 1, 1});
  // The reference: a convolution whose 3×4 kernel covers the image, so w[o, (c·H + i)·W + j]
  // is PyTorch's flatten order (tests/conv_reference.h); y = b + Σ of 24 products, γ_25·M.
  const ConvCase g{in, 5, in.h, in.w, 1, 0};
  const ConvReference ref = direct_conv_reference(g, x.data(), fc.weight()->w.data(), fc.bias()->w.data(), kForwardOnly);
  check_within_bound("y", y.data(), ref.y, direct_conv_depths(g).y);  // both [out × N]
}

TEST_CASE("linear declares an (out, in) weight and a decay-free zero bias, scratch only for 4-d input") {
  Linear fc("fc2", 4096);
  ParamRegistry reg;
  fc.declare(Shape{8, 256, 2, 2}, reg);
  REQUIRE(reg.all().size() == 2);
  CHECK(reg.all()[0]->name == "fc2.weight");
  CHECK(reg.all()[0]->dims == std::vector<int>{4096, 1024});
  CHECK(reg.all()[0]->fan_in() == 1024);
  CHECK(reg.all()[0]->fan_out() == 4096);
  CHECK(reg.all()[1]->name == "fc2.bias");
  CHECK(reg.all()[1]->dims == std::vector<int>{4096});
  CHECK(reg.all()[1]->role == ParamRole::Bias);
  CHECK(reg.all()[1]->decay_mult == 0.f);
  CHECK(fc.weight() == reg.all()[0].get());
  CHECK(fc.in_features() == 1024);
  CHECK(fc.reshape(Shape{8, 256, 2, 2}) == Shape{8, 4096, 1, 1});
  CHECK(fc.scratch_floats(Shape{8, 256, 2, 2}) == 8 * 1024);
  CHECK(fc.describe() == "4096");
  CHECK_THROWS_AS(fc.reshape(Shape{8, 256, 3, 3}), ShapeError);  // other feature count

  Linear fc3("fc3", 10, false);
  ParamRegistry reg3;
  fc3.declare(Shape{8, 4096, 1, 1}, reg3);
  CHECK(reg3.all().size() == 1);
  CHECK(fc3.scratch_floats(Shape{8, 4096, 1, 1}) == 0);  // an fc input is X itself
  CHECK(fc3.reshape(Shape{3, 4096, 1, 1}) == Shape{3, 10, 1, 1});
}
