#include "core/im2col.h"

#include <cstring>

namespace delve {

void im2col(const float* x, const Shape& in, const ConvGeometry& g, float* cols) {
  const int N = in.n, H = in.h, W = in.w;
  const int Ho = g.out_h(H), Wo = g.out_w(W);
  const size_t row_len = size_t(N) * Ho * Wo;
  for (int c = 0; c < in.c; ++c) {
    for (int i = 0; i < g.kh; ++i) {
      for (int j = 0; j < g.kw; ++j) {
        float* row = cols + (size_t(c * g.kh + i) * g.kw + j) * row_len;
        for (int n = 0; n < N; ++n) {
          const float* xc = x + (size_t(c) * N + n) * H * W;
          float* out = row + size_t(n) * Ho * Wo;
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

void col2im(const float* cols, const Shape& in, const ConvGeometry& g, float* dx) {
  const int N = in.n, H = in.h, W = in.w;
  const int Ho = g.out_h(H), Wo = g.out_w(W);
  const size_t row_len = size_t(N) * Ho * Wo;
  std::memset(dx, 0, sizeof(float) * in.count());
  for (int c = 0; c < in.c; ++c) {
    for (int i = 0; i < g.kh; ++i) {
      for (int j = 0; j < g.kw; ++j) {
        const float* row = cols + (size_t(c * g.kh + i) * g.kw + j) * row_len;
        for (int n = 0; n < N; ++n) {
          float* dxc = dx + (size_t(c) * N + n) * H * W;
          const float* src = row + size_t(n) * Ho * Wo;
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
