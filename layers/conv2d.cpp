// Conv2d: im2col + SGEMM forward, the same columns for ∂L/∂w, col2im for ∂L/∂x, per chunk of
// images on delve's workers (or once for the whole batch; or Winograd for 3×3 stride-1 pad-1, the
// default, at the end of this file: ConvAlgorithm in conv2d.h).
//
// Shapes (see conv2d.h): x c×N×H×W, y d×N×Ho×Wo, w [d, K] with K = c·kh·kw, cols [K, p] with
// p = n·Ho·Wo for a chunk of n images; a chunk of y or dy is the column range [n0·Ho·Wo, n1·Ho·Wo)
// of each row (leading dimension P = N·Ho·Wo). The columns live in the Net's shared scratch,
// valid only within one call.
#include "layers/conv2d.h"

#include <algorithm>

#include "core/blas.h"
#include "core/error.h"
#include "core/point_gemm.h"
#include "core/rectifier.h"
#include "core/row_ops.h"
#include "core/thread_pool.h"
#include "core/winograd.h"

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
  chunks_ = plan(in);
  slope_chunks_.assign(size_t(chunks_.count) * out_c_, 0.0);
  if (chunks_.winograd) gemm_kernel();  // a bad DELVE_GEMM fails here, before the first step
  return out_;
}

namespace {
// Columns of one chunk should fit in a core's L2 (1 MiB on this Xeon) next to the GEMM's packing.
constexpr size_t kChunkBytes = size_t(1) << 20;
}  // namespace

Conv2d::Chunks Conv2d::plan(const Shape& in) const {
  Chunks c;
  const size_t K = size_t(in.c) * g_.kh * g_.kw;
  const size_t per_image = size_t(g_.out_h(in.h)) * g_.out_w(in.w);
  const int threads = ThreadPool::instance().threads();
  c.winograd = algorithm_ == ConvAlgorithm::Winograd && g_.kh == 3 && g_.kw == 3 && g_.stride == 1 && g_.pad == 1;
  // floats one image needs in a worker's slot: its columns, or its V and M
  const size_t image_floats = c.winograd ? 16 * size_t(in.c + out_c_) * winograd_tiles(in.h, in.w) : K * per_image;
  c.images = int(std::max<size_t>(1, kChunkBytes / (image_floats * sizeof(float))));
  c.images = std::min(c.images, (in.n + threads - 1) / threads);  // every worker gets a chunk
  c.count = (in.n + c.images - 1) / c.images;
  c.slots = std::min(threads, c.count);
  // per worker: its chunk's columns (or V, M and the transforms' work buffer), then its share of
  // ∂L/∂w (or ∂L/∂U) and ∂L/∂b, then the masked ∂L/∂y
  const size_t dw = c.winograd ? 16 * size_t(out_c_) * in.c : size_t(out_c_) * K;
  c.work_floats = c.winograd ? winograd_work_floats(in.h, in.w) : 0;
  // Im2col: the chunk's ∂L/∂y behind a fused activation (Winograd takes dz·f'(y) a row at a time in
  // its work buffer)
  const size_t masked_dy = c.winograd ? 0 : size_t(out_c_) * per_image * c.images;
  c.slot_floats = image_floats * c.images + c.work_floats + dw + size_t(out_c_) + masked_dy;
  c.shared_floats = c.winograd ? 16 * size_t(out_c_) * in.c : 0;
  return c;
}

size_t Conv2d::scratch_floats(const Shape& in) const {
  if (algorithm_ == ConvAlgorithm::WholeBatch)  // cols; in backward, cols then ∂L/∂cols
    return size_t(in.c) * g_.kh * g_.kw * size_t(in.n) * g_.out_h(in.h) * g_.out_w(in.w);
  const Chunks c = plan(in);
  return c.shared_floats + c.slot_floats * c.slots;
}

void Conv2d::check_shapes(const Tensor& x, const Tensor& y, const Tensor* dx) const {
  if (!(x.shape() == in_) || !(y.shape() == out_) || (dx && !(dx->shape() == in_)))
    throw ShapeError(name_ + ": " + x.shape().str() + " -> " + y.shape().str() + ", reshaped for " + in_.str() +
                     " -> " + out_.str());
}

void Conv2d::forward(const Tensor& x, Tensor& y, Mode /*mode*/) {
  check_shapes(x, y, nullptr);
  if (algorithm_ == ConvAlgorithm::WholeBatch) return forward_whole(x, y);
  forward_chunks(x, y, nullptr);
}

void Conv2d::forward_fused(const Tensor& x, Tensor& y, const Rectifier& f, Tensor& z, Mode mode, bool keep_y) {
  if (!fuses_activation()) return Layer::forward_fused(x, y, f, z, mode, keep_y);  // throws
  check_shapes(x, y, nullptr);
  check_shapes(x, z, nullptr);
  FusedRectifier fused;
  fused.f = f;
  fused.z = z.data();
  // Without keep_y, Winograd's output transform skips the pass that writes y (layers/net.h);
  // the im2col schedule's GEMM writes y anyway.
  fused.keep_y = keep_y;
  forward_chunks(x, y, &fused);
}

void Conv2d::forward_chunks(const Tensor& x, Tensor& y, const FusedRectifier* fused) {
  if (chunks_.winograd) return forward_winograd(x, y, fused);
  const int K = in_c_ * g_.kh * g_.kw;
  const int P = out_.n * out_.h * out_.w;
  const int per_image = out_.h * out_.w;
  const float* w = weight_->w.data();
  const float* b = bias_ ? bias_->w.data() : nullptr;
  ThreadPool::instance().run(chunks_.count, [&](int chunk, int worker) {
    const int n0 = chunk * chunks_.images, n1 = std::min(in_.n, n0 + chunks_.images);
    const int cols_n = (n1 - n0) * per_image;
    float* cols = scratch_ + size_t(worker) * chunks_.slot_floats;
    im2col(x.data(), in_, g_, n0, n1, cols);
    float* yc = y.data() + size_t(n0) * per_image;
    // y[d, chunk] = w[d, K] · cols[K, chunk]  (He et al. §2.2: y = W·x + b)
    sgemm(false, false, out_c_, cols_n, K, 1.f, w, K, cols, cols_n, 0.f, yc, P);
    if (b) add_row_bias(yc, out_c_, size_t(cols_n), size_t(P), b);
    if (fused) {  // the fused activation, while the chunk is in cache
      float* zc = fused->z + size_t(n0) * per_image;
      for (int o = 0; o < out_c_; ++o) rectify(fused->f, o, yc + size_t(o) * P, size_t(cols_n), zc + size_t(o) * P);
    }
  }, chunks_.slots);
}

void Conv2d::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor* dx) {
  check_shapes(x, dy, dx);
  if (algorithm_ == ConvAlgorithm::WholeBatch) return backward_whole(x, dy, dx);
  backward_chunks(x, nullptr, dy, dx);
}

void Conv2d::backward_fused(const Tensor& x, const Tensor& y, const Rectifier& f, const Tensor& dz, Tensor* dx,
                            double* slope_sums) {
  if (!fuses_activation()) return Layer::backward_fused(x, y, f, dz, dx, slope_sums);  // throws
  check_shapes(x, dz, dx);
  check_shapes(x, y, dx);
  FusedRectifier fused;
  fused.f = f;
  fused.y = y.data();
  std::fill(slope_chunks_.begin(), slope_chunks_.end(), 0.0);
  backward_chunks(x, &fused, dz, dx);
  if (f.learned()) add_chunk_slope_sums(slope_sums);
}

FusedRectifier Conv2d::chunk_rectifier(const FusedRectifier* fused, int chunk) {
  FusedRectifier f = *fused;
  f.slope_sums = slope_chunks_.data() + size_t(chunk) * out_c_;
  return f;
}

// slope_sums[d] = Σ over the chunks, in chunk order, of each chunk's sum: an order fixed by the
// chunks (plan(): the batch and the thread count), never by which worker finished first.
void Conv2d::add_chunk_slope_sums(double* slope_sums) const {
  for (int o = 0; o < out_c_; ++o) slope_sums[o] = 0.0;
  for (int k = 0; k < chunks_.count; ++k)
    for (int o = 0; o < out_c_; ++o) slope_sums[o] += slope_chunks_[size_t(k) * out_c_ + o];
}

void Conv2d::backward_chunks(const Tensor& x, const FusedRectifier* fused, const Tensor& dy, Tensor* dx) {
  if (chunks_.winograd) return backward_winograd(x, fused, dy, dx);
  const int K = in_c_ * g_.kh * g_.kw;
  const int P = out_.n * out_.h * out_.w;
  const int per_image = out_.h * out_.w;
  const size_t cols_floats = size_t(K) * chunks_.images * per_image;
  const size_t dw_floats = size_t(out_c_) * K;
  // Each worker sums its chunks' ∂L/∂w and ∂L/∂b in its own slot; the slots are added at the end.
  for (int s = 0; s < chunks_.slots; ++s)
    std::fill_n(scratch_ + s * chunks_.slot_floats + cols_floats, dw_floats + out_c_, 0.f);
  const float* w = weight_->w.data();
  ThreadPool::instance().run(chunks_.count, [&](int chunk, int worker) {
    const int n0 = chunk * chunks_.images, n1 = std::min(in_.n, n0 + chunks_.images);
    const int cols_n = (n1 - n0) * per_image;
    float* cols = scratch_ + size_t(worker) * chunks_.slot_floats;
    float* dw = cols + cols_floats;
    float* db = dw + dw_floats;
    const float* dyc = dy.data() + size_t(n0) * per_image;
    size_t ld = P;
    if (fused) {  // ∂L/∂y of this chunk behind the fused activation: dz · f'(y), into the slot
      float* scaled = db + out_c_;
      const FusedRectifier f = chunk_rectifier(fused, chunk);
      for (int o = 0; o < out_c_; ++o) {
        const size_t row = size_t(n0) * per_image + size_t(o) * P;
        f.slope_sums[o] += rectify_grad(f.f, o, dyc + size_t(o) * P, f.y + row, size_t(cols_n), scaled + size_t(o) * cols_n);
      }
      dyc = scaled;
      ld = size_t(cols_n);
    }
    // 1. The columns again (the scratch did not survive since forward).
    im2col(x.data(), in_, g_, n0, n1, cols);
    // 2. ∂L/∂w[d, K] += dy[d, chunk] · cols[K, chunk]ᵀ
    sgemm(false, true, out_c_, K, cols_n, 1.f, dyc, int(ld), cols, cols_n, 1.f, dw, K);
    // 3. ∂L/∂b[d] += Σ_p dy[d, p]
    if (bias_) add_row_sums(dyc, out_c_, size_t(cols_n), ld, db);
    if (!dx) return;
    // 4. ∂L/∂cols = wᵀ · dy over the columns (no longer needed after step 2), then col2im sums
    //    each entry back onto its input pixel, overwriting this chunk's images of dx.
    sgemm(true, false, K, cols_n, out_c_, 1.f, w, K, dyc, int(ld), 0.f, cols, cols_n);
    col2im(cols, in_, g_, n0, n1, dx->data());
  }, chunks_.slots);
  float* dw = weight_->dw.data();
  float* db = bias_ ? bias_->dw.data() : nullptr;
  for (int s = 0; s < chunks_.slots; ++s) {
    const float* part = scratch_ + s * chunks_.slot_floats + cols_floats;
    for (size_t i = 0; i < dw_floats; ++i) dw[i] += part[i];
    if (db)
      for (int o = 0; o < out_c_; ++o) db[o] += part[dw_floats + o];
  }
}

void Conv2d::forward_whole(const Tensor& x, Tensor& y) {
  const int K = in_c_ * g_.kh * g_.kw;
  const int P = out_.n * out_.h * out_.w;
  float* cols = scratch_;
  BlasThreadsScope threaded(ThreadPool::instance().threads());
  im2col(x.data(), in_, g_, cols);
  sgemm(false, false, out_c_, P, K, 1.f, weight_->w.data(), K, cols, P, 0.f, y.data(), P);
  if (bias_) add_row_bias(y.data(), out_c_, size_t(P), size_t(P), bias_->w.data());
}

void Conv2d::backward_whole(const Tensor& x, const Tensor& dy, Tensor* dx) {
  const int K = in_c_ * g_.kh * g_.kw;
  const int P = out_.n * out_.h * out_.w;
  float* cols = scratch_;
  BlasThreadsScope threaded(ThreadPool::instance().threads());
  im2col(x.data(), in_, g_, cols);
  sgemm(false, true, out_c_, K, P, 1.f, dy.data(), P, cols, P, 1.f, weight_->dw.data(), K);
  if (bias_) add_row_sums(dy.data(), out_c_, size_t(P), size_t(P), bias_->dw.data());
  if (!dx) return;
  sgemm(true, false, K, P, out_c_, 1.f, weight_->w.data(), K, dy.data(), P, 0.f, cols, P);
  col2im(cols, in_, g_, dx->data());
}

// Winograd F(2×2, 3×3) per chunk: V = input transform, M_ξ = U_ξ · V_ξ (16 GEMMs), y = output
// transform of M. Scratch: U (shared), then per worker V [16, c, T], M [16, d, T], the transforms'
// work buffer, ∂L/∂U, ∂L/∂b.
void Conv2d::forward_winograd(const Tensor& x, Tensor& y, const FusedRectifier* fused) {
  const int C = in_c_, D = out_c_;
  const size_t tiles = winograd_tiles(in_.h, in_.w);
  const size_t data_floats = chunks_.slot_floats - 16 * size_t(D) * C - D;  // V, M, work
  float* U = scratch_;
  winograd_weights(weight_->w.data(), D, C, U, /*transposed=*/false);
  const float* b = bias_ ? bias_->w.data() : nullptr;
  ThreadPool::instance().run(chunks_.count, [&](int chunk, int worker) {
    const int n0 = chunk * chunks_.images, n1 = std::min(in_.n, n0 + chunks_.images);
    const int T = int(size_t(n1 - n0) * tiles);
    float* V = scratch_ + chunks_.shared_floats + size_t(worker) * chunks_.slot_floats;
    float* M = V + 16 * size_t(C) * T;
    float* work = V + data_floats - chunks_.work_floats;
    winograd_input(x.data(), in_, n0, n1, V, work);
    point_gemm_nn({D, T, C, size_t(D) * C, size_t(C) * T, size_t(D) * T}, U, V, M);  // M_ξ = U_ξ · V_ξ
    winograd_output(M, out_, n0, n1, b, y.data(), fused, work);
  }, chunks_.slots);
}

// The adjoint: dM = output-transformᵀ(dy) (dy times a fused activation's f'(y) as it is read);
// ∂L/∂b += the tile sums in dM; ∂L/∂U_ξ += dM_ξ · V_ξᵀ; dV_ξ = U_ξᵀ · dM_ξ (over V, Uᵀ packed once);
// dx = input-transformᵀ(dV); finally ∂L/∂w += Gᵀ (Σ_workers ∂L/∂U) G.
void Conv2d::backward_winograd(const Tensor& x, const FusedRectifier* fused, const Tensor& dy, Tensor* dx) {
  const int C = in_c_, D = out_c_;
  const size_t tiles = winograd_tiles(in_.h, in_.w);
  const size_t dU_floats = 16 * size_t(D) * C;
  const size_t data_floats = chunks_.slot_floats - dU_floats - D;  // V, M, work
  float* Ut = scratch_;  // Uᵀ [16][C][D]
  winograd_weights(weight_->w.data(), D, C, Ut, /*transposed=*/true);
  auto slot = [&](int s) { return scratch_ + chunks_.shared_floats + size_t(s) * chunks_.slot_floats; };
  for (int s = 0; s < chunks_.slots; ++s) std::fill_n(slot(s) + data_floats, dU_floats + D, 0.f);
  ThreadPool::instance().run(chunks_.count, [&](int chunk, int worker) {
    const int n0 = chunk * chunks_.images, n1 = std::min(in_.n, n0 + chunks_.images);
    const int T = int(size_t(n1 - n0) * tiles);
    float* V = slot(worker);
    float* dM = V + 16 * size_t(C) * T;
    float* work = V + data_floats - chunks_.work_floats;
    float* dU = slot(worker) + data_floats;
    float* db = dU + dU_floats;
    winograd_input(x.data(), in_, n0, n1, V, work);
    const FusedRectifier f = fused ? chunk_rectifier(fused, chunk) : FusedRectifier{};
    winograd_output_grad(dy.data(), fused ? &f : nullptr, out_, n0, n1, dM, work);
    if (bias_) add_row_sums(dM + size_t(kWinogradTileSum) * D * T, D, size_t(T), size_t(T), db);
    point_gemm_nt_add({D, C, T, size_t(D) * T, size_t(C) * T, size_t(D) * C}, dM, V, dU);
    if (!dx) return;
    point_gemm_nn({C, T, D, size_t(C) * D, size_t(D) * T, size_t(C) * T}, Ut, dM, V);  // dV, over V
    winograd_input_grad(V, in_, n0, n1, dx->data(), work);
  }, chunks_.slots);
  // Σ over workers into the first slot's ∂L/∂U (and ∂L/∂b), then ∂L/∂w += Gᵀ ∂L/∂U G.
  float* dU = slot(0) + data_floats;
  for (int s = 1; s < chunks_.slots; ++s) {
    const float* part = slot(s) + data_floats;
    for (size_t i = 0; i < dU_floats + D; ++i) dU[i] += part[i];
  }
  winograd_weight_grad(dU, D, C, weight_->dw.data());
  if (bias_)
    for (int o = 0; o < D; ++o) bias_->dw.data()[o] += dU[dU_floats + o];
}

std::string Conv2d::describe() const {
  std::string s = std::to_string(g_.kh) + "x" + std::to_string(g_.kw) + ", " + std::to_string(out_c_);
  if (g_.stride != 1) s += ", /" + std::to_string(g_.stride);
  return s;
}

}  // namespace delve

namespace delve {

ConvAlgorithm parse_conv_algorithm(const std::string& name) {
  if (name == "winograd" || name.empty()) return ConvAlgorithm::Winograd;
  if (name == "im2col") return ConvAlgorithm::Im2col;
  if (name == "whole") return ConvAlgorithm::WholeBatch;
  throw ConfigError("unknown convolution algorithm \"" + name + "\" (winograd, im2col, whole)");
}

}  // namespace delve
