// What every command that touches a model needs: the data, its normalisation, and the Net built
// and initialised from a config. One place, so run, probe, eval and bench agree.
#pragma once
#include <memory>

#include "data/batcher.h"
#include "data/load.h"
#include "data/normalizer.h"
#include "experiments/run/config.h"
#include "layers/net.h"

namespace delve {

struct Session {
  RunConfig config;
  DataSplits data;
  std::unique_ptr<Normalizer> normalizer;
  Net net;
  Shape input;  // per batch: {batch, C, pad_to, pad_to}
};

// Loads the data, fits the normaliser on the training split, builds and initialises the net.
std::unique_ptr<Session> open_session(const RunConfig& config);

// Keeps the first n images of a split and drops the rest (n = 0: all).
void keep_first_images(Dataset& split, size_t n);

// Derives an independent seed for one purpose ("init", "dropout", ...) from the run's seed.
uint64_t derive_seed(uint64_t seed, uint64_t purpose);

}  // namespace delve
