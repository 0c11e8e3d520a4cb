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
// Fusion: an activation that says what it computes (fusable_rectifier: ReLU, or PReLU with its
// slopes) can be taken over by a layer before it that fuses_activation() (the Net decides and
// then skips the activation, layers/net.cpp): forward_fused also writes the activation's output
// z = f(y), and backward_fused takes ∂L/∂z and applies f'(y) itself, and for a learned slope
// sums ∂E/∂a's terms per channel, which the activation then adds (add_slope_sums). That saves
// the activation's separate passes over memory. y, the pre-activation, is still written:
// statistics read it and the derivative needs its sign.
#pragma once
#include <optional>
#include <string>

#include "core/rectifier.h"
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

  // An activation's elementwise form, when a layer before it may compute it (see Fusion above).
  virtual std::optional<Rectifier> fusable_rectifier() const { return std::nullopt; }
  // A fused activation's ∂E/∂a from the per-channel sums Σ ∂E/∂f(y)·y over y ≤ 0 (Eq. 2-3)
  // that the fusing layer computed. Only for an activation whose rectifier learned().
  virtual void add_slope_sums(const double* channel_sums);
  virtual bool fuses_activation() const { return false; }
  // forward, plus z = f(y) (Eq. 1). Only when fuses_activation(). keep_y false: y may be left
  // unwritten (the Net asks for that when nothing will read it: layers/net.h).
  virtual void forward_fused(const Tensor& x, Tensor& y, const Rectifier& f, Tensor& z, Mode mode, bool keep_y);
  // backward with dy = dz · f'(y) (Eq. 11-14 with f' = 1 or a), dy never stored; for a learned f,
  // also slope_sums[c] = Σ dz·y over y ≤ 0 in channel c of y (overwritten; [y's channels]).
  // Only when fuses_activation().
  virtual void backward_fused(const Tensor& x, const Tensor& y, const Rectifier& f, const Tensor& dz, Tensor* dx,
                              double* slope_sums);

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
