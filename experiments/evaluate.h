// Loss and error of a net over a whole data split, in evaluation mode (no dropout, no augmentation).
#pragma once
#include <cstddef>

#include "data/batcher.h"
#include "layers/net.h"

namespace delve {

struct EvalResult {
  double loss = 0, error = 0;
  size_t images = 0;
};

EvalResult evaluate(Net& net, Batcher& batches);

}  // namespace delve
