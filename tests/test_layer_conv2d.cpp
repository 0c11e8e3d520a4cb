// layers/conv2d: gradients (several geometries, with and without bias), forward against a
// float64 convolution (tests/conv_reference.h), declared parameters, shapes and errors.
#include <doctest/doctest.h>

#include "core/error.h"
#include "core/thread_pool.h"
#include "layers/conv2d.h"
#include "tests/conv_gradcheck.h"
#include "tests/conv_reference.h"
#include "tests/gradcheck.h"

using namespace delve;
using namespace delve::test;

namespace {
struct Geometry {
  Shape in;
  int out;
  KernelSize k;
  int stride, pad;
  bool bias;
};

void check_grad(const Geometry& g, uint64_t seed) {
  Conv2d conv("conv", g.out, g.k, g.stride, g.pad, g.bias);
  LayerHarness h(conv, g.in);
  Rng rng(seed);
  h.randomize_params(rng);
  Tensor x(h.in);
  fill_normal(x, rng);
  const ConvCase c{g.in, g.out, g.k.h, g.k.w, g.stride, g.pad};
  GradCheckReport r = gradcheck(h, x, seed + 1, conv_gradcheck_options(c, conv.uses_winograd()));
  INFO("geometry in ", g.in.str(), " out ", g.out, " kernel ", g.k.h, "x", g.k.w, " /", g.stride, " pad ", g.pad);
  expect_clean(r, coordinates(h));
}
}  // namespace

TEST_CASE("conv2d gradients: 3x3, stride 1, pad 1") { check_grad({Shape{2, 3, 5, 5}, 4, 3, 1, 1, true}, 100); }

TEST_CASE("conv2d gradients: 3x3, stride 2, pad 1 (odd input, floor)") {
  check_grad({Shape{2, 3, 7, 6}, 4, 3, 2, 1, true}, 200);
}

TEST_CASE("conv2d gradients: non-square 3x2 kernel, pad 1") { check_grad({Shape{2, 2, 5, 6}, 3, {3, 2}, 1, 1, true}, 300); }

TEST_CASE("conv2d gradients: no bias, 2x2 stride 2 (the paper's conv2x/conv3x kernels)") {
  check_grad({Shape{3, 2, 4, 4}, 5, 2, 2, 0, false}, 400);
}

TEST_CASE("conv2d forward equals a naive direct convolution") {
  const Geometry geometries[] = {
      {Shape{2, 3, 5, 5}, 4, 3, 1, 1, true},   {Shape{3, 2, 7, 7}, 5, 3, 2, 0, true},
      {Shape{1, 4, 8, 6}, 3, 5, 3, 2, true},   {Shape{2, 3, 6, 5}, 2, 1, 1, 0, false},
      {Shape{2, 2, 5, 7}, 4, {2, 3}, 1, 1, true}, {Shape{4, 3, 9, 9}, 8, 7, 2, 3, true},
  };
  uint64_t seed = 7;
  for (const Geometry& g : geometries) {
    Conv2d conv("conv", g.out, g.k, g.stride, g.pad, g.bias);
    LayerHarness h(conv, g.in);
    Rng rng(seed++);
    h.randomize_params(rng);
    Tensor x(h.in), y(h.out);
    fill_normal(x, rng);
    h.forward(x, y, Mode::Train);
    const float* w = conv.weight()->w.data();
    const float* b = conv.bias() ? conv.bias()->w.data() : nullptr;
    CHECK(h.out == Shape{g.in.n, g.out, (g.in.h + 2 * g.pad - g.k.h) / g.stride + 1,
                         (g.in.w + 2 * g.pad - g.k.w) / g.stride + 1});
    // Within the rounding bound of the algorithm the layer picked (Winograd for 3×3/1 pad 1,
    // im2col otherwise) of the float64 convolution (tests/conv_reference.h).
    const ConvCase c{g.in, g.out, g.k.h, g.k.w, g.stride, g.pad};
    const ConvBounds cb = conv_bounds(c, conv.uses_winograd(), x.data(), w, b, kForwardOnly);
    INFO("geometry in ", g.in.str(), " kernel ", g.k.h, "x", g.k.w, " /", g.stride, " pad ", g.pad);
    check_within_bound("y", y.data(), cb.ref.y, cb.depth.y);
  }
}

TEST_CASE("conv2d declares PyTorch-shaped weight and a decay-free zero bias") {
  Conv2d conv("conv3", 64, 3, 1, 1);
  ParamRegistry reg;
  conv.declare(Shape{8, 32, 16, 16}, reg);
  REQUIRE(reg.all().size() == 2);
  const Param& w = *reg.all()[0];
  const Param& b = *reg.all()[1];
  CHECK(w.name == "conv3.weight");
  CHECK(w.dims == std::vector<int>{64, 32, 3, 3});
  CHECK(w.role == ParamRole::Weight);
  CHECK(w.decay_mult == 1.f);
  CHECK(w.fan_in() == 3 * 3 * 32);   // n = k²c, Eq. 10
  CHECK(w.fan_out() == 3 * 3 * 64);  // n̂ = k²d, Eq. 14
  CHECK(b.name == "conv3.bias");
  CHECK(b.dims == std::vector<int>{64});
  CHECK(b.role == ParamRole::Bias);
  CHECK(b.fill == 0.f);
  CHECK(b.decay_mult == 0.f);
  CHECK(conv.weight() == &w);
  CHECK(conv.in_channels() == 32);

  Conv2d nobias("conv4", 8, {2, 3}, 1, 0, false);
  ParamRegistry reg2;
  nobias.declare(Shape{1, 3, 5, 5}, reg2);
  REQUIRE(reg2.all().size() == 1);
  CHECK(reg2.all()[0]->dims == std::vector<int>{8, 3, 2, 3});
  CHECK(nobias.bias() == nullptr);
}

TEST_CASE("conv2d shapes, scratch, description and errors") {
  Conv2d conv("conv1", 64, 7, 2, 3);
  ParamRegistry reg;
  conv.declare(Shape{2, 3, 32, 32}, reg);
  CHECK(conv.reshape(Shape{2, 3, 32, 32}) == Shape{2, 64, 16, 16});
  CHECK(conv.reshape(Shape{5, 3, 32, 32}) == Shape{5, 64, 16, 16});  // another batch size
  // 7×7 under the default Winograd is chunked im2col: per worker, at most one chunk's columns (≥ 1 image) plus its ∂L/∂w and ∂L/∂b.
  const size_t one_image = size_t(3 * 7 * 7) * 16 * 16, dw = size_t(64) * 3 * 7 * 7 + 64;
  CHECK(conv.scratch_floats(Shape{5, 3, 32, 32}) <= size_t(ThreadPool::instance().threads()) * (5 * one_image + dw));
  CHECK(conv.scratch_floats(Shape{5, 3, 32, 32}) >= one_image + dw);
  conv.set_algorithm(ConvAlgorithm::WholeBatch);  // the whole batch's columns
  CHECK(conv.scratch_floats(Shape{5, 3, 32, 32}) == size_t(3 * 7 * 7) * 5 * 16 * 16);
  CHECK(conv.describe() == "7x7, 64, /2");
  CHECK(Conv2d("c", 128, 3, 1, 1).describe() == "3x3, 128");
  CHECK(std::string(conv.kind()) == "conv2d");
  CHECK_FALSE(conv.is_activation());
  CHECK_THROWS_AS(conv.reshape(Shape{2, 4, 32, 32}), ShapeError);  // wrong channel count
  Conv2d big("big", 4, 5, 1, 0);
  ParamRegistry reg2;
  CHECK_THROWS_AS(big.declare(Shape{1, 1, 3, 3}, reg2), ShapeError);  // kernel larger than input
  CHECK_THROWS_AS(Conv2d("bad", 4, 3, 0, 1), ShapeError);
}

TEST_CASE("conv2d forward rejects an input of a shape it was not reshaped for") {
  Conv2d conv("conv", 2, 3, 1, 1);
  LayerHarness h(conv, Shape{2, 1, 4, 4});
  Tensor x(Shape{3, 1, 4, 4}), y(Shape{3, 2, 4, 4});
  CHECK_THROWS_AS(h.forward(x, y, Mode::Train), ShapeError);
}
