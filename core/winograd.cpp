#include "core/winograd.h"

#include <algorithm>

#include "core/rectifier.h"

namespace delve {

namespace {

// The 1-d transforms along one axis of a tile; the 2-d ones apply them along rows, then columns
// (or the reverse: they are separable).
// v = Bᵀ d with Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
inline void bt(float d0, float d1, float d2, float d3, float& v0, float& v1, float& v2, float& v3) {
  v0 = d0 - d2;
  v1 = d1 + d2;
  v2 = d2 - d1;
  v3 = d1 - d3;
}
// dd = B dv: the adjoint of bt.
inline void bt_adjoint(float v0, float v1, float v2, float v3, float& d0, float& d1, float& d2, float& d3) {
  d0 = v0;
  d1 = v1 - v2 + v3;
  d2 = v1 + v2 - v0;
  d3 = -v3;
}
// y = Aᵀ m with Aᵀ = [1 1 1 0; 0 1 -1 -1]: 2 outputs from 4.
inline void at(float m0, float m1, float m2, float m3, float& y0, float& y1) {
  y0 = m0 + m1 + m2;
  y1 = m1 - m2 - m3;
}
// dm = A dy: the adjoint of at.
inline void at_adjoint(float y0, float y1, float& m0, float& m1, float& m2, float& m3) {
  m0 = y0;
  m1 = y0 + y1;
  m2 = y0 - y1;
  m3 = -y1;
}

// The tiles of one H × W plane: TH × TW, tile (ty, tx) at index ty·TW + tx.
struct Plane {
  int H, W, TH, TW;
  Plane(int h, int w) : H(h), W(w), TH((h + 1) / 2), TW((w + 1) / 2) {}
  int tiles() const { return TH * TW; }
  // The input side's row pass keeps the padded plane's rows -1 .. 2·TH (pr = r + 1) after Bᵀ
  // along each row, split by the row's parity: 8 blocks (4 outputs × 2 parities) of TH + 1 rows
  // of TW. Tile row ty then reads its rows 2ty .. 2ty+3 as block rows ty and ty + 1 of each
  // parity, so the column pass walks all tiles of the plane in order.
  size_t block() const { return size_t(TH + 1) * TW; }
  int padded_rows() const { return 2 * TH + 2; }  // rows -1 .. 2·TH
};

// a[k] = row[first + 2k], b[k] = row[first + 2k + 1] for k < n, 0 outside [0, W); row null: all 0.
// first is 0 or -1 (the padded column).
void deinterleave(const float* __restrict row, int W, int first, int n, float* __restrict a, float* __restrict b) {
  if (!row) {
    std::fill_n(a, n, 0.f);
    std::fill_n(b, n, 0.f);
    return;
  }
  const int k0 = std::min(n, first < 0 ? 1 : 0);
  const int k1 = std::max(k0, std::min(n, (W - first) / 2));  // [k0, k1): both columns inside
  for (int k = k0; k < k1; ++k) {
    a[k] = row[first + 2 * k];
    b[k] = row[first + 2 * k + 1];
  }
  auto edge = [&](int k) {  // a column pair reaching past the plane
    const int c = first + 2 * k;
    a[k] = c >= 0 && c < W ? row[c] : 0.f;
    b[k] = c + 1 < W ? row[c + 1] : 0.f;
  };
  for (int k = 0; k < k0; ++k) edge(k);
  for (int k = k1; k < n; ++k) edge(k);
}

// row[first + 2k] = a[k] + bias, row[first + 2k + 1] = b[k] + bias for k < n, where inside [0, W).
void interleave(const float* __restrict a, const float* __restrict b, int n, int first, int W, float bias,
                float* __restrict row) {
  const int k0 = std::min(n, first < 0 ? 1 : 0);
  const int k1 = std::max(k0, std::min(n, (W - first) / 2));
  for (int k = k0; k < k1; ++k) {
    row[first + 2 * k] = a[k] + bias;
    row[first + 2 * k + 1] = b[k] + bias;
  }
  auto edge = [&](int k) {  // a column pair reaching past the plane
    const int c = first + 2 * k;
    if (c >= 0 && c < W) row[c] = a[k] + bias;
    if (c + 1 < W) row[c + 1] = b[k] + bias;
  };
  for (int k = 0; k < k0; ++k) edge(k);
  for (int k = k1; k < n; ++k) edge(k);
}

// v0..v3[k] = Bᵀ (d0, d1, d2, d3)[k] for k < n.
void bt_run(const float* __restrict d0, const float* __restrict d1, const float* __restrict d2,
            const float* __restrict d3, int n, float* __restrict v0, float* __restrict v1, float* __restrict v2,
            float* __restrict v3) {
  for (int k = 0; k < n; ++k) bt(d0[k], d1[k], d2[k], d3[k], v0[k], v1[k], v2[k], v3[k]);
}

// y0, y1[k] = Aᵀ (m0, m1, m2, m3)[k] for k < n.
void at_run(const float* __restrict m0, const float* __restrict m1, const float* __restrict m2,
            const float* __restrict m3, int n, float* __restrict y0, float* __restrict y1) {
  for (int k = 0; k < n; ++k) at(m0[k], m1[k], m2[k], m3[k], y0[k], y1[k]);
}

// m0..m3[k] = A (y0, y1)[k] for k < n: the adjoint of at_run.
void at_adjoint_run(const float* __restrict y0, const float* __restrict y1, int n, float* __restrict m0,
                    float* __restrict m1, float* __restrict m2, float* __restrict m3) {
  for (int k = 0; k < n; ++k) at_adjoint(y0[k], y1[k], m0[k], m1[k], m2[k], m3[k]);
}

// The adjoint of bt_run where patch k's d2, d3 are patch (k + shift)'s d0, d1 (neighbouring tiles
// overlap by two pixels): g0[k] = dd0(k) + dd2(k - shift), g1[k] = dd1(k) + dd3(k - shift) for
// k < n + shift, with dd = bt_adjoint(v0..v3) and 0 for patches outside [0, n). Needs shift ≤ n.
void bt_adjoint_run(const float* __restrict v0, const float* __restrict v1, const float* __restrict v2,
                    const float* __restrict v3, int n, int shift, float* __restrict g0, float* __restrict g1) {
  float d0, d1, d2, d3, e0, e1, e2, e3;
  for (int k = 0; k < shift; ++k) {
    bt_adjoint(v0[k], v1[k], v2[k], v3[k], d0, d1, d2, d3);
    g0[k] = d0;
    g1[k] = d1;
  }
  for (int k = shift; k < n; ++k) {
    bt_adjoint(v0[k], v1[k], v2[k], v3[k], d0, d1, d2, d3);
    const int q = k - shift;
    bt_adjoint(v0[q], v1[q], v2[q], v3[q], e0, e1, e2, e3);
    g0[k] = d0 + e2;
    g1[k] = d1 + e3;
  }
  for (int k = n; k < n + shift; ++k) {
    const int q = k - shift;
    bt_adjoint(v0[q], v1[q], v2[q], v3[q], e0, e1, e2, e3);
    g0[k] = e2;
    g1[k] = e3;
  }
}

// V[ξ·stride + t] = (Bᵀ d B)_ξ for the tiles t of one plane x.
//
// Each pass runs over the whole plane before the next reads its output: a row read right after it
// was stored, at another offset (a + 1), stalls store-to-load forwarding (measured: half the
// transform's time when the passes were interleaved row by row).
void input_plane(const float* x, const Plane& p, float* V, size_t stride, float* work) {
  const int TW = p.TW, rows = p.padded_rows();
  const size_t S = p.block();
  float* a = work;                          // a[pr·(TW+1) + k]: padded row pr's column 2k - 1
  float* b = a + size_t(rows) * (TW + 1);   // and column 2k, k = 0 .. TW
  float* h = b + size_t(rows) * (TW + 1);   // h[(2j + parity)·S + (pr / 2)·TW + tx], Plane::block()
  for (int pr = 0; pr < rows; ++pr) {
    const int r = pr - 1;
    const size_t o = size_t(pr) * (TW + 1);
    deinterleave(r >= 0 && r < p.H ? x + size_t(r) * p.W : nullptr, p.W, -1, TW + 1, a + o, b + o);
  }
  for (int pr = 0; pr < rows; ++pr) {  // row pass: Bᵀ along each padded row
    const size_t o = size_t(pr) * (TW + 1);
    float* hr = h + (pr % 2) * S + size_t(pr / 2) * TW;
    bt_run(a + o, b + o, a + o + 1, b + o + 1, TW, hr, hr + 2 * S, hr + 4 * S, hr + 6 * S);
  }
  for (int j = 0; j < 4; ++j) {  // column pass: Bᵀ down each tile column j, ξ = 4i + j
    const float* even = h + 2 * j * S;
    const float* odd = even + S;
    float* v = V + j * stride;
    bt_run(even, odd, even + TW, odd + TW, p.tiles(), v, v + 4 * stride, v + 8 * stride, v + 12 * stride);
  }
}

// Overwrites the plane dx with Σ over its tiles t of B dV_t Bᵀ: input_plane's passes in reverse.
void input_grad_plane(const float* dV, size_t stride, const Plane& p, float* dx, float* work) {
  const int TW = p.TW;
  const size_t S = p.block();
  float* a = work;
  float* b = a + size_t(p.padded_rows()) * (TW + 1);
  float* h = b + size_t(p.padded_rows()) * (TW + 1);
  for (int j = 0; j < 4; ++j) {
    const float* v = dV + j * stride;
    float* even = h + 2 * j * S;
    bt_adjoint_run(v, v + 4 * stride, v + 8 * stride, v + 12 * stride, p.tiles(), TW, even, even + S);
  }
  for (int pr = 1; pr <= p.H; ++pr) {  // padded rows 0 (r = -1) and > H fall outside dx
    const size_t o = size_t(pr) * (TW + 1);
    const float* hr = h + (pr % 2) * S + size_t(pr / 2) * TW;
    bt_adjoint_run(hr, hr + 2 * S, hr + 4 * S, hr + 6 * S, TW, 1, a + o, b + o);
  }
  for (int pr = 1; pr <= p.H; ++pr) {
    const size_t o = size_t(pr) * (TW + 1);
    interleave(a + o, b + o, TW + 1, -1, p.W, 0.f, dx + size_t(pr - 1) * p.W);
  }
}

// y = Aᵀ M A + bias for the tiles of one plane: Aᵀ down each tile column j into c[i][j], then
// along each tile row into Y[2i + j'] (output pixel (2ty + i, 2tx + j')), then the rows interleaved.
// With f (the plane's channel d), also z = f(y) row by row, while the row is in L1; y is then
// written only if keep_y (else a row of work holds it).
void output_plane(const float* M, size_t stride, const Plane& p, float bias, float* y, const Rectifier* f, int d,
                  float* z, bool keep_y, float* work) {
  const int n = p.tiles();
  float* c = work;  // c[(4i + j)·n + t]
  float* Y = c + 8 * size_t(n);
  float* scratch_row = Y + 4 * size_t(n);
  for (int j = 0; j < 4; ++j) {
    const float* m = M + j * stride;
    at_run(m, m + 4 * stride, m + 8 * stride, m + 12 * stride, n, c + j * n, c + (4 + j) * n);
  }
  for (int i = 0; i < 2; ++i) {
    const float* ci = c + 4 * i * n;
    at_run(ci, ci + n, ci + 2 * n, ci + 3 * n, n, Y + 2 * i * n, Y + (2 * i + 1) * n);
  }
  for (int r = 0; r < p.H; ++r) {  // an odd plane drops its last tile row's second row
    const float* Yr = Y + (r % 2) * 2 * n + (r / 2) * p.TW;
    float* yr = keep_y || !f ? y + size_t(r) * p.W : scratch_row;
    interleave(Yr, Yr + n, p.TW, 0, p.W, bias, yr);
    if (f) rectify(*f, d, yr, p.W, z + size_t(r) * p.W);
  }
}

// dM = A dY Aᵀ for the tiles of one plane dy (pixels outside it count as 0): output_plane's passes
// in reverse. With f (the plane's channel d), each row of dy is first multiplied by f'(y) into a
// row of work; returns the plane's Σ dy·y over y ≤ 0 for a learned f (0 otherwise).
double output_grad_plane(const float* dy, const Rectifier* f, int d, const float* y, const Plane& p, float* dM,
                         size_t stride, float* work) {
  const int n = p.tiles();
  float* G = work;  // G[(2i + j)·n + t]: pixel (2ty + i, 2tx + j)
  float* c = G + 4 * size_t(n);
  float* scaled = c + 8 * size_t(n);  // one row
  double slope_sum = 0.0;
  for (int r = 0; r < 2 * p.TH; ++r) {
    float* Gr = G + (r % 2) * 2 * n + (r / 2) * p.TW;
    const float* row = r < p.H ? dy + size_t(r) * p.W : nullptr;
    if (row && f) {
      slope_sum += rectify_grad(*f, d, row, y + size_t(r) * p.W, p.W, scaled);
      row = scaled;
    }
    deinterleave(row, p.W, 0, p.TW, Gr, Gr + n);
  }
  for (int i = 0; i < 2; ++i) {
    float* ci = c + 4 * i * n;
    at_adjoint_run(G + 2 * i * n, G + (2 * i + 1) * n, n, ci, ci + n, ci + 2 * n, ci + 3 * n);
  }
  for (int j = 0; j < 4; ++j) {
    float* m = dM + j * stride;
    at_adjoint_run(c + j * n, c + (4 + j) * n, n, m, m + 4 * stride, m + 8 * stride, m + 12 * stride);
  }
  return slope_sum;
}

}  // namespace

size_t winograd_work_floats(int h, int w) {
  const Plane p(h, w);
  // input_plane's split rows and blocks, or the output side's 12 arrays of tiles and a row (of y, or
  // of f'(y)·dz)
  return std::max(2 * size_t(p.padded_rows()) * (p.TW + 1) + 8 * p.block(), 12 * size_t(p.tiles()) + w);
}

void winograd_weights(const float* w, int D, int C, float* U, bool transposed) {
  const size_t DC = size_t(D) * C;
  for (size_t k = 0; k < DC; ++k) {
    const float* g = w + 9 * k;  // (d, c) = (k / C, k % C)
    float* u = U + (transposed ? size_t(k % C) * D + k / C : k);
    float t[12];  // t = G g, 4×3; G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]
    for (int j = 0; j < 3; ++j) {
      t[0 + j] = g[j];
      t[3 + j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
      t[6 + j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
      t[9 + j] = g[6 + j];
    }
    for (int i = 0; i < 4; ++i) {  // u = t Gᵀ
      const float* r = t + 3 * i;
      u[size_t(4 * i + 0) * DC] = r[0];
      u[size_t(4 * i + 1) * DC] = 0.5f * (r[0] + r[1] + r[2]);
      u[size_t(4 * i + 2) * DC] = 0.5f * (r[0] - r[1] + r[2]);
      u[size_t(4 * i + 3) * DC] = r[2];
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

namespace {
// Calls f(c, tile offset, pixel offset) for every plane (channel c, image n) of the images [n0, n1)
// of a batch of shape s: the plane's tiles start at c·T + (n - n0)·tiles in one point ξ of the
// transform domain ([16][C][T], T the chunk's tiles), its pixels at (c·N + n)·H·W in the
// channel-major tensor.
template <class F>
void for_each_plane(const Shape& s, int n0, int n1, size_t tiles, F f) {
  const size_t T = size_t(n1 - n0) * tiles;
  for (int c = 0; c < s.c; ++c)
    for (int n = n0; n < n1; ++n) f(c, size_t(c) * T + size_t(n - n0) * tiles, (size_t(c) * s.n + n) * s.h * s.w);
}
}  // namespace

void winograd_input(const float* x, const Shape& in, int n0, int n1, float* V, float* work) {
  const Plane p(in.h, in.w);
  const size_t CT = size_t(in.c) * size_t(n1 - n0) * p.tiles();
  for_each_plane(in, n0, n1, p.tiles(),
                 [&](int, size_t tile, size_t pixel) { input_plane(x + pixel, p, V + tile, CT, work); });
}

void winograd_input_grad(const float* dV, const Shape& in, int n0, int n1, float* dx, float* work) {
  const Plane p(in.h, in.w);
  const size_t CT = size_t(in.c) * size_t(n1 - n0) * p.tiles();
  for_each_plane(in, n0, n1, p.tiles(),
                 [&](int, size_t tile, size_t pixel) { input_grad_plane(dV + tile, CT, p, dx + pixel, work); });
}

void winograd_output(const float* M, const Shape& out, int n0, int n1, const float* bias, float* y,
                     const FusedRectifier* fused, float* work) {
  const Plane p(out.h, out.w);
  const size_t DT = size_t(out.c) * size_t(n1 - n0) * p.tiles();
  const Rectifier* f = fused ? &fused->f : nullptr;
  for_each_plane(out, n0, n1, p.tiles(), [&](int d, size_t tile, size_t pixel) {
    output_plane(M + tile, DT, p, bias ? bias[d] : 0.f, y + pixel, f, d, fused ? fused->z + pixel : nullptr,
                 !fused || fused->keep_y, work);
  });
}

void winograd_output_grad(const float* dy, const FusedRectifier* fused, const Shape& out, int n0, int n1,
                          float* dM, float* work) {
  const Plane p(out.h, out.w);
  const size_t DT = size_t(out.c) * size_t(n1 - n0) * p.tiles();
  const Rectifier* f = fused ? &fused->f : nullptr;
  for_each_plane(out, n0, n1, p.tiles(), [&](int d, size_t tile, size_t pixel) {
    const double s = output_grad_plane(dy + pixel, f, d, fused ? fused->y + pixel : nullptr, p, dM + tile, DT, work);
    if (f && f->learned()) fused->slope_sums[d] += s;  // the planes of channel d in image order
  });
}

}  // namespace delve
