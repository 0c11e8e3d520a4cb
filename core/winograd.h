// Winograd F(2×2, 3×3) (Lavin & Gray 2015) for 3×3, stride-1, pad-1 convolutions on channel-major
// batches (core/tensor.h): 16 multiplies per 2×2 output tile and channel pair instead of 36, so
// 2.25× fewer GEMM flops than im2col, as 16 GEMMs M_ξ[D, T] = U_ξ[D, C] · V_ξ[C, T], one per
// point ξ of the 4×4 transform domain, over T tiles.
//
// Transforms (B, G, A as in Lavin & Gray):  V = Bᵀ d B,  U = G g Gᵀ,  Y = Aᵀ M A; and their
// adjoints for the backward pass: dM = A dY Aᵀ,  dd = B dV Bᵀ,  dg = Gᵀ dU G.
// Layouts: U, dU [16][D][C]; V, dV [16][C][T]; M, dM [16][D][T]; a tile t = (n - n0, ty, tx)
// in that order, ty < ceil(H/2), tx < ceil(W/2); tile (ty, tx) covers output rows 2ty, 2ty+1 and
// reads input rows 2ty-1 .. 2ty+2 (zero outside the image). Odd sizes: the last tile's second
// row/column lies outside and is dropped (forward) or taken as 0 (backward).
//
// Accuracy: the transforms' coefficients are 0, ±1 and ±½, so F(2×2, 3×3) loses little against
// direct summation (tests/test_conv2d_schedules.cpp bounds it against a naive convolution in double).
//
// Speed: the tile transforms run one image plane at a time and are separable: a row pass that
// (de)interleaves even and odd columns (the only step that touches the image layout), and a pass
// over the plane's tiles in order, which reads and writes V, M, dV and dM contiguously and which
// the compiler vectorises. `work` is a caller-owned buffer of winograd_work_floats(H, W) floats
// (one per thread), so the transforms allocate nothing.
#pragma once
#include <cstddef>

#include "core/rectifier.h"
#include "core/tensor.h"

namespace delve {

// Tiles of one image of H × W.
inline size_t winograd_tiles(int h, int w) { return size_t((h + 1) / 2) * size_t((w + 1) / 2); }

// Floats of the `work` buffer the four tile transforms need for H × W planes.
size_t winograd_work_floats(int h, int w);

// U = G g Gᵀ for every (d, c) of w [D, C, 3, 3], as U [16][D][C]; transposed: as Uᵀ [16][C][D],
// the layout the backward pass's dV_ξ = U_ξᵀ · dM_ξ reads row by row (core/point_gemm.h).
void winograd_weights(const float* w, int D, int C, float* U, bool transposed);
// dw [D, C, 3, 3] += Gᵀ dU Gᵀᵀ for every (d, c).
void winograd_weight_grad(const float* dU, int D, int C, float* dw);
// V = Bᵀ d B for every channel and tile of the images [n0, n1) of x (in: x's shape).
void winograd_input(const float* x, const Shape& in, int n0, int n1, float* V, float* work);
// Overwrites the images [n0, n1) of dx with Σ over tiles of B dV Bᵀ (overlapping tiles add up).
void winograd_input_grad(const float* dV, const Shape& in, int n0, int n1, float* dx, float* work);
// y = Aᵀ M A (+ bias) for the images [n0, n1) of y (out: y's shape, D = out.c channels); with a
// fused rectifier (core/rectifier.h), also z = f(y), from the rows still in cache, and y only if
// the rectifier's keep_y.
void winograd_output(const float* M, const Shape& out, int n0, int n1, const float* bias, float* y,
                     const FusedRectifier* fused, float* work);
// dM = A dY Aᵀ for the images [n0, n1) of dy; with a fused rectifier dy is its ∂L/∂z, and
// dY = dy · f'(y) is applied as the rows are read.
void winograd_output_grad(const float* dy, const FusedRectifier* fused, const Shape& out, int n0, int n1,
                          float* dM, float* work);
// Where dM keeps Σ over each tile's four pixels of dY: (A dY Aᵀ) at ξ = (1, 1), since A's row 1 is
// (1, 1). Summed over the tiles it is the bias gradient, without another pass over dy.
constexpr int kWinogradTileSum = 5;

}  // namespace delve
