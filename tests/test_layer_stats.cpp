// experiments/run/layer_stats: the per-layer statistics and the paper's gains (Eq. 10, 14, 15).
#include <doctest/doctest.h>

#include <cmath>

#include "core/im2col.h"
#include "experiments/run/config.h"
#include "experiments/run/layer_stats.h"
#include "experiments/run/model_builder.h"
#include "experiments/run/trainer.h"
#include "layers/conv2d.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/prelu.h"
#include "layers/relu.h"
#include "layers/softmax_xent.h"
#include "tests/net_bounds.h"

using namespace delve;
using namespace delve::test;

namespace {

// Per conv layer of a probed net: its roundings D and magnitudes M (tests/net_bounds.h).
struct ConvRounding {
  std::vector<double> depth;
  std::vector<std::vector<double>> magnitude;
  std::vector<std::vector<float>> y;
};

// Normal inputs of the net's input shape.
Tensor normal_input(Net& net, Rng& rng) {
  Tensor x(net.input_shape());
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(rng.normal());
  return x;
}

// One forward and backward of a built net on x and random labels, probed.
std::vector<LayerStats> probe_step(Net& net, const Tensor& x, Rng& rng) {
  std::vector<int32_t> labels(size_t(net.input_shape().n));
  for (auto& l : labels) l = int32_t(rng.below(uint64_t(net.output_shape().c)));
  SoftmaxCrossEntropy xent;
  xent.forward(net.forward(x, Mode::Train), labels.data());
  Tensor dlogits;
  xent.backward(dlogits);
  LayerProbe probe(net);
  net.backward(dlogits, probe.observer());
  return probe.collect();
}

// depth × (3×3 conv 32 → activation), then an fc classifier; measured at initialisation.
std::vector<LayerStats> probe_stack(const InitSpec& init, bool prelu, uint64_t seed = 11, int side = 16,
                                    ConvRounding* rounding = nullptr) {
  const int depth = 8;
  Net net;
  for (int i = 1; i <= depth; ++i) {
    net.add(std::make_unique<Conv2d>("conv" + std::to_string(i), 32, 3, 1, 1));
    if (prelu) net.add(std::make_unique<PReLU>("prelu" + std::to_string(i), false, 0.25f));
    else net.add(std::make_unique<ReLU>("relu" + std::to_string(i)));
  }
  net.add(std::make_unique<Linear>("fc1", 10));
  Rng rng(seed);
  net.build(Shape{16, 32, side, side}, init, rng);
  const Tensor x = normal_input(net, rng);
  std::vector<LayerStats> stats = probe_step(net, x, rng);
  if (rounding) {
    const Analysis a = forward_magnitudes(net, x);
    for (size_t i = 0; i + 1 < net.layers().size(); i += 2) {  // conv i, its activation i + 1
      rounding->depth.push_back(a.depth[i]);
      rounding->magnitude.push_back(a.m[i]);
      rounding->y.emplace_back(net.activation(i).data(), net.activation(i).data() + net.activation(i).size());
    }
  }
  return stats;
}

}  // namespace

TEST_CASE("layer stats: gains match the initialiser's formula") {
  // Var[w] is the empirical second moment of n = 9·32·32 = 9216 normal weights: relative standard
  // error √(2/n) ≈ 1.5%; 6 of them (a chance failure ~2e-9, as in tests/test_init.cpp).
  const double six_se = 6 * std::sqrt(2.0 / 9216);
  auto near = [&](double gain, double want) { return std::abs(gain / want - 1) <= six_se; };
  InitSpec kaiming_in{InitSpec::Kind::Kaiming, InitSpec::Fan::In};
  auto k = probe_stack(kaiming_in, false);
  REQUIRE(k.size() == 9);
  for (int i = 1; i < 8; ++i) CHECK(near(k[i].gain_forward, 1.0));
  InitSpec xavier_in{InitSpec::Kind::Xavier, InitSpec::Fan::In};
  auto x = probe_stack(xavier_in, false);
  for (int i = 1; i < 8; ++i) CHECK(near(x[i].gain_forward, 0.5));
  // PReLU with Eq. 15's init: ½(1+a²)·n·Var[w] = 1 with a = 0.25.
  InitSpec kaiming_prelu{InitSpec::Kind::Kaiming, InitSpec::Fan::Out, 0.25f};
  auto p = probe_stack(kaiming_prelu, true);
  for (int i = 1; i < 7; ++i) CHECK(near(p[i].gain_backward, 1.0));
  REQUIRE(p[0].slope_mean.has_value());
  CHECK(*p[0].slope_mean == 0.25);  // the mean of 32 copies of 0.25f: exact
  CHECK(p[0].activation == "prelu");
  CHECK(k[8].activation == "none");
}

TEST_CASE("layer stats: Xavier's response std is 1/sqrt(2)^l of Kaiming's at layer l") {
  // With the same seed both draw the same normal numbers, Xavier's scaled by 1/√2; ReLU is
  // positively homogeneous and biases are 0, so y_l(xavier) = y_l(kaiming)/√2^l exactly: the paper's
  // "its std is 1/√2^L of the derived one" (§2.2), measured.
  //
  // In float: each Xavier weight is fl(σ_x·z) against fl(σ_k·z)/√2, two more roundings per layer,
  // so Xavier's layer l is Kaiming's divided by √2^l within γ_{D_l + 2l}·M/√2^l, and Kaiming's is
  // within γ_{D_l}·M of exact (D_l, M: tests/net_bounds.h). The std is 1-Lipschitz in the RMS norm,
  // so the ratio is within (γ_{D_l} + γ_{D_l + 2l})·RMS(M)/std_k of 2^{-l/2}, and a sign can differ
  // only where |y_k| is within that elementwise bound of 0.
  ConvRounding r;
  auto k = probe_stack(InitSpec{InitSpec::Kind::Kaiming, InitSpec::Fan::In}, false, 11, 16, &r);
  auto x = probe_stack(InitSpec{InitSpec::Kind::Xavier, InitSpec::Fan::In}, false);
  for (int l = 1; l <= 8; ++l) {
    const double g = gamma_n(r.depth[l - 1]) + gamma_n(r.depth[l - 1] + 2 * l);
    double ms = 0;
    size_t near_zero = 0;
    for (size_t j = 0; j < r.magnitude[l - 1].size(); ++j) {
      ms += r.magnitude[l - 1][j] * r.magnitude[l - 1][j];
      near_zero += std::abs(r.y[l - 1][j]) <= g * r.magnitude[l - 1][j];
    }
    const double n = double(r.magnitude[l - 1].size()), rms = std::sqrt(ms / n);
    INFO("layer ", l, ": RMS magnitude ", rms, ", values near 0: ", near_zero);
    CHECK(std::abs(x[l - 1].response_std / k[l - 1].response_std / std::pow(2.0, -l / 2.0) - 1) <=
          g * rms / k[l - 1].response_std);
    CHECK(std::abs(x[l - 1].positive_fraction - k[l - 1].positive_fraction) <= double(near_zero) / n);
  }
}

TEST_CASE("layer stats: Kaiming keeps the response variance from layer to layer (Eq. 10)") {
  // One draw of a 32-channel net is noisy (finite width), so the log variance ratio between the
  // 7th and the 1st rectified conv layer is averaged over 8 seeds. Theory: 0; zero padding at 32×32
  // lowers each layer's ratio by (1 - 2/(3·32))² ≈ 0.96, i.e. 12·ln(94/96) = -0.25 over six layers.
  // The check: the mean of the 8 seeds within 6 standard errors (estimated from their spread;
  // Student's t with 7 degrees of freedom exceeds 6 with probability 5e-4) of the theory.
  //
  // Positive fractions: by the weights' symmetry each channel's fraction has mean ½; a layer's is
  // the mean of 32 channels with independent weights, each in [0, 1], so by Hoeffding it lies
  // within t = √(ln(2/10⁻⁶)/(2·32)) = 0.476 of ½ but with probability 10⁻⁶.
  const double t = std::sqrt(std::log(2 / 1e-6) / (2 * 32));
  std::vector<double> ratios;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    auto k = probe_stack(InitSpec{InitSpec::Kind::Kaiming, InitSpec::Fan::In}, false, seed, 32);
    ratios.push_back(2.0 * std::log(k[7].response_std / k[1].response_std));
    for (auto& s : k) {
      if (s.activation != "none") CHECK(std::abs(s.positive_fraction - 0.5) <= t);  // rectifier inputs
      CHECK(s.positive_min <= s.positive_fraction);
      CHECK(s.positive_max >= s.positive_fraction);
      CHECK(std::isfinite(s.grad_input_std));
      CHECK(s.update_ratio == 0.0);  // no step taken
    }
  }
  double mean = 0, var = 0;
  for (double r : ratios) mean += r / 8;
  for (double r : ratios) var += (r - mean) * (r - mean) / 7;
  const double theory = 12 * std::log(94.0 / 96.0), se = std::sqrt(var / 8);
  MESSAGE("mean log Var ratio over 6 Kaiming layers: " << mean << " ± " << se << " (theory with the border: " << theory
                                                        << "; Xavier's would be 6·ln ½ = -4.16)");
  CHECK(std::abs(mean - theory) <= 6 * se);
}

TEST_CASE("in_bounds_tap_fraction: the share of kernel taps that zero padding leaves inside the image") {
  // The library multiplies two quotients of integer counts (3 roundings in double), the reference
  // squares a quotient (2): within 2·γ_3 of double's u of each other (tests/float_bounds.h).
  auto same = [](double got, double want) { return std::abs(got - want) <= 2 * gamma_n(3, kDoubleUnitRoundoff) * want; };
  const ConvGeometry same3{3, 3, 1, 1};
  // Per side (3w - 2)/(3w): a border output loses one of three taps.
  CHECK(same(in_bounds_tap_fraction(same3, 32, 32), std::pow(94.0 / 96.0, 2)));
  CHECK(same(in_bounds_tap_fraction(same3, 8, 8), std::pow(22.0 / 24.0, 2)));
  CHECK(same(in_bounds_tap_fraction(same3, 1, 1), 1.0 / 9.0));  // only the centre tap
  CHECK(in_bounds_tap_fraction(ConvGeometry{3, 3, 1, 0}, 8, 8) == 1.0);      // no padding
  // 2 × 2 stride 2 on 4 wide without padding: every tap inside; pad 1 then loses half of each end's taps.
  CHECK(in_bounds_tap_fraction(ConvGeometry{2, 2, 2, 0}, 4, 4) == 1.0);
  CHECK(same(in_bounds_tap_fraction(ConvGeometry{2, 2, 2, 1}, 4, 4), std::pow(4.0 / 6.0, 2)));
}

TEST_CASE("layer stats: the border factor of each conv follows its input size, fc layers have none") {
  auto k = probe_stack(InitSpec{InitSpec::Kind::Kaiming, InitSpec::Fan::In}, false, 11, 16);
  // Two quotients of integer counts multiplied (3 roundings in double) against the square of one (2).
  const double want = std::pow(46.0 / 48.0, 2);
  for (int i = 0; i < 8; ++i) CHECK(std::abs(k[i].border_factor - want) <= 2 * gamma_n(3, kDoubleUnitRoundoff) * want);
  CHECK(k[8].border_factor == 1.0);
}

TEST_CASE("layer stats and the slopes table find the PReLUs of a listed net by asking its layers") {
  const RunConfig c = parse_run_config(resolve_config(json::parse(R"({"model": {"family": "layers",
      "prelu_init": 0.5, "layers": [{"type": "conv", "out": 8}, "prelu", {"type": "maxpool"},
      {"type": "conv", "out": 8}, "prelu_shared", {"type": "linear", "out": 10}]}})"), "c.json"));
  Net net;
  add_model_layers(net, c.model, 10);
  Rng rng(5);
  net.build(Shape{4, 3, 8, 8}, c.init, rng);
  const auto stats = probe_step(net, normal_input(net, rng), rng);
  REQUIRE(stats.size() == 3);
  for (int i = 0; i < 2; ++i) {
    REQUIRE(stats[i].slope_mean.has_value());
    CHECK(*stats[i].slope_mean == 0.5);
    CHECK(*stats[i].slope_min == 0.5);
    CHECK(*stats[i].slope_max == 0.5);
    // gain_backward = ½(1+a²)·n̂·E[w²] (Eq. 15 with the PReLU's a): ½·1.25 against ReLU's ½.
    double e2 = 0;
    const Param& w = *net.layers()[i == 0 ? 0 : 3]->weight();
    for (size_t k = 0; k < w.count(); ++k) e2 += double(w.w[k]) * w.w[k];
    // Both sides sum the same count() squares in double, in their own order: within
    // γ_count(double) relative, far below the 1e-9 asked (the gains differ by 0.625/0.5 otherwise).
    CHECK(stats[i].gain_backward == doctest::Approx(0.625 * w.fan_out() * e2 / double(w.count())).epsilon(1e-9));
  }
  CHECK_FALSE(stats[2].slope_mean.has_value());
  const auto slopes = slopes_json(net);
  REQUIRE(slopes.size() == 2);
  CHECK(slopes[0]["layer"] == "conv1");
  CHECK(slopes[0]["param"] == "prelu1.weight");
  CHECK(slopes[0]["channel_shared"] == false);
  CHECK(slopes[0]["values"].size() == 8);
  CHECK(slopes[1]["layer"] == "conv2");
  CHECK(slopes[1]["channel_shared"] == true);
  CHECK(slopes[1]["mean"].get<double>() == 0.5);
}
