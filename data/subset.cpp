#include "data/subset.h"

#include <algorithm>

#include "core/error.h"
#include "core/rng.h"
#include "data/seed_mix.h"

namespace delve {

std::vector<uint32_t> training_subset(const Dataset& train, int n, uint64_t seed) {
  const size_t size = train.size();
  if (n < 0 || size_t(n) > size)
    throw DataError("data.train_subset " + std::to_string(n) + " is outside 0.." + std::to_string(size) +
                    " (the size of the " + train.name + " training split)");
  std::vector<uint32_t> order(size);
  for (size_t i = 0; i < size; ++i) order[i] = uint32_t(i);
  if (n == 0) return order;

  Rng rng(seed_mix(seed, kSubsetChoice));
  for (size_t i = size; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);

  const int classes = train.classes();
  std::vector<int> wanted(classes);
  for (int k = 0; k < classes; ++k) wanted[k] = n / classes + (k < n % classes ? 1 : 0);
  std::vector<int> quota = wanted;
  std::vector<uint32_t> chosen;
  chosen.reserve(size_t(n));
  for (uint32_t i : order)
    if (quota[train.labels[i]] > 0) {
      --quota[train.labels[i]];
      chosen.push_back(i);
    }
  for (int k = 0; k < classes; ++k)
    if (quota[k] > 0)
      throw DataError("data.train_subset " + std::to_string(n) + " needs " + std::to_string(wanted[k]) +
                      " images of class \"" + train.class_names[k] + "\" but the " + train.name +
                      " training split has only " + std::to_string(wanted[k] - quota[k]));
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace delve
