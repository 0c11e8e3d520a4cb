// Tanh: y = tanh(x), elementwise; the symmetric activation Glorot & Bengio derived their
// initialisation for (f'(0) = 1).
//
// Shapes: x, y, dx, dy all C × N × H × W (any shape; fc activations have H = W = 1).
#pragma once
#include <string>

#include "layers/layer.h"

namespace delve {

class Tanh : public Layer {
 public:
  explicit Tanh(std::string name) : Layer(std::move(name)) {}

  const char* kind() const override { return "tanh"; }
  Shape reshape(const Shape& in) override { return in; }
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  bool is_activation() const override { return true; }
  // Near 0 tanh is the identity (f'(0) = 1): Glorot & Bengio's linear regime.
  std::optional<double> rectifier_gain() const override { return 1.0; }
  std::string describe() const override { return "tanh"; }
};

}  // namespace delve
