// The one entry point that turns a DataSpec into train and test Datasets, dispatching on
// spec.source to the loader of that format (one file each: idx, cifar, image_folder, synthetic).
#pragma once
#include "data/data_spec.h"
#include "data/dataset.h"

namespace delve {

// Throws DataError for an unknown source, a missing path where the source has no default, and
// whatever the loader finds wrong; both splits are validated and agree in geometry and classes.
DataSplits load_data(const DataSpec& spec);

}  // namespace delve
