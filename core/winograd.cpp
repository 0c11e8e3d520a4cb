#include "core/winograd.h"

#include <cstring>

namespace delve {

namespace {

// 4×4 tile in row-major order, index 4·i + j = ξ.
using Tile = float[16];

// Loads the 4×4 input patch whose top-left corner is (r0, c0) of a H × W plane, zero outside.
inline void load_patch(const float* plane, int H, int W, int r0, int c0, Tile d) {
  if (r0 >= 0 && c0 >= 0 && r0 + 4 <= H && c0 + 4 <= W) {
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) d[4 * i + j] = plane[size_t(r0 + i) * W + c0 + j];
    return;
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const int r = r0 + i, c = c0 + j;
      d[4 * i + j] = (r >= 0 && r < H && c >= 0 && c < W) ? plane[size_t(r) * W + c] : 0.f;
    }
}

// V = Bᵀ d B with Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
inline void input_transform(const Tile d, Tile v) {
  float t[16];
  for (int j = 0; j < 4; ++j) {  // t = Bᵀ d (columns)
    t[0 + j] = d[0 + j] - d[8 + j];
    t[4 + j] = d[4 + j] + d[8 + j];
    t[8 + j] = d[8 + j] - d[4 + j];
    t[12 + j] = d[4 + j] - d[12 + j];
  }
  for (int i = 0; i < 4; ++i) {  // v = t B (rows)
    const float* r = t + 4 * i;
    v[4 * i + 0] = r[0] - r[2];
    v[4 * i + 1] = r[1] + r[2];
    v[4 * i + 2] = r[2] - r[1];
    v[4 * i + 3] = r[1] - r[3];
  }
}

// dd = B dV Bᵀ: the adjoint of input_transform.
inline void input_transform_adjoint(const Tile dv, Tile dd) {
  float t[16];
  for (int i = 0; i < 4; ++i) {  // t = dV Bᵀ (rows): adjoint of v = t B
    const float* r = dv + 4 * i;
    t[4 * i + 0] = r[0];
    t[4 * i + 1] = r[1] - r[2] + r[3];
    t[4 * i + 2] = -r[0] + r[1] + r[2];
    t[4 * i + 3] = -r[3];
  }
  for (int j = 0; j < 4; ++j) {  // dd = B t (columns): adjoint of t = Bᵀ d
    dd[0 + j] = t[0 + j];
    dd[4 + j] = t[4 + j] - t[8 + j] + t[12 + j];
    dd[8 + j] = -t[0 + j] + t[4 + j] + t[8 + j];
    dd[12 + j] = -t[12 + j];
  }
}

// Y = Aᵀ M A with Aᵀ = [1 1 1 0; 0 1 -1 -1]: 2×2 from 4×4.
inline void output_transform(const Tile m, float y[4]) {
  float t[8];  // t = Aᵀ M, 2×4
  for (int j = 0; j < 4; ++j) {
    t[j] = m[j] + m[4 + j] + m[8 + j];
    t[4 + j] = m[4 + j] - m[8 + j] - m[12 + j];
  }
  for (int i = 0; i < 2; ++i) {
    const float* r = t + 4 * i;
    y[2 * i + 0] = r[0] + r[1] + r[2];
    y[2 * i + 1] = r[1] - r[2] - r[3];
  }
}

// dM = A dY Aᵀ: the adjoint of output_transform.
inline void output_transform_adjoint(const float dy[4], Tile dm) {
  float t[8];  // t = dY Aᵀ... as 2×4: adjoint of y = t A
  for (int i = 0; i < 2; ++i) {
    const float a = dy[2 * i], b = dy[2 * i + 1];
    t[4 * i + 0] = a;
    t[4 * i + 1] = a + b;
    t[4 * i + 2] = a - b;
    t[4 * i + 3] = -b;
  }
  for (int j = 0; j < 4; ++j) {  // adjoint of t = Aᵀ M
    const float a = t[j], b = t[4 + j];
    dm[0 + j] = a;
    dm[4 + j] = a + b;
    dm[8 + j] = a - b;
    dm[12 + j] = -b;
  }
}

}  // namespace

void winograd_weights(const float* w, int D, int C, float* U) {
  const size_t DC = size_t(D) * C;
  for (size_t k = 0; k < DC; ++k) {
    const float* g = w + 9 * k;
    float t[12];  // t = G g, 4×3; G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]
    for (int j = 0; j < 3; ++j) {
      t[0 + j] = g[j];
      t[3 + j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
      t[6 + j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
      t[9 + j] = g[6 + j];
    }
    for (int i = 0; i < 4; ++i) {  // u = t Gᵀ
      const float* r = t + 3 * i;
      U[size_t(4 * i + 0) * DC + k] = r[0];
      U[size_t(4 * i + 1) * DC + k] = 0.5f * (r[0] + r[1] + r[2]);
      U[size_t(4 * i + 2) * DC + k] = 0.5f * (r[0] - r[1] + r[2]);
      U[size_t(4 * i + 3) * DC + k] = r[2];
    }
  }
}

void winograd_weight_grad(const float* dU, int D, int C, float* dw) {
  const size_t DC = size_t(D) * C;
  for (size_t k = 0; k < DC; ++k) {
    float t[12];  // t = dU G, 4×3: adjoint of u = t Gᵀ
    for (int i = 0; i < 4; ++i) {
      const float a = dU[size_t(4 * i + 0) * DC + k], b = dU[size_t(4 * i + 1) * DC + k];
      const float c = dU[size_t(4 * i + 2) * DC + k], d = dU[size_t(4 * i + 3) * DC + k];
      t[3 * i + 0] = a + 0.5f * (b + c);
      t[3 * i + 1] = 0.5f * (b - c);
      t[3 * i + 2] = 0.5f * (b + c) + d;
    }
    float* g = dw + 9 * k;  // g += Gᵀ t: adjoint of t = G g
    for (int j = 0; j < 3; ++j) {
      g[0 + j] += t[0 + j] + 0.5f * (t[3 + j] + t[6 + j]);
      g[3 + j] += 0.5f * (t[3 + j] - t[6 + j]);
      g[6 + j] += 0.5f * (t[3 + j] + t[6 + j]) + t[9 + j];
    }
  }
}

void winograd_input(const float* x, const Shape& in, int n0, int n1, float* V) {
  const int H = in.h, W = in.w, TH = (H + 1) / 2, TW = (W + 1) / 2;
  const size_t T = size_t(n1 - n0) * TH * TW, CT = size_t(in.c) * T;
  for (int c = 0; c < in.c; ++c)
    for (int n = n0; n < n1; ++n) {
      const float* plane = x + (size_t(c) * in.n + n) * H * W;
      for (int ty = 0; ty < TH; ++ty)
        for (int tx = 0; tx < TW; ++tx) {
          Tile d, v;
          load_patch(plane, H, W, 2 * ty - 1, 2 * tx - 1, d);
          input_transform(d, v);
          const size_t t = (size_t(n - n0) * TH + ty) * TW + tx;
          float* dst = V + size_t(c) * T + t;
          for (int xi = 0; xi < 16; ++xi) dst[xi * CT] = v[xi];
        }
    }
}

void winograd_input_grad(const float* dV, const Shape& in, int n0, int n1, float* dx) {
  const int H = in.h, W = in.w, TH = (H + 1) / 2, TW = (W + 1) / 2;
  const size_t T = size_t(n1 - n0) * TH * TW, CT = size_t(in.c) * T;
  for (int c = 0; c < in.c; ++c)
    for (int n = n0; n < n1; ++n) {
      float* plane = dx + (size_t(c) * in.n + n) * H * W;
      std::memset(plane, 0, sizeof(float) * H * W);
      for (int ty = 0; ty < TH; ++ty)
        for (int tx = 0; tx < TW; ++tx) {
          const size_t t = (size_t(n - n0) * TH + ty) * TW + tx;
          const float* src = dV + size_t(c) * T + t;
          Tile dv, dd;
          for (int xi = 0; xi < 16; ++xi) dv[xi] = src[xi * CT];
          input_transform_adjoint(dv, dd);
          const int r0 = 2 * ty - 1, c0 = 2 * tx - 1;
          for (int i = 0; i < 4; ++i) {
            const int r = r0 + i;
            if (r < 0 || r >= H) continue;
            for (int j = 0; j < 4; ++j) {
              const int col = c0 + j;
              if (col >= 0 && col < W) plane[size_t(r) * W + col] += dd[4 * i + j];
            }
          }
        }
    }
}

void winograd_output(const float* M, const Shape& out, int n0, int n1, const float* bias, float* y) {
  const int H = out.h, W = out.w, TH = (H + 1) / 2, TW = (W + 1) / 2;
  const size_t T = size_t(n1 - n0) * TH * TW, DT = size_t(out.c) * T;
  for (int d = 0; d < out.c; ++d) {
    const float b = bias ? bias[d] : 0.f;
    for (int n = n0; n < n1; ++n) {
      float* plane = y + (size_t(d) * out.n + n) * H * W;
      for (int ty = 0; ty < TH; ++ty)
        for (int tx = 0; tx < TW; ++tx) {
          const size_t t = (size_t(n - n0) * TH + ty) * TW + tx;
          const float* src = M + size_t(d) * T + t;
          Tile m;
          float o[4];
          for (int xi = 0; xi < 16; ++xi) m[xi] = src[xi * DT];
          output_transform(m, o);
          for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) {
              const int r = 2 * ty + i, col = 2 * tx + j;
              if (r < H && col < W) plane[size_t(r) * W + col] = o[2 * i + j] + b;
            }
        }
    }
  }
}

void winograd_output_grad(const float* dy, const Shape& out, int n0, int n1, float* dM) {
  const int H = out.h, W = out.w, TH = (H + 1) / 2, TW = (W + 1) / 2;
  const size_t T = size_t(n1 - n0) * TH * TW, DT = size_t(out.c) * T;
  for (int d = 0; d < out.c; ++d)
    for (int n = n0; n < n1; ++n) {
      const float* plane = dy + (size_t(d) * out.n + n) * H * W;
      for (int ty = 0; ty < TH; ++ty)
        for (int tx = 0; tx < TW; ++tx) {
          float g[4];
          for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) {
              const int r = 2 * ty + i, col = 2 * tx + j;
              g[2 * i + j] = (r < H && col < W) ? plane[size_t(r) * W + col] : 0.f;
            }
          Tile m;
          output_transform_adjoint(g, m);
          const size_t t = (size_t(n - n0) * TH + ty) * TW + tx;
          float* dst = dM + size_t(d) * T + t;
          for (int xi = 0; xi < 16; ++xi) dst[xi * DT] = m[xi];
        }
    }
}

}  // namespace delve
