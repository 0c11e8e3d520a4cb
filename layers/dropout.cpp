// Dropout forward (drawing the mask in Train) and backward (applying it).
// Shapes: x, y, dy, dx, mask C × N × H × W, walked as flat arrays.
#include "layers/dropout.h"

#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace delve {

Dropout::Dropout(std::string name, float p, Rng* rng) : Layer(std::move(name)), p_(p), rng_(rng) {
  if (!(p >= 0.f && p < 1.f)) throw ShapeError(name_ + ": dropout probability must be in [0, 1)");
  if (!rng) throw ShapeError(name_ + ": dropout needs a random generator");
}

Shape Dropout::reshape(const Shape& in) {
  in_ = in;
  mask_.resize(in.count());  // keeps its capacity when the batch shrinks
  return in;
}

void Dropout::forward(const Tensor& x, Tensor& y, Mode mode) {
  if (!(x.shape() == in_) || !(y.shape() == in_))
    throw ShapeError(name_ + ": forward on " + x.shape().str() + " -> " + y.shape().str() + ", reshaped for " +
                     in_.str());
  last_mode_ = mode;
  const size_t n = x.size();
  const float* xp = x.data();
  float* yp = y.data();
  if (mode == Mode::Eval || p_ == 0.f) {
    last_mode_ = Mode::Eval;  // identity either way; no draws
    if (yp != xp) std::memcpy(yp, xp, n * sizeof(float));
    return;
  }
  const float scale = 1.f / (1.f - p_);
  float* m = mask_.data();
  for (size_t i = 0; i < n; ++i) {
    m[i] = rng_->uniformf() < p_ ? 0.f : scale;  // dropped with probability p
    yp[i] = xp[i] * m[i];
  }
}

void Dropout::backward(const Tensor& /*x*/, const Tensor& /*y*/, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  if (!(dy.shape() == in_) || !(dx->shape() == in_))
    throw ShapeError(name_ + ": backward shapes do not match the last reshape (" + in_.str() + ")");
  const size_t n = dy.size();
  const float* g = dy.data();
  float* d = dx->data();
  if (last_mode_ == Mode::Eval) {
    if (d != g) std::memcpy(d, g, n * sizeof(float));
    return;
  }
  const float* m = mask_.data();
  for (size_t i = 0; i < n; ++i) d[i] = g[i] * m[i];
}

std::string Dropout::describe() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "p=%g", double(p_));
  return buf;
}

}  // namespace delve
