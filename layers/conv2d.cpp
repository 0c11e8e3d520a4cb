// Conv2d: im2col + one SGEMM forward, the same columns for ∂L/∂w, col2im for ∂L/∂x.
//
// Shapes (see conv2d.h): x c×N×H×W, y d×N×Ho×Wo, w [d, K] with K = c·kh·kw, cols [K, P] with
// P = N·Ho·Wo. The columns live in the Net's shared scratch, valid only within one call.
#include "layers/conv2d.h"

#include "core/blas.h"
#include "core/error.h"

namespace delve {

Conv2d::Conv2d(std::string name, int out_channels, KernelSize kernel, int stride, int pad, bool bias)
    : Layer(std::move(name)), out_c_(out_channels), g_{kernel.h, kernel.w, stride, pad}, has_bias_(bias) {
  if (out_channels <= 0 || kernel.h <= 0 || kernel.w <= 0 || stride <= 0 || pad < 0)
    throw ShapeError(name_ + ": conv2d needs out_channels, kernel and stride > 0 and pad >= 0");
}

Shape Conv2d::out_shape(const Shape& in) const {
  if (in_c_ != 0 && in.c != in_c_)
    throw ShapeError(name_ + ": input has " + std::to_string(in.c) + " channels, the layer was declared for " +
                     std::to_string(in_c_));
  if (in.h + 2 * g_.pad < g_.kh || in.w + 2 * g_.pad < g_.kw)
    throw ShapeError(name_ + ": input " + std::to_string(in.h) + "x" + std::to_string(in.w) +
                     " (padded by " + std::to_string(g_.pad) + ") is smaller than the " + std::to_string(g_.kh) +
                     "x" + std::to_string(g_.kw) + " kernel");
  return Shape{in.n, out_c_, g_.out_h(in.h), g_.out_w(in.w)};
}

void Conv2d::declare(const Shape& in, ParamRegistry& reg) {
  if (in.c <= 0) throw ShapeError(name_ + ": input has no channels");
  in_c_ = in.c;
  out_shape(in);
  weight_ = reg.declare(name_ + ".weight", {out_c_, in_c_, g_.kh, g_.kw}, ParamRole::Weight);
  if (has_bias_) bias_ = reg.declare(name_ + ".bias", {out_c_}, ParamRole::Bias, 0.f, 1.f, /*decay_mult=*/0.f);
}

Shape Conv2d::reshape(const Shape& in) {
  out_ = out_shape(in);
  in_ = in;
  return out_;
}

size_t Conv2d::scratch_floats(const Shape& in) const {
  // cols in forward; in backward the same buffer holds cols for ∂L/∂w, then ∂L/∂cols.
  return size_t(in.c) * g_.kh * g_.kw * size_t(in.n) * g_.out_h(in.h) * g_.out_w(in.w);
}

void Conv2d::forward(const Tensor& x, Tensor& y, Mode /*mode*/) {
  if (!(x.shape() == in_) || !(y.shape() == out_))
    throw ShapeError(name_ + ": forward on " + x.shape().str() + " -> " + y.shape().str() + ", reshaped for " +
                     in_.str() + " -> " + out_.str());
  const int K = in_c_ * g_.kh * g_.kw;
  const int P = out_.n * out_.h * out_.w;
  float* cols = scratch_;
  im2col(x.data(), in_, g_, cols);
  // y[d, P] = w[d, K] · cols[K, P]  (He et al. §2.2: y = W·x + b)
  sgemm(false, false, out_c_, P, K, 1.f, weight_->w.data(), K, cols, P, 0.f, y.data(), P);
  if (bias_) {
    const float* b = bias_->w.data();
    for (int o = 0; o < out_c_; ++o) {
      float* yo = y.data() + size_t(o) * P;
      const float bo = b[o];
      for (int p = 0; p < P; ++p) yo[p] += bo;
    }
  }
}

void Conv2d::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor* dx) {
  if (!(x.shape() == in_) || !(dy.shape() == out_) || (dx && !(dx->shape() == in_)))
    throw ShapeError(name_ + ": backward shapes do not match the last reshape (" + in_.str() + " -> " +
                     out_.str() + ")");
  const int K = in_c_ * g_.kh * g_.kw;
  const int P = out_.n * out_.h * out_.w;
  float* cols = scratch_;
  // 1. The columns again (the scratch did not survive since forward).
  im2col(x.data(), in_, g_, cols);
  // 2. ∂L/∂w[d, K] += dy[d, P] · colsᵀ  (accumulate: beta = 1)
  sgemm(false, true, out_c_, K, P, 1.f, dy.data(), P, cols, P, 1.f, weight_->dw.data(), K);
  // 3. ∂L/∂b[d] += Σ_p dy[d, p]
  if (bias_) {
    float* db = bias_->dw.data();
    for (int o = 0; o < out_c_; ++o) {
      const float* g = dy.data() + size_t(o) * P;
      double s = 0.0;
      for (int p = 0; p < P; ++p) s += g[p];
      db[o] += float(s);
    }
  }
  if (!dx) return;
  // 4. ∂L/∂cols[K, P] = wᵀ · dy, over the columns (no longer needed after step 2), then col2im
  //    sums each column entry back onto the input pixel it came from, overwriting dx.
  sgemm(true, false, K, P, out_c_, 1.f, weight_->w.data(), K, dy.data(), P, 0.f, cols, P);
  col2im(cols, in_, g_, dx->data());
}

std::string Conv2d::describe() const {
  std::string s = std::to_string(g_.kh) + "x" + std::to_string(g_.kw) + ", " + std::to_string(out_c_);
  if (g_.stride != 1) s += ", /" + std::to_string(g_.stride);
  return s;
}

}  // namespace delve
