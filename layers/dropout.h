// Inverted dropout (He et al. §3: 50% on fc1 and fc2).
//
// Shapes: x, y, dx, dy, mask all C × N × H × W (any shape; fc activations have H = W = 1).
// Train: each element is kept with probability 1-p and scaled by 1/(1-p), so E[y] = x and Eval
//        needs no rescaling; mask[i] is 1/(1-p) or 0, owned by the layer, sized in reshape.
// Eval:  y = x, and backward passes dy straight through.
// Every draw (one uniform per element, in memory order) comes from the Rng given at construction,
// the Net's, so a run repeats bit for bit and a checkpoint restores the stream.
#pragma once
#include <string>
#include <vector>

#include "core/rng.h"
#include "layers/layer.h"

namespace delve {

class Dropout : public Layer {
 public:
  Dropout(std::string name, float p, Rng* rng);

  const char* kind() const override { return "dropout"; }
  Shape reshape(const Shape& in) override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  std::string describe() const override;  // "p=0.5"

  float p() const { return p_; }
  const std::vector<float>& mask() const { return mask_; }

 private:
  float p_;
  Rng* rng_;
  Shape in_{0, 0, 0, 0};
  Mode last_mode_ = Mode::Eval;  // of the last forward: backward follows it
  std::vector<float> mask_;
};

}  // namespace delve
