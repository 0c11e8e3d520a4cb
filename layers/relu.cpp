// ReLU forward and backward. Shapes: x, y, dy, dx all C × N × H × W, walked as flat arrays.
#include "layers/relu.h"

#include "core/error.h"
#include "core/rectifier.h"
#include "core/thread_pool.h"

namespace delve {

void ReLU::forward(const Tensor& x, Tensor& y, Mode /*mode*/) {
  if (!(x.shape() == y.shape())) throw ShapeError(name_ + ": forward " + x.shape().str() + " -> " + y.shape().str());
  const float* xp = x.data();
  float* yp = y.data();
  const size_t n = x.size();
  parallel_for(n, kElementwiseGrain, [&](size_t b, size_t e) {
    relu(xp + b, e - b, yp + b);
  });
}

void ReLU::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (!(x.shape() == dy.shape()) || !(dx->shape() == x.shape()))
    throw ShapeError(name_ + ": backward shapes differ: x " + x.shape().str() + ", dy " + dy.shape().str());
  const float* xp = x.data();
  const float* g = dy.data();
  float* d = dx->data();
  const size_t n = x.size();
  parallel_for(n, kElementwiseGrain, [&](size_t b, size_t e) {
    relu_grad(g + b, xp + b, e - b, d + b);
  });
}

}  // namespace delve
