// The training images a run draws from: all of them, or a class-balanced subset fixed for the run.
//
// n = 0: every index, in order. Otherwise class k gets a quota of n/K images, the first n mod K
// classes one more; the indices are walked in the order of a shuffle drawn from
// Rng(seed_mix(seed, kSubsetChoice)) and each image is taken while its class is under quota.
// The subset depends only on (data set, n, seed): the same run always trains on the same images.
#pragma once
#include <cstdint>
#include <vector>

#include "data/dataset.h"

namespace delve {

// Ascending indices into train. DataError when n < 0, n > train.size(), or a class has fewer
// images than its quota.
std::vector<uint32_t> training_subset(const Dataset& train, int n, uint64_t seed);

}  // namespace delve
