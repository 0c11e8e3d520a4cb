// Rounding-error bounds for tests that compare a float computation with a float64 reference.
//
// The bound (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., §3.1 and Lemma 3.3):
// every float operation rounds with |δ| ≤ u = 2⁻²⁴ (round to nearest; an FMA rounds once, which
// only helps). A value computed from exact inputs by sums and products in which no path from an
// input to the result passes more than n roundings, in any order and any summation tree, is
//     Σ_terms term · Π_{≤n} (1 + δ),   so   |computed − exact| ≤ γ_n · M,   γ_n = n·u / (1 − n·u),
// where M is the same computation with every input and every coefficient replaced by its absolute
// value. For a sum of K products (a GEMM row, a convolution output) n = K and M = Σ|a_i·b_i|,
// whatever order the BLAS kernel of this CPU adds them in; a transform with coefficients 0, ±1, ±½
// (Winograd) adds its levels of additions to n and its |coefficients| to M (×½ is exact).
//
// The float64 reference is itself rounded, by at most γ_n in double's u = 2⁻⁵³ times the same M
// (it adds the same terms, sequentially), so a check allows the sum of both. The bound is worst
// case: on random data the error is typically √n times smaller, while a wrong index or a
// transposed weight moves a value by about its own size, which is far above γ_n·M for n ≪ 1/u.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

namespace delve::test {

constexpr double kFloatUnitRoundoff = 0x1p-24;
constexpr double kDoubleUnitRoundoff = 0x1p-53;

// γ_n = n·u / (1 − n·u): the relative error of n roundings (Higham, Lemma 3.1).
inline double gamma_n(double n, double u = kFloatUnitRoundoff) { return n * u / (1.0 - n * u); }

// The exact values of a computation (float64) and their magnitudes M (the computation on |·|).
struct Reference {
  std::vector<double> exact, magnitude;
  explicit Reference(size_t n = 0) : exact(n, 0.0), magnitude(n, 0.0) {}
  size_t size() const { return exact.size(); }
};

// The largest ratio |got − exact| / bound over the elements, bound = (γ_n(float) + γ_n(double))·M;
// a check passes when it is ≤ 1. Non-finite values count as infinitely far.
struct BoundReport {
  double worst_ratio = 0.0;
  size_t worst_index = 0;
  double got = 0.0, exact = 0.0, bound = 0.0;  // at worst_index
  std::string str() const {
    char buf[200];
    std::snprintf(buf, sizeof buf, "worst |error|/bound %.3g at [%zu]: got %.9g, exact %.9g, bound %.3g", worst_ratio,
                  worst_index, got, exact, bound);
    return buf;
  }
};

// |got_i − expected_i| against an explicit bound_i per element.
inline BoundReport bound_report(const float* got, const double* expected, const double* bound, size_t n) {
  BoundReport r;
  for (size_t i = 0; i < n; ++i) {
    const double err = std::abs(double(got[i]) - expected[i]);
    double ratio = err == 0.0 ? 0.0 : err / bound[i];  // bound 0: only an exact result passes
    if (!std::isfinite(got[i]) || std::isnan(ratio)) ratio = INFINITY;
    if (ratio > r.worst_ratio || i == 0) {
      r.worst_ratio = std::max(r.worst_ratio, ratio);
      r.worst_index = i;
      r.got = got[i];
      r.exact = expected[i];
      r.bound = bound[i];
    }
  }
  return r;
}

// Against a Reference: bound_i = (γ_n(float) + γ_n(double))·M_i.
inline BoundReport bound_report(const float* got, const Reference& ref, double depth) {
  const double g = gamma_n(depth) + gamma_n(depth, kDoubleUnitRoundoff);
  std::vector<double> bound(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) bound[i] = g * ref.magnitude[i];
  return bound_report(got, ref.exact.data(), bound.data(), ref.size());
}

// One value: |got − exact| ≤ (γ_n(float) + γ_n(double))·M.
inline bool within_rounding(double got, double exact, double magnitude, double depth) {
  return std::abs(got - exact) <= (gamma_n(depth) + gamma_n(depth, kDoubleUnitRoundoff)) * magnitude;
}

// Softmax cross-entropy as layers/softmax_xent.cpp computes it, for one image whose logits lie
// within R below their maximum: z − max rounds once (an error of at most u·R in exp's argument),
// expf is within 1 ulp (2u), so every e_k lies within the factors [down, up] of its exact value;
// Σ_k e_k (in double) too, so log Σ is within −log(down) and p_k = e_k/Σ within up/down, times
// (1 + u) for rounding p to float.
struct SoftmaxRounding {
  double up, down;
  double log_sum() const { return -std::log(down); }
  double p_relative() const { return up / down * (1 + kFloatUnitRoundoff) - 1; }
};
inline SoftmaxRounding softmax_rounding(double R) {
  const double u = kFloatUnitRoundoff;
  return {std::exp(u * R) * (1 + 2 * u), std::exp(-u * R) * (1 - 2 * u)};
}

// CHECKs that every element of got lies within its rounding bound of the reference.
inline void check_within_bound(const char* what, const float* got, const Reference& ref, double depth) {
  const BoundReport r = bound_report(got, ref, depth);
  INFO(std::string(what), " (", ref.size(), " values, ", depth, " roundings): ", r.str());
  CHECK(r.worst_ratio <= 1.0);
}

inline void check_within_bound(const char* what, const float* got, const std::vector<double>& expected,
                               const std::vector<double>& bound) {
  const BoundReport r = bound_report(got, expected.data(), bound.data(), expected.size());
  INFO(std::string(what), " (", expected.size(), " values): ", r.str());
  CHECK(r.worst_ratio <= 1.0);
}

}  // namespace delve::test
