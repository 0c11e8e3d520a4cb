// layers/dropout: inverted dropout. Gradients with the mask frozen (the Rng replayed to the same
// state before every forward), Eval identity, keep rate and scale, determinism from the Rng.
#include <doctest/doctest.h>

#include <cmath>

#include "core/error.h"
#include "layers/dropout.h"
#include "tests/gradcheck.h"

using namespace delve;
using namespace delve::test;

TEST_CASE("dropout gradients in Train with the mask frozen, on fc and conv activations") {
  for (Shape s : {Shape{6, 8, 1, 1}, Shape{2, 3, 4, 4}}) {
    Rng net_rng(1000);
    Dropout drop("drop", 0.5f, &net_rng);
    LayerHarness h(drop, s);
    Rng rng(1001);
    Tensor x(h.in);
    fill_normal(x, rng);
    GradCheckOptions o;
    o.replay = &net_rng;
    o.mode = Mode::Train;
    GradCheckReport r = gradcheck(h, x, 1002, o);
    INFO("input ", s.str());
    expect_clean(r, coordinates(h));
    // The check was not vacuous: some elements were dropped, some kept.
    size_t dropped = 0;
    for (float m : drop.mask()) dropped += m == 0.f;
    CHECK(dropped > 0);
    CHECK(dropped < s.count());
  }
}

TEST_CASE("dropout gradients in Eval are the identity's") {
  Rng net_rng(1010);
  Dropout drop("drop", 0.5f, &net_rng);
  LayerHarness h(drop, Shape{4, 5, 1, 1});
  Rng rng(1011);
  Tensor x(h.in);
  fill_normal(x, rng);
  GradCheckOptions o;
  o.mode = Mode::Eval;
  expect_clean(gradcheck(h, x, 1012, o), coordinates(h));
}

TEST_CASE("dropout keeps 1-p of the elements scaled by 1/(1-p) in Train, none changed in Eval") {
  const float p = 0.3f;
  Rng net_rng(1020);
  Dropout drop("drop", p, &net_rng);
  const Shape s{64, 100, 2, 2};  // 25600 elements
  LayerHarness h(drop, s);
  Tensor x(s), y(s), dy(s), dx(s);
  x.fill(2.f);
  h.forward(x, y, Mode::Train);
  size_t kept = 0;
  double sum = 0;
  bool values_ok = true;
  for (size_t i = 0; i < y.size(); ++i) {
    sum += y[i];
    if (y[i] != 0.f) {
      ++kept;
      values_ok = values_ok && y[i] == 2.f * (1.f / (1.f - p));
    }
  }
  CHECK(values_ok);
  // The kept count is Binomial(n, q), q = 1 − p: std √(n·q·p) ≈ 73; allow 6 of them (a chance
  // failure ~2e-9). Inverted dropout keeps the mean, E[y] = x: the mean of y is 2/q times the
  // kept fraction, std (2/q)·√(q·p/n) ≈ 0.008, 6 of them, plus the kept value's two roundings
  // (1/q and the product: 2u·2/q, tests/float_bounds.h).
  const double n = double(s.count()), pd = p, q = 1 - pd;
  CHECK(std::abs(double(kept) - q * n) < 6 * std::sqrt(n * q * pd));
  CHECK(std::abs(sum / n - 2.0) < 6 * (2 / q) * std::sqrt(q * pd / n) + gamma_n(2) * 2 / q);
  // backward applies the same mask
  dy.fill(1.f);
  h.backward(x, y, dy, &dx);
  bool same_mask = true;
  for (size_t i = 0; i < y.size(); ++i) same_mask = same_mask && dx[i] == y[i] / 2.f;
  CHECK(same_mask);

  const Rng before = net_rng;
  Tensor ye(s), dxe(s);
  h.forward(x, ye, Mode::Eval);
  h.backward(x, ye, dy, &dxe);
  CHECK(net_rng == before);  // Eval draws nothing
  bool identity = true;
  for (size_t i = 0; i < y.size(); ++i) identity = identity && ye[i] == 2.f && dxe[i] == 1.f;
  CHECK(identity);
}

TEST_CASE("dropout masks come from the given Rng: same state, same mask, advancing it, another") {
  const Shape s{8, 16, 1, 1};
  Rng a(77), b(77);
  Dropout da("d", 0.5f, &a), db("d", 0.5f, &b);
  LayerHarness ha(da, s), hb(db, s);
  Tensor x(s), ya(s), yb(s), ya2(s);
  x.fill(1.f);
  ha.forward(x, ya, Mode::Train);
  hb.forward(x, yb, Mode::Train);
  bool same = true;
  for (size_t i = 0; i < x.size(); ++i) same = same && ya[i] == yb[i];
  CHECK(same);
  CHECK(a == b);
  CHECK_FALSE(a == Rng(77));  // the generator advanced
  ha.forward(x, ya2, Mode::Train);
  bool differs = false;
  for (size_t i = 0; i < x.size(); ++i) differs = differs || ya[i] != ya2[i];
  CHECK(differs);
}

TEST_CASE("dropout p = 0 is the identity, p outside 0 <= p < 1 and a missing Rng are errors") {
  Rng r(5);
  Dropout d("d", 0.f, &r);
  LayerHarness h(d, Shape{3, 4, 1, 1});
  Tensor x(h.in), y(h.out);
  Rng fill(6);
  fill_normal(x, fill);
  h.forward(x, y, Mode::Train);
  for (size_t i = 0; i < x.size(); ++i) CHECK(y[i] == x[i]);
  CHECK(d.describe() == "p=0");
  CHECK(Dropout("d", 0.5f, &r).describe() == "p=0.5");
  CHECK(std::string(d.kind()) == "dropout");
  CHECK_THROWS_AS(Dropout("d", 1.f, &r), ShapeError);
  CHECK_THROWS_AS(Dropout("d", -0.1f, &r), ShapeError);
  CHECK_THROWS_AS(Dropout("d", 0.5f, nullptr), ShapeError);
}
