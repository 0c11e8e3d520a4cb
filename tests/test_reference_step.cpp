// One whole SGD step of delve (Winograd convs, PReLU, max-pool, fc, dropout, softmax cross-entropy,
// Caffe's momentum SGD with weight decay) against the float64 recomputation of tests/reference_step.h,
// for ReLU, channel-shared and channel-wise PReLU, at 1 and 2 threads. Every parameter tensor's
// update Δ (delve's v after the step, which it subtracts from w) must match the reference's within
// the tolerance derived at rounding_budget and within 1e-4 of ‖Δ_ref‖, and w_after must be exactly
// fl(w_before - v). (w_after - w_before itself carries the rounding of w to float, up to ½ ulp(w)
// per element, which for a slope near 0.25 and a small step can exceed 1e-4 of ‖Δ‖: a property of
// float32 weights, not of the step.)
#include <doctest/doctest.h>

#include <cmath>

#include <filesystem>

#include "core/rng.h"
#include "data/batcher.h"
#include "experiments/run/config.h"
#include "experiments/run/session.h"
#include "data/idx.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/maxpool2d.h"
#include "layers/net.h"
#include "layers/prelu.h"
#include "layers/relu.h"
#include "layers/softmax_xent.h"
#include "optim/sgd.h"
#include "tests/reference_step.h"
#include "tests/schedule_compare.h"

using namespace delve;
using namespace delve::test;
namespace ref = delve::test::reference;

namespace {

void add_layer(Net& net, const ref::LayerSpec& s) {
  switch (s.kind) {
    case ref::Kind::Conv3x3: net.add(std::make_unique<Conv2d>(s.name, s.out, 3, 1, 1, true)); break;
    case ref::Kind::Relu: net.add(std::make_unique<ReLU>(s.name)); break;
    case ref::Kind::PreluShared: net.add(std::make_unique<PReLU>(s.name, true, 0.25f)); break;
    case ref::Kind::PreluWise: net.add(std::make_unique<PReLU>(s.name, false, 0.25f)); break;
    case ref::Kind::MaxPool2: net.add(std::make_unique<MaxPool2d>(s.name, 2, 2)); break;
    case ref::Kind::Linear: net.add(std::make_unique<Linear>(s.name, s.out, true)); break;
    case ref::Kind::Dropout: net.add(std::make_unique<Dropout>(s.name, s.p, &net.rng())); break;
  }
}

// conv 3×3 → act → pool → conv 3×3 → act → fc → act → dropout → fc, on 16×16 images: the convs
// run Winograd (core/winograd.h) over planes of 8 × 8 and 4 × 4 tiles, long enough for the
// vectorised tile loops; 10 images make two chunks at 2 threads.
std::vector<ref::LayerSpec> small_net(ref::Kind act) {
  return {{ref::Kind::Conv3x3, "conv1", 16}, {act, "act1"},       {ref::Kind::MaxPool2, "pool1"},
          {ref::Kind::Conv3x3, "conv2", 16}, {act, "act2"},       {ref::Kind::Linear, "fc1", 32},
          {act, "act3"},                     {ref::Kind::Dropout, "drop1", 0, 0.5f},
          {ref::Kind::Linear, "fc2", 10}};
}

// plain14 (experiments/run/model_builder.h) with channel-wise PReLU, on 1 × 32 × 32 images.
std::vector<ref::LayerSpec> plain14_prelu() {
  std::vector<ref::LayerSpec> net;
  int conv = 0, act = 0, pool = 0;
  for (auto [convs, width] : std::vector<std::pair<int, int>>{{1, 32}, {4, 64}, {6, 128}}) {
    for (int i = 0; i < convs; ++i) {
      net.push_back({ref::Kind::Conv3x3, "conv" + std::to_string(++conv), width});
      net.push_back({ref::Kind::PreluWise, "prelu" + std::to_string(++act)});
    }
    net.push_back({ref::Kind::MaxPool2, "pool" + std::to_string(++pool)});
  }
  net.push_back({ref::Kind::Linear, "fc1", 256});
  net.push_back({ref::Kind::PreluWise, "prelu" + std::to_string(++act)});
  net.push_back({ref::Kind::Linear, "fc2", 256});
  net.push_back({ref::Kind::PreluWise, "prelu" + std::to_string(++act)});
  net.push_back({ref::Kind::Linear, "fc3", 10});
  return net;
}

std::vector<double> values_of(const Tensor& t, size_t n) { return std::vector<double>(t.data(), t.data() + n); }

// x (N × C × H × W, PyTorch's order) into delve's channel-major C × N × H × W.
void to_channel_major(const ref::Blob& x, Tensor& t) {
  for (int i = 0; i < x.n; ++i)
    for (int c = 0; c < x.c; ++c)
      for (int r = 0; r < x.h; ++r)
        for (int q = 0; q < x.w; ++q) t.channel(c)[(size_t(i) * x.h + r) * x.w + q] = float(x.at(i, c, r, q));
}

// The masks the dropout layers draw from `rng`, replayed: one uniform per element in delve's
// memory order (channel-major), dropped below p (layers/dropout.h), as N × C × H × W blobs.
std::vector<ref::Blob> replay_masks(const std::vector<ref::LayerSpec>& spec, Net& net, Rng rng) {
  std::vector<ref::Blob> masks;
  for (size_t l = 0; l < spec.size(); ++l) {
    if (spec[l].kind != ref::Kind::Dropout) continue;
    const Shape s = net.activation(l).shape();
    ref::Blob m(s.n, s.c, s.h, s.w);
    for (int c = 0; c < s.c; ++c)
      for (int i = 0; i < s.n; ++i)
        for (int r = 0; r < s.h; ++r)
          for (int q = 0; q < s.w; ++q) m.at(i, c, r, q) = rng.uniformf() < spec[l].p ? 0.0 : 1.0 / (1.0 - spec[l].p);
    masks.push_back(std::move(m));
  }
  return masks;
}

// The rounding budget B of one float32 step, in units of u = 2⁻²⁴: Σ over the float32 sums the step
// performs of √(their length), plus the roundings outside the sums. Higham & Mary's probabilistic
// bound (SIAM J. Sci. Comput. 41, 2019): a float sum of n terms is within λ·√n·u of the sum of
// their magnitudes, with probability ≥ 1 - 2n·exp(-λ²/2) (λ = 6: ≥ 1 - 4e-5 for n ≤ 10⁴). To first
// order a rounding anywhere in the step moves each gradient term dy·x by at most its own relative
// error, so ‖δg‖ ≤ λ·u·B·‖Σ|dy·x|‖ (the reference's magnitudes). Per layer: a Winograd conv sums
// 9c products forward, 9d for ∂L/∂x and N·H·W for ∂L/∂w and ∂L/∂b, and rounds ~4 times in each of
// its input, weight and output transforms (coefficients 0, ±1, ±½: core/winograd.h), 12 per pass;
// an fc sums its inputs, outputs or batch; an activation rounds its product a·x or a·dy once each
// way and its slope sum (in double) once; the softmax sums K exponentials and rounds ~3 more times;
// the update v = μ·v + lr·(g + λw) rounds 4 times. Pooling and dropout (×0 or ×2) are exact.
double rounding_budget(const std::vector<ref::LayerSpec>& spec, Shape s) {
  double b = 4;  // the update
  const double N = s.n;
  for (size_t l = 0; l < spec.size(); ++l) {
    const ref::LayerSpec& L = spec[l];
    const double pixels = N * s.h * s.w;
    if (L.kind == ref::Kind::Conv3x3) {
      b += std::sqrt(9.0 * s.c) + 12 + std::sqrt(pixels) + 12 + std::sqrt(pixels);
      if (l > 0) b += std::sqrt(9.0 * L.out) + 12;  // no ∂L/∂x for the first layer
      s.c = L.out;
    }
    if (L.kind == ref::Kind::Relu || L.kind == ref::Kind::PreluShared || L.kind == ref::Kind::PreluWise) b += 3;
    if (L.kind == ref::Kind::MaxPool2) s.h /= 2, s.w /= 2;
    if (L.kind == ref::Kind::Linear) {
      b += std::sqrt(double(s.c) * s.h * s.w) + std::sqrt(double(L.out)) + 2 * std::sqrt(N);
      s = Shape{s.n, L.out, 1, 1};
    }
  }
  return b + std::sqrt(double(s.c)) + 3;  // the softmax over the s.c classes
}

struct Compared {
  std::string name;
  double error;      // ‖Δ_delve - Δ_ref‖, Δ_delve = delve's v after the step (w -= v)
  double norm;       // ‖Δ_ref‖
  double tolerance;  // λ·u·B·‖lr·Σ|dy·x| + μ|v| + lr·λ_wd·|w|‖ (rounding_budget)
  bool applied;      // w_after == fl(w_before - v) for every element
};

struct Compare {
  std::vector<Compared> tensors;
  int kinks_followed = 0, kinks_refused = 0;  // ref::Kinks
};

// The branches delve took at the kinks of its last forward pass (tests/reference_step.h): the
// sign of every activation's input, and every max-pool window's winner (its first input equal to
// the pooled value), in the reference's N × C × H × W order.
ref::Kinks kinks_of(const std::vector<ref::LayerSpec>& spec, Net& net, const Tensor& x) {
  ref::Kinks k;
  k.margin = 1e-5;  // ≥ λ·u·√(9c) relative to the largest input, with c ≤ 1000 and λ = 6: ~1e-5
  k.positive.resize(spec.size());
  k.winner.resize(spec.size());
  for (size_t l = 0; l < spec.size(); ++l) {
    const Tensor& in = l == 0 ? x : net.activation(l - 1);
    const Shape s = in.shape();
    auto at = [&](int i, int c, int r, int q) { return in.channel(c)[(size_t(i) * s.h + r) * s.w + q]; };
    if (spec[l].kind == ref::Kind::Relu || spec[l].kind == ref::Kind::PreluShared || spec[l].kind == ref::Kind::PreluWise)
      for (int i = 0; i < s.n; ++i)
        for (int c = 0; c < s.c; ++c)
          for (int r = 0; r < s.h; ++r)
            for (int q = 0; q < s.w; ++q) k.positive[l].push_back(at(i, c, r, q) > 0.f);
    if (spec[l].kind != ref::Kind::MaxPool2) continue;
    const Tensor& y = net.activation(l);
    for (int i = 0; i < s.n; ++i)
      for (int c = 0; c < s.c; ++c)
        for (int r = 0; r < s.h / 2; ++r)
          for (int q = 0; q < s.w / 2; ++q) {
            const float m = y.channel(c)[(size_t(i) * (s.h / 2) + r) * (s.w / 2) + q];
            int kr = 0, kq = 0;
            while (at(i, c, 2 * r + kr, 2 * q + kq) != m) kq == 1 ? (kq = 0, ++kr) : ++kq;
            k.winner[l].push_back(((size_t(i) * s.c + c) * s.h + 2 * r + kr) * s.w + 2 * q + kq);
          }
  }
  return k;
}

// Momentum as from an earlier step, ~30% of this step's lr·g per tensor, so that a wrong μ·v shows.
void draw_momentum(Net& net, const ref::Step& zero_momentum, double lr, Rng& rng, ref::Values& v) {
  for (auto& p : net.params()) {
    const auto& g = zero_momentum.grad.at(p->name);
    double gn = 0;
    for (double e : g) gn += e * e;
    const double scale = 0.3 * lr * std::sqrt(gn / double(g.size()));
    for (size_t k = 0; k < p->count(); ++k) p->v[k] = float(scale * rng.normal());
    v[p->name] = values_of(p->v, p->count());
  }
}

// Per tensor: delve's update against the reference's, and whether delve applied it exactly.
std::vector<Compared> distances(Net& net, const ref::Step& r, const ref::Values& w, const ref::Values& v,
                                const ref::Sgd& sgd, double budget) {
  const double lambda = 6, u = std::ldexp(1.0, -24);
  std::vector<Compared> out;
  for (auto& p : net.params()) {
    const auto& ref_v = r.update.at(p->name);
    const auto& m = r.magnitude.at(p->name);
    const bool decays = p->role == ParamRole::Weight;
    double err = 0, norm = 0, mag = 0;
    bool applied = true;
    for (size_t k = 0; k < p->count(); ++k) {
      const double w0 = w.at(p->name)[k], v0 = v.at(p->name)[k];
      err += (p->v[k] - ref_v[k]) * (p->v[k] - ref_v[k]);
      norm += ref_v[k] * ref_v[k];
      const double scale = sgd.lr * m[k] + sgd.momentum * std::abs(v0) + (decays ? sgd.lr * sgd.weight_decay * std::abs(w0) : 0);
      mag += scale * scale;
      applied &= p->w[k] == float(w0 - double(p->v[k]));  // exact in double, then one rounding, as w -= v
    }
    out.push_back({p->name, std::sqrt(err), std::sqrt(norm), lambda * u * budget * std::sqrt(mag), applied});
  }
  return out;
}

// One step of both from the net's parameters on x. With `fresh_momentum` the momentum is drawn
// (draw_momentum), else the net's is used.
Compare compare_step(const std::vector<ref::LayerSpec>& spec, Net& net, const ref::Blob& x, const std::vector<int>& labels,
                     const ref::Sgd& sgd, bool fresh_momentum, Rng& rng) {
  const Shape in{x.n, x.c, x.h, x.w};
  std::vector<int32_t> labels32(labels.begin(), labels.end());
  Tensor xt(in);
  to_channel_major(x, xt);
  ref::Values w, v;
  for (auto& p : net.params()) w[p->name] = values_of(p->w, p->count());
  for (auto& p : net.params()) v[p->name] = values_of(p->v, p->count());
  const Rng dropout_rng = net.rng();
  net.zero_grad();
  SoftmaxCrossEntropy xent;
  xent.forward(net.forward(xt, Mode::Train), labels32.data());
  const std::vector<ref::Blob> masks = replay_masks(spec, net, dropout_rng);
  const ref::Kinks kinks = kinks_of(spec, net, xt);
  if (fresh_momentum) {
    for (auto& p : net.params()) v[p->name].assign(p->count(), 0.0);
    draw_momentum(net, ref::sgd_step(spec, w, v, x, labels, masks, &kinks, sgd), sgd.lr, rng, v);
  }
  const ref::Step r = ref::sgd_step(spec, w, v, x, labels, masks, &kinks, sgd);
  Tensor dlogits;
  xent.backward(dlogits);
  net.backward(dlogits);
  Sgd(SgdOptions{float(sgd.momentum), float(sgd.weight_decay)}).step(net.params(), float(sgd.lr));
  return {distances(net, r, w, v, sgd, rounding_budget(spec, in)), r.kinks_followed, r.kinks_refused};
}

// compare_step on a freshly built net with random biases, slopes, images and labels.
Compare compare_step(const std::vector<ref::LayerSpec>& spec, const Shape& in, uint64_t seed) {
  Net net;
  for (auto& s : spec) add_layer(net, s);
  Rng rng(seed);
  net.build(in, InitSpec{InitSpec::Kind::Kaiming, InitSpec::Fan::In, 0.25f}, rng);
  // Biases and slopes away from their fill, so that their use in the forward pass is exercised.
  for (auto& p : net.params()) {
    if (p->role == ParamRole::Bias)
      for (size_t k = 0; k < p->count(); ++k) p->w[k] = float(0.1 * rng.normal());
    if (p->role == ParamRole::Slope)
      for (size_t k = 0; k < p->count(); ++k) p->w[k] = float(0.25 + 0.1 * rng.normal());
  }
  ref::Blob x(in.n, in.c, in.h, in.w);
  for (auto& e : x.v) e = rng.normal();
  std::vector<int> labels(size_t(in.n));
  for (auto& l : labels) l = int(rng.below(10));
  return compare_step(spec, net, x, labels, ref::Sgd{0.01, 0.9, 5e-4}, true, rng);
}

// Every tensor within its derived tolerance and within 1e-4 of its update's norm; applied exactly.
void check(const Compare& c, const std::string& what) {
  CHECK(c.kinks_refused == 0);  // delve's forward took no branch that rounding cannot explain
  for (const Compared& t : c.tensors) {
    INFO(what, ": ", t.name, " |Δ - Δ_ref|/|Δ_ref| = ", t.error / t.norm, ", tolerance ", t.tolerance / t.norm);
    CHECK(t.error <= t.tolerance);
    CHECK(t.error <= 1e-4 * t.norm);
    CHECK(t.applied);
  }
}

const char* name_of(ref::Kind act) {
  return act == ref::Kind::Relu ? "relu" : act == ref::Kind::PreluShared ? "channel-shared prelu" : "channel-wise prelu";
}

}  // namespace

TEST_CASE("reference step: delve's SGD step equals a float64 recomputation (ReLU, PReLU shared and channel-wise)") {
  for (ref::Kind act : {ref::Kind::Relu, ref::Kind::PreluShared, ref::Kind::PreluWise})
    for (int threads : {1, 2}) {
      ThreadsFor t(threads);
      check(compare_step(small_net(act), Shape{10, 4, 16, 16}, 7), std::string(name_of(act)) + ", " + std::to_string(threads) + " threads");
    }
}

// plain14 with channel-wise PReLU: at initialisation on normal inputs, and after 60 steps of
// delve's own training on Fashion-MNIST (batch 128, lr 0.002, the next batch compared with the
// checkpoint's momentum), where a trained net's pre-activations put a few of its ~10⁷ values
// within rounding of a kink.
std::unique_ptr<Session> trained_plain14() {
  RunConfig cfg = parse_run_config(resolve_config(json::parse(R"({"data": {"source": "fashion-mnist", "train_subset": 7680},
      "model": {"family": "plain14", "activation": "prelu"}, "init": {"mode": "fan_out"},
      "optim": {"lr": 0.002}, "train": {"batch": 128}})"), "reference"));
  auto s = open_session(cfg);
  Batcher batches(s->data.train, *s->normalizer, cfg.data, 128, true);
  Tensor x(s->input);
  std::vector<int32_t> labels;
  SoftmaxCrossEntropy xent;
  Tensor dlogits;
  for (int step = 0; step < 60; ++step) {
    batches.next(x, labels);
    s->net.zero_grad();
    xent.forward(s->net.forward(x, Mode::Train), labels.data());
    xent.backward(dlogits);
    s->net.backward(dlogits);
    Sgd(SgdOptions{0.9f, 5e-4f}).step(s->net.params(), 0.002f);
  }
  return s;
}

void report(const Compare& c, const std::string& what) {
  MESSAGE(what << ": kinks followed " << c.kinks_followed);
  for (const Compared& e : c.tensors) MESSAGE(e.name << " " << e.error / e.norm << " tol " << e.tolerance / e.norm);
  check(c, what);
}

TEST_CASE("reference step: plain14 with channel-wise PReLU (slow: run by hand with --no-skip)" * doctest::skip()) {
  for (int threads : {1, 2}) {
    ThreadsFor t(threads);
    report(compare_step(plain14_prelu(), Shape{32, 1, 32, 32}, 7), "plain14 at init, " + std::to_string(threads) + " threads");
  }
  if (!std::filesystem::exists(std::string(kFashionMnistDefaultDir) + "/train-images-idx3-ubyte.gz")) {
    MESSAGE("trained case skipped: no Fashion-MNIST in " << kFashionMnistDefaultDir);
    return;
  }
  for (int threads : {1, 2}) {
    ThreadsFor t(threads);
    auto s = trained_plain14();
    Batcher batches(s->data.train, *s->normalizer, s->config.data, 128, true);
    Tensor xt(s->input);
    std::vector<int32_t> labels;
    for (int skip = 0; skip <= 60; ++skip) batches.next(xt, labels);  // the 61st batch
    ref::Blob x(xt.shape().n, xt.shape().c, xt.shape().h, xt.shape().w);
    for (int i = 0; i < x.n; ++i)
      for (int r = 0; r < x.h; ++r)
        for (int q = 0; q < x.w; ++q) x.at(i, 0, r, q) = xt.channel(0)[(size_t(i) * x.h + r) * x.w + q];
    Rng rng(1);
    report(compare_step(plain14_prelu(), s->net, x, std::vector<int>(labels.begin(), labels.end()), ref::Sgd{0.002, 0.9, 5e-4},
                        false, rng),
           "plain14 after 60 steps, " + std::to_string(threads) + " threads");
  }
}
