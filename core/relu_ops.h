// The ReLU's elementwise formulas on flat runs of floats, shared by the ReLU layer and by the
// layers that fuse a following ReLU into their own passes (Layer::fuses_relu, layers/net.cpp).
#pragma once
#include <cstddef>

namespace delve {

// z[i] = max(0, y[i]): He et al. Eq. 1 with a = 0.
inline void relu(const float* __restrict y, size_t n, float* __restrict z) {
  for (size_t i = 0; i < n; ++i) z[i] = y[i] > 0.f ? y[i] : 0.f;
}

// dy[i] = dz[i] · f'(y[i]), f' being 1 for y > 0 and 0 otherwise (Eq. 11-14 with a = 0).
inline void relu_grad(const float* __restrict dz, const float* __restrict y, size_t n, float* __restrict dy) {
  for (size_t i = 0; i < n; ++i) dy[i] = y[i] > 0.f ? dz[i] : 0.f;
}

}  // namespace delve
