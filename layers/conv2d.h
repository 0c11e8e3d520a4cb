// A 2-d convolution over a channel-major batch, as Winograd F(2×2, 3×3) for 3×3 stride-1 pad-1
// kernels and im2col + GEMM for the others (schedules: ConvAlgorithm).
//
// Shapes (N batch, c input channels, d output channels, H×W in, Ho×Wo out, kernel kh×kw):
//   x     c × N × H × W            (channel-major, core/tensor.h)
//   y     d × N × Ho × Wo          Ho = (H + 2·pad - kh)/stride + 1, likewise Wo
//   w     [d, c, kh, kw]           PyTorch's layout; as a matrix [d, c·kh·kw]   "<name>.weight"
//   b     [d]                      starts at 0, no weight decay                  "<name>.bias"
//   cols  (c·kh·kw) × (n·Ho·Wo)    im2col of a chunk of n images (or the whole batch), in the
//                                  Net's shared scratch
// He et al. §2.2 writes this layer as y = W·x + b (x: k²c pixels-by-channels, n = k²c = fan_in).
#pragma once
#include <string>
#include <vector>

#include "core/im2col.h"
#include "layers/layer.h"

namespace delve {

// A kernel size: Conv2d(..., 3, ...) is 3×3, Conv2d(..., {3, 2}, ...) is 3 high and 2 wide.
struct KernelSize {
  int h, w;
  KernelSize(int k) : h(k), w(k) {}  // NOLINT: implicit on purpose, a square kernel
  KernelSize(int kh, int kw) : h(kh), w(kw) {}
};

// How a Conv2d computes (all give the same sums up to float rounding):
//   Im2col      any kernel, stride, padding. The batch is cut into chunks of whole
//               images whose columns fit in about 1 MiB (a core's L2), and the chunks are spread
//               over delve's worker threads (core/thread_pool.h), each running im2col and a
//               single-threaded GEMM on its own columns: the columns never travel to DRAM and
//               back, the scratch is threads × one chunk, ∂L/∂w is summed per worker, then added.
//   Winograd    the default: F(2×2, 3×3) (core/winograd.h, 2.25× fewer GEMM flops) in the same
//               chunks, 16 GEMMs per chunk, for 3×3 stride-1 pad-1 kernels (Im2col for the
//               others). Exact to ~1e-6 relative, gradient-checked. With its vectorised plane
//               transforms it trains plain22 and plain30 about 1.5× as fast as Im2col (A/B,
//               2 threads); every 3×3 layer gains but the first (3 input channels: a tie).
//   WholeBatch  the reference: im2col of the whole batch and ONE GEMM per pass, threaded by
//               OpenBLAS (delve's first design; kept for comparisons: delve bench --conv whole).
enum class ConvAlgorithm { Im2col, Winograd, WholeBatch };
// "winograd" (or "": the default) | "im2col" | "whole"
ConvAlgorithm parse_conv_algorithm(const std::string& name);

class Conv2d : public Layer {
 public:
  // in_channels is taken from the input shape in declare().
  Conv2d(std::string name, int out_channels, KernelSize kernel, int stride = 1, int pad = 0,
         bool bias = true);

  const char* kind() const override { return "conv2d"; }
  void declare(const Shape& in, ParamRegistry& reg) override;
  Shape reshape(const Shape& in) override;
  size_t scratch_floats(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  // A following ReLU or PReLU is fused into the chunks (layers/layer.h) except by the WholeBatch
  // reference.
  bool fuses_activation() const override { return algorithm_ != ConvAlgorithm::WholeBatch; }
  void forward_fused(const Tensor& x, Tensor& y, const Rectifier& f, Tensor& z, Mode mode, bool keep_y) override;
  void backward_fused(const Tensor& x, const Tensor& y, const Rectifier& f, const Tensor& dz, Tensor* dx,
                      double* slope_sums) override;
  Param* weight() override { return weight_; }
  Param* bias() { return bias_; }
  std::string describe() const override;  // "3x3, 64" or "7x7, 64, /2"

  int in_channels() const { return in_c_; }
  int out_channels() const { return out_c_; }
  const ConvGeometry& geometry() const { return g_; }
  // Before the Net is built (the scratch size depends on it), or reshape() again afterwards.
  void set_algorithm(ConvAlgorithm a) { algorithm_ = a; }
  ConvAlgorithm algorithm() const { return algorithm_; }
  bool uses_winograd() const { return chunks_.winograd; }  // as of the last reshape()

 private:
  Shape out_shape(const Shape& in) const;  // validates in
  int in_c_ = 0, out_c_;
  ConvGeometry g_;
  bool has_bias_;
  ConvAlgorithm algorithm_ = ConvAlgorithm::Winograd;
  // The chunked schedule for the current shape (set by reshape()).
  struct Chunks {
    int images = 1;   // per chunk
    int count = 1;    // chunks in the batch
    int slots = 1;    // workers with their own scratch
    bool winograd = false;
    size_t shared_floats = 0;  // Winograd: the transformed weights U, shared by the workers
    size_t work_floats = 0;    // Winograd: the tile transforms' buffer (core/winograd.h)
    size_t slot_floats = 0;    // per worker: columns (or V, M, work), then its ∂L/∂w (or ∂L/∂U) and ∂L/∂b,
                               // then (Im2col) its chunk of ∂L/∂y behind a fused activation
  };
  Chunks plan(const Shape& in) const;
  Chunks chunks_;
  // fused: the activation computed in the same passes (forward: its output z; backward: dy is
  // its ∂L/∂z, y the pre-activation, slope_sums per channel, core/rectifier.h), or null.
  // Chunk k's slope sums go to slope_chunks_[k·D ..], added in chunk order at the end.
  void check_shapes(const Tensor& x, const Tensor& y, const Tensor* dx) const;
  void forward_chunks(const Tensor& x, Tensor& y, const FusedRectifier* fused);
  void backward_chunks(const Tensor& x, const FusedRectifier* fused, const Tensor& dy, Tensor* dx);
  // The fused activation of one chunk: slope sums into its own row of slope_chunks_.
  FusedRectifier chunk_rectifier(const FusedRectifier* fused, int chunk);
  void add_chunk_slope_sums(double* slope_sums) const;
  void forward_whole(const Tensor& x, Tensor& y);
  void backward_whole(const Tensor& x, const Tensor& dy, Tensor* dx);
  void forward_winograd(const Tensor& x, Tensor& y, const FusedRectifier* fused);
  void backward_winograd(const Tensor& x, const FusedRectifier* fused, const Tensor& dy, Tensor* dx);

  Param* weight_ = nullptr;
  Param* bias_ = nullptr;
  Shape in_{0, 0, 0, 0}, out_{0, 0, 0, 0};  // set by reshape()
  std::vector<double> slope_chunks_;       // [chunks][D]: a fused PReLU's slope sums (reshape sizes it)
};

}  // namespace delve
