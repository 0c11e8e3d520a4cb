// The layer contract (Caffe's setup/reshape/forward/backward, llm.c's explicit gradients).
//
// Shapes: N batch, C channels, H, W; activations are channel-major C × N × H × W (core/tensor.h).
// Lifecycle, driven by the Net:
//   declare(in, reg)   once: validate the input shape, declare parameters (layers/param.h)
//   reshape(in)        whenever the batch shape changes: size own scratch, return the output shape
//   forward(x, y)      y = f(x); y is already sized by the Net
//   backward(x, y, dy, dx)
//                      OVERWRITES *dx with ∂L/∂x (dx is null for the first layer: skip that work),
//                      ACCUMULATES (+=) ∂L/∂w into each parameter's dw.
// A layer owns only scratch that must live from forward to backward (pooling argmax, dropout mask).
// Transient scratch (im2col columns) comes from the Net's one shared buffer: scratch_floats() says
// how much, and it is valid only within one forward or backward call.
// Fusion: a layer that fuses_relu() can take over a ReLU that follows it (the Net decides and then
// skips the ReLU, layers/net.cpp): forward_relu also writes the ReLU's output z = max(0, y), and
// backward_relu takes ∂L/∂z and applies the ReLU's derivative (y > 0) itself, which saves the
// ReLU's separate passes over memory. y, the pre-activation, is still written: statistics read it
// and the derivative needs its sign.
#pragma once
#include <optional>
#include <string>

#include "core/tensor.h"
#include "layers/param.h"

namespace delve {

enum class Mode { Train, Eval };

class Layer {
 public:
  explicit Layer(std::string name) : name_(std::move(name)) {}
  virtual ~Layer() = default;

  virtual const char* kind() const = 0;  // "conv2d", "relu", ...
  const std::string& name() const { return name_; }

  virtual void declare(const Shape& /*in*/, ParamRegistry& /*reg*/) {}
  virtual Shape reshape(const Shape& in) = 0;
  virtual size_t scratch_floats(const Shape& /*in*/) const { return 0; }

  virtual void forward(const Tensor& x, Tensor& y, Mode mode) = 0;
  virtual void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) = 0;

  virtual bool fuses_relu() const { return false; }
  // forward, plus z = max(0, y) (He et al. Eq. 1 with a = 0). Only when fuses_relu().
  virtual void forward_relu(const Tensor& x, Tensor& y, Tensor& z, Mode mode);
  // backward with dy = dz · (y > 0) (Eq. 11-14 with a = 0), dy never stored. Only when fuses_relu().
  virtual void backward_relu(const Tensor& x, const Tensor& y, const Tensor& dz, Tensor* dx);

  // The weight of a conv or linear layer (for statistics and initialisation); null otherwise.
  virtual Param* weight() { return nullptr; }
  // True for the elementwise nonlinearities (relu, prelu, tanh): their input is a pre-activation.
  virtual bool is_activation() const { return false; }
  // An activation's learned slope parameter (PReLU's a, Eq. 1); null for every other layer.
  virtual Param* slope() { return nullptr; }
  // An activation's rectifier gain g = E[f(y)²]/Var[y] for y symmetric around 0 at initialisation:
  // ReLU ½ (Eq. 8), PReLU ½(1+a²) (Eq. 15), tanh 1 (its linear regime, f'(0) = 1). The factor the
  // initialiser (layers/net.cpp) and the layer statistics put into g·n·Var[w] = 1; empty for layers
  // that are not activations.
  virtual std::optional<double> rectifier_gain() const { return std::nullopt; }
  // Short text for tables: "3x3, 64", "256", "2x2/2".
  virtual std::string describe() const { return ""; }

  void set_scratch(float* scratch) { scratch_ = scratch; }

 protected:
  std::string name_;
  float* scratch_ = nullptr;
};

}  // namespace delve
