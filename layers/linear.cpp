// Linear: y[out, N] = W[out, in] · X[in, N] + b, one SGEMM per pass.
//
// Shapes (see linear.h): x C×N×H×W, X [in, N] with in = C·H·W in PyTorch's (c, h, w) order,
// y out×N. S = H·W pixels per channel.
#include "layers/linear.h"

#include "core/blas.h"
#include "core/row_ops.h"
#include "core/error.h"

namespace delve {

namespace {
// X[(c·S + s)·N + n] = x[(c·N + n)·S + s]: each channel's [N, S] block becomes [S, N].
void gather_features(const float* x, int C, int N, int S, float* X) {
  for (int c = 0; c < C; ++c) {
    const float* xc = x + size_t(c) * N * S;
    float* Xc = X + size_t(c) * S * N;
    for (int n = 0; n < N; ++n)
      for (int s = 0; s < S; ++s) Xc[size_t(s) * N + n] = xc[size_t(n) * S + s];
  }
}
// The inverse: dx[(c·N + n)·S + s] = dX[(c·S + s)·N + n] (a permutation, so it overwrites dx).
void scatter_features(const float* dX, int C, int N, int S, float* dx) {
  for (int c = 0; c < C; ++c) {
    const float* dXc = dX + size_t(c) * S * N;
    float* dxc = dx + size_t(c) * N * S;
    for (int s = 0; s < S; ++s)
      for (int n = 0; n < N; ++n) dxc[size_t(n) * S + s] = dXc[size_t(s) * N + n];
  }
}
}  // namespace

Linear::Linear(std::string name, int out_features, bool bias)
    : Layer(std::move(name)), out_(out_features), has_bias_(bias) {
  if (out_features <= 0) throw ShapeError(name_ + ": linear needs out_features > 0");
}

void Linear::declare(const Shape& in, ParamRegistry& reg) {
  if (in.per_image() == 0) throw ShapeError(name_ + ": input has no features");
  in_ = int(in.per_image());
  weight_ = reg.declare(name_ + ".weight", {out_, in_}, ParamRole::Weight);
  if (has_bias_) bias_ = reg.declare(name_ + ".bias", {out_}, ParamRole::Bias, 0.f, 1.f, /*decay_mult=*/0.f);
}

Shape Linear::reshape(const Shape& in) {
  if (int(in.per_image()) != in_)
    throw ShapeError(name_ + ": input " + in.str() + " has " + std::to_string(in.per_image()) +
                     " features per image, the layer was declared for " + std::to_string(in_));
  in_shape_ = in;
  return Shape{in.n, out_, 1, 1};
}

size_t Linear::scratch_floats(const Shape& in) const {
  return in.h * in.w == 1 ? 0 : in.count();  // X in forward; X, then ∂L/∂X, in backward
}

void Linear::forward(const Tensor& x, Tensor& y, Mode /*mode*/) {
  const Shape& s = in_shape_;
  if (!(x.shape() == s) || !(y.shape() == Shape{s.n, out_, 1, 1}))
    throw ShapeError(name_ + ": forward on " + x.shape().str() + " -> " + y.shape().str() + ", reshaped for " +
                     s.str());
  const int N = s.n, S = s.h * s.w;
  const float* X = x.data();
  if (S != 1) {
    gather_features(x.data(), s.c, N, S, scratch_);
    X = scratch_;
  }
  // y[out, N] = W[out, in] · X[in, N]
  sgemm(false, false, out_, N, in_, 1.f, weight_->w.data(), in_, X, N, 0.f, y.data(), N);
  if (bias_) add_row_bias(y.data(), out_, size_t(N), size_t(N), bias_->w.data());
}

void Linear::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor* dx) {
  const Shape& s = in_shape_;
  if (!(x.shape() == s) || !(dy.shape() == Shape{s.n, out_, 1, 1}) || (dx && !(dx->shape() == s)))
    throw ShapeError(name_ + ": backward shapes do not match the last reshape (" + s.str() + ")");
  const int N = s.n, S = s.h * s.w;
  const float* X = x.data();
  if (S != 1) {
    gather_features(x.data(), s.c, N, S, scratch_);
    X = scratch_;
  }
  // ∂L/∂W[out, in] += dy[out, N] · Xᵀ
  sgemm(false, true, out_, in_, N, 1.f, dy.data(), N, X, N, 1.f, weight_->dw.data(), in_);
  // ∂L/∂b[out] += Σ_n dy[out, n]
  if (bias_) add_row_sums(dy.data(), out_, size_t(N), size_t(N), bias_->dw.data());
  if (!dx) return;
  // ∂L/∂X[in, N] = Wᵀ · dy: straight into dx for an fc input, else into the scratch (X is no
  // longer needed) and back to channel-major.
  float* dX = S == 1 ? dx->data() : scratch_;
  sgemm(true, false, in_, N, out_, 1.f, weight_->w.data(), in_, dy.data(), N, 0.f, dX, N);
  if (S != 1) scatter_features(dX, s.c, N, S, dx->data());
}

}  // namespace delve
