// A seeded, CIFAR-sized (32×32) synthetic data set for tests and smoke runs without downloads.
//
// Image i of class k = i mod K shows a Gabor-like patch: a sinusoidal grating whose ORIENTATION
// encodes the class (θ = 180°·k/K, jittered by 7° rms), under a Gaussian window at a random
// position and size, with a random phase and contrast, over a random background brightness,
// plus a weaker distractor patch of random orientation, per-channel random gains (colour carries
// no class information) and pixel noise. A conv net must find oriented edges anywhere in the
// image — learnable, but neighbouring classes overlap, so it is not solved by one pixel or a mean.
// Every image derives from Rng(seed_mix(seed, kSyntheticImage, split, i)) alone: the same spec
// gives the same bytes, and train and test never share a stream.
#pragma once
#include "data/data_spec.h"
#include "data/dataset.h"

namespace delve {

// Uses spec.synthetic_train/test/classes/channels (channels 1 or 3) and spec.seed.
DataSplits make_synthetic(const DataSpec& spec);

}  // namespace delve
