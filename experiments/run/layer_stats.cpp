#include "experiments/run/layer_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/im2col.h"
#include "layers/conv2d.h"

namespace delve {

void mean_std(const float* v, size_t n, double& mean, double& std) {
  double s = 0, s2 = 0;
  for (size_t i = 0; i < n; ++i) {
    s += v[i];
    s2 += double(v[i]) * v[i];
  }
  mean = n ? s / double(n) : 0.0;
  std = n ? std::sqrt(std::max(0.0, s2 / double(n) - mean * mean)) : 0.0;
}

LayerProbe::LayerProbe(Net& net) : net_(net), grad_std_(net.layers().size(), std::numeric_limits<double>::quiet_NaN()) {}

Net::GradObserver LayerProbe::observer() {
  return [this](size_t layer, const Tensor& dx) {
    if (net_.layers()[layer]->weight() == nullptr) return;
    double mean, std;
    mean_std(dx.data(), dx.size(), mean, std);
    grad_std_[layer] = std;
  };
}

namespace {
double norm(const Tensor& t) {
  double s = 0;
  for (size_t i = 0; i < t.size(); ++i) s += double(t[i]) * t[i];
  return std::sqrt(s);
}

// The rectifier gain of layer k (½ for ReLU, ½(1+E[a²]) for PReLU, Eq. 15; layers/layer.h); 1 when
// layer k is no activation (tanh's linear regime, or no activation at all).
double rectifier_factor(const Net& net, size_t k) {
  auto& layers = net.layers();
  if (k >= layers.size()) return 1.0;
  return layers[k]->rectifier_gain().value_or(1.0);
}
}  // namespace

std::vector<LayerStats> LayerProbe::collect() const {
  std::vector<LayerStats> out;
  auto& layers = net_.layers();
  size_t previous_weight = SIZE_MAX;
  for (size_t k = 0; k < layers.size(); ++k) {
    Param* w = layers[k]->weight();
    if (!w) continue;
    LayerStats s;
    s.layer = layers[k]->name();
    s.describe = layers[k]->describe();
    s.depth = int(out.size()) + 1;
    const Tensor& y = net_.activation(k);
    mean_std(y.data(), y.size(), s.response_mean, s.response_std);
    s.grad_input_std = grad_std_[k];
    const size_t per_channel = y.shape().per_channel();
    size_t positive_total = 0;
    s.positive_min = 1.0;
    s.positive_max = 0.0;
    for (int c = 0; c < y.shape().c; ++c) {
      const float* yc = y.channel(c);
      size_t positive = 0;
      for (size_t i = 0; i < per_channel; ++i) positive += yc[i] > 0.f;
      positive_total += positive;
      const double f = double(positive) / double(per_channel);
      s.positive_per_channel.push_back(f);
      s.positive_min = std::min(s.positive_min, f);
      s.positive_max = std::max(s.positive_max, f);
    }
    s.positive_fraction = double(positive_total) / double(y.size());
    const bool has_act = k + 1 < layers.size() && layers[k + 1]->is_activation();
    s.activation = has_act ? layers[k + 1]->kind() : "none";
    if (const Param* a = has_act ? layers[k + 1]->slope() : nullptr) {
      const float* av = a->w.data();
      double sum = 0;
      for (size_t i = 0; i < a->count(); ++i) sum += av[i];
      s.slope_mean = sum / double(a->count());
      s.slope_min = *std::min_element(av, av + a->count());
      s.slope_max = *std::max_element(av, av + a->count());
    }
    double wmean;
    mean_std(w->w.data(), w->count(), wmean, s.weight_std);
    s.weight_norm = norm(w->w);
    s.update_ratio = s.weight_norm > 0 ? norm(w->v) / s.weight_norm : 0.0;
    const double var_w = s.weight_std * s.weight_std + wmean * wmean;  // E[w²]
    // Forward: the rectifier applied to the previous weight layer's response feeds this layer.
    const double before = previous_weight == SIZE_MAX ? 1.0 : rectifier_factor(net_, previous_weight + 1);
    s.gain_forward = before * w->fan_in() * var_w;
    s.gain_backward = rectifier_factor(net_, k + 1) * w->fan_out() * var_w;
    if (auto* conv = dynamic_cast<const Conv2d*>(layers[k].get())) {
      const Shape& in = k == 0 ? net_.input_shape() : net_.activation(k - 1).shape();
      s.border_factor = in_bounds_tap_fraction(conv->geometry(), in.h, in.w);
    }
    previous_weight = k;
    out.push_back(std::move(s));
  }
  return out;
}

nlohmann::json to_json(const LayerStats& s) {
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json j = {{"layer", s.layer},
                      {"shape", s.describe},
                      {"depth", s.depth},
                      {"activation", s.activation},
                      {"response_mean", num(s.response_mean)},
                      {"response_std", num(s.response_std)},
                      {"grad_input_std", num(s.grad_input_std)},
                      {"positive_fraction", num(s.positive_fraction)},
                      {"positive_min", num(s.positive_min)},
                      {"positive_max", num(s.positive_max)},
                      {"weight_norm", num(s.weight_norm)},
                      {"weight_std", num(s.weight_std)},
                      {"update_ratio", num(s.update_ratio)},
                      {"gain_forward", num(s.gain_forward)},
                      {"gain_backward", num(s.gain_backward)},
                      {"border_factor", num(s.border_factor)}};
  if (s.slope_mean) {
    j["slope_mean"] = num(*s.slope_mean);
    j["slope_min"] = num(*s.slope_min);
    j["slope_max"] = num(*s.slope_max);
  }
  return j;
}

}  // namespace delve
