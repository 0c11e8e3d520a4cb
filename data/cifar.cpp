#include "data/cifar.h"

#include <cstring>

#include "core/error.h"
#include "data/byte_reader.h"

namespace delve {

namespace {

constexpr int kSide = 32, kChannels = 3;
constexpr size_t kPixels = size_t(kChannels) * kSide * kSide;  // 3072

const std::vector<std::string> kCifar10Names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                "dog",      "frog",       "horse", "ship", "truck"};

const std::vector<std::string> kCifar100Coarse = {
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
    "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
    "vehicles_1", "vehicles_2"};

const std::vector<std::string> kCifar100Fine = {
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm"};

// The files' own directory: dir itself, or its subdirectory named like the extracted archive.
std::string resolve_dir(const std::string& dir, const std::string& subdir, const std::string& probe_file) {
  if (!file_exists(join_path(dir, probe_file)) && directory_exists(join_path(dir, subdir)))
    return join_path(dir, subdir);
  return dir;
}

std::string require_file(const std::string& dir, const std::string& file, const std::string& what) {
  std::string path = join_path(dir, file);
  if (!file_exists(path))
    throw DataError(path + " not found: set data.path to the directory holding the " + what +
                    " binary files (or its parent)");
  return path;
}

// Class names from a text file, one per line, when the file exists; the fallback otherwise.
std::vector<std::string> class_names_from(const std::string& path, const std::vector<std::string>& fallback) {
  if (!file_exists(path)) return fallback;
  ByteReader in(path);
  std::vector<uint8_t> text = in.read_all();
  std::vector<std::string> names;
  std::string line;
  auto flush = [&] {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
    line.clear();
  };
  for (uint8_t ch : text) {
    if (ch == '\n') flush();
    else line.push_back(char(ch));
  }
  flush();
  if (names.size() != fallback.size())
    throw DataError(path + ": " + std::to_string(names.size()) + " class names, expected " +
                    std::to_string(fallback.size()));
  return names;
}

// Appends the records of one file: `label_bytes` label bytes (the used one at `label_at`), then
// the 3072 pixels.
void append_records(const std::string& path, int label_bytes, int label_at, Dataset& ds) {
  ByteReader in(path);
  std::vector<uint8_t> bytes = in.read_all();
  const size_t record = size_t(label_bytes) + kPixels;
  if (bytes.empty() || bytes.size() % record != 0)
    throw DataError(path + ": size " + std::to_string(bytes.size()) + " bytes is not a positive multiple of the " +
                    std::to_string(record) + "-byte " + ds.name + " record");
  const size_t records = bytes.size() / record, first = ds.size();
  ds.images.resize((first + records) * kPixels);
  ds.labels.resize(first + records);
  for (size_t r = 0; r < records; ++r) {
    const uint8_t* rec = bytes.data() + r * record;
    check_label(rec[label_at], ds.classes(), r, path);
    ds.labels[first + r] = rec[label_at];
    std::memcpy(ds.images.data() + (first + r) * kPixels, rec + label_bytes, kPixels);
  }
}

Dataset empty_split(const std::string& name, const std::string& split, const std::vector<std::string>& names) {
  Dataset ds;
  ds.name = name;
  ds.split = split;
  ds.c = kChannels;
  ds.h = ds.w = kSide;
  ds.class_names = names;
  return ds;
}

}  // namespace

DataSplits load_cifar10(const std::string& dir_in) {
  const std::string dir = resolve_dir(dir_in, "cifar-10-batches-bin", "data_batch_1.bin");
  const auto names = class_names_from(join_path(dir, "batches.meta.txt"), kCifar10Names);
  DataSplits s{empty_split("cifar10", "train", names), empty_split("cifar10", "test", names)};
  for (int b = 1; b <= 5; ++b)
    append_records(require_file(dir, "data_batch_" + std::to_string(b) + ".bin", "CIFAR-10"), 1, 0, s.train);
  append_records(require_file(dir, "test_batch.bin", "CIFAR-10"), 1, 0, s.test);
  return s;
}

DataSplits load_cifar100(const std::string& dir_in, const std::string& labels) {
  if (labels != "fine" && labels != "coarse")
    throw DataError("data.cifar100_labels must be \"fine\" or \"coarse\", not \"" + labels + "\"");
  const bool fine = labels == "fine";
  const std::string dir = resolve_dir(dir_in, "cifar-100-binary", "train.bin");
  const auto names = fine ? class_names_from(join_path(dir, "fine_label_names.txt"), kCifar100Fine)
                          : class_names_from(join_path(dir, "coarse_label_names.txt"), kCifar100Coarse);
  const std::string name = "cifar100-" + labels;
  DataSplits s{empty_split(name, "train", names), empty_split(name, "test", names)};
  append_records(require_file(dir, "train.bin", "CIFAR-100"), 2, fine ? 1 : 0, s.train);
  append_records(require_file(dir, "test.bin", "CIFAR-100"), 2, fine ? 1 : 0, s.test);
  return s;
}

}  // namespace delve
