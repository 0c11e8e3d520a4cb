// experiments/layer_stats: the per-layer statistics and the paper's gains (Eq. 10, 14, 15).
#include <doctest/doctest.h>

#include <cmath>

#include "core/im2col.h"
#include "experiments/config.h"
#include "experiments/layer_stats.h"
#include "experiments/model_builder.h"
#include "experiments/trainer.h"
#include "layers/conv2d.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/prelu.h"
#include "layers/relu.h"
#include "layers/softmax_xent.h"

using namespace delve;

namespace {

// One forward and backward of a built net on normal inputs and random labels, probed.
std::vector<LayerStats> probe_step(Net& net, Rng& rng) {
  Tensor x(net.input_shape());
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(rng.normal());
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
std::vector<LayerStats> probe_stack(const InitSpec& init, bool prelu, uint64_t seed = 11, int side = 16) {
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
  return probe_step(net, rng);
}

}  // namespace

TEST_CASE("layer stats: gains match the initialiser's formula") {
  // Var[w] is the empirical second moment of 9·32·32 = 9216 weights: relative error ~ √(2/9216) ≈ 1.5%.
  InitSpec kaiming_in{InitSpec::Kind::Kaiming, InitSpec::Fan::In};
  auto k = probe_stack(kaiming_in, false);
  REQUIRE(k.size() == 9);
  for (int i = 1; i < 8; ++i) CHECK(k[i].gain_forward == doctest::Approx(1.0).epsilon(0.05));
  InitSpec xavier_in{InitSpec::Kind::Xavier, InitSpec::Fan::In};
  auto x = probe_stack(xavier_in, false);
  for (int i = 1; i < 8; ++i) CHECK(x[i].gain_forward == doctest::Approx(0.5).epsilon(0.05));
  // PReLU with Eq. 15's init: ½(1+a²)·n·Var[w] = 1 with a = 0.25.
  InitSpec kaiming_prelu{InitSpec::Kind::Kaiming, InitSpec::Fan::Out, 0.25f};
  auto p = probe_stack(kaiming_prelu, true);
  for (int i = 1; i < 7; ++i) CHECK(p[i].gain_backward == doctest::Approx(1.0).epsilon(0.05));
  REQUIRE(p[0].slope_mean.has_value());
  CHECK(*p[0].slope_mean == doctest::Approx(0.25));
  CHECK(p[0].activation == "prelu");
  CHECK(k[8].activation == "none");
}

TEST_CASE("layer stats: Xavier's response std is 1/sqrt(2)^l of Kaiming's at layer l") {
  // With the same seed both draw the same normal numbers, Xavier's scaled by 1/√2; ReLU is
  // positively homogeneous and biases are 0, so y_l(xavier) = y_l(kaiming)/√2^l exactly: the paper's
  // "its std is 1/√2^L of the derived one" (§2.2), measured.
  auto k = probe_stack(InitSpec{InitSpec::Kind::Kaiming, InitSpec::Fan::In}, false);
  auto x = probe_stack(InitSpec{InitSpec::Kind::Xavier, InitSpec::Fan::In}, false);
  for (int l = 1; l <= 8; ++l)
    CHECK(x[l - 1].response_std / k[l - 1].response_std == doctest::Approx(std::pow(2.0, -l / 2.0)).epsilon(1e-3));
  // The signs are the same up to float rounding of values right at 0: at most a few in 10⁵ flip.
  for (int l = 1; l <= 8; ++l) CHECK(x[l - 1].positive_fraction == doctest::Approx(k[l - 1].positive_fraction).epsilon(1e-4));
}

TEST_CASE("layer stats: Kaiming keeps the response variance from layer to layer (Eq. 10)") {
  // One draw of a 32-channel net is noisy (finite width), so the log variance ratio between the
  // 7th and the 1st rectified conv layer is averaged over 8 seeds. Theory: 0; zero padding at 32×32
  // lowers each layer's ratio by about (1 - 2/(3·32))² ≈ 0.96, i.e. -0.25 over six layers.
  double sum = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    auto k = probe_stack(InitSpec{InitSpec::Kind::Kaiming, InitSpec::Fan::In}, false, seed, 32);
    sum += 2.0 * std::log(k[7].response_std / k[1].response_std);
    for (auto& s : k) {
      CHECK(s.positive_fraction > 0.2);  // rectifier inputs at init: about half positive
      CHECK(s.positive_fraction < 0.8);
      CHECK(s.positive_min <= s.positive_fraction);
      CHECK(s.positive_max >= s.positive_fraction);
      CHECK(std::isfinite(s.grad_input_std));
      CHECK(s.update_ratio == 0.0);  // no step taken
    }
  }
  const double mean_log_ratio = sum / 8;
  MESSAGE("mean log Var ratio over 6 Kaiming layers: " << mean_log_ratio << " (Xavier's would be 6·ln ½ = -4.16)");
  CHECK(mean_log_ratio > -0.9);
  CHECK(mean_log_ratio < 0.4);
}

TEST_CASE("in_bounds_tap_fraction: the share of kernel taps that zero padding leaves inside the image") {
  const ConvGeometry same3{3, 3, 1, 1};
  // Per side (3w - 2)/(3w): a border output loses one of three taps.
  CHECK(in_bounds_tap_fraction(same3, 32, 32) == doctest::Approx(std::pow(94.0 / 96.0, 2)));
  CHECK(in_bounds_tap_fraction(same3, 8, 8) == doctest::Approx(std::pow(22.0 / 24.0, 2)));
  CHECK(in_bounds_tap_fraction(same3, 1, 1) == doctest::Approx(1.0 / 9.0));  // only the centre tap
  CHECK(in_bounds_tap_fraction(ConvGeometry{3, 3, 1, 0}, 8, 8) == 1.0);      // no padding
  // 2 × 2 stride 2 on 4 wide without padding: every tap inside; pad 1 then loses half of each end's taps.
  CHECK(in_bounds_tap_fraction(ConvGeometry{2, 2, 2, 0}, 4, 4) == 1.0);
  CHECK(in_bounds_tap_fraction(ConvGeometry{2, 2, 2, 1}, 4, 4) == doctest::Approx(std::pow(4.0 / 6.0, 2)));
}

TEST_CASE("layer stats: the border factor of each conv follows its input size; fc layers have none") {
  auto k = probe_stack(InitSpec{InitSpec::Kind::Kaiming, InitSpec::Fan::In}, false, 11, 16);
  for (int i = 0; i < 8; ++i) CHECK(k[i].border_factor == doctest::Approx(std::pow(46.0 / 48.0, 2)));
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
  const auto stats = probe_step(net, rng);
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
