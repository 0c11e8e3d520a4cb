// A sequential net: owns the layers, the activations, and one flat arena each for parameters,
// gradients and momentum (layers get views, layers/param.h).
//
// Shapes: input x is C × N × H × W (channel-major); the output of the last layer is the logits,
// [classes × N] (C = classes, H = W = 1). The loss (layers/softmax_xent.h) stays outside the Net.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "layers/layer.h"
#include "layers/param.h"

namespace delve {

struct InitSpec;

class Net {
 public:
  Net() = default;
  Net(const Net&) = delete;
  Net& operator=(const Net&) = delete;

  Layer& add(std::unique_ptr<Layer> layer);

  // Declares every parameter for the input shape (input.n = batch size), allocates the arenas,
  // sizes activations for that batch, and fills parameters: weights by `init`, biases and slopes
  // by their declared fill. Call once, after the last add().
  void build(const Shape& input, const InitSpec& init, Rng& rng);
  // Re-initialises every parameter (weights by `init`) and zeroes gradients and momentum. Kaiming's
  // a left to the net (InitSpec::a_from_net) comes, per weight layer, from the rectifier gain of
  // the activation its Eq. 15 is about: fan_in (Eq. 10) the one that made its input, fan_out
  // (Eq. 14) the one applied to its output; the other side's for the first or last weight layer.
  void init(const InitSpec& init, Rng& rng);
  // That gain for layer k: of the nearest activation before it (or after it), ½ without any.
  double rectifier_gain_at(size_t k, bool before) const;
  // Resizes activations for another batch size (e.g. the last, partial evaluation batch).
  void set_batch(int n);
  // Whether a layer that fuses_activation() takes over the ReLU or PReLU right after it
  // (layers/layer.h): on by default; the results are the same up to float rounding. Off: every
  // layer runs on its own.
  void set_fusion(bool on);
  // Whether a training forward writes the output y of a layer that took over a ReLU (on by
  // default: statistics, probes and an observed backward read it). Off, only max(0, y) is
  // written, one pass over memory fewer, and the fused backward reads its sign instead. Inference
  // never writes such a y; a PReLU's is always written in training (its slope gradient needs y).
  void set_keep_preactivations(bool keep);
  // Whether layer k's output was written by the last forward (see set_keep_preactivations).
  bool output_written(size_t k) const { return k < written_.size() && written_[k]; }

  // Runs every layer; returns the logits.
  const Tensor& forward(const Tensor& x, Mode mode);
  // Observer called with (layer index, ∂L/∂x of that layer) during backward, for statistics.
  using GradObserver = std::function<void(size_t, const Tensor&)>;
  // Back-propagates dlogits through every layer of the last forward(); ACCUMULATES parameter
  // gradients (call zero_grad() first). With an observer, also computes ∂L/∂x of the first layer.
  void backward(const Tensor& dlogits, const GradObserver& observer = nullptr);
  void zero_grad();

  std::vector<std::unique_ptr<Layer>>& layers() { return layers_; }
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  std::vector<std::unique_ptr<Param>>& params() { return registry_.all(); }
  const std::vector<std::unique_ptr<Param>>& params() const { return registry_.all(); }
  Param* find_param(const std::string& name);
  const Tensor& activation(size_t layer) const { return acts_[layer]; }  // output of layer i
  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const { return acts_.back().shape(); }
  Tensor& param_arena() { return values_; }
  Tensor& grad_arena() { return grads_; }
  Tensor& momentum_arena() { return momentum_; }
  size_t param_count() const { return values_.size(); }
  bool built() const { return built_; }
  // Bytes held by activations, gradient buffers, scratch and arenas (for memory reports).
  size_t memory_bytes() const;

  // The generator the Net's stochastic layers (dropout) draw from; saved in checkpoints.
  Rng& rng() { return rng_; }

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
  ParamRegistry registry_;
  Tensor values_, grads_, momentum_;
  std::vector<Tensor> acts_;   // acts_[i] = output of layer i
  Tensor grad_a_, grad_b_;     // ping-pong buffers for ∂L/∂activation during backward
  std::vector<float> scratch_; // shared transient scratch (im2col columns)
  const Tensor* last_input_ = nullptr;
  bool fusion_ = true;
  std::vector<char> fuses_next_;  // fuses_next_[i]: layer i takes over the activation i + 1 (set_batch)
  std::vector<double> slope_sums_;  // a fused PReLU's per-channel Σ (set_batch sizes it)
  bool keep_preactivations_ = true;
  std::vector<char> written_;      // written_[i]: the last forward wrote layer i's output
  void backward_fused_pair(size_t k, const Tensor& x, const Tensor& dz, Tensor* dx);
  Shape input_shape_;
  Rng rng_{0};
  bool built_ = false;
};

}  // namespace delve
