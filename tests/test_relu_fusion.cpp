// layers/net: a conv followed by a ReLU, fused (Layer::fuses_relu) against the same net run layer
// by layer: the same activations (the conv's pre-activation included), logits and gradients, for
// Winograd and im2col convolutions, odd planes, a stride-2 conv (im2col under Winograd), 1-3
// threads, and with the observer (which back-propagates the ReLUs on their own).
//
// Tolerance: the fused passes compute the same float operations on the same values (the ReLU's
// max and mask are exact), but the GEMM library may pick another kernel for another leading
// dimension (im2col's masked ∂L/∂y chunk). Both runs lie within the net's rounding bounds of the
// exact values (tests/net_bounds.h, computed on the unfused run), so they agree within twice those.
#include <doctest/doctest.h>

#include <cmath>

#include "core/thread_pool.h"
#include "layers/conv2d.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/maxpool2d.h"
#include "layers/net.h"
#include "layers/relu.h"
#include "layers/softmax_xent.h"
#include "tests/gradcheck.h"
#include "tests/net_bounds.h"
#include "tests/schedule_compare.h"

using namespace delve;
using namespace delve::test;

namespace {

// A ReLU that counts its own passes: a fused one is never called.
struct CountingReLU : ReLU {
  using ReLU::ReLU;
  int calls = 0;
  void forward(const Tensor& x, Tensor& y, Mode mode) override {
    ++calls;
    ReLU::forward(x, y, mode);
  }
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override {
    ++calls;
    ReLU::backward(x, y, dy, dx);
  }
};

void add_net(Net& net, ConvAlgorithm algo) {
  auto conv = [&](const char* name, int out, int stride) {
    auto c = std::make_unique<Conv2d>(name, out, 3, stride, 1);
    c->set_algorithm(algo);
    net.add(std::move(c));
  };
  conv("conv1", 6, 1);
  net.add(std::make_unique<CountingReLU>("relu1"));
  conv("conv2", 5, 1);
  net.add(std::make_unique<CountingReLU>("relu2"));
  conv("conv3", 7, 2);  // stride 2: im2col even under Winograd
  net.add(std::make_unique<CountingReLU>("relu3"));
  net.add(std::make_unique<MaxPool2d>("pool", 2, 2));
  net.add(std::make_unique<Linear>("fc1", 9));
  net.add(std::make_unique<CountingReLU>("relu4"));  // after a linear: never fused
  net.add(std::make_unique<Linear>("fc2", 4));
}

int relu_calls(Net& net) {
  int calls = 0;
  for (auto& l : net.layers())
    if (auto* r = dynamic_cast<CountingReLU*>(l.get())) calls += r->calls;
  return calls;
}

struct Step {
  std::vector<Tensor> acts;
  std::vector<float> grads;
  int relu_calls = 0;
  std::vector<std::vector<double>> act_bounds;  // twice each run's bound (tests/net_bounds.h)
  std::vector<double> grad_bounds;              // in the gradient arena's order
};

// Twice the rounding bounds of every activation and gradient of the net's last step.
void record_bounds(Net& net, const Tensor& x, const Tensor& z, const Tensor& dz, const int32_t* labels, Step& s) {
  // Against the exact pass on this run's piece (its ReLU masks and pool winners): the runs
  // compared with it must share them (checked by the test).
  const Analysis a = forward_magnitudes(net, x);
  s.act_bounds.resize(a.m.size());
  for (size_t i = 0; i < a.m.size(); ++i)
    for (size_t j = 0; j < a.m[i].size(); ++j) s.act_bounds[i].push_back(2 * a.bound(i, j));
  std::vector<double> ez(z.size());
  for (size_t j = 0; j < z.size(); ++j) ez[j] = a.bound(a.m.size() - 1, j);
  const LossBounds lb = loss_bounds(z, dz, labels, ez, a.depth.back() + a.backward_depth);
  const auto bounds = backward_bounds(net, x, a, lb.seed);
  s.grad_bounds.assign(net.grad_arena().size(), 0.0);
  for (auto& p : net.params()) {
    const size_t offset = size_t(p->dw.data() - net.grad_arena().data());
    const std::vector<double>& b = bounds.at(p->name);
    for (size_t i = 0; i < b.size(); ++i) s.grad_bounds[offset + i] = 2 * b[i];
  }
}

Step train_step(ConvAlgorithm algo, bool fused, bool observe, const Tensor& x, const std::vector<int32_t>& labels) {
  Net net;
  add_net(net, algo);
  net.set_relu_fusion(fused);
  Rng rng(7);
  net.build(x.shape(), InitSpec{}, rng);
  Step s;
  SoftmaxCrossEntropy xent;
  xent.forward(net.forward(x, Mode::Train), labels.data());
  Tensor dlogits;
  xent.backward(dlogits);
  net.zero_grad();
  net.backward(dlogits, observe ? Net::GradObserver([](size_t, const Tensor&) {}) : Net::GradObserver());
  for (size_t i = 0; i < net.layers().size(); ++i) {
    s.acts.emplace_back(net.activation(i).shape());
    std::copy_n(net.activation(i).data(), net.activation(i).size(), s.acts.back().data());
  }
  s.grads.assign(net.grad_arena().data(), net.grad_arena().data() + net.grad_arena().size());
  s.relu_calls = relu_calls(net);
  if (!fused) record_bounds(net, x, net.activation(net.layers().size() - 1), dlogits, labels.data(), s);
  return s;
}

}  // namespace

TEST_CASE("net: a conv fused with its ReLU gives the unfused activations and gradients") {
  for (ConvAlgorithm algo : {ConvAlgorithm::Winograd, ConvAlgorithm::Im2col, ConvAlgorithm::WholeBatch})
    for (int threads : {1, 2, 3})
      for (Shape in : {Shape{5, 3, 9, 7}, Shape{3, 2, 6, 10}, Shape{11, 3, 8, 8}}) {
        ThreadsFor t(threads);
        INFO("algorithm ", int(algo), " threads ", threads, " input ", in.str());
        Rng rng(3);
        Tensor x(in);
        fill_normal(x, rng);
        std::vector<int32_t> labels(size_t(in.n));
        for (auto& l : labels) l = int32_t(rng.below(4));
        const Step plain = train_step(algo, false, false, x, labels);
        const Step fused = train_step(algo, true, false, x, labels);
        const Step observed = train_step(algo, true, true, x, labels);  // fused forward, ReLUs' own backward
        CHECK(plain.relu_calls == 8);  // 4 ReLUs, forward and backward
        // WholeBatch does not fuse; the others take over relu1-3, and the observer runs their backward.
        CHECK(fused.relu_calls == (algo == ConvAlgorithm::WholeBatch ? 8 : 2));
        CHECK(observed.relu_calls == (algo == ConvAlgorithm::WholeBatch ? 8 : 5));
        for (size_t i = 0; i < plain.acts.size(); ++i) {
          const std::vector<double> want = to_double(plain.acts[i].data(), plain.acts[i].size());
          check_within_bound(("activation " + std::to_string(i)).c_str(), fused.acts[i].data(), want, plain.act_bounds[i]);
        }
        // The same piece: every ReLU mask and pool input's winner as in the unfused run.
        for (size_t i = 0; i < plain.acts.size(); ++i)
          for (size_t j = 0; j < plain.acts[i].size(); ++j)
            if ((fused.acts[i][j] > 0) != (plain.acts[i][j] > 0)) FAIL("activation ", i, " changes sign at ", j);
        CHECK(pool_winners(fused.acts[5], 2, 2) == pool_winners(plain.acts[5], 2, 2));  // relu3 into the pool
        const std::vector<double> want = to_double(plain.grads.data(), plain.grads.size());
        check_within_bound("gradients", fused.grads.data(), want, plain.grad_bounds);
        check_within_bound("gradients (observed)", observed.grads.data(), want, plain.grad_bounds);
      }
}

TEST_CASE("conv2d: a lone conv refuses forward_relu under the whole-batch schedule") {
  Conv2d conv("conv", 2, 3, 1, 1);
  conv.set_algorithm(ConvAlgorithm::WholeBatch);
  CHECK_FALSE(conv.fuses_relu());
  Tensor x(Shape{1, 1, 4, 4}), y(Shape{1, 2, 4, 4}), z(Shape{1, 2, 4, 4});
  CHECK_THROWS(conv.forward_relu(x, y, z, Mode::Train));
}
