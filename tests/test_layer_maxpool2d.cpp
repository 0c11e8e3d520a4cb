// layers/maxpool2d: gradients (non-overlapping and overlapping windows, inputs without ties),
// forward against a naive max, floor output size, tie rule, description.
#include <doctest/doctest.h>

#include "core/error.h"
#include "layers/maxpool2d.h"
#include "tests/gradcheck.h"

using namespace delve;
using namespace delve::test;

namespace {
void check_grad(Shape in, int k, int s, uint64_t seed) {
  MaxPool2d pool("pool", k, s);
  LayerHarness h(pool, in);
  Rng rng(seed);
  Tensor x(h.in);
  // Values 2·eps apart: perturbing one by ±eps never changes a window's winner.
  fill_distinct(x, rng, 2 * float(GradCheckOptions{}.eps));
  GradCheckReport r = gradcheck(h, x, seed + 1);
  INFO("input ", in.str(), " window ", k, "/", s);
  expect_clean(r, coordinates(h));
}
}  // namespace

TEST_CASE("maxpool2d gradients: 2x2/2") { check_grad(Shape{2, 3, 6, 6}, 2, 2, 900); }
TEST_CASE("maxpool2d gradients: 3x3/2, overlapping windows, odd input") { check_grad(Shape{2, 2, 7, 7}, 3, 2, 910); }
TEST_CASE("maxpool2d gradients: 2x2/2 with floor (5x5 -> 2x2, last row and column unused)") {
  check_grad(Shape{2, 2, 5, 5}, 2, 2, 920);
}

TEST_CASE("maxpool2d forward equals a naive window max") {
  struct G {
    Shape in;
    int k, s;
  } geometries[] = {{Shape{2, 3, 6, 6}, 2, 2}, {Shape{3, 2, 7, 5}, 3, 2}, {Shape{1, 4, 9, 9}, 3, 3}, {Shape{2, 1, 4, 6}, 2, 1}};
  uint64_t seed = 930;
  for (const G& g : geometries) {
    MaxPool2d pool("pool", g.k, g.s);
    LayerHarness h(pool, g.in);
    Rng rng(seed++);
    Tensor x(h.in), y(h.out);
    fill_normal(x, rng);
    h.forward(x, y, Mode::Eval);
    CHECK(h.out == Shape{g.in.n, g.in.c, (g.in.h - g.k) / g.s + 1, (g.in.w - g.k) / g.s + 1});
    bool same = true;
    for (int n = 0; n < h.out.n; ++n)
      for (int c = 0; c < h.out.c; ++c)
        for (int oh = 0; oh < h.out.h; ++oh)
          for (int ow = 0; ow < h.out.w; ++ow) {
            float m = -1e30f;
            for (int i = 0; i < g.k; ++i)
              for (int j = 0; j < g.k; ++j) m = std::max(m, x.at(n, c, oh * g.s + i, ow * g.s + j));
            same = same && y.at(n, c, oh, ow) == m;
          }
    INFO("input ", g.in.str(), " window ", g.k, "/", g.s);
    CHECK(same);
  }
}

TEST_CASE("maxpool2d routes dy to the first maximum of a tied window, and sums overlapping windows") {
  MaxPool2d pool("pool", 2, 1);
  LayerHarness h(pool, Shape{1, 1, 2, 3});
  Tensor x(h.in), y(h.out), dy(h.out), dx(h.in);
  // x = [[1, 5, 5],
  //      [0, 2, 5]]  windows (2x2, stride 1): cols 0-1 -> max 5 at (0,1); cols 1-2 -> tie, first (0,1)
  const float v[6] = {1, 5, 5, 0, 2, 5};
  for (int i = 0; i < 6; ++i) x[i] = v[i];
  REQUIRE(h.out == Shape{1, 1, 1, 2});
  h.forward(x, y, Mode::Train);
  CHECK(y[0] == 5.f);
  CHECK(y[1] == 5.f);
  dy[0] = 1.f, dy[1] = 10.f;
  dx.fill(-7.f);
  h.backward(x, y, dy, &dx);
  CHECK(dx[1] == 11.f);  // both windows' winner
  for (int i : {0, 2, 3, 4, 5}) CHECK(dx[i] == 0.f);
}

TEST_CASE("maxpool2d shapes, description and errors") {
  MaxPool2d pool("pool1", 2, 2);
  CHECK(pool.reshape(Shape{4, 64, 32, 32}) == Shape{4, 64, 16, 16});
  CHECK(pool.reshape(Shape{4, 64, 7, 7}) == Shape{4, 64, 3, 3});  // floor
  CHECK(pool.describe() == "2x2/2");
  CHECK(MaxPool2d("p", 3, 2).describe() == "3x3/2");
  CHECK(std::string(pool.kind()) == "maxpool2d");
  CHECK_FALSE(pool.is_activation());
  CHECK(pool.scratch_floats(Shape{4, 64, 7, 7}) == 0);  // its argmax is its own
  ParamRegistry reg;
  pool.declare(Shape{4, 64, 7, 7}, reg);
  CHECK(reg.all().empty());
  CHECK_THROWS_AS(pool.reshape(Shape{1, 1, 1, 4}), ShapeError);
  CHECK_THROWS_AS(MaxPool2d("bad", 0, 2), ShapeError);
}
