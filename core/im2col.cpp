#include "core/im2col.h"

#include <cstring>

namespace delve {

void im2col(const float* x, const Shape& in, const ConvGeometry& g, float* cols) {
  im2col(x, in, g, 0, in.n, cols);
}

void col2im(const float* cols, const Shape& in, const ConvGeometry& g, float* dx) {
  col2im(cols, in, g, 0, in.n, dx);
}

void im2col(const float* x, const Shape& in, const ConvGeometry& g, int n0, int n1, float* cols) {
  const int N = in.n, H = in.h, W = in.w;
  const int Ho = g.out_h(H), Wo = g.out_w(W);
  const size_t row_len = size_t(n1 - n0) * Ho * Wo;
  for (int c = 0; c < in.c; ++c) {
    for (int i = 0; i < g.kh; ++i) {
      for (int j = 0; j < g.kw; ++j) {
        float* row = cols + (size_t(c * g.kh + i) * g.kw + j) * row_len;
        for (int n = n0; n < n1; ++n) {
          const float* xc = x + (size_t(c) * N + n) * H * W;
          float* out = row + size_t(n - n0) * Ho * Wo;
          for (int oh = 0; oh < Ho; ++oh) {
            const int ih = oh * g.stride - g.pad + i;
            float* o = out + size_t(oh) * Wo;
            if (ih < 0 || ih >= H) {
              std::memset(o, 0, sizeof(float) * Wo);
              continue;
            }
            const float* xr = xc + size_t(ih) * W;
            if (g.stride == 1) {
              // Contiguous run: zeros left and right of the image, a memcpy in between.
              const int shift = j - g.pad;  // iw = ow + shift
              int lo = shift < 0 ? -shift : 0;
              int hi = W - shift < Wo ? W - shift : Wo;
              if (hi < lo) hi = lo;
              for (int ow = 0; ow < lo; ++ow) o[ow] = 0.f;
              if (hi > lo) std::memcpy(o + lo, xr + lo + shift, sizeof(float) * (hi - lo));
              for (int ow = hi; ow < Wo; ++ow) o[ow] = 0.f;
            } else {
              for (int ow = 0; ow < Wo; ++ow) {
                const int iw = ow * g.stride - g.pad + j;
                o[ow] = (iw >= 0 && iw < W) ? xr[iw] : 0.f;
              }
            }
          }
        }
      }
    }
  }
}

void col2im(const float* cols, const Shape& in, const ConvGeometry& g, int n0, int n1, float* dx) {
  const int N = in.n, H = in.h, W = in.w;
  const int Ho = g.out_h(H), Wo = g.out_w(W);
  const size_t row_len = size_t(n1 - n0) * Ho * Wo;
  const size_t plane = size_t(H) * W;
  for (int c = 0; c < in.c; ++c) std::memset(dx + (size_t(c) * N + n0) * plane, 0, sizeof(float) * plane * (n1 - n0));
  for (int c = 0; c < in.c; ++c) {
    for (int i = 0; i < g.kh; ++i) {
      for (int j = 0; j < g.kw; ++j) {
        const float* row = cols + (size_t(c * g.kh + i) * g.kw + j) * row_len;
        for (int n = n0; n < n1; ++n) {
          float* dxc = dx + (size_t(c) * N + n) * H * W;
          const float* src = row + size_t(n - n0) * Ho * Wo;
          for (int oh = 0; oh < Ho; ++oh) {
            const int ih = oh * g.stride - g.pad + i;
            if (ih < 0 || ih >= H) continue;
            float* dr = dxc + size_t(ih) * W;
            const float* s = src + size_t(oh) * Wo;
            for (int ow = 0; ow < Wo; ++ow) {
              const int iw = ow * g.stride - g.pad + j;
              if (iw >= 0 && iw < W) dr[iw] += s[ow];
            }
          }
        }
      }
    }
  }
}

}  // namespace delve
