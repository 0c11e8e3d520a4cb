// Numerical gradient checking for layers, driven directly (no Net), in Caffe's manner.
//
// For a layer with input x (C × N × H × W) and output y, the loss is L = Σ_i y_i·dy_i for a fixed
// random upstream gradient dy, so ∂L/∂x is exactly what backward(x, y, dy, dx) must return and
// ∂L/∂w what it must add to each parameter's dw. Every input element and every parameter element
// is perturbed by ±eps; the central difference (L+ - L-)/(v+ - v-), with L summed in double and
// v± the float values actually used, is compared with the analytic gradient.
//
// Tolerance, derived per coordinate (tests/float_bounds.h). L is summed in double from float
// outputs y_j, each within γ_{n_f}·M_j of its exact value (n_f the roundings of the layer's forward,
// M_j its magnitude: the forward on |x| + eps, |θ| + eps, which bounds every evaluation, or the
// layer's own algorithm's magnitudes through `magnitudes`), so every evaluation of L is within
// E = γ_{n_f}·Σ_j |dy_j|·M_j (+ double's rounding of the dot) of exact. With h = (v+ − v−)/2:
//   - piecewise-linear layers: inside one linear piece the central difference is exact but for
//     E/h; the analytic gradient Σ_j J_ji·dy_j is within γ_{n_b}·Σ_j |J_ji|·|dy_j| (n_b the
//     roundings of the backward), |J_ji| read off the two perturbed outputs (up to 2·γ_{n_f}·M_j/2h);
//   - smooth layers (tanh, softmax) add the truncation h²/6·|f‴|·|dy|, from a stated bound on f‴.
// Kinks (relu/prelu at 0, maxpool ties): tests build inputs away from them. As a safety net, every
// layer here except tanh is piecewise linear in any one coordinate, so L(v−eps), L(v), L(v+eps) must
// be collinear up to rounding: a coordinate whose one-sided slopes differ by more than their
// rounding (2E over each half-step) has a kink inside the step and is skipped (counted, never
// compared). A kink that hides under that threshold moves the central difference by at most half
// of it, 2E/h, so a compared coordinate passes when |numeric − analytic| ≤ 3E/h + γ_{n_b}·Σ|J||dy|.
// Smooth layers set `smooth` (no such test: their slopes legitimately differ by ~eps·f''). A skip
// cannot hide a wrong backward: it never looks at the analytic value. Tests assert how many
// coordinates were skipped (usually none). The bound is worst case, and still a 1% error in a
// gradient of size 0.1 is far above it (tests/test_gradcheck.cpp breaks a toy layer to show it).
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
#include "tests/float_bounds.h"

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

// Magnitudes of a layer whose algorithm is not direct summation (Winograd) or whose backward is
// not Σ|J|·|dy| (tanh), valid at every perturbation: S = Σ_j |dy_j|·M_j of the forward, and per
// coordinate (x, then each parameter in declaration order) the magnitude of its analytic gradient.
struct GradMagnitudes {
  double loss = 0;
  std::vector<double> analytic;
};

struct GradCheckOptions {
  // Step. Every layer here but tanh and softmax is piecewise linear in any one coordinate, so a
  // central difference inside a linear piece is exact whatever the step, and a large step keeps
  // the rounding of L small next to the difference (E/h). Inputs must then stay more than eps
  // away from kinks. Smooth layers use eps ~ 1e-2 (truncation h²/6·|f‴|).
  double eps = 0.1;
  // Roundings on any path through the layer's forward (n_f) and backward (n_b). The defaults are
  // the elementwise layers': prelu's a·x and dropout's x·scale round once, relu and maxpool never;
  // their backward multiplies once (prelu, dropout) or adds at most 4 overlapping windows (3×3/2
  // maxpool). Layers with sums (conv, linear, prelu's ∂L/∂a) set their sum lengths.
  double forward_depth = 1, backward_depth = 4;
  bool smooth = false;          // no kinks to look for (tanh, softmax)
  double third_derivative = 0;  // smooth: a bound on |f‴| of an elementwise layer
  Mode mode = Mode::Train;
  Rng* replay = nullptr;  // restored to its state at the start before every forward
  // The layer's own magnitudes (x_abs = |x| + eps, parameters |θ| + eps, dy_abs = |dy|).
  std::function<GradMagnitudes(LayerHarness&, const Tensor& x_abs, const Tensor& dy_abs)> magnitudes;
};

struct GradCheckReport {
  size_t checked = 0, skipped = 0, failed = 0;
  double worst = 0.0;  // the largest |numeric − analytic| / tolerance seen (≤ 1 passes)
  std::vector<std::string> failures;  // the first few, for messages
  bool dx_overwritten = true;
  bool dw_accumulates = true;
  bool null_dx_same_dw = true;

  std::string summary() const {
    char buf[160];
    std::snprintf(buf, sizeof buf, "checked %zu, skipped %zu, failed %zu, worst error/tolerance %.3g", checked,
                  skipped, failed, worst);
    std::string s = buf;
    for (auto& f : failures) s += "\n  " + f;
    return s;
  }
};

// What compare_numeric allows: every evaluation of L within loss_error of exact; the analytic
// gradient's own rounding and, for smooth functions, the central difference's truncation at
// coordinate i (h = the half-step actually taken).
struct Allowance {
  double loss_error = 0;
  std::function<double(size_t i, double h)> analytic_error = [](size_t, double) { return 0.0; };
  std::function<double(size_t i, double h)> truncation = [](size_t, double) { return 0.0; };
};

// Compares analytic[i] with the central difference of loss() in v[i], for i < n. loss() must
// read v; v is restored after each perturbation. Calls loss() once at v, then at v+ and v− of
// each coordinate in turn, and allow's functions right after those two.
inline void compare_numeric(const std::string& what, float* v, size_t n, const float* analytic,
                            const std::function<double()>& loss, const GradCheckOptions& o, const Allowance& allow,
                            GradCheckReport& r) {
  const double L0 = loss(), E = allow.loss_error;
  for (size_t i = 0; i < n; ++i) {
    const float orig = v[i];
    const float vp = float(orig + o.eps), vm = float(orig - o.eps);
    v[i] = vp;
    const double Lp = loss();
    v[i] = vm;
    const double Lm = loss();
    v[i] = orig;
    const double hp = double(vp) - orig, hm = double(orig) - vm, h = (hp + hm) / 2;
    const double right = (Lp - L0) / hp, left = (L0 - Lm) / hm;
    if (!o.smooth && std::abs(right - left) > 2 * E / hp + 2 * E / hm) {
      ++r.skipped;  // a kink inside [v - eps, v + eps]
      continue;
    }
    const double num = (Lp - Lm) / (double(vp) - double(vm));
    const double ana = analytic[i];
    const double tol = (o.smooth ? E / h : 3 * E / h) + allow.analytic_error(i, h) + allow.truncation(i, h);
    const double err = num == ana ? 0.0 : std::abs(num - ana) / tol;
    ++r.checked;
    r.worst = std::max(r.worst, std::isfinite(err) ? err : std::numeric_limits<double>::infinity());
    if (!(err <= 1.0)) {
      ++r.failed;
      if (r.failures.size() < 5) {
        char buf[200];
        std::snprintf(buf, sizeof buf, "%s[%zu]: analytic %.6g, numeric %.6g, tolerance %.3g", what.c_str(), i, ana,
                      num, tol);
        r.failures.push_back(buf);
      }
    }
  }
}

// Number of coordinates gradcheck visits: every input element and every parameter element.
inline size_t coordinates(const LayerHarness& h) {
  size_t n = h.in.count();
  for (auto& p : h.reg.all()) n += p->count();
  return n;
}

inline double sum_abs(const Tensor& a) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += std::abs(double(a[i]));
  return s;
}

// The bound E on |L̂ − L| at any perturbation (see the top of this file), and the layer's own
// analytic magnitudes when o.magnitudes gives them: everything evaluated at |x| + eps, |θ| + eps.
struct LossRounding {
  double E = 0, S = 0;
  std::vector<double> analytic;  // empty: Σ|J|·|dy| from the perturbed outputs
};
inline LossRounding loss_rounding(LayerHarness& h, const Tensor& x, const Tensor& dy, const GradCheckOptions& o,
                                  const std::function<void(const Tensor&, Tensor&)>& forward) {
  Tensor xa(h.in), dya(h.out), ya(h.out);
  for (size_t i = 0; i < x.size(); ++i) xa[i] = float(std::abs(x[i]) + o.eps);  // float: rounds up or down by u
  for (size_t i = 0; i < dy.size(); ++i) dya[i] = std::abs(dy[i]);
  std::vector<std::vector<float>> saved;
  for (auto& p : h.reg.all()) {
    saved.emplace_back(p->w.data(), p->w.data() + p->count());
    for (size_t i = 0; i < p->count(); ++i) p->w[i] = float(std::abs(p->w[i]) + o.eps);
  }
  LossRounding lr;
  if (o.magnitudes) {
    GradMagnitudes g = o.magnitudes(h, xa, dya);
    lr.S = g.loss;
    lr.analytic = std::move(g.analytic);
  } else {
    forward(xa, ya);  // on positive inputs and parameters: Σ|terms| of every output
    lr.S = dot(ya, dya);
  }
  for (size_t k = 0; k < h.reg.all().size(); ++k) std::copy(saved[k].begin(), saved[k].end(), h.reg.all()[k]->w.data());
  // (1 + 2u): xa and the parameters were rounded to float, possibly down. The double dot of L
  // adds γ_{outputs} in double's u.
  lr.S *= 1 + 2 * kFloatUnitRoundoff;
  lr.E = (gamma_n(o.forward_depth) + gamma_n(double(dy.size()), kDoubleUnitRoundoff)) * lr.S;
  return lr;
}

// The analytic gradients three times: dx prefilled with NaN and every dw from 0 (dx, dw1); again
// onto those, dx prefilled with other garbage (dw2: doubled); and with dx == nullptr from 0 (dw3).
// Records whether dx was overwritten; the dw checks need the tolerances (gradcheck).
struct AnalyticPasses {
  Tensor dx;
  std::vector<std::vector<float>> dw1, dw2, dw3;
};
inline AnalyticPasses analytic_passes(LayerHarness& h, const Tensor& x, const Tensor& y, const Tensor& dy,
                                      GradCheckReport& r) {
  AnalyticPasses an;
  Tensor& dx = an.dx;
  std::vector<std::vector<float>>&dw1 = an.dw1, &dw2 = an.dw2, &dw3 = an.dw3;
  dx.resize(h.in);
  // Analytic gradients: dx prefilled with NaN, every dw starting at 0.
  dx.fill(std::numeric_limits<float>::quiet_NaN());
  h.zero_grads();
  h.backward(x, y, dy, &dx);
  for (auto& p : h.reg.all()) dw1.emplace_back(p->dw.data(), p->dw.data() + p->count());
  for (size_t i = 0; i < dx.size(); ++i)
    if (!std::isfinite(dx[i])) r.dx_overwritten = false;

  // Again, dx prefilled with other garbage: dx must come out the same, every dw doubled (below).
  Tensor dx2(h.in);
  dx2.fill(12345.f);
  h.backward(x, y, dy, &dx2);
  for (size_t i = 0; i < dx.size(); ++i)
    if (dx2[i] != dx[i]) r.dx_overwritten = false;
  for (auto& p : h.reg.all()) dw2.emplace_back(p->dw.data(), p->dw.data() + p->count());
  // Without dx: the same parameter gradients (below).
  h.zero_grads();
  h.backward(x, y, dy, nullptr);
  for (auto& p : h.reg.all()) dw3.emplace_back(p->dw.data(), p->dw.data() + p->count());

  return an;
}

// Checks ∂L/∂x and ∂L/∂w of h.layer at x (which it perturbs and restores), for a random dy drawn
// from `seed`, plus the overwrite/accumulate contract.
inline GradCheckReport gradcheck(LayerHarness& h, Tensor& x, uint64_t seed, const GradCheckOptions& o = {}) {
  GradCheckReport r;
  Rng rng(seed);
  const std::string replay_state = o.replay ? o.replay->save() : std::string();
  auto run_forward = [&](const Tensor& in, Tensor& y) {
    if (o.replay) o.replay->restore(replay_state);
    h.forward(in, y, o.mode);
  };
  Tensor y(h.out);
  run_forward(x, y);
  Tensor dy(h.out);
  fill_normal(dy, rng);

  const AnalyticPasses an = analytic_passes(h, x, y, dy, r);
  const Tensor& dx = an.dx;
  const auto &dw1 = an.dw1, &dw2 = an.dw2, &dw3 = an.dw3;

  // Numerical gradients. The loss keeps its last two outputs: y+ and y− after each coordinate's pair.
  const LossRounding lr = loss_rounding(h, x, dy, o, run_forward);
  Tensor ys[2] = {Tensor(h.out), Tensor(h.out)};
  int calls = 0;
  auto loss = [&] {
    Tensor& yt = ys[calls++ % 2];  // call 0: L0; then y+ in ys[1], y− in ys[0]
    run_forward(x, yt);
    return dot(yt, dy);
  };
  std::vector<double> A(coordinates(h), INFINITY);  // analytic error bounds, as computed
  auto check = [&](const std::string& what, float* v, size_t n, const float* analytic, size_t offset) {
    Allowance allow;
    allow.loss_error = lr.E;
    allow.analytic_error = [&, offset](size_t i, double step) {
      double magnitude = 0;
      if (!lr.analytic.empty()) {
        magnitude = lr.analytic[offset + i];
      } else {  // Σ_j |J_ji|·|dy_j|, J from the perturbed outputs, each within γ_{n_f}·M_j
        for (size_t j = 0; j < dy.size(); ++j) magnitude += std::abs(double(ys[1][j]) - ys[0][j]) * std::abs(dy[j]);
        magnitude = magnitude / (2 * step) + gamma_n(o.forward_depth) * lr.S / step;
      }
      return A[offset + i] = gamma_n(o.backward_depth) * magnitude;
    };
    if (o.smooth)  // elementwise: coordinate i of x moves only y_i; a parameter moves them all
      allow.truncation = [&, offset](size_t i, double step) {
        const double w = offset == 0 ? std::abs(dy[i]) : sum_abs(dy);
        return step * step / 6 * o.third_derivative * w;
      };
    calls = 0;
    compare_numeric(what, v, n, analytic, loss, o, allow, r);
  };
  check("x", x.data(), x.size(), dx.data(), 0);
  size_t offset = x.size();
  for (size_t k = 0; k < h.reg.all().size(); ++k) {
    Param& p = *h.reg.all()[k];
    check(p.name, p.w.data(), p.count(), dw1[k].data(), offset);
    // The contract within rounding: each backward's dw is within A of exact, so a second one
    // added onto the first gives 2·dw1 within 4·A and one more rounding, and dx == nullptr within 2·A.
    for (size_t i = 0; i < p.count(); ++i) {
      const double a = A[offset + i];
      if (!(std::abs(dw2[k][i] - 2.0 * dw1[k][i]) <= 4 * a + kFloatUnitRoundoff * std::abs(dw2[k][i])))
        r.dw_accumulates = false;
      if (!(std::abs(dw3[k][i] - dw1[k][i]) <= 2 * a)) r.null_dx_same_dw = false;
    }
    offset += p.count();
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

}  // namespace delve::test
