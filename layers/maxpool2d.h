// Max pooling over k×k windows with a stride, no padding, output size rounded down.
//
// Shapes (N batch, C channels):
//   x, dx    C × N × H × W
//   y, dy    C × N × Ho × Wo        Ho = (H - k)/stride + 1 (floor), likewise Wo
//   argmax   C × N × Ho × Wo int32  the winner's index h·W + w within its (c, n) plane, kept from
//                                   forward for backward (owned by the layer, sized in reshape)
// Ties go to the first maximum in row-major window order.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "layers/layer.h"

namespace delve {

class MaxPool2d : public Layer {
 public:
  MaxPool2d(std::string name, int kernel, int stride);

  const char* kind() const override { return "maxpool2d"; }
  Shape reshape(const Shape& in) override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  std::string describe() const override;  // "2x2/2"

 private:
  int k_, stride_;
  Shape in_{0, 0, 0, 0}, out_{0, 0, 0, 0};
  std::vector<int32_t> argmax_;
};

}  // namespace delve
