// The rectifiers' elementwise formulas on flat runs of floats (He et al. Eq. 1-3), shared by the
// ReLU and PReLU layers and by the layers that fuse a following rectifier into their own passes
// (Layer::fuses_activation, layers/net.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace delve {

// z[i] = max(0, y[i]): Eq. 1 with a = 0.
inline void relu(const float* __restrict y, size_t n, float* __restrict z) {
  for (size_t i = 0; i < n; ++i) z[i] = y[i] > 0.f ? y[i] : 0.f;
}

// dy[i] = dz[i] · f'(y[i]), f' being 1 for y > 0 and 0 otherwise (Eq. 11-14 with a = 0).
inline void relu_grad(const float* __restrict dz, const float* __restrict y, size_t n, float* __restrict dy) {
  for (size_t i = 0; i < n; ++i) dy[i] = y[i] > 0.f ? dz[i] : 0.f;
}

// y if its sign bit is set, else +0: min(y, 0) up to the sign of a zero, from the bits alone (a
// float select here would be turned into a branch around the product that uses it).
inline float negative_part(float y) {
  uint32_t b;
  std::memcpy(&b, &y, 4);
  b &= uint32_t(int32_t(b) >> 31);
  float r;
  std::memcpy(&r, &b, 4);
  return r;
}

// z[i] = y[i] if y[i] > 0, else a·y[i]: Eq. 1, written as max(y, 0) + a·min(y, 0), the same value
// (adding a zero is exact). A product under the condition would not vectorise: the compiler may
// not speculate it (it could raise a floating-point flag) and keeps a branch per element.
inline void prelu(const float* __restrict y, size_t n, float a, float* __restrict z) {
  for (size_t i = 0; i < n; ++i) z[i] = (y[i] > 0.f ? y[i] : 0.f) + a * negative_part(y[i]);
}

// dy[i] = dz[i] · f'(y[i]) with f' = 1 for y > 0, else a (dy may be null: only the sum is wanted).
// Returns Σ_i dz[i]·y[i] over y[i] ≤ 0, this run's share of ∂E/∂a (Eq. 2-3). The sum runs in
// double over eight interleaved partial sums (element i into partial i mod 8, added 0..7 at the
// end): an order fixed by the data, and eight independent chains (vector lanes) instead of one
// long one. As in prelu(), the products are unconditional: a term of y > 0 adds dz·0 = ±0, which
// changes no sum.
inline double prelu_grad(const float* __restrict dz, const float* __restrict y, size_t n, float a,
                         float* __restrict dy) {
  double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) part[k] += double(dz[i + k]) * double(negative_part(y[i + k]));
  for (int k = 0; i < n; ++i, ++k) part[k] += double(dz[i]) * double(negative_part(y[i]));
  if (dy)
    for (size_t j = 0; j < n; ++j) dy[j] = dz[j] * (y[j] > 0.f ? 1.f : a);
  double s = 0;
  for (double p : part) s += p;
  return s;
}

// A rectifier fused into the layer that computes its input y (layers/layer.h): ReLU (a = 0), or a
// PReLU's learned slopes, channel-wise (a_c) or channel-shared (one a).
struct Rectifier {
  const float* slopes = nullptr;  // null: ReLU
  bool shared = false;
  bool learned() const { return slopes != nullptr; }
  float slope(int c) const { return slopes ? slopes[shared ? 0 : c] : 0.f; }
};

// z = f(y) for a run of channel c.
inline void rectify(const Rectifier& f, int c, const float* y, size_t n, float* z) {
  if (f.learned())
    prelu(y, n, f.slope(c), z);
  else
    relu(y, n, z);
}

// dy = dz · f'(y) for a run of channel c; returns the run's Σ dz·y over y ≤ 0 (Eq. 2-3) for a
// learned slope (dy may then be null), 0 for ReLU.
inline double rectify_grad(const Rectifier& f, int c, const float* dz, const float* y, size_t n, float* dy) {
  if (f.learned()) return prelu_grad(dz, y, n, f.slope(c), dy);
  relu_grad(dz, y, n, dy);
  return 0.0;
}

// A rectifier fused into the pass that computes y (layers/layer.h): forward writes z = f(y) beside y;
// backward reads dz and the pre-activation y, takes dY = dz · f'(y), and for a learned slope adds
// each channel's Σ dz·y over y ≤ 0 (Eq. 2-3) to slope_sums[d].
struct FusedRectifier {
  Rectifier f;
  float* z = nullptr;           // forward: f(y), y's shape
  bool keep_y = true;           // forward: false leaves y unwritten (only f(y) is wanted)
  const float* y = nullptr;     // backward: the pre-activation
  double* slope_sums = nullptr;  // backward, when f.learned(): [D], added to
};

}  // namespace delve
