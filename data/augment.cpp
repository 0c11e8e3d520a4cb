#include "data/augment.h"

#include <algorithm>
#include <cstring>

namespace delve {

Augmentation draw_augmentation(Rng& rng, int crop_pad, bool flip) {
  Augmentation a;
  if (crop_pad > 0) {
    a.dy = int(rng.below(uint64_t(2 * crop_pad + 1)));
    a.dx = int(rng.below(uint64_t(2 * crop_pad + 1)));
  }
  if (flip) a.flip = (rng.next_u64() >> 63) != 0;
  return a;
}

void write_augmented(const float* canvas, int channels, int size, int crop_pad, const Augmentation& a, float* out,
                     size_t channel_stride) {
  const int P = size;
  const int sy = a.dy - crop_pad, sx = a.dx - crop_pad;  // canvas shift: out(y, ·) reads canvas row y + sy
  // Output columns that read inside the canvas: x + sx ∈ [0, P) without flip, P−1−x + sx ∈ [0, P) with it.
  const int x_begin = a.flip ? std::max(0, sx) : std::max(0, -sx);
  const int x_end = a.flip ? std::min(P, P + sx) : std::min(P, P - sx);
  for (int c = 0; c < channels; ++c) {
    const float* plane = canvas + size_t(c) * P * P;
    float* dst_plane = out + size_t(c) * channel_stride;
    for (int y = 0; y < P; ++y) {
      float* __restrict dst = dst_plane + size_t(y) * P;
      const int cy = y + sy;
      if (cy < 0 || cy >= P || x_begin >= x_end) {
        std::fill(dst, dst + P, 0.f);
        continue;
      }
      const float* __restrict src = plane + size_t(cy) * P;
      std::fill(dst, dst + x_begin, 0.f);
      std::fill(dst + x_end, dst + P, 0.f);
      if (a.flip) {
        for (int x = x_begin; x < x_end; ++x) dst[x] = src[P - 1 - x + sx];
      } else {
        std::memcpy(dst + x_begin, src + x_begin + sx, size_t(x_end - x_begin) * sizeof(float));
      }
    }
  }
}

}  // namespace delve
