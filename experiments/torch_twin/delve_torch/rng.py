"""delve's RNG (core/rng.cpp: xoshiro256** seeded through splitmix64) and its seeds
(data/seed_mix.h, experiments/run/session.cpp), so that a seed draws what delve draws."""
import math

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def _mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def seed_mix(seed, *rest):
    h = _mix64((seed + GOLDEN) & MASK64)
    for r in rest:
        h = _mix64(h ^ ((r + GOLDEN) & MASK64))
    return h


class DelveRng:
    def __init__(self, seed):
        x, self.s = seed & MASK64, []
        for _ in range(4):
            x = (x + GOLDEN) & MASK64
            self.s.append(_mix64(x))
        self.spare = None

    def next_u64(self):
        s0, s1, s2, s3 = self.s
        rot = ((s1 * 5) & MASK64)
        result = ((((rot << 7) | (rot >> 57)) & MASK64) * 9) & MASK64
        t = (s1 << 17) & MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 45) | (s3 >> 19)) & MASK64
        self.s = [s0, s1, s2, s3]
        return result

    def uniform(self):
        return (self.next_u64() >> 11) * 2.0 ** -53

    def uniformf(self):  # [0, 1) with 24 bits, as Rng::uniformf
        return (self.next_u64() >> 40) * (1.0 / 16777216.0)

    def below(self, n):  # Lemire's method with rejection, as Rng::below
        if n == 0:
            return 0
        m = self.next_u64() * n
        if (m & MASK64) < n:
            threshold = ((1 << 64) - n) % n
            while (m & MASK64) < threshold:
                m = self.next_u64() * n
        return m >> 64

    def normal(self):  # Box-Muller, both values used in turn
        if self.spare is not None:
            v, self.spare = self.spare, None
            return v
        u1 = self.uniform()
        while u1 <= 0.0:
            u1 = self.uniform()
        u2 = self.uniform()
        r, theta = math.sqrt(-2.0 * math.log(u1)), 2.0 * math.pi * u2
        self.spare = r * math.sin(theta)
        return r * math.cos(theta)


def derive_seed(seed, purpose):  # session.cpp: 1 init, 2 dropout
    return DelveRng(seed ^ ((GOLDEN * (purpose + 1)) & MASK64)).next_u64()


def shuffle_in_place(order, rng):  # the Fisher-Yates of data/subset.cpp and data/batcher.cpp
    for i in range(len(order), 1, -1):
        j = rng.below(i)
        order[i - 1], order[j] = order[j], order[i - 1]
