// tests/gradcheck.h itself: each of its checks must be able to fail. A toy layer y = s·x (one
// parameter s) is broken in one way at a time and gradcheck must notice; relu near 0 must be
// skipped rather than reported.
#include <doctest/doctest.h>

#include "layers/relu.h"
#include "tests/gradcheck.h"

using namespace delve;
using namespace delve::test;

namespace {
enum class Bug { None, WrongDx, WrongDs, AccumulateDx, OverwriteDs, IgnoresNullDx };

// Shapes: x, y C × N × H × W; s [1]. y = s·x; ∂L/∂x = s·dy; ∂L/∂s = Σ dy·x.
class Scale : public Layer {
 public:
  explicit Scale(Bug bug) : Layer("scale"), bug_(bug) {}
  const char* kind() const override { return "scale"; }
  void declare(const Shape&, ParamRegistry& reg) override { s_ = reg.declare("scale.weight", {1}, ParamRole::Weight); }
  Shape reshape(const Shape& in) override { return in; }
  void forward(const Tensor& x, Tensor& y, Mode) override {
    for (size_t i = 0; i < x.size(); ++i) y[i] = s_->w[0] * x[i];
  }
  void backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx) override {
    double ds = 0;
    for (size_t i = 0; i < x.size(); ++i) ds += double(dy[i]) * x[i];
    if (bug_ == Bug::WrongDs) ds *= 1.01;
    if (bug_ == Bug::OverwriteDs)
      s_->dw[0] = float(ds);
    else
      s_->dw[0] += float(ds);
    if (!dx) {
      if (bug_ == Bug::IgnoresNullDx) s_->dw[0] += 1.f;  // a null-dx path that differs
      return;
    }
    const float k = bug_ == Bug::WrongDx ? 1.01f * s_->w[0] : s_->w[0];
    for (size_t i = 0; i < x.size(); ++i) {
      if (bug_ == Bug::AccumulateDx)
        (*dx)[i] += k * dy[i];
      else
        (*dx)[i] = k * dy[i];
    }
  }

 private:
  Bug bug_;
  Param* s_ = nullptr;
};

GradCheckReport check_scale(Bug bug) {
  Scale layer(bug);
  LayerHarness h(layer, Shape{2, 3, 2, 2});
  h.param("scale.weight")->w[0] = 0.7f;
  Rng rng(5);
  Tensor x(h.in);
  fill_normal(x, rng);
  return gradcheck(h, x, 11);
}
}  // namespace

TEST_CASE("gradcheck passes a correct layer and checks every coordinate") {
  GradCheckReport r = check_scale(Bug::None);
  CHECK(r.failed == 0);
  CHECK(r.skipped == 0);
  CHECK(r.checked == 24 + 1);
  CHECK(r.dx_overwritten);
  CHECK(r.dw_accumulates);
  CHECK(r.null_dx_same_dw);
  CHECK(r.worst <= 1.0);  // every coordinate within its derived tolerance (tests/gradcheck.h)
}

TEST_CASE("gradcheck catches a 1% error in dx or in dw") {
  GradCheckReport a = check_scale(Bug::WrongDx);
  CHECK(a.failed == 24);  // every input coordinate, and only those
  GradCheckReport b = check_scale(Bug::WrongDs);
  CHECK(b.failed == 1);
}

TEST_CASE("gradcheck catches a backward that accumulates into dx") {
  GradCheckReport r = check_scale(Bug::AccumulateDx);
  CHECK_FALSE(r.dx_overwritten);
}

TEST_CASE("gradcheck catches a backward that overwrites dw instead of accumulating") {
  GradCheckReport r = check_scale(Bug::OverwriteDs);
  CHECK_FALSE(r.dw_accumulates);
}

TEST_CASE("gradcheck catches a dx == nullptr path that changes dw") {
  GradCheckReport r = check_scale(Bug::IgnoresNullDx);
  CHECK_FALSE(r.null_dx_same_dw);
}

TEST_CASE("gradcheck skips coordinates whose perturbation crosses a kink, and only those") {
  ReLU relu("relu");
  LayerHarness h(relu, Shape{4, 3, 5, 5});
  Tensor x(h.in);
  Rng rng(3);
  const double eps = GradCheckOptions{}.eps;
  fill_normal(x, rng, float(eps));  // |x| ~ eps: many perturbations cross 0
  size_t crossing = 0;
  for (size_t i = 0; i < x.size(); ++i) crossing += std::abs(x[i]) < eps;
  REQUIRE(crossing > 50);
  GradCheckReport r = gradcheck(h, x, 9);
  CHECK_MESSAGE(r.failed == 0, r.summary());
  CHECK(r.skipped > 0);
  CHECK(r.skipped <= crossing);  // nothing away from the kink is skipped
  CHECK(r.checked + r.skipped == x.size());
}
