// Measures the data pipeline alone: loading both splits, fitting the normaliser, and the batcher
// with augmentation (crop_pad 4, flip) with and without prefetch. Backs `delve bench-data`.
#pragma once
#include <ostream>

#include "data/data_spec.h"

namespace delve {

// Prints one line per measurement to out; returns 0 (an exit code). DataError from loading.
int run_data_benchmark(const DataSpec& spec, int batch, int batches, std::ostream& out);

}  // namespace delve
