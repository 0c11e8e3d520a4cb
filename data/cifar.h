// CIFAR-10 and CIFAR-100 in their binary versions (www.cs.toronto.edu/~kriz/cifar.html).
//
// CIFAR-10: data_batch_1.bin … data_batch_5.bin (train, in that order) and test_batch.bin; each
// record is 1 label byte + 3072 pixel bytes (1024 red, 1024 green, 1024 blue, rows top to bottom:
// already C×H×W). Class names come from batches.meta.txt when present, else the standard ten.
// CIFAR-100: train.bin and test.bin; each record is coarse label, fine label, 3072 pixel bytes.
// Names from coarse_label_names.txt / fine_label_names.txt when present, else the standard lists.
// `dir` may be the directory holding the files or its parent (holding cifar-10-batches-bin or
// cifar-100-binary, the names of the extracted archives). Files may be gzipped (by content).
#pragma once
#include <string>

#include "data/dataset.h"

namespace delve {

DataSplits load_cifar10(const std::string& dir);
// labels: "fine" (100 classes) or "coarse" (20 superclasses).
DataSplits load_cifar100(const std::string& dir, const std::string& labels);

}  // namespace delve
