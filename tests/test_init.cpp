// layers/init: each initialiser's empirical mean and variance against its formula, for conv and
// fc shapes and both fan modes; kaiming with a = 0.25 against Eq. 15; glorot uniform inside its
// bound; biases and slopes take their fill; Param's fans; InitSpec names.
//
// Tolerances from the sample size (n values drawn, target variance σ²):
//   mean:     the sample mean has std σ/√n; we allow 6σ/√n.
//   variance: the sample variance has std σ²·√(2/n) for a normal (fourth moment 3σ⁴) and
//             σ²·√(0.8/n) for a uniform (fourth moment 1.8σ⁴); we allow 6 of those standard
//             deviations (relative error 6·√(2/n)).
// Six standard deviations fail by chance with probability ~2e-9 for any seed, so a failure means a
// wrong formula, not bad luck; the seeds are fixed anyway. The smallest shape ([16,3,3,3], n = 432)
// allows ±41% in variance, enough to tell fan_in (27) from fan_out (144), ×5.3. The fc shape
// (n = 524288, ±1.2%) is the one that can tell Eq. 15's a = 0.25 (variance ×1/1.0625) from a = 0.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "experiments/run/config.h"
#include "experiments/run/model_builder.h"
#include "layers/init.h"
#include "layers/net.h"
#include "tests/float_bounds.h"

using namespace delve;
using namespace delve::test;

namespace {
struct Stats {
  double mean = 0, var = 0, max_abs = 0;
  size_t beyond = 0;  // |w| > √3·σ (impossible for a uniform of that variance)
};

Param make_param(std::vector<int> dims, ParamRole role = ParamRole::Weight, float fill = 0.f) {
  Param p;
  p.name = std::string("w");  // (assigning the literal itself trips g++ 12's -Wrestrict false positive)
  p.dims = std::move(dims);
  p.role = role;
  p.fill = fill;
  p.w.resize(Shape{1, 1, 1, int(p.count())});
  return p;
}

Stats draw(Param& p, const InitSpec& spec, uint64_t seed, double sigma) {
  Rng rng(seed);
  init_param(p, spec, rng);
  Stats s;
  const size_t n = p.count();
  double sum = 0, sum2 = 0;
  for (size_t i = 0; i < n; ++i) sum += p.w[i];
  s.mean = sum / n;
  for (size_t i = 0; i < n; ++i) {
    const double d = p.w[i] - s.mean;
    sum2 += d * d;
    s.max_abs = std::max(s.max_abs, double(std::abs(p.w[i])));
    s.beyond += std::abs(p.w[i]) > std::sqrt(3.0) * sigma;
  }
  s.var = sum2 / (n - 1);
  return s;
}

// Draws p by spec and checks mean ≈ 0 and variance ≈ sigma² within 6 standard errors.
void check_moments(std::vector<int> dims, const InitSpec& spec, double sigma, uint64_t seed, bool uniform = false) {
  Param p = make_param(dims);
  const double n = double(p.count());
  Stats s = draw(p, spec, seed, sigma);
  INFO(spec.str(), " dims [", dims[0], ",", dims[1], dims.size() > 2 ? ",k,k" : "", "] n=", n, " sigma=", sigma,
       " mean=", s.mean, " var=", s.var);
  CHECK(std::abs(s.mean) <= 6 * sigma / std::sqrt(n));
  const double rel_sd = uniform ? std::sqrt(0.8 / n) : std::sqrt(2.0 / n);
  CHECK(std::abs(s.var / (sigma * sigma) - 1.0) <= 6 * rel_sd);
}

const std::vector<std::vector<int>> kShapes = {{64, 32, 3, 3}, {16, 3, 3, 3}, {256, 2048}};

InitSpec kaiming(InitSpec::Fan mode, float a = 0.f) {
  InitSpec s;
  s.kind = InitSpec::Kind::Kaiming;
  s.mode = mode;
  s.a = a;
  return s;
}
InitSpec xavier(InitSpec::Fan mode) {
  InitSpec s;
  s.kind = InitSpec::Kind::Xavier;
  s.mode = mode;
  return s;
}
InitSpec glorot(InitSpec::Distribution d) {
  InitSpec s;
  s.kind = InitSpec::Kind::Glorot;
  s.distribution = d;
  return s;
}
}  // namespace

TEST_CASE("Param fans: fan_in = k²c (Eq. 10), fan_out = k²d (Eq. 14), fc (out, in)") {
  CHECK(make_param({64, 32, 3, 3}).fan_in() == 9 * 32);
  CHECK(make_param({64, 32, 3, 3}).fan_out() == 9 * 64);
  CHECK(make_param({16, 3, 3, 3}).fan_in() == 27);
  CHECK(make_param({16, 3, 3, 3}).fan_out() == 144);
  CHECK(make_param({64, 3, 7, 7}).fan_in() == 49 * 3);
  CHECK(make_param({256, 2048}).fan_in() == 2048);
  CHECK(make_param({256, 2048}).fan_out() == 256);
}

TEST_CASE("init_std follows each formula exactly") {
  using F = InitSpec::Fan;
  // Both sides evaluate the formula in double with at most 4 roundings (sum, product, quotient,
  // root): within γ_4 of double's u each (tests/float_bounds.h).
  auto same_formula = [](double got, double want) {
    return std::abs(got - want) <= 2 * gamma_n(4, kDoubleUnitRoundoff) * want;
  };
  CHECK(same_formula(init_std(kaiming(F::In), 288, 576), std::sqrt(2.0 / 288)));
  CHECK(same_formula(init_std(kaiming(F::Out), 288, 576), std::sqrt(2.0 / 576)));
  CHECK(same_formula(init_std(kaiming(F::In, 0.25f), 288, 576), std::sqrt(2.0 / (1.0625 * 288))));  // Eq. 15
  CHECK(same_formula(init_std(xavier(F::In), 288, 576), std::sqrt(1.0 / 288)));
  CHECK(same_formula(init_std(xavier(F::Out), 288, 576), std::sqrt(1.0 / 576)));
  CHECK(same_formula(init_std(glorot(InitSpec::Distribution::Normal), 288, 576), std::sqrt(2.0 / 864)));
  CHECK(same_formula(init_std(glorot(InitSpec::Distribution::Uniform), 288, 576), std::sqrt(2.0 / 864)));
  InitSpec g;
  g.kind = InitSpec::Kind::Gaussian;
  g.std = 0.01f;
  CHECK(within_rounding(init_std(g, 288, 576), 0.01, 0.01, 1));  // std 0.01f: one float rounding
}

TEST_CASE("kaiming N(0, 2/n): empirical moments, both fan modes, three shapes") {
  uint64_t seed = 1000;
  for (auto& dims : kShapes)
    for (auto mode : {InitSpec::Fan::In, InitSpec::Fan::Out}) {
      Param p = make_param(dims);
      const int n = mode == InitSpec::Fan::In ? p.fan_in() : p.fan_out();
      check_moments(dims, kaiming(mode), std::sqrt(2.0 / n), seed++);
    }
}

TEST_CASE("kaiming with a = 0.25 follows Eq. 15 (and is distinguishable from a = 0)") {
  uint64_t seed = 2000;
  for (auto& dims : kShapes)
    for (auto mode : {InitSpec::Fan::In, InitSpec::Fan::Out}) {
      Param p = make_param(dims);
      const int n = mode == InitSpec::Fan::In ? p.fan_in() : p.fan_out();
      check_moments(dims, kaiming(mode, 0.25f), std::sqrt(2.0 / ((1.0 + 0.0625) * n)), seed++);
    }
  // On the large fc shape the a = 0 variance lies outside the tolerance of the a = 0.25 one.
  Param p = make_param({256, 2048});
  const double n = double(p.count());
  Stats s = draw(p, kaiming(InitSpec::Fan::In, 0.25f), 2100, std::sqrt(2.0 / (1.0625 * 2048)));
  const double relu_var = 2.0 / 2048;
  CHECK(std::abs(s.var / relu_var - 1.0) > 6 * std::sqrt(2.0 / n));
}

TEST_CASE("xavier N(0, 1/n): empirical moments, both fan modes, three shapes") {
  uint64_t seed = 3000;
  for (auto& dims : kShapes)
    for (auto mode : {InitSpec::Fan::In, InitSpec::Fan::Out}) {
      Param p = make_param(dims);
      const int n = mode == InitSpec::Fan::In ? p.fan_in() : p.fan_out();
      check_moments(dims, xavier(mode), std::sqrt(1.0 / n), seed++);
    }
}

TEST_CASE("glorot normal and uniform: Var = 2/(fan_in + fan_out), uniform within ±√(6/(fi+fo))") {
  uint64_t seed = 4000;
  for (auto& dims : kShapes) {
    Param p = make_param(dims);
    const double sigma = std::sqrt(2.0 / (p.fan_in() + p.fan_out()));
    check_moments(dims, glorot(InitSpec::Distribution::Normal), sigma, seed++);
    check_moments(dims, glorot(InitSpec::Distribution::Uniform), sigma, seed++, /*uniform=*/true);

    const double bound = std::sqrt(6.0 / (p.fan_in() + p.fan_out()));
    Stats u = draw(p, glorot(InitSpec::Distribution::Uniform), seed++, sigma);
    CHECK(u.max_abs <= bound);
    CHECK(u.beyond == 0);
    // It fills the interval: P(max |w| < bound·(1 − t)) = (1 − t)^n ≤ e^{−t·n}, e^{−20} ≈ 2e-9 for
    // t = 20/n, the chance-failure rate of the moment checks.
    CHECK(u.max_abs >= bound * (1.0 - 20.0 / double(p.count())));
    // The normal one does not stay inside: P(|z| > √3) = 8.3%, so none of n ≥ 432 draws beyond
    // it has probability 0.917^432 < 1e-16.
    Stats g = draw(p, glorot(InitSpec::Distribution::Normal), seed++, sigma);
    CHECK(g.beyond > 0);
    CHECK(g.max_abs > bound);
  }
}

TEST_CASE("gaussian uses its fixed std whatever the shape") {
  InitSpec g;
  g.kind = InitSpec::Kind::Gaussian;
  g.std = 0.01f;
  uint64_t seed = 5000;
  for (auto& dims : kShapes) check_moments(dims, g, 0.01, seed++);
}

TEST_CASE("biases and PReLU slopes take their fill, not a draw, and the same seed draws the same weights") {
  Param b = make_param({64}, ParamRole::Bias, 0.f);
  Param a = make_param({64}, ParamRole::Slope, 0.25f);
  b.w.fill(3.f);
  Rng rng(6000);
  const Rng before = rng;
  init_param(b, kaiming(InitSpec::Fan::Out), rng);
  init_param(a, kaiming(InitSpec::Fan::Out), rng);
  for (size_t i = 0; i < 64; ++i) {
    CHECK(b.w[i] == 0.f);
    CHECK(a.w[i] == 0.25f);
  }
  CHECK(rng == before);  // fills draw nothing

  Param w1 = make_param({8, 4, 3, 3}), w2 = make_param({8, 4, 3, 3});
  Rng r1(7), r2(7);
  init_param(w1, xavier(InitSpec::Fan::In), r1);
  init_param(w2, xavier(InitSpec::Fan::In), r2);
  bool same = true;
  for (size_t i = 0; i < w1.count(); ++i) same = same && w1.w[i] == w2.w[i];
  CHECK(same);

  Param none;
  none.name = "unallocated";
  none.dims = {4, 4};
  CHECK_THROWS(init_param(none, xavier(InitSpec::Fan::In), r1));
}

TEST_CASE("InitSpec::str names the initialiser unambiguously") {
  CHECK(kaiming(InitSpec::Fan::Out, 0.25f).str() == "kaiming(fan_out, a=0.25)");
  CHECK(kaiming(InitSpec::Fan::In).str() == "kaiming(fan_in, a=0)");
  CHECK(kaiming(InitSpec::Fan::In, -1.f).str() == "kaiming(fan_in, a from the net)");
  CHECK(xavier(InitSpec::Fan::In).str() == "xavier(fan_in)");
  CHECK(glorot(InitSpec::Distribution::Uniform).str() == "glorot(uniform)");
  CHECK(glorot(InitSpec::Distribution::Normal).str() == "glorot(normal)");
  InitSpec g;
  g.kind = InitSpec::Kind::Gaussian;
  g.std = 0.01f;
  CHECK(g.str() == "gaussian(std=0.01)");
}

namespace {
// The net of a config's model and init (layers/net.cpp decides each weight layer's a), built for
// 2 images of 16 × 8 × 8.
std::unique_ptr<Net> built(const char* config_text) {
  const RunConfig c = parse_run_config(resolve_config(json::parse(config_text), "c.json"));
  auto net = std::make_unique<Net>();
  add_model_layers(*net, c.model, 10);
  Rng rng(42);
  net->build(Shape{2, 16, 8, 8}, c.init, rng);
  return net;
}

// The sample variance of a parameter's values against sigma²: within 6 standard errors of a
// normal's sample variance, σ²·√(2/n) (see the top of this file).
void check_variance(const Param& p, double sigma) {
  const double n = double(p.count());
  double sum = 0, sum2 = 0;
  for (size_t i = 0; i < p.count(); ++i) sum += p.w[i];
  for (size_t i = 0; i < p.count(); ++i) sum2 += (p.w[i] - sum / n) * (p.w[i] - sum / n);
  INFO(p.name, " n=", n, " var=", sum2 / (n - 1), " expected ", sigma * sigma);
  CHECK(std::abs(sum2 / (n - 1) / (sigma * sigma) - 1.0) <= 6 * std::sqrt(2.0 / n));
}
}  // namespace

TEST_CASE("a listed PReLU net is initialised by Eq. 15 with its own slope, model.prelu_init") {
  // fc1 has 4096·128 = 524288 weights: ±1.2% (6 standard errors) tells a = 0.5's variance
  // 2/(1.25·n) from ReLU's 2/n (×0.8) apart. Its fan_in input comes out of prelu1 (Eq. 10, 15).
  auto net = built(R"({"model": {"family": "layers", "prelu_init": 0.5, "layers": [
      {"type": "conv", "out": 64}, "prelu", {"type": "linear", "out": 128}, "prelu_shared",
      {"type": "linear", "out": 10}]}})");
  const double a = 0.5;
  for (auto& p : net->params())
    if (p->role == ParamRole::Slope)
      for (size_t i = 0; i < p->count(); ++i) CHECK(p->w[i] == 0.5f);  // listed PReLUs start at prelu_init
  for (const char* name : {"conv1.weight", "fc1.weight", "fc2.weight"}) {
    const Param& w = *net->find_param(name);
    check_variance(w, std::sqrt(2.0 / ((1 + a * a) * w.fan_in())));
  }
  // A preset family asks its net the same way: fc1 (64·4·4 = 1024 in, 131072 weights, ±2.3%).
  auto preset = built(R"({"model": {"family": "plain", "stages": [{"convs": 1, "width": 64}], "fc": [128],
      "activation": "prelu_shared", "prelu_init": 0.5}})");
  check_variance(*preset->find_param("fc1.weight"), std::sqrt(2.0 / ((1 + a * a) * 1024)));
  // An explicit init.a overrides the net's: a = 0, Eq. 10.
  auto relu_a = built(R"({"model": {"family": "layers", "prelu_init": 0.5, "layers": [
      {"type": "conv", "out": 64}, "prelu", {"type": "linear", "out": 128}]}, "init": {"a": 0}})");
  check_variance(*relu_a->find_param("fc1.weight"), std::sqrt(2.0 / 4096));
}

TEST_CASE("kaiming's a per weight layer comes from the activation its equation is about") {
  // Mixed activations: fan_in (Eq. 10) takes the activation before the layer (ReLU ½ before fc1,
  // tanh's 1 before fc2, so Var = 1/n there), fan_out (Eq. 14) the one after it; the first layer
  // (fan_in) and the classifier (fan_out) take their other side's. fc2 has 128·256 = 32768
  // weights (±4.7%), enough for the factor 2 between ReLU's and tanh's.
  const char* layers = R"("layers": [{"type": "conv", "out": 64}, "relu", {"type": "linear", "out": 128},
      "tanh", {"type": "linear", "out": 256}, "prelu", {"type": "linear", "out": 10}])";
  auto in = built((std::string(R"({"model": {"family": "layers", )") + layers + "}}").c_str());
  check_variance(*in->find_param("conv1.weight"), std::sqrt(2.0 / (9 * 16)));  // relu1 after it
  check_variance(*in->find_param("fc1.weight"), std::sqrt(2.0 / 4096));        // relu1 before it
  check_variance(*in->find_param("fc2.weight"), std::sqrt(1.0 / 128));         // tanh before it
  check_variance(*in->find_param("fc3.weight"), std::sqrt(2.0 / (1.0625 * 256)));  // prelu (0.25)
  auto out = built((std::string(R"({"model": {"family": "layers", )") + layers +
                    R"(}, "init": {"mode": "fan_out"}})").c_str());
  check_variance(*out->find_param("fc1.weight"), std::sqrt(1.0 / 128));             // tanh after it
  check_variance(*out->find_param("fc2.weight"), std::sqrt(2.0 / (1.0625 * 256)));  // prelu after it
  check_variance(*out->find_param("fc3.weight"), std::sqrt(2.0 / (1.0625 * 10)));   // prelu before it
}
