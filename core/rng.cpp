#include "core/rng.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace delve {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

void Rng::seed_with(uint64_t seed) {
  uint64_t x = seed;
  for (auto& v : s_) v = splitmix64(x);
  has_spare_ = false;
  spare_ = 0.0;
}

uint64_t Rng::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }

uint64_t Rng::below(uint64_t n) {
  if (n == 0) return 0;
  // Lemire's nearly divisionless method with rejection: exact uniformity.
  unsigned __int128 m = (unsigned __int128)next_u64() * n;
  uint64_t low = uint64_t(m);
  if (low < n) {
    uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = (unsigned __int128)next_u64() * n;
      low = uint64_t(m);
    }
  }
  return uint64_t(m >> 64);
}

double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1;
  do u1 = uniform(); while (u1 <= 0.0);
  double u2 = uniform();
  double r = std::sqrt(-2.0 * std::log(u1));
  double theta = 2.0 * M_PI * u2;
  spare_ = r * std::sin(theta);
  has_spare_ = true;
  return r * std::cos(theta);
}

Rng Rng::split() {
  Rng child(0);
  uint64_t x = next_u64();
  for (auto& v : child.s_) v = splitmix64(x);
  return child;
}

std::string Rng::save() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "xoshiro256ss:%016llx%016llx%016llx%016llx", (unsigned long long)s_[0],
                (unsigned long long)s_[1], (unsigned long long)s_[2], (unsigned long long)s_[3]);
  std::string out = buf;
  if (has_spare_) {
    uint64_t bits;
    std::memcpy(&bits, &spare_, sizeof bits);
    std::snprintf(buf, sizeof buf, ":%016llx", (unsigned long long)bits);
    out += buf;
  }
  return out;
}

void Rng::restore(const std::string& state) {
  const std::string prefix = "xoshiro256ss:";
  auto bad = [&] { return CheckpointError("bad RNG state '" + state.substr(0, 80) + "'"); };
  if (state.rfind(prefix, 0) != 0) throw bad();
  std::string hex = state.substr(prefix.size());
  if (hex.size() != 64 && hex.size() != 64 + 17) throw bad();
  auto parse = [&](const std::string& h) {
    uint64_t v = 0;
    for (char ch : h) {
      int d = (ch >= '0' && ch <= '9') ? ch - '0' : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : -1;
      if (d < 0) throw bad();
      v = (v << 4) | uint64_t(d);
    }
    return v;
  };
  std::array<uint64_t, 4> s;
  for (int i = 0; i < 4; ++i) s[i] = parse(hex.substr(16 * i, 16));
  if (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0) throw bad();
  bool spare = hex.size() > 64;
  double spare_value = 0.0;
  if (spare) {
    if (hex[64] != ':') throw bad();
    uint64_t bits = parse(hex.substr(65));
    std::memcpy(&spare_value, &bits, sizeof bits);
  }
  s_ = s;
  has_spare_ = spare;
  spare_ = spare_value;
}

}  // namespace delve
