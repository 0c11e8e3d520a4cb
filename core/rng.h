// The one random number generator of delve: xoshiro256** seeded through splitmix64.
// Every random draw (initialisation, shuffling, augmentation, dropout) goes through an Rng whose
// state can be saved into a checkpoint and restored, so a resumed run repeats bit for bit.
// No rand(), no std::random_device, no distributions whose output differs between libraries.
#pragma once
#include <array>
#include <cstdint>
#include <string>

namespace delve {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { seed_with(seed); }
  void seed_with(uint64_t seed);

  uint64_t next_u64();
  uint32_t next_u32() { return uint32_t(next_u64() >> 32); }
  double uniform();                 // [0, 1) with 53 random bits
  float uniformf() { return float(next_u64() >> 40) * (1.0f / 16777216.0f); }  // [0, 1), 24 bits
  uint64_t below(uint64_t n);       // uniform integer in [0, n), unbiased (Lemire)
  double normal();                  // N(0, 1), Box-Muller; both values used in turn

  // A child generator for an independent stream (e.g. one per data worker), derived from this one.
  Rng split();

  // State as text ("xoshiro256ss:<hex>x4[:<spare>]"), for checkpoints; restore() validates it.
  std::string save() const;
  void restore(const std::string& state);

  bool operator==(const Rng&) const = default;

 private:
  std::array<uint64_t, 4> s_{};
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace delve
