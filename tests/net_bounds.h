// Rounding bounds for a whole net's forward and backward pass (conv, linear, relu, prelu,
// non-overlapping maxpool) and its softmax cross-entropy, for tests that compare a net's float
// results with exact ones (tests/test_golden.cpp) or two float runs with each other.
//
// On a fixed linear piece of the net (the same ReLU/PReLU signs and max-pool winners as the exact
// computation) the forward pass is a chain of sums and products, so every activation lies within
// γ_D·M of exact (tests/float_bounds.h), M the net run on absolute values with the |coefficients|
// of each layer's algorithm (Winograd's magnitudes for 3×3 stride-1 convs, tests/conv_reference.h)
// and D the roundings of the layers so far. Whether delve's pass is on that piece is checked:
// no activation input, no pool margin within its bound of a kink (Analysis::off_piece). Off the
// piece the activations' bounds still hold (ReLU, PReLU and max-pool are Lipschitz), the
// gradients' only against the exact pass on delve's piece (the same masks and winners).
// The softmax is not a polynomial: loss_bounds bounds it on its own. The backward pass is linear
// in ∂L/∂z, so each gradient lies within B(γ_{D_f+D_b}·|∂L/∂ẑ| + e_z) of exact, B the backward pass
// on absolute values and e_z the bound on ∂L/∂z (backward_bounds).
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/maxpool2d.h"
#include "layers/net.h"
#include "layers/prelu.h"
#include "layers/relu.h"
#include "tests/conv_reference.h"
#include "tests/float_bounds.h"

namespace delve::test {

inline std::vector<double> to_double(const float* v, size_t n) { return std::vector<double>(v, v + n); }

// The geometry of a conv or linear layer as a convolution (a linear one covers the whole image).
inline ConvCase conv_case(Layer& layer, const Shape& in) {
  if (auto* c = dynamic_cast<Conv2d*>(&layer)) {
    const ConvGeometry& g = c->geometry();
    return {in, c->out_channels(), g.kh, g.kw, g.stride, g.pad};
  }
  return {in, dynamic_cast<Linear&>(layer).out_features(), in.h, in.w, 1, 0};
}
inline bool is_winograd(Layer& layer) {
  auto* c = dynamic_cast<Conv2d*>(&layer);
  return c && c->uses_winograd();
}
inline Param* bias_of(Layer& layer) {
  if (auto* c = dynamic_cast<Conv2d*>(&layer)) return c->bias();
  return dynamic_cast<Linear&>(layer).bias();
}
// Roundings on a path through one layer: forward (f) and the longest of its backward sums (b).
struct LayerDepth {
  double f, b;
};
inline LayerDepth conv_depth(Layer& layer, const Shape& in) {
  const ConvCase g = conv_case(layer, in);
  const ConvDepths d = is_winograd(layer) ? winograd_depths(g) : direct_conv_depths(g);
  return {d.y, std::max({d.dx, d.dw, d.db})};
}

// Max-pool windows: for each output, the index (in the input tensor) of its first maximum, as
// layers/maxpool2d.cpp picks it.
inline std::vector<size_t> pool_winners(const Tensor& x, int k, int s) {
  const Shape& in = x.shape();
  const int Ho = (in.h - k) / s + 1, Wo = (in.w - k) / s + 1;
  std::vector<size_t> win;
  for (int c = 0; c < in.c; ++c)
    for (int n = 0; n < in.n; ++n)
      for (int i = 0; i < Ho; ++i)
        for (int j = 0; j < Wo; ++j) {
          size_t best = x.offset(n, c, i * s, j * s);
          for (int p = 0; p < k; ++p)
            for (int q = 0; q < k; ++q)
              if (x[x.offset(n, c, i * s + p, j * s + q)] > x[best]) best = x.offset(n, c, i * s + p, j * s + q);
          win.push_back(best);
        }
  return win;
}

// The forward pass on absolute values, layer by layer (m[i]: magnitudes of layer i's output), and
// the roundings so far. Checks that delve's float pass is on the exact pass's linear piece: every
// PReLU input further from 0 than its error bound, every pool winner ahead of the rest of its
// window by more than both error bounds.
struct Analysis {
  std::vector<std::vector<double>> m;
  std::vector<double> depth;  // D_f up to and including layer i
  std::vector<std::vector<size_t>> winners;
  double backward_depth = 0;  // D_b: Σ of the layers' backward depths
  size_t off_piece = 0;       // activation inputs and pool margins within their error bound of a kink
  // The bound on activation i's element j: γ_D·M (float and the reference's double).
  double bound(size_t i, size_t j) const {
    return (gamma_n(depth[i]) + gamma_n(depth[i], kDoubleUnitRoundoff)) * m[i][j];
  }
};

inline Analysis forward_magnitudes(Net& net, const Tensor& x) {
  Analysis a;
  double depth = 0;
  for (size_t i = 0; i < net.layers().size(); ++i) {
    Layer& layer = *net.layers()[i];
    const Tensor& xin = i == 0 ? x : net.activation(i - 1);
    const std::vector<double> min = i == 0 ? to_double(x.data(), x.size()) : a.m[i - 1];  // |·| taken below
    std::vector<double> mout(net.activation(i).size());
    std::vector<size_t> win;
    const double err = gamma_n(depth) + gamma_n(depth, kDoubleUnitRoundoff);  // of xin, relative to min
    if (layer.weight()) {
      const ConvCase g = conv_case(layer, xin.shape());
      Param* b = bias_of(layer);
      const float* bw = b ? b->w.data() : nullptr;
      const ConvReference r = is_winograd(layer) ? winograd_magnitudes(g, min.data(), layer.weight()->w.data(), bw, kForwardOnly)
                                                 : direct_conv_reference(g, min.data(), layer.weight()->w.data(), bw, kForwardOnly);
      mout = r.y.magnitude;
      const LayerDepth d = conv_depth(layer, xin.shape());
      depth += d.f;
      a.backward_depth += d.b;
    } else if (dynamic_cast<ReLU*>(&layer)) {  // max(0, x): exact
      for (size_t j = 0; j < xin.size(); ++j) {
        const bool near = !(std::abs(xin[j]) > err * std::abs(min[j]));  // the sign may differ from exact's
        a.off_piece += near;
        mout[j] = xin[j] > 0 || near ? std::abs(min[j]) : 0.0;  // 1-Lipschitz: the input's bound serves
      }
    } else if (auto* p = dynamic_cast<PReLU*>(&layer)) {
      const size_t plane = size_t(xin.shape().n) * xin.shape().h * xin.shape().w;
      for (size_t j = 0; j < xin.size(); ++j) {
        const double slope = std::abs(p->slope()->w[p->channel_shared() ? 0 : j / plane]);
        const bool near = !(std::abs(xin[j]) > err * std::abs(min[j]));  // the sign may differ from exact's
        a.off_piece += near;
        mout[j] = std::abs(min[j]) * (near ? std::max(1.0, slope) : xin[j] > 0 ? 1.0 : slope);
      }
      depth += 1;  // a·x
      a.backward_depth += double(p->channel_shared() ? xin.size() : plane);  // Σ of ∂L/∂a
    } else if (dynamic_cast<MaxPool2d*>(&layer)) {
      int k = 0, s = 0, k2 = 0;  // describe() is "kxk/s"
      REQUIRE(std::sscanf(layer.describe().c_str(), "%dx%d/%d", &k, &k2, &s) == 3);
      REQUIRE_MESSAGE(k == s, "the bound routes each output to one input: windows must not overlap");
      win = pool_winners(xin, k, s);
      for (size_t o = 0; o < win.size(); ++o) mout[o] = std::abs(min[win[o]]);
      // margins: the winner vs the other values of its window
      const Shape& in = xin.shape();
      for (size_t o = 0; o < win.size(); ++o) {
        const size_t w0 = win[o] - (win[o] % in.w) % k - (win[o] / in.w % in.h) % k * in.w;  // window's corner
        for (int pp = 0; pp < k; ++pp)
          for (int qq = 0; qq < k; ++qq) {
            const size_t j = w0 + size_t(pp) * in.w + qq;
            if (j == win[o]) continue;
            // Two exact values (magnitude 0, e.g. ReLU zeros) tie the same way in both passes.
            const double mw = std::abs(min[win[o]]), mj = std::abs(min[j]);
            a.off_piece += !(xin[win[o]] - xin[j] > err * (mw + mj) || (mw == 0 && mj == 0));
          }
      }
    } else {
      FAIL("net bounds know conv, linear, relu, prelu and maxpool, not ", layer.kind());
    }
    a.m.push_back(std::move(mout));
    a.winners.push_back(std::move(win));
    a.depth.push_back(depth);
  }
  return a;
}

// The backward pass on absolute values from the seed s (bounds on ∂L/∂z errors): for each
// parameter, the bound on its gradient's error.
inline std::map<std::string, std::vector<double>> backward_bounds(Net& net, const Tensor& x, const Analysis& a,
                                                           std::vector<double> s) {
  std::map<std::string, std::vector<double>> bounds;
  for (size_t i = net.layers().size(); i-- > 0;) {
    Layer& layer = *net.layers()[i];
    const Tensor& xin = i == 0 ? x : net.activation(i - 1);
    const std::vector<double> min = i == 0 ? to_double(x.data(), x.size()) : a.m[i - 1];
    std::vector<double> sin(xin.size(), 0.0);
    if (layer.weight()) {
      const ConvCase g = conv_case(layer, xin.shape());
      Param* b = bias_of(layer);
      const float* bw = b ? b->w.data() : nullptr;
      const ConvReference r = is_winograd(layer) ? winograd_magnitudes(g, min.data(), layer.weight()->w.data(), bw, s.data())
                                                 : direct_conv_reference(g, min.data(), layer.weight()->w.data(), bw, s.data());
      bounds[layer.weight()->name] = r.dw.magnitude;
      if (b) bounds[b->name] = r.db.magnitude;
      sin = r.dx.magnitude;
    } else if (auto* p = dynamic_cast<PReLU*>(&layer)) {
      const size_t plane = size_t(xin.shape().n) * xin.shape().h * xin.shape().w;
      std::vector<double> da(p->slope()->count(), 0.0);
      for (size_t j = 0; j < xin.size(); ++j) {
        const size_t c = p->channel_shared() ? 0 : j / plane;
        sin[j] = s[j] * (xin[j] > 0 ? 1.0 : std::abs(p->slope()->w[c]));
        if (xin[j] <= 0) da[c] += s[j] * std::abs(min[j]);  // ∂L/∂a = Σ_{x<0} dy·x (Eq. 4)
      }
      bounds[p->slope()->name] = da;
    } else if (dynamic_cast<ReLU*>(&layer)) {
      for (size_t j = 0; j < xin.size(); ++j) sin[j] = xin[j] > 0 ? s[j] : 0.0;
    } else {  // max-pool: each output's seed goes to its winner
      for (size_t o = 0; o < a.winners[i].size(); ++o) sin[a.winners[i][o]] += s[o];
    }
    s = std::move(sin);
  }
  return bounds;
}

// Loss and ∂L/∂z of softmax cross-entropy (layers/softmax_xent.cpp), z and dz delve's [K × N],
// e_z the bounds on the logits: per image n, E_n = max_k e_z; the loss moves by at most 2·E_n/N
// through the logits (log Σ exp and z_label are 1-Lipschitz in the max norm) and by its own
// rounding (softmax_rounding, tests/float_bounds.h), then float(loss) (u·|L|); p moves by a factor
// e^{±2·E_n} through the logits and by p_relative() through its rounding; ∂L/∂z = p·fl(1/N) −
// [k = label]·fl(1/N): two roundings on p, two more on the label's term. seed: the backward
// bound's seed, γ_{depth}·|∂L/∂ẑ| + the bound on ∂L/∂z (depth: D_f + D_b).
struct LossBounds {
  double loss = 0;
  std::vector<double> seed;
};
inline LossBounds loss_bounds(const Tensor& z, const Tensor& dz, const int32_t* labels, const std::vector<double>& ez,
                              double depth) {
  const double u = kFloatUnitRoundoff;
  const int N = z.shape().n, K = z.shape().c;
  LossBounds lb;
  lb.seed.resize(size_t(K) * N);
  double loss = 0;
  for (int n = 0; n < N; ++n) {
    double mx = z[n], E = 0, sum = 0, R = 0;
    for (int k = 0; k < K; ++k) mx = std::max(mx, double(z[size_t(k) * N + n])), E = std::max(E, ez[size_t(k) * N + n]);
    for (int k = 0; k < K; ++k) R = std::max(R, mx - z[size_t(k) * N + n]), sum += std::exp(z[size_t(k) * N + n] - mx);
    loss += (std::log(sum) + mx - z[size_t(labels[n]) * N + n]) / N;
    const SoftmaxRounding sr = softmax_rounding(R);
    lb.loss += (2 * E + sr.log_sum() + gamma_n(K, kDoubleUnitRoundoff)) / N;
    const double G = gamma_n(depth) + gamma_n(depth, kDoubleUnitRoundoff);
    for (int k = 0; k < K; ++k) {
      const size_t i = size_t(k) * N + n;
      const double p = std::exp(z[i] - mx) / sum;  // exact softmax of delve's logits
      const double e_d = (p * (std::exp(2 * E) - 1) + p * ((1 + sr.p_relative()) * (1 + u) * (1 + u) - 1) +
                          (k == labels[n] ? (1 + u) * (1 + u) - 1 + 2 * u : 0.0)) / N;
      lb.seed[i] = G * std::abs(dz[i]) + e_d;  // B is linear in its seed: both parts in one pass
    }
  }
  lb.loss += u * std::abs(loss) / (1 - u);  // float(loss)
  return lb;
}

}  // namespace delve::test
