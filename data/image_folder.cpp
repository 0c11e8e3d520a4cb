#include "data/image_folder.h"

#include <stb_image.h>
#include <stb_image_resize.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/error.h"
#include "core/rng.h"
#include "data/byte_reader.h"
#include "data/seed_mix.h"

namespace delve {

namespace fs = std::filesystem;

namespace {

struct ImageFile {
  std::string path;
  int label;
};

bool is_image_name(const std::string& name) {
  std::string ext = fs::path(name).extension().string();
  for (char& ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

// Sorted names of the entries of dir that satisfy keep(path); hidden entries are skipped.
template <typename Keep>
std::vector<std::string> sorted_entries(const std::string& dir, Keep keep) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.empty() && name[0] != '.' && keep(entry)) names.push_back(name);
  }
  if (ec) throw DataError(dir + ": cannot list (" + ec.message() + ")");
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> class_folders(const std::string& dir) {
  auto names = sorted_entries(dir, [](const fs::directory_entry& e) { return e.is_directory(); });
  if (names.empty()) throw DataError(dir + ": no class folders (expected " + dir + "/<class>/<image files>)");
  return names;
}

std::vector<std::string> image_files(const std::string& class_dir) {
  auto names = sorted_entries(class_dir, [](const fs::directory_entry& e) {
    return e.is_regular_file() && is_image_name(e.path().filename().string());
  });
  if (names.empty()) throw DataError(class_dir + ": empty class folder (no .png .jpg .jpeg .bmp files)");
  for (auto& n : names) n = join_path(class_dir, n);
  return names;
}

// The files of one split given as root/<class>/…; classes must be among `classes`.
std::vector<ImageFile> list_split(const std::string& dir, const std::vector<std::string>& classes) {
  std::vector<ImageFile> files;
  for (const std::string& name : class_folders(dir)) {
    auto it = std::find(classes.begin(), classes.end(), name);
    if (it == classes.end())
      throw DataError(join_path(dir, name) + ": class \"" + name + "\" has no training folder");
    for (std::string& path : image_files(join_path(dir, name)))
      files.push_back({std::move(path), int(it - classes.begin())});
  }
  return files;
}

// Splits each class's files: round(holdout·n) (at most n−1) chosen by the seed go to test; both
// parts keep file-name order.
void hold_out(const std::string& root, const std::vector<std::string>& classes, double holdout, uint64_t seed,
              std::vector<ImageFile>& train, std::vector<ImageFile>& test) {
  for (size_t k = 0; k < classes.size(); ++k) {
    std::vector<std::string> files = image_files(join_path(root, classes[k]));
    const size_t n = files.size();
    const size_t held = std::min(n - 1, size_t(std::floor(holdout * double(n) + 0.5)));
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    Rng rng(seed_mix(seed, kFolderHoldout, k));
    for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    std::vector<bool> is_test(n, false);
    for (size_t i = 0; i < held; ++i) is_test[order[i]] = true;
    for (size_t i = 0; i < n; ++i) (is_test[i] ? test : train).push_back({files[i], int(k)});
  }
}

// stb_image allocates w·h·channels bytes from the header before it reads any pixel data, so a
// corrupt or hostile header could cost gigabytes. No real file packs more than about 8,000 pixels
// into a byte (a 1-bit PNG at deflate's limit), nor does a training image need 2^28 pixels: a
// header that promises more is refused before anything is allocated.
void check_plausible_size(const std::string& path, int w, int h) {
  constexpr uint64_t kMaxPixels = uint64_t(1) << 28, kMaxPixelsPerByte = 16384;
  std::error_code ec;
  const uint64_t bytes = std::filesystem::file_size(path, ec);
  const uint64_t pixels = uint64_t(std::max(w, 0)) * uint64_t(std::max(h, 0));
  if (w < 1 || h < 1)  // stb accepts a PNM header of 0x0; the resizer would then assert
    throw DataError(path + ": the header declares an empty " + std::to_string(w) + "x" + std::to_string(h) + " image");
  if (!ec && pixels <= kMaxPixels && pixels <= bytes * kMaxPixelsPerByte) return;
  throw DataError(path + ": the header declares a " + std::to_string(w) + "x" + std::to_string(h) +
                  " image, implausibly large for a " + std::to_string(bytes) + "-byte file (corrupt?)");
}

// 3 if any file has colour, else 1 (see the header). Also rejects files stb cannot read early.
int common_channels(const std::vector<ImageFile>& a, const std::vector<ImageFile>& b) {
  int channels = 1;
  for (const auto* list : {&a, &b})
    for (const ImageFile& f : *list) {
      int w, h, comp;
      if (!stbi_info(f.path.c_str(), &w, &h, &comp))
        throw DataError(f.path + ": cannot read image (stb_image: " + stbi_failure_reason() + ")");
      check_plausible_size(f.path, w, h);
      if (comp >= 3) channels = 3;
    }
  return channels;
}

struct StbFree {
  void operator()(unsigned char* p) const { stbi_image_free(p); }
};

// Decodes, fits to side × side and appends one image as C×H×W planes. `hwc` is reused scratch.
void append_image(const ImageFile& f, int channels, int side, bool center_crop, std::vector<uint8_t>& hwc,
                  Dataset& ds) {
  int w = 0, h = 0, comp = 0;
  std::unique_ptr<unsigned char, StbFree> pixels(stbi_load(f.path.c_str(), &w, &h, &comp, channels));
  if (!pixels) throw DataError(f.path + ": cannot decode image (stb_image: " + stbi_failure_reason() + ")");
  check_plausible_size(f.path, w, h);  // again: the file may have changed since stbi_info
  int x0 = 0, y0 = 0, cw = w, ch = h;
  if (center_crop) {
    cw = ch = std::min(w, h);
    x0 = (w - cw) / 2;
    y0 = (h - ch) / 2;
  }
  const size_t stride = size_t(w) * channels;
  const unsigned char* region = pixels.get() + size_t(y0) * stride + size_t(x0) * channels;
  hwc.resize(size_t(side) * side * channels);
  if (cw == side && ch == side) {
    for (int y = 0; y < side; ++y)
      std::memcpy(hwc.data() + size_t(y) * side * channels, region + size_t(y) * stride, size_t(side) * channels);
  } else if (!stbir_resize_uint8(region, cw, ch, int(stride), hwc.data(), side, side, 0, channels)) {
    throw DataError(f.path + ": cannot resize " + std::to_string(w) + "x" + std::to_string(h) + " image");
  }
  const size_t plane = size_t(side) * side, first = ds.images.size();
  ds.images.resize(first + plane * channels);
  for (int c = 0; c < channels; ++c)
    for (size_t p = 0; p < plane; ++p) ds.images[first + c * plane + p] = hwc[p * channels + c];
  ds.labels.push_back(f.label);
}

Dataset decode_split(const std::vector<ImageFile>& files, const std::string& split,
                     const std::vector<std::string>& classes, int channels, const DataSpec& spec) {
  Dataset ds;
  ds.name = "folder";
  ds.split = split;
  ds.c = channels;
  ds.h = ds.w = spec.image_size;
  ds.class_names = classes;
  ds.images.reserve(files.size() * ds.image_bytes());
  ds.labels.reserve(files.size());
  std::vector<uint8_t> hwc;
  for (const ImageFile& f : files) append_image(f, channels, spec.image_size, spec.folder_fit == "center_crop", hwc, ds);
  return ds;
}

}  // namespace

DataSplits load_image_folder(const std::string& root, const DataSpec& spec) {
  if (spec.image_size < 1 || spec.image_size > 4096)
    throw DataError("data.image_size must be 1..4096, not " + std::to_string(spec.image_size));
  if (spec.folder_fit != "resize" && spec.folder_fit != "center_crop")
    throw DataError("data.folder_fit must be \"resize\" or \"center_crop\", not \"" + spec.folder_fit + "\"");
  if (!(spec.holdout >= 0.0 && spec.holdout < 1.0))
    throw DataError("data.holdout must be in [0, 1), not " + std::to_string(spec.holdout));
  if (!directory_exists(root)) throw DataError(root + ": image folder root not found (set data.path)");

  const std::string train_dir = join_path(root, "train"), test_dir = join_path(root, "test");
  const bool has_train = directory_exists(train_dir), has_test = directory_exists(test_dir);
  if (has_train != has_test)
    throw DataError(root + ": has " + (has_train ? "train/ but no test/" : "test/ but no train/") +
                    "; give both, or neither to hold out data.holdout of each class");
  std::vector<std::string> classes;
  std::vector<ImageFile> train, test;
  if (has_train) {
    classes = class_folders(train_dir);
    train = list_split(train_dir, classes);
    test = list_split(test_dir, classes);
  } else {
    classes = class_folders(root);
    hold_out(root, classes, spec.holdout, spec.seed, train, test);
  }
  const int channels = common_channels(train, test);
  return {decode_split(train, "train", classes, channels, spec), decode_split(test, "test", classes, channels, spec)};
}

}  // namespace delve
