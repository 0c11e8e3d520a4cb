// ReLU: y = max(0, x), elementwise; PReLU with a = 0 (He et al. Eq. 1).
//
// Shapes: x, y, dx, dy all C × N × H × W (any shape; fc activations have H = W = 1).
#pragma once
#include <string>

#include "layers/layer.h"

namespace delve {

class ReLU : public Layer {
 public:
  explicit ReLU(std::string name) : Layer(std::move(name)) {}

  const char* kind() const override { return "relu"; }
  Shape reshape(const Shape& in) override { return in; }
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  bool is_activation() const override { return true; }
  std::optional<double> rectifier_gain() const override { return 0.5; }  // Eq. 8: E[x²] = ½·Var[y]
  std::string describe() const override { return "relu"; }
  std::optional<Rectifier> fusable_rectifier() const override { return Rectifier{}; }
};

}  // namespace delve
