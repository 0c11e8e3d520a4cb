// A labelled image data set held in memory as raw bytes, exactly as the files stored it.
//
// Layout: IMAGE-MAJOR, N × C × H × W uint8 (0..255): image i is one contiguous C·H·W block, and
// within it each channel is a contiguous H·W plane (the layout of CIFAR's records). Batches for
// the network are channel-major floats; data/batcher.h converts. Keeping bytes keeps 70,000
// Fashion-MNIST images in 55 MB instead of 220 MB, and leaves normalisation to one place.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace delve {

struct Dataset {
  std::string name;   // "fashion-mnist", "cifar10", ... for messages and logs
  std::string split;  // "train" or "test"
  int c = 1, h = 0, w = 0;
  std::vector<uint8_t> images;  // N × C×H×W
  std::vector<int32_t> labels;  // N, each in [0, classes())
  std::vector<std::string> class_names;

  size_t size() const { return labels.size(); }
  size_t image_bytes() const { return size_t(c) * h * w; }
  const uint8_t* image(size_t i) const { return images.data() + i * image_bytes(); }
  int classes() const { return int(class_names.size()); }

  // Throws DataError unless the sizes agree and every label names a class; `origin` (a file or
  // directory) leads the message.
  void validate(const std::string& origin) const;
};

// Throws DataError("<file>: label L of image I is outside 0..K-1") unless 0 <= label < classes.
// Loaders call it as they read, so the message can name the file the bad byte came from.
void check_label(int label, int classes, size_t image_index, const std::string& file);

// The two splits every loader returns; test has the train split's geometry and classes.
struct DataSplits {
  Dataset train, test;
};

}  // namespace delve
