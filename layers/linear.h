// A fully connected layer on channel-major activations.
//
// Shapes (N batch, input C × N × H × W, in = C·H·W features, out features):
//   x   C × N × H × W        seen as the matrix X[in, N] with X[(c,h,w), n] = x[c][n][h][w]
//                            (PyTorch's flatten order, so fc weights load into nn.Linear as they are)
//   y   out × N              Shape{N, out, 1, 1}: an fc activation
//   w   [out, in]            "<name>.weight"
//   b   [out]                "<name>.bias", starts at 0, no weight decay
// When H = W = 1 (an fc input), X is x itself; otherwise X is built in the Net's shared scratch
// by transposing each channel's [N, H·W] block into [H·W, N].
#pragma once
#include <string>

#include "layers/layer.h"

namespace delve {

class Linear : public Layer {
 public:
  Linear(std::string name, int out_features, bool bias = true);

  const char* kind() const override { return "linear"; }
  void declare(const Shape& in, ParamRegistry& reg) override;
  Shape reshape(const Shape& in) override;
  size_t scratch_floats(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  Param* weight() override { return weight_; }
  Param* bias() { return bias_; }
  std::string describe() const override { return std::to_string(out_); }  // "4096"

  int in_features() const { return in_; }
  int out_features() const { return out_; }

 private:
  int in_ = 0, out_;
  bool has_bias_;
  Param* weight_ = nullptr;
  Param* bias_ = nullptr;
  Shape in_shape_{0, 0, 0, 0};  // set by reshape()
};

}  // namespace delve
