// data/cifar: CIFAR-10 and CIFAR-100 binary records round-trip byte for byte (R, G, B planes),
// labels come from the right byte, class names from the meta files, and bad files are rejected.
#include <doctest/doctest.h>

#include <algorithm>

#include "core/error.h"
#include "data/cifar.h"
#include "data/load.h"
#include "data_test_files.h"

using namespace delve;
using namespace delve::test;

namespace {

constexpr size_t kPixels = 3072;

// Records of `label_bytes` label bytes (from labels_of(i)) and random pixels; returns the pixels.
template <typename LabelsOf>
std::vector<uint8_t> write_records(const std::string& path, int n, int label_bytes, LabelsOf labels_of,
                                   uint64_t seed) {
  RawImages r = random_images(n, 3, 32, 32, 1, seed);
  const size_t record = label_bytes + kPixels;
  std::vector<uint8_t> bytes(n * record);
  for (int i = 0; i < n; ++i) {
    for (int b = 0; b < label_bytes; ++b) bytes[i * record + b] = labels_of(i, b);
    std::copy_n(r.pixels.begin() + i * kPixels, kPixels, bytes.begin() + i * record + label_bytes);
  }
  write_file(path, bytes);
  return r.pixels;
}

// A CIFAR-10 directory of 5 training batches of sizes 2..6 and a test batch of 3; label = (i+b)%10.
struct Cifar10Files {
  std::vector<uint8_t> train_pixels, test_pixels;
  std::vector<int32_t> train_labels, test_labels;
};

Cifar10Files write_cifar10(const std::string& dir) {
  Cifar10Files f;
  for (int b = 1; b <= 5; ++b) {
    auto label = [b](int i, int) { return uint8_t((i + b) % 10); };
    auto px = write_records(dir + "/data_batch_" + std::to_string(b) + ".bin", b + 1, 1, label, 10 + b);
    f.train_pixels.insert(f.train_pixels.end(), px.begin(), px.end());
    for (int i = 0; i < b + 1; ++i) f.train_labels.push_back(label(i, 0));
  }
  auto label = [](int i, int) { return uint8_t(9 - i); };
  f.test_pixels = write_records(dir + "/test_batch.bin", 3, 1, label, 20);
  f.test_labels = {9, 8, 7};
  return f;
}

}  // namespace

TEST_CASE("cifar10: records round-trip, batches in order, from the dir or its parent") {
  TempDir root("cifar10");
  const std::string dir = root / "cifar-10-batches-bin";
  Cifar10Files f = write_cifar10(dir);
  for (const std::string& path : {dir, root.str()}) {
    DataSpec spec;
    spec.source = "cifar10";
    spec.path = path;
    DataSplits d = load_data(spec);
    CHECK(d.train.size() == 2 + 3 + 4 + 5 + 6);
    CHECK(d.train.c == 3);
    CHECK(d.train.h == 32);
    CHECK(d.train.w == 32);
    CHECK(d.train.images == f.train_pixels);
    CHECK(d.train.labels == f.train_labels);
    CHECK(d.test.images == f.test_pixels);
    CHECK(d.test.labels == f.test_labels);
    CHECK(d.train.class_names[0] == "airplane");
    CHECK(d.train.class_names[9] == "truck");
    // Channel 1 (green), row 5, column 7 of training image 4 is byte 1 + 1024 + 5·32 + 7 of its record.
    CHECK(d.train.image(4)[1024 + 5 * 32 + 7] == f.train_pixels[4 * kPixels + 1024 + 5 * 32 + 7]);
  }
}

TEST_CASE("cifar10: class names from batches.meta.txt, and gzipped batches are read too") {
  TempDir dir("cifar10-meta");
  write_cifar10(dir.str());
  write_file(dir / "batches.meta.txt",
             std::vector<uint8_t>({'a', '\n', 'b', '\r', '\n', 'c', '\n', 'd', '\n', 'e', '\n', 'f', '\n', 'g',
                                   '\n', 'h', '\n', 'i', '\n', 'j', '\n', '\n'}));
  std::vector<uint8_t> test_batch;
  {
    std::ifstream in(dir / "test_batch.bin", std::ios::binary);
    test_batch.assign(std::istreambuf_iterator<char>(in), {});
  }
  write_gz(dir / "test_batch.bin", test_batch);
  DataSplits d = load_cifar10(dir.str());
  CHECK(d.train.class_names == std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"});
  CHECK(d.test.size() == 3);
  for (size_t i = 0; i < 3; ++i)
    CHECK(std::equal(d.test.image(i), d.test.image(i) + kPixels, test_batch.begin() + i * (kPixels + 1) + 1));

  write_file(dir / "batches.meta.txt", {'a', '\n', 'b', '\n'});
  CHECK_MESSAGE_HAS(data_error_of([&] { load_cifar10(dir.str()); }), dir / "batches.meta.txt: 2 class names, expected 10");
}

TEST_CASE("cifar100: fine or coarse labels from the right byte") {
  TempDir root("cifar100");
  const std::string dir = root / "cifar-100-binary";
  auto labels = [](int i, int b) { return uint8_t(b == 0 ? i % 20 : 99 - i); };
  auto train_px = write_records(dir + "/train.bin", 6, 2, labels, 30);
  auto test_px = write_records(dir + "/test.bin", 2, 2, labels, 31);
  DataSpec spec;
  spec.source = "cifar100";
  spec.path = root.str();
  DataSplits fine = load_data(spec);
  CHECK(fine.train.images == train_px);
  CHECK(fine.test.images == test_px);
  CHECK(fine.train.labels == std::vector<int32_t>{99, 98, 97, 96, 95, 94});
  CHECK(fine.train.classes() == 100);
  CHECK(fine.train.class_names[99] == "worm");
  CHECK(fine.train.name == "cifar100-fine");
  spec.cifar100_labels = "coarse";
  DataSplits coarse = load_data(spec);
  CHECK(coarse.train.labels == std::vector<int32_t>{0, 1, 2, 3, 4, 5});
  CHECK(coarse.train.classes() == 20);
  CHECK(coarse.train.class_names[19] == "vehicles_2");
  spec.cifar100_labels = "medium";
  CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), "data.cifar100_labels must be \"fine\" or \"coarse\"");
}

TEST_CASE("cifar: bad files are rejected with the file and the problem") {
  TempDir dir("cifar-bad");
  write_cifar10(dir.str());
  SUBCASE("missing batch") {
    std::filesystem::remove(dir / "data_batch_3.bin");
    std::string msg = data_error_of([&] { load_cifar10(dir.str()); });
    CHECK_MESSAGE_HAS(msg, dir / "data_batch_3.bin not found");
    CHECK_MESSAGE_HAS(msg, "set data.path");
  }
  SUBCASE("size not a multiple of the record") {
    write_file(dir / "data_batch_2.bin", std::vector<uint8_t>(3073 * 2 + 100, 1));
    CHECK_MESSAGE_HAS(data_error_of([&] { load_cifar10(dir.str()); }),
                      dir / "data_batch_2.bin: size 6246 bytes is not a positive multiple of the 3073-byte");
  }
  SUBCASE("zero-byte file") {
    write_file(dir / "test_batch.bin", {});
    CHECK_MESSAGE_HAS(data_error_of([&] { load_cifar10(dir.str()); }), dir / "test_batch.bin: size 0 bytes");
  }
  SUBCASE("label out of range") {
    write_records(dir / "data_batch_5.bin", 3, 1, [](int i, int) { return uint8_t(i == 2 ? 10 : 0); }, 40);
    CHECK_MESSAGE_HAS(data_error_of([&] { load_cifar10(dir.str()); }),
                      dir / "data_batch_5.bin: label 10 of image 2 is outside 0..9");
  }
  SUBCASE("CIFAR-100 record size and label range") {
    write_records(dir / "train.bin", 2, 2, [](int, int b) { return uint8_t(b == 0 ? 20 : 5); }, 41);
    write_records(dir / "test.bin", 1, 2, [](int, int) { return uint8_t(0); }, 42);
    CHECK(load_cifar100(dir.str(), "fine").train.labels == std::vector<int32_t>{5, 5});
    CHECK_MESSAGE_HAS(data_error_of([&] { load_cifar100(dir.str(), "coarse"); }),
                      dir / "train.bin: label 20 of image 0 is outside 0..19");
    write_file(dir / "test.bin", std::vector<uint8_t>(3073, 0));  // a CIFAR-10 record
    CHECK_MESSAGE_HAS(data_error_of([&] { load_cifar100(dir.str(), "fine"); }), "not a positive multiple of the 3074-byte");
  }
  SUBCASE("no path") {
    DataSpec spec;
    spec.source = "cifar10";
    CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), "set data.path");
  }
}
