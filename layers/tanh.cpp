// Tanh forward and backward. Shapes: x, y, dy, dx all C × N × H × W, walked as flat arrays.
#include "layers/tanh.h"

#include <cmath>

#include "core/error.h"

namespace delve {

void Tanh::forward(const Tensor& x, Tensor& y, Mode /*mode*/) {
  if (!(x.shape() == y.shape())) throw ShapeError(name_ + ": forward " + x.shape().str() + " -> " + y.shape().str());
  const float* xp = x.data();
  float* yp = y.data();
  const size_t n = x.size();
  for (size_t i = 0; i < n; ++i) yp[i] = std::tanh(xp[i]);
}

void Tanh::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (!(y.shape() == dy.shape()) || !(dx->shape() == x.shape()) || !(x.shape() == y.shape()))
    throw ShapeError(name_ + ": backward shapes differ: y " + y.shape().str() + ", dy " + dy.shape().str());
  const float* yp = y.data();
  const float* g = dy.data();
  float* d = dx->data();
  const size_t n = y.size();
  for (size_t i = 0; i < n; ++i) d[i] = g[i] * (1.f - yp[i] * yp[i]);  // tanh'(x) = 1 - tanh²(x)
}

}  // namespace delve
