// PReLU, He et al. §2.1: a rectifier whose negative slope is learned.
//
// Shapes (N batch, C channels; fc activations have H = W = 1 and C = features):
//   x, y, dx, dy   C × N × H × W
//   a              [C] channel-wise, or [1] channel-shared       "<name>.weight" (nn.PReLU's layout)
// Eq. 1:    f(y_i) = y_i if y_i > 0, else a_i·y_i   (y_i here is the layer input x)
// Eq. 2-3:  ∂E/∂a_i = Σ over the channel's positions of ∂E/∂f · (x if x ≤ 0 else 0);
//           channel-shared: summed over all channels too.
// a starts at 0.25 and has no weight decay (decay_mult = 0: decay would push a toward 0, i.e. ReLU).
#pragma once
#include <string>
#include <vector>

#include "layers/layer.h"

namespace delve {

class PReLU : public Layer {
 public:
  PReLU(std::string name, bool channel_shared, float init_slope = 0.25f);

  const char* kind() const override { return "prelu"; }
  void declare(const Shape& in, ParamRegistry& reg) override;
  Shape reshape(const Shape& in) override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  bool is_activation() const override { return true; }
  Param* slope() override { return slope_; }
  // ½(1 + mean of a²) over the channels (Eq. 15); the initial slope before the net is built.
  std::optional<double> rectifier_gain() const override;
  std::string describe() const override { return shared_ ? "channel-shared" : "channel-wise"; }
  // Its slopes, for a conv before it to compute Eq. 1 in its own passes (layers/layer.h).
  std::optional<Rectifier> fusable_rectifier() const override { return Rectifier{slope_->w.data(), shared_}; }
  // ∂E/∂a += the channel sums (channel-wise), or their sum in channel order (channel-shared).
  void add_slope_sums(const double* channel_sums) override;

  bool channel_shared() const { return shared_; }

 private:
  bool shared_;
  float init_slope_;
  int channels_ = 0;
  Param* slope_ = nullptr;
  std::vector<double> channel_sums_;  // backward's per-channel Σ (sized in declare, no allocation per call)
};

}  // namespace delve
