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

// With a communicator of several ranks, rank r evaluates batches r, r+P, r+2P, ... and the sums
// are combined: every rank gets the result over the whole split.
EvalResult evaluate(Net& net, Batcher& batches, class Communicator* comm = nullptr);

}  // namespace delve
