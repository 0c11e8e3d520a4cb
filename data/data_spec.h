// What data to load and how to batch it: a plain struct, filled from the "data" object of a
// config (experiments/), with defaults that reproduce the Fashion-MNIST setup out of the box.
#pragma once
#include <cstdint>
#include <string>

namespace delve {

struct DataSpec {
  // Where the images come from: fashion-mnist | mnist | cifar10 | cifar100 | folder | synthetic.
  std::string source = "fashion-mnist";
  // Directory of the files. Empty = the source's default: Debian's dataset-fashion-mnist
  // directory for fashion-mnist; mnist, cifar10, cifar100 and folder have none (DataError).
  std::string path;
  // CIFAR-100 only: "fine" (100 classes) or "coarse" (20 superclasses).
  std::string cifar100_labels = "fine";

  // Image folders (root/<class>/*.png|jpg|jpeg|bmp, see data/image_folder.h).
  int image_size = 32;                 // every image becomes image_size × image_size
  std::string folder_fit = "resize";   // "resize" (stretch) or "center_crop" (largest centred square, then resize)
  double holdout = 0.1;                // test fraction per class when root has no train/ and test/ subfolders

  // The synthetic set (data/synthetic.h).
  int synthetic_train = 2000, synthetic_test = 500, synthetic_classes = 10, synthetic_channels = 3;

  // The data seed: training subset, per-epoch shuffles, augmentation, folder hold-out, synthetic
  // images. Independent of the model's seed so that data and initialisation can vary separately.
  uint64_t seed = 1;

  // Batching (data/batcher.h).
  int train_subset = 0;  // 0 = every training image; N = a class-balanced N (data/subset.h)
  int pad_to = 32;       // zero-pad (centred) up to pad_to × pad_to; larger images are an error
  int crop_pad = 0;      // train only: pad by crop_pad, then crop pad_to × pad_to at a random offset
  bool flip = false;     // train only: mirror left-right with probability 1/2
  // "mean_image": (x − per-pixel training mean) / 255, the paper's choice;
  // "channel":    (x − channel mean) / channel std, statistics over the training images;
  // "none":       x / 255. x is the raw 0..255 byte; see data/normalizer.h.
  std::string normalize = "mean_image";
  int prefetch = 1;  // batches prepared ahead on a background thread; 0 = no thread
};

}  // namespace delve
