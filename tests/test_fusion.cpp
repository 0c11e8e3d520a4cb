// layers/net: a conv followed by a ReLU, a channel-wise or a channel-shared PReLU, fused
// (Layer::fuses_activation) against the same net run layer by layer: the same activations (the
// conv's pre-activation included), logits and gradients (the slopes' among them), for Winograd and
// im2col convolutions, odd planes, a stride-2 conv (im2col under Winograd), 1-3 threads, and with
// the observer (which back-propagates the activations on their own).
//
// Tolerance: the fused passes compute the same float operations on the same values (the ReLU's
// max and mask are exact, a PReLU's a·y the same product), but the GEMM library may pick another
// kernel for another leading dimension (im2col's scaled ∂L/∂y chunk), and a fused slope gradient
// adds its double terms in another order. Both runs lie within the net's rounding bounds of the
// exact values (tests/net_bounds.h, computed on the unfused run), so they agree within twice those.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/thread_pool.h"
#include "layers/conv2d.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/maxpool2d.h"
#include "layers/net.h"
#include "layers/prelu.h"
#include "layers/relu.h"
#include "layers/softmax_xent.h"
#include "tests/gradcheck.h"
#include "tests/net_bounds.h"
#include "tests/schedule_compare.h"

using namespace delve;
using namespace delve::test;

namespace {

// An activation that counts its own passes: a fused one is never called.
struct Counting {
  int calls = 0;
};
template <class Activation>
struct CountingActivation : Activation, Counting {
  using Activation::Activation;
  void forward(const Tensor& x, Tensor& y, Mode mode) override {
    ++calls;
    Activation::forward(x, y, mode);
  }
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override {
    ++calls;
    Activation::backward(x, y, dy, dx);
  }
};

enum class Act { Relu, Prelu, PreluShared };

std::unique_ptr<Layer> activation(Act act, const char* name) {
  if (act == Act::Relu) return std::make_unique<CountingActivation<ReLU>>(name);
  return std::make_unique<CountingActivation<PReLU>>(name, act == Act::PreluShared);
}

// Slopes that differ per channel (and from 0.25), so that a slope read for the wrong channel shows.
void spread_slopes(Net& net) {
  for (auto& l : net.layers())
    if (Param* a = l->slope())
      for (size_t c = 0; c < a->count(); ++c) a->w[c] = 0.05f + 0.11f * float(c) - (c % 3 == 2 ? 0.4f : 0.f);
}

void add_net(Net& net, ConvAlgorithm algo, Act act) {
  auto conv = [&](const char* name, int out, int stride) {
    auto c = std::make_unique<Conv2d>(name, out, 3, stride, 1);
    c->set_algorithm(algo);
    net.add(std::move(c));
  };
  conv("conv1", 6, 1);
  net.add(activation(act, "act1"));
  conv("conv2", 5, 1);
  net.add(activation(act, "act2"));
  conv("conv3", 7, 2);  // stride 2: im2col even under Winograd
  net.add(activation(act, "act3"));
  net.add(std::make_unique<MaxPool2d>("pool", 2, 2));
  net.add(std::make_unique<Linear>("fc1", 9));
  net.add(activation(act, "act4"));  // after a linear: never fused
  net.add(std::make_unique<Linear>("fc2", 4));
}

int activation_calls(Net& net) {
  int calls = 0;
  for (auto& l : net.layers())
    if (auto* r = dynamic_cast<Counting*>(l.get())) calls += r->calls;
  return calls;
}

struct SlopeAt {  // a PReLU's ∂L/∂a in the gradient arena
  size_t layer, offset, count;
  bool operator==(const SlopeAt& o) const { return layer == o.layer && offset == o.offset && count == o.count; }
};

struct Step {
  std::vector<Tensor> acts;
  std::vector<Tensor> input_grads;  // with an observer: ∂L/∂x of every layer
  std::vector<float> grads;
  std::vector<SlopeAt> slopes;
  int activation_calls = 0;
};

Step train_step(ConvAlgorithm algo, Act act, bool fused, bool observe, const Tensor& x,
                const std::vector<int32_t>& labels) {
  Net net;
  add_net(net, algo, act);
  net.set_fusion(fused);
  Rng rng(7);
  net.build(x.shape(), InitSpec{}, rng);
  spread_slopes(net);
  Step s;
  SoftmaxCrossEntropy xent;
  xent.forward(net.forward(x, Mode::Train), labels.data());
  Tensor dlogits;
  xent.backward(dlogits);
  net.zero_grad();
  s.input_grads.resize(net.layers().size());
  auto record = [&](size_t k, const Tensor& dx) {
    s.input_grads[k].resize(dx.shape());
    std::copy_n(dx.data(), dx.size(), s.input_grads[k].data());
  };
  net.backward(dlogits, observe ? Net::GradObserver(record) : Net::GradObserver());
  for (size_t i = 0; i < net.layers().size(); ++i) {
    s.acts.emplace_back(net.activation(i).shape());
    std::copy_n(net.activation(i).data(), net.activation(i).size(), s.acts.back().data());
    if (Param* a = net.layers()[i]->slope())
      s.slopes.push_back({i, size_t(a->dw.data() - net.grad_arena().data()), a->count()});
  }
  s.grads.assign(net.grad_arena().data(), net.grad_arena().data() + net.grad_arena().size());
  s.activation_calls = activation_calls(net);
  return s;
}

bool same_bits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

// A slope gradient ∂L/∂a = fl(S), S = Σ dz·y over y ≤ 0 (Eq. 2-3) summed in double: the fused
// pass adds its n terms in another order than the PReLU layer, so each double sum lies within
// γ_n(double)·M of the exact one (M = Σ |dz·y|), and each float result within u·|S| of its double
// sum (u = 2⁻²⁴; da starts at 0, so the += is exact). Two runs agree within 2·γ_n·M + u·(|S₁| + |S₂|).
void check_slope_grads(const Step& plain, const Step& fused) {
  REQUIRE(fused.slopes == plain.slopes);
  for (const SlopeAt& at : plain.slopes) {
    const Tensor& y = plain.acts[at.layer - 1];          // the activation's input
    const Tensor& dz = plain.input_grads[at.layer + 1];  // ∂L/∂ of its output
    REQUIRE(dz.size() == y.size());
    const size_t n = y.size() / at.count;  // terms per slope
    std::vector<double> M(at.count, 0.0);
    for (size_t j = 0; j < y.size(); ++j)
      if (!(y[j] > 0)) M[j / n] += std::abs(double(dz[j]) * y[j]);
    for (size_t c = 0; c < at.count; ++c) {
      const double s1 = plain.grads[at.offset + c], s2 = fused.grads[at.offset + c];
      const double bound = 2 * gamma_n(double(n), kDoubleUnitRoundoff) * M[c] +
                           kFloatUnitRoundoff * (std::abs(s1) + std::abs(s2));
      INFO("layer ", at.layer, " slope ", c, ": ", s1, " vs ", s2, ", bound ", bound);
      CHECK(std::abs(s1 - s2) <= bound);
    }
    // The case tests something: negative inputs with a gradient (a channel whose negative values
    // all lose in the max-pool has none).
    CHECK(*std::max_element(M.begin(), M.end()) > 0);
  }
}

}  // namespace

// Everything but the slope gradients must match bit for bit: the fused passes run the same float
// operations on the same values in the same order (the ReLU's max and mask are exact, a PReLU's
// a·y and a·dz the same products), and the GEMMs pack their operands before computing, so im2col's
// scaled ∂L/∂y chunk, with its other leading dimension, reaches the arithmetic unchanged.
void check_same_except_slopes(const Step& plain, const Step& other, const char* what) {
  INFO(what);
  for (size_t i = 0; i < plain.acts.size(); ++i) {
    INFO("activation ", i);
    CHECK(same_bits(other.acts[i].data(), plain.acts[i].data(), plain.acts[i].size()));
  }
  std::vector<float> a = plain.grads, b = other.grads;
  for (const SlopeAt& at : plain.slopes)
    for (size_t c = 0; c < at.count; ++c) a[at.offset + c] = b[at.offset + c] = 0.f;
  CHECK(same_bits(a.data(), b.data(), a.size()));
}

TEST_CASE("net: a conv fused with its ReLU or PReLU gives the unfused activations and gradients") {
  for (Act act : {Act::Relu, Act::Prelu, Act::PreluShared})
    for (ConvAlgorithm algo : {ConvAlgorithm::Winograd, ConvAlgorithm::Im2col, ConvAlgorithm::WholeBatch})
      for (int threads : {1, 2, 3})
        for (Shape in : {Shape{5, 3, 9, 7}, Shape{3, 2, 6, 10}, Shape{11, 3, 8, 8}}) {
          ThreadsFor t(threads);
          INFO("activation ", int(act), " algorithm ", int(algo), " threads ", threads, " input ", in.str());
          Rng rng(3);
          Tensor x(in);
          fill_normal(x, rng);
          std::vector<int32_t> labels(size_t(in.n));
          for (auto& l : labels) l = int32_t(rng.below(4));
          // unfused, observed (for its ∂L/∂x); fused; fused forward with the activations' own backward
          const Step plain = train_step(algo, act, false, true, x, labels);
          const Step fused = train_step(algo, act, true, false, x, labels);
          const Step observed = train_step(algo, act, true, true, x, labels);
          CHECK(plain.activation_calls == 8);  // 4 activations, forward and backward
          // WholeBatch does not fuse; the others take over act1-3, and the observer runs their backward.
          CHECK(fused.activation_calls == (algo == ConvAlgorithm::WholeBatch ? 8 : 2));
          CHECK(observed.activation_calls == (algo == ConvAlgorithm::WholeBatch ? 8 : 5));
          check_same_except_slopes(plain, fused, "fused");
          check_same_except_slopes(plain, observed, "observed");
          check_slope_grads(plain, fused);
          check_slope_grads(plain, observed);
          CHECK(plain.slopes.size() == (act == Act::Relu ? 0u : 4u));
        }
}

TEST_CASE("conv2d: a lone conv refuses forward_fused under the whole-batch schedule") {
  Conv2d conv("conv", 2, 3, 1, 1);
  conv.set_algorithm(ConvAlgorithm::WholeBatch);
  CHECK_FALSE(conv.fuses_activation());
  Tensor x(Shape{1, 1, 4, 4}), y(Shape{1, 2, 4, 4}), z(Shape{1, 2, 4, 4});
  CHECK_THROWS(conv.forward_fused(x, y, Rectifier{}, z, Mode::Train, true));
}

// Inference leaves a fused Winograd conv's pre-activation unwritten (layers/layer.h); every
// activation after it, and the logits, must still match the unfused net bit for bit.
TEST_CASE("net: an inference pass of fused convs gives the unfused outputs") {
  for (Act act : {Act::Relu, Act::Prelu, Act::PreluShared})
    for (ConvAlgorithm algo : {ConvAlgorithm::Winograd, ConvAlgorithm::Im2col}) {
      INFO("activation ", int(act), " algorithm ", int(algo));
      Rng rng(5);
      Tensor x(Shape{6, 3, 9, 7});
      fill_normal(x, rng);
      std::vector<Tensor> out[2];
      for (int fused = 0; fused < 2; ++fused) {
        Net net;
        add_net(net, algo, act);
        net.set_fusion(fused == 1);
        Rng init(7);
        net.build(x.shape(), InitSpec{}, init);
        spread_slopes(net);
        net.forward(x, Mode::Eval);
        for (size_t i = 0; i < net.layers().size(); ++i) {
          out[fused].emplace_back(net.activation(i).shape());
          std::copy_n(net.activation(i).data(), net.activation(i).size(), out[fused].back().data());
        }
      }
      for (size_t i = 0; i < out[0].size(); ++i) {
        // conv1 and conv2 (Winograd, fused) may leave their own outputs 0 and 2 unwritten
        if (algo == ConvAlgorithm::Winograd && (i == 0 || i == 2)) continue;
        INFO("activation ", i);
        CHECK(same_bits(out[1][i].data(), out[0][i].data(), out[0][i].size()));
      }
    }
}

// A training step that does not keep the fused convs' pre-activations (Net::set_keep_preactivations)
// must give the same logits and gradients bit for bit, observed or not: a ReLU's derivative reads
// the sign of max(0, y) instead of y's. A PReLU's y is kept regardless.
TEST_CASE("net: a training step without the fused convs' pre-activations gives the same gradients") {
  for (Act act : {Act::Relu, Act::Prelu})
    for (bool observe : {false, true}) {
      INFO("activation ", int(act), " observed ", observe);
      Rng rng(9);
      Tensor x(Shape{5, 3, 9, 7});
      fill_normal(x, rng);
      const std::vector<int32_t> labels = {0, 3, 1, 2, 3};
      std::vector<float> grads[2];
      Tensor logits[2];
      for (int keep = 0; keep < 2; ++keep) {
        Net net;
        add_net(net, ConvAlgorithm::Winograd, act);
        net.set_keep_preactivations(keep == 1);
        Rng init(7);
        net.build(x.shape(), InitSpec{}, init);
        spread_slopes(net);
        SoftmaxCrossEntropy xent;
        const Tensor& z = net.forward(x, Mode::Train);
        logits[keep].resize(z.shape());
        std::copy_n(z.data(), z.size(), logits[keep].data());
        CHECK(net.output_written(0) == (keep == 1 || act == Act::Prelu));  // conv1, fused
        CHECK(net.output_written(1));
        xent.forward(z, labels.data());
        Tensor dlogits;
        xent.backward(dlogits);
        net.zero_grad();
        net.backward(dlogits, observe ? Net::GradObserver([](size_t, const Tensor&) {}) : Net::GradObserver());
        grads[keep].assign(net.grad_arena().data(), net.grad_arena().data() + net.grad_arena().size());
      }
      CHECK(same_bits(logits[0].data(), logits[1].data(), logits[1].size()));
      CHECK(same_bits(grads[0].data(), grads[1].data(), grads[1].size()));
    }
}
