// Derives independent seeds from the data seed and coordinates (purpose, epoch, batch, ...).
//
// The batcher never carries RNG state from one batch to the next: the shuffle of epoch e is drawn
// from Rng(seed_mix(seed, kEpochShuffle, e)) and the augmentation of batch (e, i) from
// Rng(seed_mix(seed, kAugmentation, e, i)). Any batch can then be recomputed from its cursor
// alone, which is what makes a resumed run repeat an uninterrupted one bit for bit.
#pragma once
#include <cstdint>

namespace delve {

// Purposes, so that e.g. epoch 3's shuffle and image 3 of the synthetic set never share a stream.
enum SeedPurpose : uint64_t {
  kSubsetChoice = 1,
  kEpochShuffle = 2,
  kAugmentation = 3,
  kFolderHoldout = 4,
  kSyntheticImage = 5,
};

// splitmix64's finaliser: a bijection on 64 bits with full avalanche.
constexpr uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Folds the values in order; order matters (seed_mix(s, a, b) != seed_mix(s, b, a)).
template <typename... Rest>
constexpr uint64_t seed_mix(uint64_t seed, Rest... rest) {
  uint64_t h = mix64(seed + 0x9e3779b97f4a7c15ULL);
  ((h = mix64(h ^ (uint64_t(rest) + 0x9e3779b97f4a7c15ULL))), ...);
  return h;
}

}  // namespace delve
