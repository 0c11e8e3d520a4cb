// Per-layer statistics of one training step: what shows a vanishing signal ("Xavier stalls") and
// whether ReLU's f'(y) is 0 or 1 with equal probability (the paper's assumption, Eq. 11-13).
//
// For each weight layer l (conv or fc), with y_l = W_l·x_l + b_l its response (pre-activation):
//   response_std       std of y_l over the batch                       (Eq. 7-10, forward)
//   grad_input_std     std of ∂L/∂x_l, the gradient at its input        (Eq. 11-14, backward)
//   positive_fraction  P(y_l > 0); also its smallest and largest value over the channels, and
//                      each channel's (positive_per_channel: not in `layers` events, delve probe's)
//   slope_*            the PReLU coefficients applied to y_l (mean/min/max)
//   weight_norm/std    ‖W_l‖ (Frobenius) and std of its entries
//   update_ratio       ‖ΔW_l‖/‖W_l‖ of the last SGD step (ΔW = the momentum buffer v)
//   gain_forward       ½(1+a²)·n_l·Var[w_l]  (Eq. 10/15: Var[y_l]/Var[y_{l-1}] predicted; a the slope
//                      of the activation applied to y_{l-1}; 1·n·Var[w] after tanh or no activation)
//   gain_backward      ½(1+a²)·n̂_l·Var[w_l] (Eq. 14: Var[∂x_l]/Var[∂x_{l+1}] predicted; a the slope
//                      applied to y_l)
//   border_factor      the share of a conv's kernel taps inside the image rather than the zero
//                      padding (core/im2col.h); the gains times it are the theory for a padded net
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layers/net.h"

namespace delve {

struct LayerStats {
  std::string layer;
  std::string describe;
  int depth = 0;  // 1-based among weight layers
  double response_mean = 0, response_std = 0;
  double grad_input_std = 0;  // NaN for the first layer when gradients were not observed
  double positive_fraction = 0, positive_min = 0, positive_max = 0;
  std::vector<double> positive_per_channel;  // P(y>0) of each channel (of each unit for fc layers)
  std::string activation;  // kind of the layer applied to y_l ("relu", "prelu", "none", ...)
  std::optional<double> slope_mean, slope_min, slope_max;
  double weight_norm = 0, weight_std = 0, update_ratio = 0;
  double gain_forward = 0, gain_backward = 0;
  double border_factor = 1;  // 1 for fc layers and unpadded convs
};

// Observes one forward/backward of a Net and reads off LayerStats for every weight layer.
class LayerProbe {
 public:
  explicit LayerProbe(Net& net);
  // Pass to Net::backward: records std of ∂L/∂x at each weight layer's input.
  Net::GradObserver observer();
  // Reads activations (from the last forward), parameters and recorded gradients.
  std::vector<LayerStats> collect() const;

 private:
  Net& net_;
  std::vector<double> grad_std_;  // per layer index
};

nlohmann::json to_json(const LayerStats& s);

// Mean and standard deviation of n floats, accumulated in double.
void mean_std(const float* v, size_t n, double& mean, double& std);

}  // namespace delve
