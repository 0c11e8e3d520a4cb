// Random crop and mirror of training images: the CIFAR recipe (pad 4, crop 32, flip) of
// He et al. 2016, "Deep Residual Learning", §4.2.
//
// Geometry (P = canvas side, k = crop_pad): the normalised P×P canvas is padded by k on every side
// with ZEROS OF THE NORMALISED SCALE (0 is the training mean under mean_image and channel
// normalisation, so the shifted-in border carries no signal, as in Caffe-era pipelines that
// padded the mean-subtracted image), then the P×P window at (dy, dx) ∈ [0, 2k]² is cut out and,
// when flip, mirrored left-right:
//   out(c, y, x) = padded(c, y + dy, (flip ? P−1−x : x) + dx),   padded(c, Y, X) = canvas(c, Y−k, X−k)
// (dy, dx) = (k, k) without flip is the identity.
#pragma once
#include <cstddef>

#include "core/rng.h"

namespace delve {

struct Augmentation {
  int dy = 0, dx = 0;  // window offset in the padded canvas, each in [0, 2·crop_pad]
  bool flip = false;
  bool operator==(const Augmentation&) const = default;
};

// Draws, in this order: dy then dx (each Rng::below(2k+1), only when crop_pad > 0), then flip
// (the top bit of next_u64(), only when flip is enabled). Without either: the identity.
Augmentation draw_augmentation(Rng& rng, int crop_pad, bool flip);

// The identity for a given crop_pad.
inline Augmentation no_augmentation(int crop_pad) { return {crop_pad, crop_pad, false}; }

// Writes the augmented C×P×P canvas into one image slot of a channel-major batch: plane c goes
// to out + c·channel_stride (channel_stride = N·P·P for a batch of N).
void write_augmented(const float* canvas, int channels, int size, int crop_pad, const Augmentation& a, float* out,
                     size_t channel_stride);

}  // namespace delve
