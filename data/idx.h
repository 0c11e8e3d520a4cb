// MNIST and Fashion-MNIST in LeCun's IDX format, plain or gzipped (detected by content).
//
// Files in dir: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
// t10k-labels-idx1-ubyte, each optionally with a .gz suffix. An IDX file is a big-endian header
// (magic 0x00000803 for 3-d unsigned-byte images, 0x00000801 for 1-d labels, then one uint32 per
// dimension) followed by the bytes row-major. Files must hold exactly what the header declares.
#pragma once
#include <string>

#include "data/dataset.h"

namespace delve {

// Debian's dataset-fashion-mnist package installs the files here.
inline constexpr const char* kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";

DataSplits load_fashion_mnist(const std::string& dir);
DataSplits load_mnist(const std::string& dir);

// One split from one images file and one labels file; `name` and `split` label the Dataset.
Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path,
                      const std::vector<std::string>& class_names, const std::string& name,
                      const std::string& split);

}  // namespace delve
