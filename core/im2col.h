// im2col / col2im for channel-major batches (see core/tensor.h).
//
// x is C × N × H × W. cols is (C·kh·kw) × (N·Ho·Wo): row (c·kh + i)·kw + j holds, for every output
// position of every image, the input pixel under kernel tap (i, j) of channel c (0 in the padding).
// The row order matches a PyTorch conv weight [d, c, kh, kw] flattened to [d, c·kh·kw], so the whole
// batch's convolution is the single GEMM y[d, N·Ho·Wo] = w[d, c·kh·kw] · cols.
#pragma once
#include "core/tensor.h"

namespace delve {

struct ConvGeometry {
  int kh, kw, stride, pad;
  int out_h(int h) const { return (h + 2 * pad - kh) / stride + 1; }
  int out_w(int w) const { return (w + 2 * pad - kw) / stride + 1; }
};

// The fraction of kernel taps that land inside an h × w input rather than in the zero padding,
// averaged over the output positions. Zero padding gives border outputs fewer real inputs, so the
// n_l of the paper's Eq. 10 is in effect n_l times this: (1 - 2/(3·32))² ≈ 0.96 for a 3×3 pad-1
// conv on 32×32, 0.92 on 16×16, 0.84 on 8×8. For stride 1 the same fraction holds for the input
// pixels' share of n̂_l (Eq. 14), since each in-bounds (output, tap) pair is one (input, tap) pair.
double in_bounds_tap_fraction(const ConvGeometry& g, int h, int w);

// Writes cols from x (in: the shape of x).
void im2col(const float* x, const Shape& in, const ConvGeometry& g, float* cols);
// Overwrites dx with the sum of the cols entries that came from each input pixel.
void col2im(const float* cols, const Shape& in, const ConvGeometry& g, float* dx);

// The same for the images [n0, n1) of the batch only: cols is (C·kh·kw) × ((n1-n0)·Ho·Wo), and
// col2im overwrites only those images' pixels of dx. Chunks of images let a conv keep its columns
// in cache and split the batch across threads (layers/conv2d.cpp).
void im2col(const float* x, const Shape& in, const ConvGeometry& g, int n0, int n1, float* cols);
void col2im(const float* cols, const Shape& in, const ConvGeometry& g, int n0, int n1, float* dx);

}  // namespace delve
