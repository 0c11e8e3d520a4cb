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
#include "experiments/run/model_builder.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/maxpool2d.h"
#include "layers/net.h"
#include "layers/prelu.h"
#include "layers/softmax_xent.h"
#include "optim/sgd.h"
#include "tests/conv_reference.h"
#include "tests/float_bounds.h"
#include "tests/net_bounds.h"

using namespace delve;
using namespace delve::test;

namespace {

constexpr double u = kFloatUnitRoundoff;
// tests/golden/tiny_net.safetensors (DELVE_TEST_DATA_DIR is tests/data, which need not exist).
const std::string kFixture =
    (std::filesystem::path(DELVE_TEST_DATA_DIR).parent_path() / "golden" / "tiny_net.safetensors").string();

// A fixture value is the float64 result rounded to float: within u·|stored|/(1 − u) of exact.
double stored_rounding(double v) { return u * std::abs(v) / (1 - u); }

struct Fixture {
  SafetensorsFile f = read_safetensors(kFixture);
  nlohmann::json model = nlohmann::json::parse(f.metadata.at("model"));
  const std::vector<float>& get(const std::string& name) const { return f.get(name); }
  double meta(const std::string& key) const { return std::stod(f.metadata.at(key)); }
};

// delve's input (C × N × H × W, from PyTorch's N × C × H × W), labels, and the net built from the
// fixture's layer list with its weights and initial momentum, names and shapes checked.
void load_net(const Fixture& fx, Net& net, Tensor& x, std::vector<int32_t>& labels) {
  const std::vector<int64_t> in_dims = fx.f.shapes.at("input");  // N, C, H, W (PyTorch's NCHW)
  REQUIRE(in_dims.size() == 4);
  const Shape in{int(in_dims[0]), int(in_dims[1]), int(in_dims[2]), int(in_dims[3])};
  x.resize(in);  // delve's C × N × H × W from PyTorch's N × C × H × W
  const std::vector<float>& xin = fx.get("input");
  for (int n = 0; n < in.n; ++n)
    for (int c = 0; c < in.c; ++c)
      for (int h = 0; h < in.h; ++h)
        for (int w = 0; w < in.w; ++w) x.at(n, c, h, w) = xin[((size_t(n) * in.c + c) * in.h + h) * in.w + w];
  labels.clear();
  for (float l : fx.get("labels")) labels.push_back(int32_t(l));

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
}

// One SGD step (optim/sgd.cpp) from the fixture's weights and momentum, within its bounds given
// those of the gradients.
void check_sgd_step(Net& net, const Fixture& fx, std::map<std::string, std::vector<double>>& grad_bound_of) {
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

}  // namespace

TEST_CASE("golden: a tiny net's forward, loss, gradients and SGD step equal PyTorch's float64 ones") {
  const Fixture fx;
  Net net;
  Tensor x;
  std::vector<int32_t> labels;
  load_net(fx, net, x, labels);
  const Shape& in = x.shape();
  const int classes = int(fx.f.shapes.at("logits")[1]);

  // Forward: logits [K × N] against PyTorch's [N × K].
  const Tensor& z = net.forward(x, Mode::Train);
  const Analysis a = forward_magnitudes(net, x);
  const double Df = a.depth.back();
  const int N = in.n, K = classes;
  std::vector<double> want_z(size_t(K) * N), bound_z(size_t(K) * N), ez(size_t(K) * N);
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n) {
      const size_t i = size_t(k) * N + n;
      want_z[i] = fx.get("logits")[size_t(n) * K + k];
      ez[i] = a.bound(a.m.size() - 1, i);
      bound_z[i] = ez[i] + stored_rounding(want_z[i]);
    }
  check_within_bound("logits", z.data(), want_z, bound_z);
  // The bounds hold on the exact pass's linear piece: no PReLU input, no pool margin within its
  // error bound of a kink (else the fixture sits on one, or delve's activations are wrong).
  REQUIRE_MESSAGE(a.off_piece == 0, "delve's forward pass is not on the exact pass's linear piece");

  // Loss and ∂L/∂z within their bounds (tests/net_bounds.h), plus the fixture's rounding.
  SoftmaxCrossEntropy xent;
  const float loss = xent.forward(z, labels.data());
  Tensor dz;
  xent.backward(dz);
  const LossBounds lb = loss_bounds(z, dz, labels.data(), ez, Df + a.backward_depth);
  const double loss_bound = lb.loss;
  const std::vector<double>& seed = lb.seed;
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

  check_sgd_step(net, fx, grad_bound_of);
}
