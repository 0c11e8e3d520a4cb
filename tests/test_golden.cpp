// Golden test against an independent implementation: one training step of a tiny net
//   conv1 3×3 pad 1 · prelu1 channel-wise · pool1 2×2/2 · conv2 3×3 pad 1 · prelu2 channel-shared
//   · fc1 · prelu3 channel-wise · fc2 · softmax cross-entropy · one SGD step (momentum, decay)
// computed by PyTorch in float64 (tests/golden/make_golden.py, which wrote the fixture
// tests/golden/tiny_net.safetensors). delve builds the same net from the fixture's layer list with
// its own builder and layers, loads the weights by name, and must reproduce the logits, the loss,
// every parameter gradient and the weights and momentum after the step. Every layer is otherwise
// checked only against itself (gradient checks); this catches a convention both sides of a
// gradient check share: a wrong flatten order, a transposed weight, a slope on the wrong channel,
// PyTorch's layouts (NCHW input, [out, in] weights) read wrongly, or SGD in the wrong form.
//
// Tolerances, derived (tests/float_bounds.h): on a fixed linear piece of the net (the same PReLU
// signs and max-pool winners as the exact computation: checked, see below) the forward pass is a
// chain of sums and products, so |logit − exact| ≤ γ_{D_f}·M, where M is the net run on absolute
// values with the |coefficients| of each layer's algorithm (Winograd's for the 3×3 convs,
// tests/conv_reference.h) and D_f the roundings of the layers summed. The softmax adds its own
// (bounded below), and the backward pass is linear in ∂L/∂z, so each gradient lies within
// B(γ_{D_f+D_b}·|∂L/∂ẑ| + e_z) of the exact one, B the backward pass on absolute values and e_z
// the bound on ∂L/∂z. The fixture stores float64 results rounded to float: u·|value| more.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "experiments/model_builder.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/maxpool2d.h"
#include "layers/net.h"
#include "layers/prelu.h"
#include "layers/softmax_xent.h"
#include "optim/sgd.h"
#include "tests/conv_reference.h"
#include "tests/float_bounds.h"

using namespace delve;
using namespace delve::test;

namespace {

constexpr double u = kFloatUnitRoundoff;
// tests/golden/tiny_net.safetensors (DELVE_TEST_DATA_DIR is tests/data, which need not exist).
const std::string kFixture =
    (std::filesystem::path(DELVE_TEST_DATA_DIR).parent_path() / "golden" / "tiny_net.safetensors").string();

// A fixture value is the float64 result rounded to float: within u·|stored|/(1 − u) of exact.
double stored_rounding(double v) { return u * std::abs(v) / (1 - u); }

std::vector<double> to_double(const float* v, size_t n) { return std::vector<double>(v, v + n); }

// The geometry of a conv or linear layer as a convolution (a linear one covers the whole image).
ConvCase conv_case(Layer& layer, const Shape& in) {
  if (auto* c = dynamic_cast<Conv2d*>(&layer)) {
    const ConvGeometry& g = c->geometry();
    return {in, c->out_channels(), g.kh, g.kw, g.stride, g.pad};
  }
  return {in, dynamic_cast<Linear&>(layer).out_features(), in.h, in.w, 1, 0};
}
bool is_winograd(Layer& layer) {
  auto* c = dynamic_cast<Conv2d*>(&layer);
  return c && c->uses_winograd();
}
Param* bias_of(Layer& layer) {
  if (auto* c = dynamic_cast<Conv2d*>(&layer)) return c->bias();
  return dynamic_cast<Linear&>(layer).bias();
}
// Roundings on a path through one layer: forward (f) and the longest of its backward sums (b).
struct LayerDepth {
  double f, b;
};
LayerDepth conv_depth(Layer& layer, const Shape& in) {
  const ConvCase g = conv_case(layer, in);
  const ConvDepths d = is_winograd(layer) ? winograd_depths(g) : direct_conv_depths(g);
  return {d.y, std::max({d.dx, d.dw, d.db})};
}

// Max-pool windows: for each output, the index (in the input tensor) of its first maximum, as
// layers/maxpool2d.cpp picks it.
std::vector<size_t> pool_winners(const Tensor& x, int k, int s) {
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
  size_t off_piece = 0;       // PReLU inputs and pool margins within their error bound of a kink
};

Analysis forward_magnitudes(Net& net, const Tensor& x, const nlohmann::json& model) {
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
    } else if (auto* p = dynamic_cast<PReLU*>(&layer)) {
      const size_t plane = size_t(xin.shape().n) * xin.shape().h * xin.shape().w;
      for (size_t j = 0; j < xin.size(); ++j) {
        const double slope = std::abs(p->slope()->w[p->channel_shared() ? 0 : j / plane]);
        a.off_piece += !(std::abs(xin[j]) > err * std::abs(min[j]));  // a sign the error could flip
        mout[j] = std::abs(min[j]) * (xin[j] > 0 ? 1.0 : slope);
      }
      depth += 1;  // a·x
      a.backward_depth += double(p->channel_shared() ? xin.size() : plane);  // Σ of ∂L/∂a
    } else if (dynamic_cast<MaxPool2d*>(&layer)) {
      const int k = model[i].value("kernel", 2), s = model[i].value("stride", k);
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
            a.off_piece += !(xin[win[o]] - xin[j] > err * (std::abs(min[win[o]]) + std::abs(min[j])));
          }
      }
    } else {
      FAIL("the golden test's bounds know conv, linear, prelu and maxpool, not ", layer.kind());
    }
    a.m.push_back(std::move(mout));
    a.winners.push_back(std::move(win));
    a.depth.push_back(depth);
  }
  return a;
}

// The backward pass on absolute values from the seed s (bounds on ∂L/∂z errors): for each
// parameter, the bound on its gradient's error.
std::map<std::string, std::vector<double>> backward_bounds(Net& net, const Tensor& x, const Analysis& a,
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
    } else {  // max-pool: each output's seed goes to its winner
      for (size_t o = 0; o < a.winners[i].size(); ++o) sin[a.winners[i][o]] += s[o];
    }
    s = std::move(sin);
  }
  return bounds;
}

struct Fixture {
  SafetensorsFile f = read_safetensors(kFixture);
  nlohmann::json model = nlohmann::json::parse(f.metadata.at("model"));
  const std::vector<float>& get(const std::string& name) const { return f.get(name); }
  double meta(const std::string& key) const { return std::stod(f.metadata.at(key)); }
};

}  // namespace

TEST_CASE("golden: a tiny net's forward, loss, gradients and SGD step equal PyTorch's float64 ones") {
  const Fixture fx;
  const std::vector<int64_t> in_dims = fx.f.shapes.at("input");  // N, C, H, W (PyTorch's NCHW)
  REQUIRE(in_dims.size() == 4);
  const Shape in{int(in_dims[0]), int(in_dims[1]), int(in_dims[2]), int(in_dims[3])};
  Tensor x(in);  // delve's C × N × H × W from PyTorch's N × C × H × W
  const std::vector<float>& xin = fx.get("input");
  for (int n = 0; n < in.n; ++n)
    for (int c = 0; c < in.c; ++c)
      for (int h = 0; h < in.h; ++h)
        for (int w = 0; w < in.w; ++w) x.at(n, c, h, w) = xin[((size_t(n) * in.c + c) * in.h + h) * in.w + w];
  std::vector<int32_t> labels;
  for (float l : fx.get("labels")) labels.push_back(int32_t(l));

  Net net;
  ModelSpec spec;
  spec.family = "layers";
  spec.layers = fx.model;
  const int classes = int(fx.f.shapes.at("logits")[1]);
  add_model_layers(net, spec, classes);
  Rng rng(1);
  net.build(in, InitSpec{}, rng);
  REQUIRE(net.params().size() * 5 + 4 == fx.f.names.size());  // every parameter, and nothing else
  for (auto& p : net.params()) {  // names and shapes as PyTorch's; weights from the fixture
    INFO("parameter ", p->name);
    REQUIRE(fx.f.has(p->name));
    CHECK(std::vector<int64_t>(p->dims.begin(), p->dims.end()) == fx.f.shapes.at(p->name));
    REQUIRE(fx.get(p->name).size() == p->count());
    std::copy_n(fx.get(p->name).data(), p->count(), p->w.data());
    std::copy_n(fx.get("momentum." + p->name).data(), p->count(), p->v.data());
  }

  // Forward: logits [K × N] against PyTorch's [N × K].
  const Tensor& z = net.forward(x, Mode::Train);
  const Analysis a = forward_magnitudes(net, x, fx.model);
  const double Df = a.depth.back();
  const int N = in.n, K = classes;
  std::vector<double> want_z(size_t(K) * N), bound_z(size_t(K) * N), ez(size_t(K) * N);
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n) {
      const size_t i = size_t(k) * N + n;
      want_z[i] = fx.get("logits")[size_t(n) * K + k];
      ez[i] = (gamma_n(Df) + gamma_n(Df, kDoubleUnitRoundoff)) * a.m.back()[i];
      bound_z[i] = ez[i] + stored_rounding(want_z[i]);
    }
  check_within_bound("logits", z.data(), want_z, bound_z);
  // The bounds hold on the exact pass's linear piece: no PReLU input, no pool margin within its
  // error bound of a kink (else the fixture sits on one, or delve's activations are wrong).
  REQUIRE_MESSAGE(a.off_piece == 0, "delve's forward pass is not on the exact pass's linear piece");

  // Loss and ∂L/∂z (layers/softmax_xent.cpp): per image n, E_n = max_k e_z; the loss moves by at
  // most 2·E_n/N through the logits (log Σ exp and z_label are 1-Lipschitz in the max norm), and by
  // its own rounding (softmax_rounding, tests/float_bounds.h), then float(loss) (u·|L|); p moves by
  // a factor e^{±2·E_n} through the logits and by p_relative() through its rounding;
  // ∂L/∂z = p·fl(1/N) − [k = label]·fl(1/N): two roundings on p, two more on the label's term.
  SoftmaxCrossEntropy xent;
  const float loss = xent.forward(z, labels.data());
  Tensor dz;
  xent.backward(dz);
  double loss_bound = 2 * u * std::abs(double(loss));  // float(loss) and the fixture's rounding
  std::vector<double> seed(size_t(K) * N);
  for (int n = 0; n < N; ++n) {
    double mx = z[n], E = 0, sum = 0;
    for (int k = 0; k < K; ++k) mx = std::max(mx, double(z[size_t(k) * N + n])), E = std::max(E, ez[size_t(k) * N + n]);
    double R = 0;
    for (int k = 0; k < K; ++k) R = std::max(R, mx - z[size_t(k) * N + n]), sum += std::exp(z[size_t(k) * N + n] - mx);
    const SoftmaxRounding sr = softmax_rounding(R);
    loss_bound += (2 * E + sr.log_sum() + gamma_n(K, kDoubleUnitRoundoff)) / N;
    for (int k = 0; k < K; ++k) {
      const size_t i = size_t(k) * N + n;
      const double p = std::exp(z[i] - mx) / sum;  // exact softmax of delve's logits
      const double rho = sr.p_relative();          // delve's p against p
      const double e_d = (p * (std::exp(2 * E) - 1) + p * ((1 + rho) * (1 + u) * (1 + u) - 1) +
                          (k == labels[n] ? (1 + u) * (1 + u) - 1 + 2 * u : 0.0)) / N;
      const double G = gamma_n(Df + a.backward_depth) + gamma_n(Df + a.backward_depth, kDoubleUnitRoundoff);
      seed[i] = G * std::abs(dz[i]) + e_d;  // B is linear in its seed: both parts in one pass
    }
  }
  const double want_loss = fx.get("loss")[0];
  INFO("loss ", loss, ", PyTorch ", want_loss, ", bound ", loss_bound);
  CHECK(std::abs(loss - want_loss) <= loss_bound + stored_rounding(want_loss));

  // Backward: every parameter gradient.
  net.zero_grad();
  net.backward(dz);
  const auto grad_bounds = backward_bounds(net, x, a, seed);
  std::map<std::string, std::vector<double>> grad_bound_of;
  for (auto& p : net.params()) {
    const std::vector<float>& want = fx.get("grad." + p->name);
    std::vector<double> w(want.begin(), want.end()), b = grad_bounds.at(p->name);
    for (size_t i = 0; i < b.size(); ++i) b[i] += stored_rounding(w[i]);
    check_within_bound(("grad." + p->name).c_str(), p->dw.data(), w, b);
    grad_bound_of[p->name] = grad_bounds.at(p->name);
  }

  // One SGD step (optim/sgd.cpp): v1 = μ·v0 + lr·(dw + λ·decay_mult·w), w1 = w − v1, with μ, lr,
  // λ rounded to float (one rounding each): μ·v0 takes 3 roundings (μ, ×, +), λ·w 6 (λ, ×, +,
  // lr, ×, +), dw 4 (+, lr, ×, +) and brings its own error e_dw, scaled by lr; w − v1 one more.
  const double lr = fx.meta("lr"), mu = fx.meta("momentum"), lambda = fx.meta("weight_decay");
  std::vector<std::vector<float>> w0;
  for (auto& p : net.params()) w0.emplace_back(p->w.data(), p->w.data() + p->count());
  Sgd(SgdOptions{float(mu), float(lambda)}).step(net.params(), float(lr));
  for (size_t k = 0; k < net.params().size(); ++k) {
    const Param& p = *net.params()[k];
    const std::vector<float>& v0 = fx.get("momentum." + p.name);
    const std::vector<float>& want_w = fx.get("updated." + p.name);
    const std::vector<float>& want_v = fx.get("updated_momentum." + p.name);
    std::vector<double> ew(p.count()), ev(p.count()), ww(want_w.begin(), want_w.end()), wv(want_v.begin(), want_v.end());
    for (size_t i = 0; i < p.count(); ++i) {
      const double e_dw = grad_bound_of[p.name][i] + stored_rounding(fx.get("grad." + p.name)[i]);
      const double dw = std::abs(fx.get("grad." + p.name)[i]) + e_dw;
      const double decay = lambda * p.decay_mult;
      const double e_v = gamma_n(6) * (mu * std::abs(v0[i]) + lr * (dw + decay * std::abs(w0[k][i]))) +
                         lr * (1 + gamma_n(6)) * e_dw;
      ev[i] = e_v + stored_rounding(wv[i]);
      ew[i] = e_v + u * (std::abs(w0[k][i]) + std::abs(wv[i]) + e_v) + stored_rounding(ww[i]);
    }
    check_within_bound(("updated." + p.name).c_str(), p.w.data(), ww, ew);
    check_within_bound(("updated_momentum." + p.name).c_str(), p.v.data(), wv, ev);
  }
}
