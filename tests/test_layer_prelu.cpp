// layers/prelu (He et al. §2.1): gradients channel-wise and channel-shared on conv and fc
// activations (Eq. 2-3), a hand-worked Eq. 2-3 example, fixed a = leaky ReLU, a = 0 = ReLU, and the
// slope parameter's declaration (PyTorch layout, fill 0.25, no weight decay).
#include <doctest/doctest.h>

#include "core/error.h"
#include "layers/init.h"
#include "layers/prelu.h"
#include "layers/relu.h"
#include "tests/gradcheck.h"

using namespace delve;
using namespace delve::test;

namespace {
void check_grad(Shape in, bool shared, uint64_t seed) {
  PReLU prelu("prelu", shared);
  LayerHarness h(prelu, in);
  Rng rng(seed);
  h.randomize_params(rng);  // slopes differ per channel: a wrong channel index shows
  Tensor x(h.in);
  fill_away_from_zero(x, rng, 2 * float(GradCheckOptions{}.eps));
  // ∂L/∂a sums N·H·W terms per channel, or all C·N·H·W when shared. The slopes are below 1, so
  // the forward on |x| + eps (y = |x| + eps) bounds every |a·x| (tests/gradcheck.h).
  GradCheckOptions o;
  o.backward_depth = double(shared ? in.count() : in.count() / in.c);
  GradCheckReport r = gradcheck(h, x, seed + 1, o);
  INFO("input ", in.str(), shared ? " channel-shared" : " channel-wise");
  expect_clean(r, coordinates(h));
}
}  // namespace

TEST_CASE("prelu gradients, channel-wise, conv activation") { check_grad(Shape{2, 3, 4, 4}, false, 800); }
TEST_CASE("prelu gradients, channel-shared, conv activation") { check_grad(Shape{2, 3, 4, 4}, true, 810); }
TEST_CASE("prelu gradients, channel-wise, fc activation") { check_grad(Shape{5, 4, 1, 1}, false, 820); }
TEST_CASE("prelu gradients, channel-shared, fc activation") { check_grad(Shape{5, 4, 1, 1}, true, 830); }

TEST_CASE("prelu Eq. 1-3 on a hand-worked example") {
  // Two channels, two positions each: channel 0 x = [-1, 2], channel 1 x = [-2, -0.5].
  for (bool shared : {false, true}) {
    PReLU prelu("prelu", shared);
    LayerHarness h(prelu, Shape{2, 2, 1, 1});
    Param& a = *h.param("prelu.weight");
    a.w[0] = 0.25f;
    if (!shared) a.w[1] = 0.5f;
    const float a1 = shared ? 0.25f : 0.5f;
    Tensor x(h.in), y(h.out), dy(h.out), dx(h.in);
    const float xv[4] = {-1.f, 2.f, -2.f, -0.5f}, gv[4] = {3.f, 4.f, 1.f, 4.f};
    for (int i = 0; i < 4; ++i) x[i] = xv[i], dy[i] = gv[i];
    h.forward(x, y, Mode::Train);
    CHECK(y[0] == -0.25f);   // Eq. 1: a_0·y
    CHECK(y[1] == 2.f);      // y > 0 passes
    CHECK(y[2] == -2.f * a1);
    CHECK(y[3] == -0.5f * a1);
    h.zero_grads();
    h.backward(x, y, dy, &dx);
    CHECK(dx[0] == 0.25f * 3.f);
    CHECK(dx[1] == 4.f);
    CHECK(dx[2] == a1 * 1.f);
    CHECK(dx[3] == a1 * 4.f);
    // Eq. 2-3: ∂E/∂a_0 = 3·(-1) = -3 (x = 2 > 0 contributes nothing); ∂E/∂a_1 = 1·(-2) + 4·(-0.5) = -4.
    if (shared) {
      CHECK(a.dw[0] == -7.f);  // channel-shared: summed over channels too
    } else {
      CHECK(a.dw[0] == -3.f);
      CHECK(a.dw[1] == -4.f);
    }
  }
}

TEST_CASE("prelu with a fixed slope equals a leaky ReLU, with a = 0 equals ReLU") {
  const Shape s{3, 4, 3, 3};
  Rng rng(840);
  Tensor x(s), dy(s);
  fill_normal(x, rng);
  fill_normal(dy, rng);
  for (bool shared : {false, true}) {
    PReLU leaky("leaky", shared, 0.01f);
    LayerHarness h(leaky, s);
    Rng init_rng(1);
    init_param(*h.param("leaky.weight"), InitSpec{}, init_rng);  // Slope: takes its fill 0.01
    Tensor y(s), dx(s);
    h.forward(x, y, Mode::Train);
    h.backward(x, y, dy, &dx);
    bool leaky_ok = true;
    for (size_t i = 0; i < x.size(); ++i)
      leaky_ok = leaky_ok && y[i] == (x[i] > 0 ? x[i] : 0.01f * x[i]) && dx[i] == (x[i] > 0 ? dy[i] : 0.01f * dy[i]);
    CHECK(leaky_ok);

    PReLU zero("zero", shared, 0.f);
    LayerHarness hz(zero, s);
    hz.param("zero.weight")->w.fill(0.f);
    ReLU relu("relu");
    LayerHarness hr(relu, s);
    Tensor yz(s), yr(s), dxz(s), dxr(s);
    hz.forward(x, yz, Mode::Train);
    hr.forward(x, yr, Mode::Train);
    hz.backward(x, yz, dy, &dxz);
    hr.backward(x, yr, dy, &dxr);
    bool same = true;
    for (size_t i = 0; i < x.size(); ++i) same = same && yz[i] == yr[i] && dxz[i] == dxr[i];
    CHECK(same);
  }
}

TEST_CASE("prelu slope: PyTorch layout (C) or (1), role Slope, fill 0.25, no weight decay") {
  for (Shape in : {Shape{8, 64, 16, 16}, Shape{8, 4096, 1, 1}}) {
    PReLU wise("prelu1", false), shared("prelu2", true);
    ParamRegistry reg;
    wise.declare(in, reg);
    shared.declare(in, reg);
    REQUIRE(reg.all().size() == 2);
    const Param& a = *reg.all()[0];
    const Param& b = *reg.all()[1];
    CHECK(a.name == "prelu1.weight");
    CHECK(a.dims == std::vector<int>{in.c});  // channel-wise: one a_i per channel
    CHECK(b.name == "prelu2.weight");
    CHECK(b.dims == std::vector<int>{1});     // channel-shared: one a per layer
    for (const Param* p : {&a, &b}) {
      CHECK(p->role == ParamRole::Slope);
      CHECK(p->fill == 0.25f);
      CHECK(p->decay_mult == 0.f);  // §2.1: decay would push a toward 0 (ReLU)
      CHECK(p->lr_mult == 1.f);
    }
    CHECK(wise.slope() == &a);
    CHECK(wise.weight() == nullptr);  // not a conv/linear weight
  }
  PReLU p("p", false);
  CHECK(p.is_activation());
  CHECK(p.describe() == "channel-wise");
  CHECK(PReLU("q", true).describe() == "channel-shared");
  CHECK(std::string(p.kind()) == "prelu");
  ParamRegistry reg;
  p.declare(Shape{2, 3, 4, 4}, reg);
  CHECK(p.reshape(Shape{5, 3, 4, 4}) == Shape{5, 3, 4, 4});
  CHECK_THROWS_AS(p.reshape(Shape{2, 4, 4, 4}), ShapeError);
}

TEST_CASE("prelu slope initialised by init_param is 0.25, whatever the weight initialiser") {
  PReLU prelu("prelu", false);
  LayerHarness h(prelu, Shape{2, 5, 3, 3});
  Param& a = *h.param("prelu.weight");
  InitSpec spec;
  spec.kind = InitSpec::Kind::Gaussian;
  spec.std = 1.f;
  Rng rng(3);
  init_param(a, spec, rng);
  for (size_t i = 0; i < a.count(); ++i) CHECK(a.w[i] == 0.25f);
}
