// Numerical gradient checking for layers, driven directly (no Net), in Caffe's manner.
//
// For a layer with input x (C × N × H × W) and output y, the loss is L = Σ_i y_i·dy_i for a fixed
// random upstream gradient dy, so ∂L/∂x is exactly what backward(x, y, dy, dx) must return and
// ∂L/∂w what it must add to each parameter's dw. Every input element and every parameter element
// is perturbed by ±eps; the central difference (L+ - L-)/(v+ - v-), with L summed in double and
// v± the float values actually used, is compared with the analytic gradient.
//
// Kinks (relu/prelu at 0, maxpool ties): tests build inputs away from them. As a safety net,
// every layer here except tanh is piecewise linear in any one coordinate, so L(v-eps), L(v),
// L(v+eps) must be collinear: a coordinate whose one-sided slopes (L+ - L0)/eps and (L0 - L-)/eps
// differ by more than tol·scale has a kink inside the step and is skipped (counted, never
// compared). A kink the test lets through moves the central difference by half the slopes'
// difference, i.e. less than tol/2 of the scale. Smooth layers set `smooth` (no such test: their
// slopes legitimately differ by ~eps·f''). A skip cannot hide a wrong backward: it never looks
// at the analytic value. Tests assert how many coordinates were skipped (usually none).
//
// Besides the values, gradcheck verifies the contract of layers/layer.h:
//   - backward OVERWRITES dx: dx prefilled with NaN must come out finite, and identical when
//     prefilled with other garbage;
//   - backward ACCUMULATES into dw: a second call doubles every dw;
//   - dx == nullptr skips the input gradient but gives the same dw;
//   - the shared scratch is transient: it is filled with NaN before every forward and backward.
// Stochastic layers (dropout) get `replay`: the Rng is restored to the same state before every
// forward, so every evaluation of L sees the same mask.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "layers/layer.h"
#include "layers/param.h"

namespace delve::test {

inline void fill_normal(Tensor& t, Rng& rng, float std = 1.f) {
  for (size_t i = 0; i < t.size(); ++i) t[i] = float(std * rng.normal());
}

// Values at least `gap` away from 0 (random sign, magnitude gap + |N(0,1)|): no relu/prelu kink
// within a perturbation smaller than gap.
inline void fill_away_from_zero(Tensor& t, Rng& rng, float gap) {
  for (size_t i = 0; i < t.size(); ++i) {
    const float m = gap + float(std::abs(rng.normal()));
    t[i] = rng.uniform() < 0.5 ? -m : m;
  }
}

// Distinct values step apart in random order, centred on 0: no maxpool ties, and no winner can
// change under a perturbation smaller than step/2.
inline void fill_distinct(Tensor& t, Rng& rng, float step) {
  const size_t n = t.size();
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  for (size_t i = 0; i < n; ++i) t[i] = (float(order[i]) - 0.5f * float(n)) * step;
}

inline double dot(const Tensor& a, const Tensor& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * double(b[i]);
  return s;
}

// What the Net does for one layer, without a Net: declare the parameters, give each its own
// storage, reshape, and hand over a scratch buffer of scratch_floats() floats.
struct LayerHarness {
  Layer& layer;
  ParamRegistry reg;
  Shape in, out;
  std::vector<float> scratch;

  LayerHarness(Layer& l, const Shape& in_shape) : layer(l), in(in_shape) {
    layer.declare(in, reg);
    for (auto& p : reg.all()) {
      const Shape flat{1, 1, 1, int(p->count())};  // layers may rely on count() only
      p->w.resize(flat);
      p->dw.resize(flat);
      p->v.resize(flat);
    }
    out = layer.reshape(in);
    scratch.resize(std::max<size_t>(1, layer.scratch_floats(in)));
    layer.set_scratch(scratch.data());
  }

  Param* param(const std::string& name) {
    for (auto& p : reg.all())
      if (p->name == name) return p.get();
    return nullptr;
  }

  // Random values that exercise every term: weights N(0, 1/fan_in), biases N(0, 0.5²), slopes
  // U[0.05, 0.65) (different per channel, so channel indexing mistakes show).
  void randomize_params(Rng& rng) {
    for (auto& p : reg.all()) {
      for (size_t i = 0; i < p->count(); ++i) {
        switch (p->role) {
          case ParamRole::Weight: p->w[i] = float(rng.normal() / std::sqrt(double(p->fan_in()))); break;
          case ParamRole::Bias: p->w[i] = float(0.5 * rng.normal()); break;
          case ParamRole::Slope: p->w[i] = float(0.05 + 0.6 * rng.uniform()); break;
        }
      }
    }
  }

  void zero_grads() {
    for (auto& p : reg.all()) p->dw.zero();
  }

  void poison_scratch() { std::fill(scratch.begin(), scratch.end(), std::numeric_limits<float>::quiet_NaN()); }

  void forward(const Tensor& x, Tensor& y, Mode mode) {
    poison_scratch();
    layer.forward(x, y, mode);
  }
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
    poison_scratch();
    layer.backward(x, y, dy, dx);
  }
};

struct GradCheckOptions {
  // Step. Every layer here but tanh and softmax is piecewise linear in any one coordinate, so a
  // central difference inside a linear piece is exact whatever the step, and a large step keeps
  // the float rounding of L (GEMM rows summed in float: ~1e-6 absolute) small next to the
  // difference: measured on conv2d over 30 seeds, the worst scaled error is 5e-4 at eps = 1e-2
  // and 7e-5 at eps = 0.1. Inputs must then stay more than eps away from kinks. Smooth layers use
  // eps ~ 1e-2 (truncation eps²·f'''/6 ~ 3e-5; their elementwise forwards round far less).
  double eps = 0.1;
  // |numeric - analytic| <= tol · max(floor, |numeric|, |analytic|): relative for gradients above
  // floor, absolute (tol·floor = 1e-4) below it, where rounding noise (<1e-5) would dominate.
  double tol = 1e-3;
  double floor = 0.1;
  bool smooth = false;    // no kinks to look for (tanh, softmax)
  Mode mode = Mode::Train;
  Rng* replay = nullptr;  // restored to its state at the start before every forward
};

struct GradCheckReport {
  size_t checked = 0, skipped = 0, failed = 0;
  double worst = 0.0;  // the largest scaled error seen
  std::vector<std::string> failures;  // the first few, for messages
  bool dx_overwritten = true;
  bool dw_accumulates = true;
  bool null_dx_same_dw = true;

  std::string summary() const {
    char buf[160];
    std::snprintf(buf, sizeof buf, "checked %zu, skipped %zu, failed %zu, worst scaled error %.3g", checked,
                  skipped, failed, worst);
    std::string s = buf;
    for (auto& f : failures) s += "\n  " + f;
    return s;
  }
};

// Compares analytic[i] with the central difference of loss() in v[i], for i < n. loss() must
// read v; v is restored after each perturbation.
inline void compare_numeric(const std::string& what, float* v, size_t n, const float* analytic,
                            const std::function<double()>& loss, const GradCheckOptions& o, GradCheckReport& r) {
  const double L0 = loss();
  for (size_t i = 0; i < n; ++i) {
    const float orig = v[i];
    const float vp = float(orig + o.eps), vm = float(orig - o.eps);
    v[i] = vp;
    const double Lp = loss();
    v[i] = vm;
    const double Lm = loss();
    v[i] = orig;
    const double right = (Lp - L0) / (double(vp) - orig), left = (L0 - Lm) / (double(orig) - vm);
    if (!o.smooth && std::abs(right - left) > o.tol * std::max({o.floor, std::abs(right), std::abs(left)})) {
      ++r.skipped;  // a kink inside [v - eps, v + eps]
      continue;
    }
    const double num = (Lp - Lm) / (double(vp) - double(vm));
    const double ana = analytic[i];
    const double err = std::abs(num - ana) / std::max({o.floor, std::abs(num), std::abs(ana)});
    ++r.checked;
    r.worst = std::max(r.worst, std::isfinite(err) ? err : std::numeric_limits<double>::infinity());
    if (!(err <= o.tol)) {
      ++r.failed;
      if (r.failures.size() < 5) {
        char buf[200];
        std::snprintf(buf, sizeof buf, "%s[%zu]: analytic %.6g, numeric %.6g", what.c_str(), i, ana, num);
        r.failures.push_back(buf);
      }
    }
  }
}

// Checks ∂L/∂x and ∂L/∂w of h.layer at x (which it perturbs and restores), for a random dy drawn
// from `seed`, plus the overwrite/accumulate contract.
inline GradCheckReport gradcheck(LayerHarness& h, Tensor& x, uint64_t seed, const GradCheckOptions& o = {}) {
  GradCheckReport r;
  Rng rng(seed);
  const std::string replay_state = o.replay ? o.replay->save() : std::string();
  auto run_forward = [&](Tensor& y) {
    if (o.replay) o.replay->restore(replay_state);
    h.forward(x, y, o.mode);
  };
  Tensor y(h.out);
  run_forward(y);
  Tensor dy(h.out);
  fill_normal(dy, rng);

  // Analytic gradients: dx prefilled with NaN, every dw starting at 0.
  Tensor dx(h.in);
  dx.fill(std::numeric_limits<float>::quiet_NaN());
  h.zero_grads();
  h.backward(x, y, dy, &dx);
  std::vector<std::vector<float>> dw1;
  for (auto& p : h.reg.all()) dw1.emplace_back(p->dw.data(), p->dw.data() + p->count());
  for (size_t i = 0; i < dx.size(); ++i)
    if (!std::isfinite(dx[i])) r.dx_overwritten = false;

  // Again, dx prefilled with other garbage: dx must come out the same, every dw doubled.
  Tensor dx2(h.in);
  dx2.fill(12345.f);
  h.backward(x, y, dy, &dx2);
  for (size_t i = 0; i < dx.size(); ++i)
    if (dx2[i] != dx[i]) r.dx_overwritten = false;
  for (size_t k = 0; k < h.reg.all().size(); ++k) {
    const Param& p = *h.reg.all()[k];
    for (size_t i = 0; i < p.count(); ++i) {
      const double want = 2.0 * dw1[k][i];
      if (!(std::abs(p.dw[i] - want) <= 1e-5 * std::max(1.0, std::abs(want)))) r.dw_accumulates = false;
    }
  }

  // Without dx: the same parameter gradients.
  h.zero_grads();
  h.backward(x, y, dy, nullptr);
  for (size_t k = 0; k < h.reg.all().size(); ++k) {
    const Param& p = *h.reg.all()[k];
    for (size_t i = 0; i < p.count(); ++i)
      if (!(std::abs(p.dw[i] - dw1[k][i]) <= 1e-5 * std::max(1.0f, std::abs(dw1[k][i])))) r.null_dx_same_dw = false;
  }

  // Numerical gradients.
  Tensor yt(h.out);
  auto loss = [&] {
    run_forward(yt);
    return dot(yt, dy);
  };
  compare_numeric("x", x.data(), x.size(), dx.data(), loss, o, r);
  for (size_t k = 0; k < h.reg.all().size(); ++k) {
    Param& p = *h.reg.all()[k];
    compare_numeric(p.name, p.w.data(), p.count(), dw1[k].data(), loss, o, r);
  }
  if (o.replay) o.replay->restore(replay_state);
  return r;
}

// The usual assertions on a report: every coordinate checked and right, the contract kept.
inline void expect_clean(const GradCheckReport& r, size_t expected_checked, size_t max_skipped = 0) {
  CHECK_MESSAGE(r.failed == 0, r.summary());
  CHECK_MESSAGE(r.skipped <= max_skipped, r.summary());
  CHECK_MESSAGE(r.checked + r.skipped == expected_checked, r.summary());
  CHECK_MESSAGE(r.dx_overwritten, "backward must overwrite dx, not read or accumulate into it");
  CHECK_MESSAGE(r.dw_accumulates, "backward must accumulate (+=) into every dw");
  CHECK_MESSAGE(r.null_dx_same_dw, "backward with dx == nullptr must give the same dw");
}

// Number of coordinates gradcheck visits: every input element and every parameter element.
inline size_t coordinates(const LayerHarness& h) {
  size_t n = h.in.count();
  for (auto& p : h.reg.all()) n += p->count();
  return n;
}

}  // namespace delve::test
