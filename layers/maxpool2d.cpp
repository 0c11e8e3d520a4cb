// MaxPool2d forward (remembering each window's winner) and backward (routing dy to it).
// Shapes: x C×N×H×W, y C×N×Ho×Wo; one (c, n) plane of x is H·W contiguous floats.
#include "layers/maxpool2d.h"

#include <algorithm>

#include "core/error.h"
#include "core/thread_pool.h"

namespace delve {

MaxPool2d::MaxPool2d(std::string name, int kernel, int stride) : Layer(std::move(name)), k_(kernel), stride_(stride) {
  if (kernel <= 0 || stride <= 0) throw ShapeError(name_ + ": maxpool2d needs kernel and stride > 0");
}

Shape MaxPool2d::reshape(const Shape& in) {
  if (in.h < k_ || in.w < k_)
    throw ShapeError(name_ + ": input " + std::to_string(in.h) + "x" + std::to_string(in.w) +
                     " is smaller than the " + std::to_string(k_) + "x" + std::to_string(k_) + " window");
  in_ = in;
  out_ = Shape{in.n, in.c, (in.h - k_) / stride_ + 1, (in.w - k_) / stride_ + 1};
  argmax_.resize(out_.count());  // keeps its capacity when the batch shrinks
  return out_;
}

void MaxPool2d::forward(const Tensor& x, Tensor& y, Mode /*mode*/) {
  if (!(x.shape() == in_) || !(y.shape() == out_))
    throw ShapeError(name_ + ": forward on " + x.shape().str() + " -> " + y.shape().str() + ", reshaped for " +
                     in_.str() + " -> " + out_.str());
  const int H = in_.h, W = in_.w, Ho = out_.h, Wo = out_.w;
  const size_t planes = size_t(in_.c) * in_.n;
  parallel_for(planes, 16, [&](size_t p0, size_t p1) {  // (c, n) planes are independent
    for (size_t p = p0; p < p1; ++p) {
      const float* xp = x.data() + p * H * W;
      float* yp = y.data() + p * Ho * Wo;
      int32_t* ap = argmax_.data() + p * Ho * Wo;
      for (int oh = 0; oh < Ho; ++oh) {
        for (int ow = 0; ow < Wo; ++ow) {
          const int h0 = oh * stride_, w0 = ow * stride_;
          int best = h0 * W + w0;
          float m = xp[best];
          for (int i = 0; i < k_; ++i)
            for (int j = 0; j < k_; ++j) {
              const int idx = (h0 + i) * W + (w0 + j);
              if (xp[idx] > m) {
                m = xp[idx];
                best = idx;
              }
            }
          yp[oh * Wo + ow] = m;
          ap[oh * Wo + ow] = best;
        }
      }
    }
  });
}

void MaxPool2d::backward(const Tensor& /*x*/, const Tensor& /*y*/, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (!(dy.shape() == out_) || !(dx->shape() == in_))
    throw ShapeError(name_ + ": backward shapes do not match the last reshape (" + in_.str() + " -> " +
                     out_.str() + ")");
  const int HW = in_.h * in_.w, HoWo = out_.h * out_.w;
  const size_t planes = size_t(in_.c) * in_.n;
  parallel_for(planes, 16, [&](size_t p0, size_t p1) {  // a plane's winners stay in its plane
    std::fill(dx->data() + p0 * HW, dx->data() + p1 * HW, 0.f);
    for (size_t p = p0; p < p1; ++p) {
      float* dxp = dx->data() + p * HW;
      const float* g = dy.data() + p * HoWo;
      const int32_t* ap = argmax_.data() + p * HoWo;
      for (int o = 0; o < HoWo; ++o) dxp[ap[o]] += g[o];  // overlapping windows add up
    }
  });
}

std::string MaxPool2d::describe() const {
  return std::to_string(k_) + "x" + std::to_string(k_) + "/" + std::to_string(stride_);
}

}  // namespace delve
