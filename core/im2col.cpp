#include "core/im2col.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace delve {

namespace {
// Σ over output positions o of the taps t with 0 <= o·stride - pad + t < n, over (outputs · k).
double in_bounds_fraction_1d(int n, int k, int stride, int pad, int outputs) {
  long long inside = 0;
  for (int o = 0; o < outputs; ++o)
    for (int t = 0; t < k; ++t) {
      const int i = o * stride - pad + t;
      inside += i >= 0 && i < n;
    }
  return outputs > 0 ? double(inside) / (double(outputs) * k) : 0.0;
}
}  // namespace

double in_bounds_tap_fraction(const ConvGeometry& g, int h, int w) {
  return in_bounds_fraction_1d(h, g.kh, g.stride, g.pad, g.out_h(h)) *
         in_bounds_fraction_1d(w, g.kw, g.stride, g.pad, g.out_w(w));
}

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
        const int shift = j - g.pad;  // stride 1: iw = ow + shift
        const int lo = std::max(0, -shift), hi = std::max(lo, std::min(Wo, W - shift));  // valid ow
        for (int n = n0; n < n1; ++n) {
          const float* xc = x + (size_t(c) * N + n) * H * W;
          float* out = row + size_t(n - n0) * Ho * Wo;
          if (g.stride == 1 && Wo == W) {
            // "Same" convolution: the valid rows of this tap are one contiguous stretch of the
            // image shifted by `shift`, so ONE memcpy per image and tap, then zeros where a row's
            // edge picked up its neighbour's pixel (or lies in the padding). Per-row memcpys of
            // 8-32 floats were call overhead, most of im2col's time.
            const int oh_lo = std::max(0, g.pad - i), oh_hi = std::max(oh_lo, std::min(Ho, H + g.pad - i));
            std::memset(out, 0, sizeof(float) * size_t(oh_lo) * Wo);
            std::memset(out + size_t(oh_hi) * Wo, 0, sizeof(float) * size_t(Ho - oh_hi) * Wo);
            const size_t rows = size_t(oh_hi - oh_lo);
            if (rows == 0) continue;
            const size_t a = size_t(std::abs(shift));
            if (rows * W > a)
              std::memcpy(out + size_t(oh_lo) * Wo + (shift < 0 ? a : 0),
                          xc + size_t(oh_lo - g.pad + i) * W + (shift > 0 ? a : 0), sizeof(float) * (rows * W - a));
            for (int oh = oh_lo; oh < oh_hi; ++oh) {
              float* o = out + size_t(oh) * Wo;
              for (int ow = 0; ow < lo; ++ow) o[ow] = 0.f;
              for (int ow = hi; ow < Wo; ++ow) o[ow] = 0.f;
            }
            continue;
          }
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
            if (g.stride == 1) {  // the valid run without a test per pixel, so it vectorises
              const int shift = j - g.pad;
              const int lo = std::max(0, -shift), hi = std::min(Wo, W - shift);
              for (int ow = lo; ow < hi; ++ow) dr[ow + shift] += s[ow];
              continue;
            }
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
