// The one entry point that turns a DataSpec into train and test Datasets, dispatching on
// spec.source to the loader of that format (one file each: idx, cifar, image_folder, synthetic).
#pragma once
#include "data/data_spec.h"
#include "data/dataset.h"

namespace delve {

// Throws DataError for an unknown source, a missing path where the source has no default, and
// whatever the loader finds wrong; both splits are validated and agree in geometry and classes.
DataSplits load_data(const DataSpec& spec);

// The directory load_data reads for `spec`: data.path, or the source's default location when it
// has one (Fashion-MNIST); "" for the synthetic set, which reads nothing. Recorded in a run's
// config.json so that the run says where its images came from.
std::string data_location(const DataSpec& spec);

}  // namespace delve
