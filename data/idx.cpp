#include "data/idx.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "data/byte_reader.h"

namespace delve {

namespace {

struct IdxHeader {
  std::vector<uint32_t> dims;
  uint64_t payload_bytes() const {
    uint64_t n = 1;
    for (uint32_t d : dims) n *= d;
    return n;
  }
};

uint32_t big_endian32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// Magic 0x000008NN: two zero bytes, type 0x08 (unsigned byte), NN dimensions.
IdxHeader read_header(ByteReader& in, int dims, const char* what) {
  uint8_t bytes[4 * 4];
  const size_t header_bytes = 4 * size_t(1 + dims);
  if (in.read(bytes, header_bytes) != header_bytes)
    throw DataError(in.path() + ": truncated: shorter than the " + std::to_string(header_bytes) +
                    "-byte IDX header");
  const uint32_t expected = 0x00000800u | uint32_t(dims), magic = big_endian32(bytes);
  if (magic != expected)
    throw DataError(in.path() + ": wrong IDX magic " + hex32(magic) + ", expected " + hex32(expected) + " (" +
                    what + ")");
  IdxHeader h;
  for (int d = 0; d < dims; ++d) h.dims.push_back(big_endian32(bytes + 4 * (d + 1)));
  return h;
}

// Reads exactly `bytes` payload bytes and nothing may follow. Grows the buffer as data arrives
// (doubling from 64 KiB, at most 64 MiB a step) so that a corrupt header promising gigabytes fails
// as "truncated" at a cost in proportion to the file, not to the promise.
void read_payload(ByteReader& in, uint64_t bytes, std::vector<uint8_t>& out, const std::string& promise) {
  const uint64_t first_step = uint64_t(1) << 16, max_step = uint64_t(1) << 26;
  out.clear();
  while (out.size() < bytes) {
    size_t old = out.size();
    size_t want = size_t(std::min<uint64_t>({max_step, std::max<uint64_t>(first_step, old), bytes - old}));
    out.resize(old + want);
    size_t got = in.read(out.data() + old, want);
    if (got < want)
      throw DataError(in.path() + ": truncated: the header promises " + promise + " (" + std::to_string(bytes) +
                      " bytes) but only " + std::to_string(old + got) + " bytes follow");
  }
  if (!in.at_end())
    throw DataError(in.path() + ": longer than the header declares: trailing bytes after " + promise);
}

std::string find_idx_file(const std::string& dir, const std::string& base, const std::string& hint) {
  for (const std::string& candidate : {join_path(dir, base), join_path(dir, base + ".gz")})
    if (file_exists(candidate)) return candidate;
  throw DataError(join_path(dir, base) + "[.gz] not found: " + hint);
}

DataSplits load_idx_dir(const std::string& dir, const std::string& name,
                        const std::vector<std::string>& class_names, const std::string& hint) {
  auto file = [&](const char* base) { return find_idx_file(dir, base, hint); };
  // Looked up one by one, in this order, so that a message names the first missing file.
  const std::string train_images = file("train-images-idx3-ubyte"), train_labels = file("train-labels-idx1-ubyte"),
                    test_images = file("t10k-images-idx3-ubyte"), test_labels = file("t10k-labels-idx1-ubyte");
  DataSplits s;
  s.train = load_idx_pair(train_images, train_labels, class_names, name, "train");
  s.test = load_idx_pair(test_images, test_labels, class_names, name, "test");
  if (s.test.h != s.train.h || s.test.w != s.train.w)
    throw DataError(test_images + ": wrong IDX dimensions: " + std::to_string(s.test.h) + "x" +
                    std::to_string(s.test.w) + " test images but " + std::to_string(s.train.h) + "x" +
                    std::to_string(s.train.w) + " training images");
  return s;
}

}  // namespace

Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path,
                      const std::vector<std::string>& class_names, const std::string& name,
                      const std::string& split) {
  Dataset ds;
  ds.name = name;
  ds.split = split;
  ds.class_names = class_names;

  ByteReader labels_in(labels_path);
  const uint32_t label_count = read_header(labels_in, 1, "1-d unsigned-byte labels").dims[0];
  std::vector<uint8_t> label_bytes;
  read_payload(labels_in, label_count, label_bytes, std::to_string(label_count) + " labels");

  ByteReader images_in(images_path);
  const IdxHeader h = read_header(images_in, 3, "3-d unsigned-byte images");
  const uint32_t count = h.dims[0], rows = h.dims[1], cols = h.dims[2];
  if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096)
    throw DataError(images_path + ": wrong IDX dimensions " + std::to_string(rows) + "x" + std::to_string(cols) +
                    " (each must be 1..4096)");
  if (count != label_count)
    throw DataError(images_path + " holds " + std::to_string(count) + " images but " + labels_path + " holds " +
                    std::to_string(label_count) + " labels");
  ds.c = 1;
  ds.h = int(rows);
  ds.w = int(cols);
  read_payload(images_in, h.payload_bytes(), ds.images,
               std::to_string(count) + " images of " + std::to_string(rows) + "x" + std::to_string(cols));

  ds.labels.resize(label_count);
  for (size_t i = 0; i < label_count; ++i) {
    check_label(label_bytes[i], ds.classes(), i, labels_path);
    ds.labels[i] = label_bytes[i];
  }
  return ds;
}

DataSplits load_fashion_mnist(const std::string& dir) {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return load_idx_dir(dir, "fashion-mnist", names,
                      std::string("Fashion-MNIST is packaged by Debian: apt-get install dataset-fashion-mnist ") +
                          "(files go to " + kFashionMnistDefaultDir + "), or set data.path to a directory holding " +
                          "the four IDX files");
}

DataSplits load_mnist(const std::string& dir) {
  static const std::vector<std::string> digits = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  return load_idx_dir(dir, "mnist", digits, "set data.path to the directory holding the four MNIST IDX files");
}

}  // namespace delve
