// A convolution in float64 for tests: the exact y, ∂L/∂x, ∂L/∂w, ∂L/∂b of a conv (or of a linear
// layer, a conv whose kernel covers the whole image) with their magnitudes M for the rounding
// bounds of tests/float_bounds.h, for direct summation (im2col, whole batch, naive) and for
// Winograd F(2×2, 3×3), whose transforms give it other magnitudes. Independent of the library:
// plain loops over the definitions, and Lavin & Gray's transform matrices written out.
//
// Shapes: x C × N × H × W (channel-major, as delve's tensors), w [D, C, kh, kw], b [D],
// dy D × N × Ho × Wo; y[d, n, i, j] = b[d] + Σ_{c,p,q} w[d, c, p, q] · x[c, n, i·s − pad + p, j·s − pad + q].
#pragma once
#include <cmath>
#include <cstddef>
#include <vector>

#include "core/tensor.h"
#include "tests/float_bounds.h"

namespace delve::test {

struct ConvCase {
  Shape in;
  int out_c, kh, kw, stride, pad;
  int out_h() const { return (in.h + 2 * pad - kh) / stride + 1; }
  int out_w() const { return (in.w + 2 * pad - kw) / stride + 1; }
  Shape out() const { return Shape{in.n, out_c, out_h(), out_w()}; }
};

constexpr const float* kForwardOnly = nullptr;  // for dy: no backward

struct ConvReference {
  Reference y, dx, dw, db;
};

// Exact values and direct-summation magnitudes (b may be null: no bias; dy may be null: forward
// only). X, P, G: float for values delve holds, double for magnitudes propagated through a net.
template <class X, class P, class G = float>
ConvReference direct_conv_reference(const ConvCase& g, const X* x, const P* w, const P* b, const G* dy) {
  const Shape in = g.in, out = g.out();
  ConvReference r{Reference(out.count()), Reference(in.count()), Reference(size_t(g.out_c) * in.c * g.kh * g.kw),
                  Reference(size_t(g.out_c))};
  auto xi = [&](int c, int n, int h, int v) { return ((size_t(c) * in.n + n) * in.h + h) * in.w + v; };
  auto yi = [&](int d, int n, int h, int v) { return ((size_t(d) * out.n + n) * out.h + h) * out.w + v; };
  auto wi = [&](int d, int c, int p, int q) { return ((size_t(d) * in.c + c) * g.kh + p) * g.kw + q; };
  for (int d = 0; d < g.out_c; ++d)
    for (int n = 0; n < in.n; ++n)
      for (int i = 0; i < out.h; ++i)
        for (int j = 0; j < out.w; ++j) {
          const size_t o = yi(d, n, i, j);
          r.y.exact[o] = b ? b[d] : 0.0;
          r.y.magnitude[o] = b ? std::abs(b[d]) : 0.0;
          const double dyo = dy ? dy[o] : 0.0;
          if (b) r.db.exact[d] += dyo, r.db.magnitude[d] += std::abs(dyo);
          for (int c = 0; c < in.c; ++c)
            for (int p = 0; p < g.kh; ++p)
              for (int q = 0; q < g.kw; ++q) {
                const int h = i * g.stride - g.pad + p, v = j * g.stride - g.pad + q;
                if (h < 0 || h >= in.h || v < 0 || v >= in.w) continue;
                const double xv = x[xi(c, n, h, v)], wv = w[wi(d, c, p, q)];
                r.y.exact[o] += wv * xv;
                r.y.magnitude[o] += std::abs(wv * xv);
                r.dx.exact[xi(c, n, h, v)] += wv * dyo;
                r.dx.magnitude[xi(c, n, h, v)] += std::abs(wv * dyo);
                r.dw.exact[wi(d, c, p, q)] += dyo * xv;
                r.dw.magnitude[wi(d, c, p, q)] += std::abs(dyo * xv);
              }
        }
  return r;
}

// Roundings on any path of direct summation, in every schedule: y sums K = C·kh·kw products and
// the bias; dx sums D·kh·kw products (the GEMM over D, then col2im over the taps); dw and db sum
// one product per output position, N·Ho·Wo (per-chunk GEMMs, then per-worker and cross-worker
// partial sums: still one summation tree over those terms).
struct ConvDepths {
  double y, dx, dw, db;
};
inline ConvDepths direct_conv_depths(const ConvCase& g) {
  const double P = double(g.in.n) * g.out_h() * g.out_w();
  return {double(g.in.c) * g.kh * g.kw + 1, double(g.out_c) * g.kh * g.kw, P, P};
}

// Winograd F(2×2, 3×3) (3×3, stride 1, pad 1), counted on core/winograd.cpp's operations:
//   y: U = G g Gᵀ (2 additions per pass, 2 passes: 4), V = Bᵀ d B (1 per pass: 2), the product
//      and the sum over C channels (C), Y = Aᵀ M A (2 per pass: 4), the bias (1): C + 11;
//   dx: dM = A dY Aᵀ (1 per pass: 2), U (4), the product and the sum over D (D), dd = B dV Bᵀ
//      (2 per pass) plus the overlap of neighbouring tiles (1 per pass): 6; in all D + 12;
//   dw: dM (2), V (2), the product and the sum over all T tiles (T), Gᵀ dU G (2 per pass) and the
//      += into dw (1): T + 9;
//   db: the four pixels of each tile (2) and the sum over the tiles: ≤ 4·T leaves, depth 4·T.
inline ConvDepths winograd_depths(const ConvCase& g) {
  const double T = double(g.in.n) * ((g.in.h + 1) / 2) * ((g.in.w + 1) / 2);
  return {double(g.in.c) + 11, double(g.out_c) + 12, T + 9, 4 * T};
}

// |Bᵀ|, |G|, |Aᵀ| of Lavin & Gray's F(2×2, 3×3): Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
// G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1], Aᵀ = [1 1 1 0; 0 1 -1 -1].
constexpr double kAbsBT[4][4] = {{1, 0, 1, 0}, {0, 1, 1, 0}, {0, 1, 1, 0}, {0, 1, 0, 1}};
constexpr double kAbsG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}, {0, 0, 1}};
constexpr double kAbsAT[2][4] = {{1, 1, 1, 0}, {0, 1, 1, 1}};

// The transformed operands' magnitudes for one conv: |U| = |G| |g| |G|ᵀ per (d, c), |V| = |Bᵀ| |d| |B|
// per (c, tile), |dM| = |A| |dY| |Aᵀ| per (d, tile), and |db| = Σ|dy|; tile t = (n, ty, tx).
struct WinogradTerms {
  Shape in, out;
  int C, D, TH, TW;
  size_t T;
  std::vector<double> U, V, dM, db;
  void tile(size_t t, int& n, int& ty, int& tx) const {
    n = int(t / (size_t(TH) * TW));
    ty = int(t / TW % TH);
    tx = int(t % TW);
  }
  template <class X, class P, class G>
  WinogradTerms(const ConvCase& g, const X* x, const P* w, const G* dy)
      : in(g.in), out(g.out()), C(g.in.c), D(g.out_c), TH((g.in.h + 1) / 2), TW((g.in.w + 1) / 2),
        T(size_t(g.in.n) * TH * TW), U(size_t(D) * C * 16), V(size_t(C) * T * 16), dM(size_t(D) * T * 16),
        db(size_t(D)) {
    auto tile = [&](size_t t, int& n, int& ty, int& tx) { this->tile(t, n, ty, tx); };
    for (size_t k = 0; k < size_t(D) * C; ++k)  // |U| = |G| |g| |G|ᵀ
      for (int u = 0; u < 4; ++u)
        for (int v = 0; v < 4; ++v)
          for (int p = 0; p < 3; ++p)
            for (int q = 0; q < 3; ++q) U[k * 16 + 4 * u + v] += kAbsG[u][p] * std::abs(w[k * 9 + 3 * p + q]) * kAbsG[v][q];
    for (int c = 0; c < C; ++c)  // |V| = |Bᵀ| |d| |B|, d the tile's 4×4 patch (zero outside)
      for (size_t t = 0; t < T; ++t) {
        int n, ty, tx;
        tile(t, n, ty, tx);
        for (int rr = 0; rr < 4; ++rr)
          for (int s = 0; s < 4; ++s) {
            const int h = 2 * ty - 1 + rr, v = 2 * tx - 1 + s;
            if (h < 0 || h >= in.h || v < 0 || v >= in.w) continue;
            const double d = std::abs(x[((size_t(c) * in.n + n) * in.h + h) * in.w + v]);
            for (int u = 0; u < 4; ++u)
              for (int e = 0; e < 4; ++e) V[(size_t(c) * T + t) * 16 + 4 * u + e] += kAbsBT[u][rr] * d * kAbsBT[e][s];
          }
      }
    for (int d = 0; d < D; ++d)  // |dM| = |A| |dY| |Aᵀ|, and db
      for (size_t t = 0; t < T && dy; ++t) {
        int n, ty, tx;
        tile(t, n, ty, tx);
        for (int i = 0; i < 2; ++i)
          for (int j = 0; j < 2; ++j) {
            const int h = 2 * ty + i, v = 2 * tx + j;
            if (h >= out.h || v >= out.w) continue;
            const double e = std::abs(dy[((size_t(d) * out.n + n) * out.h + h) * out.w + v]);
            db[d] += e;
            for (int u = 0; u < 4; ++u)
              for (int q = 0; q < 4; ++q) dM[(size_t(d) * T + t) * 16 + 4 * u + q] += kAbsAT[i][u] * e * kAbsAT[j][q];
          }
      }
  }
};

// out[e] = Σ_{k<K} a[k·sa + e] · b[k·sb + e] at the 16 points e of the transform domain.
inline void sum_products16(const double* a, size_t sa, const double* b, size_t sb, size_t K, double* out) {
  for (size_t k = 0; k < K; ++k)
    for (int e = 0; e < 16; ++e) out[e] += a[k * sa + e] * b[k * sb + e];
}

// |y| = |Aᵀ| (Σ_c |U| |V|) |A| + |b| for every output pixel.
template <class P>
void winograd_y_magnitude(const WinogradTerms& m, const P* b, Reference& y) {
  const Shape& out = m.out;
  const int C = m.C, D = m.D;
  const size_t T = m.T;
  const std::vector<double>&U = m.U, &V = m.V;
  for (int d = 0; d < D; ++d)
    for (size_t t = 0; t < T; ++t) {
      int n, ty, tx;
      m.tile(t, n, ty, tx);
      double M[16] = {};
      sum_products16(&U[size_t(d) * C * 16], 16, &V[t * 16], T * 16, size_t(C), M);
      for (int i = 0; i < 2; ++i)  // |y| = |Aᵀ| |M| |A| + |b|
        for (int j = 0; j < 2; ++j) {
          const int h = 2 * ty + i, v = 2 * tx + j;
          if (h >= out.h || v >= out.w) continue;
          double s = b ? std::abs(b[d]) : 0.0;
          for (int u = 0; u < 4; ++u)
            for (int q = 0; q < 4; ++q) s += kAbsAT[i][u] * M[4 * u + q] * kAbsAT[j][q];
          y.magnitude[((size_t(d) * out.n + n) * out.h + h) * out.w + v] = s;
        }
    }
}

// |dV| = Σ_d |U| |dM|, |dd| = |B| |dV| |Bᵀ| summed over overlapping tiles.
inline void winograd_dx_magnitude(const WinogradTerms& m, Reference& dx) {
  const Shape& in = m.in;
  const int C = m.C, D = m.D;
  const size_t T = m.T;
  const std::vector<double>&U = m.U, &dM = m.dM;
  for (int c = 0; c < C; ++c)
    for (size_t t = 0; t < T; ++t) {
      int n, ty, tx;
      m.tile(t, n, ty, tx);
      double dV[16] = {};
      sum_products16(&U[size_t(c) * 16], size_t(C) * 16, &dM[t * 16], T * 16, size_t(D), dV);
      for (int rr = 0; rr < 4; ++rr)
        for (int s = 0; s < 4; ++s) {
          const int h = 2 * ty - 1 + rr, v = 2 * tx - 1 + s;
          if (h < 0 || h >= in.h || v < 0 || v >= in.w) continue;
          double acc = 0.0;
          for (int u = 0; u < 4; ++u)
            for (int e = 0; e < 4; ++e) acc += kAbsBT[u][rr] * dV[4 * u + e] * kAbsBT[e][s];
          dx.magnitude[((size_t(c) * in.n + n) * in.h + h) * in.w + v] += acc;
        }
    }
}

// |dU| = Σ_t |dM| |V|, |dg| = |G|ᵀ |dU| |G|.
inline void winograd_dw_magnitude(const WinogradTerms& m, Reference& dw) {
  const int C = m.C, D = m.D;
  const size_t T = m.T;
  const std::vector<double>&V = m.V, &dM = m.dM;
  for (int d = 0; d < D; ++d)
    for (int c = 0; c < C; ++c) {
      double dU[16] = {};
      sum_products16(&dM[size_t(d) * T * 16], 16, &V[size_t(c) * T * 16], 16, T, dU);
      for (int p = 0; p < 3; ++p)
        for (int q = 0; q < 3; ++q) {
          double s = 0.0;
          for (int u = 0; u < 4; ++u)
            for (int v = 0; v < 4; ++v) s += kAbsG[u][p] * dU[4 * u + v] * kAbsG[v][q];
          dw.magnitude[(size_t(d) * C + c) * 9 + 3 * p + q] = s;
        }
    }
}

// The Winograd magnitudes M of y, dx, dw, db: the algorithm run on |x|, |w|, |b|, |dy| with the
// transforms' |coefficients| (the exact values are direct_conv_reference's: the same function).
template <class X, class P, class G = float>
ConvReference winograd_magnitudes(const ConvCase& g, const X* x, const P* w, const P* b, const G* dy) {
  const WinogradTerms m(g, x, w, dy);
  ConvReference r{Reference(m.out.count()), Reference(m.in.count()), Reference(size_t(m.D) * m.C * 9),
                  Reference(size_t(m.D))};
  winograd_y_magnitude(m, b, r.y);
  if (!dy) return r;
  r.db.magnitude = m.db;
  winograd_dx_magnitude(m, r.dx);
  winograd_dw_magnitude(m, r.dw);
  return r;
}

// The reference for one schedule: exact values, and the magnitudes and depths of its algorithm.
struct ConvBounds {
  ConvReference ref;
  ConvDepths depth;
};
template <class X, class P, class G = float>
ConvBounds conv_bounds(const ConvCase& g, bool winograd, const X* x, const P* w, const P* b, const G* dy) {
  ConvBounds cb{direct_conv_reference(g, x, w, b, dy), direct_conv_depths(g)};
  if (!winograd) return cb;
  ConvReference m = winograd_magnitudes(g, x, w, b, dy);
  cb.ref.y.magnitude = m.y.magnitude;
  cb.ref.dx.magnitude = m.dx.magnitude;
  cb.ref.dw.magnitude = m.dw.magnitude;
  cb.ref.db.magnitude = m.db.magnitude;
  cb.depth = winograd_depths(g);
  return cb;
}

}  // namespace delve::test
