// optim/: one SGD step worked by hand, and the schedules.
#include <doctest/doctest.h>

#include "layers/param.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
#include "core/error.h"
#include "tests/float_bounds.h"

using namespace delve;
using namespace delve::test;

TEST_CASE("SGD step with momentum, weight decay and multipliers matches values worked by hand") {
  ParamRegistry reg;
  Param* w = reg.declare("fc.weight", {2}, ParamRole::Weight, 0.f, 1.f, 1.f);
  Param* b = reg.declare("fc.bias", {1}, ParamRole::Bias, 0.f, 2.f, 0.f);
  float wv[2] = {1.0f, -2.0f}, wg[2] = {0.5f, 0.25f}, wm[2] = {0.1f, 0.0f};
  float bv[1] = {3.0f}, bg[1] = {1.0f}, bm[1] = {0.2f};
  w->w = Tensor::view(wv, {1, 1, 1, 2});
  w->dw = Tensor::view(wg, {1, 1, 1, 2});
  w->v = Tensor::view(wm, {1, 1, 1, 2});
  b->w = Tensor::view(bv, {1, 1, 1, 1});
  b->dw = Tensor::view(bg, {1, 1, 1, 1});
  b->v = Tensor::view(bm, {1, 1, 1, 1});
  Sgd sgd(SgdOptions{0.9f, 0.1f});
  sgd.step(reg.all(), 0.5f);
  // Each value against the decimal arithmetic within its rounding bound (tests/float_bounds.h):
  // v = μ·v0 + r·(dw + λ·w) takes at most 7 roundings on a path (μ, λ, v0 are not floats: one
  // each; then ×, +, ×, +), M_v = μ|v0| + r·(|dw| + λ|w|); w − v one more, M_w = |w| + M_v.
  // weight[0]: v = 0.9·0.1 + 0.5·1·(0.5 + 0.1·1) = 0.09 + 0.3 = 0.39; w = 1 - 0.39 = 0.61
  CHECK(within_rounding(wm[0], 0.39, 0.39, 7));
  CHECK(within_rounding(wv[0], 0.61, 1.39, 8));
  // weight[1]: v = 0 + 0.5·(0.25 + 0.1·(-2)) = 0.025; w = -2.025
  CHECK(within_rounding(wm[1], 0.025, 0.5 * (0.25 + 0.2), 7));
  CHECK(within_rounding(wv[1], -2.025, 2 + 0.5 * (0.25 + 0.2), 8));
  // bias: lr_mult 2, decay_mult 0: v = 0.9·0.2 + 0.5·2·(1 + 0) = 1.18; w = 3 - 1.18 = 1.82
  CHECK(within_rounding(bm[0], 1.18, 1.18, 7));
  CHECK(within_rounding(bv[0], 1.82, 3 + 1.18, 8));
}

TEST_CASE("learning-rate schedules") {
  // lr = base·γ^k in float (optim/schedule.cpp): γ (0.1 is not a float) rounds once, so γ^k
  // carries k roundings, powf adds at most 1 ulp (2 roundings) and the product with base 1 (or
  // the plateau's repeated products, one each) one more: |lr − exact| ≤ γ_{2k+1}·lr for k ≥ 1
  // (tests/float_bounds.h); k = 0 is base itself, one rounding.
  auto lr_is = [](float got, double want, int k) { return within_rounding(got, want, want, 2 * k + 1); };
  SUBCASE("step") {
    LrSchedule s(ScheduleSpec{.kind = "step", .base_lr = 1.f, .every = 2, .gamma = 0.5f});
    std::vector<float> seen;
    for (int e = 0; e < 5; ++e) {
      seen.push_back(s.lr());
      s.on_epoch_end(e, 0.5);
    }
    CHECK(seen == std::vector<float>{1.f, 1.f, 0.5f, 0.5f, 0.25f});
  }
  SUBCASE("multistep") {
    LrSchedule s(ScheduleSpec{.kind = "multistep", .base_lr = 1.f, .milestones = {1, 3}, .gamma = 0.1f});
    s.on_epoch_end(0, 0.5);
    CHECK(lr_is(s.lr(), 0.1, 1));
    s.on_epoch_end(1, 0.5);
    CHECK(lr_is(s.lr(), 0.1, 1));
    s.on_epoch_end(2, 0.5);
    CHECK(lr_is(s.lr(), 0.01, 2));
  }
  SUBCASE("plateau divides by 10 after patience epochs without improvement") {
    LrSchedule s(ScheduleSpec{.kind = "plateau", .base_lr = 0.01f, .patience = 1, .factor = 0.1f, .threshold = 0.01f});
    s.on_epoch_end(0, 0.50);  // best
    s.on_epoch_end(1, 0.40);  // improves
    CHECK(lr_is(s.lr(), 0.01, 0));
    s.on_epoch_end(2, 0.399);  // < 1% better: bad epoch 1 (= patience, no drop yet)
    CHECK(lr_is(s.lr(), 0.01, 0));
    s.on_epoch_end(3, 0.41);  // bad epoch 2 > patience: drop
    CHECK(lr_is(s.lr(), 0.001, 1));
    LrSchedule t(s.spec());
    t.restore(s.state());
    CHECK(t.lr() == s.lr());
  }
  CHECK_THROWS_AS(LrSchedule(ScheduleSpec{.kind = "cosine"}), delve::ConfigError);
}
