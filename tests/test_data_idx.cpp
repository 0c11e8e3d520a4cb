// data/idx: MNIST/Fashion-MNIST IDX files, plain and gzipped, round-trip byte for byte, and every
// malformed file is rejected with a message naming the file and the problem.
#include <doctest/doctest.h>

#include "core/error.h"
#include "data/idx.h"
#include "data/load.h"
#include "data_test_files.h"

using namespace delve;
using namespace delve::test;

namespace {

void check_same(const Dataset& ds, const RawImages& r) {
  CHECK(ds.size() == size_t(r.n));
  CHECK(ds.c == 1);
  CHECK(ds.h == r.h);
  CHECK(ds.w == r.w);
  CHECK(ds.images == r.pixels);
  std::vector<int32_t> labels(r.labels.begin(), r.labels.end());
  CHECK(ds.labels == labels);
}

}  // namespace

TEST_CASE("idx: plain files round-trip exactly, non-square images keep rows and columns") {
  TempDir dir("idx-plain");
  RawImages train = random_images(7, 1, 5, 9, 10, 1), test = random_images(4, 1, 5, 9, 10, 2);
  write_idx_split(dir.str(), "train", train, false);
  write_idx_split(dir.str(), "t10k", test, false);
  DataSpec spec;
  spec.source = "mnist";
  spec.path = dir.str();
  DataSplits d = load_data(spec);
  check_same(d.train, train);
  check_same(d.test, test);
  CHECK(d.train.name == "mnist");
  CHECK(d.train.split == "train");
  CHECK(d.test.split == "test");
  CHECK(d.train.classes() == 10);
  CHECK(d.train.class_names[3] == "3");
  // Image 2, row 4, column 8 is byte 2·45 + 4·9 + 8 of the payload.
  CHECK(d.train.image(2)[4 * 9 + 8] == train.pixels[2 * 45 + 4 * 9 + 8]);
}

TEST_CASE("idx: gzip is detected by its magic bytes, with or without the .gz suffix") {
  for (bool suffix : {true, false}) {
    TempDir dir("idx-gz");
    RawImages train = random_images(12, 1, 28, 28, 10, 3), test = random_images(5, 1, 28, 28, 10, 4);
    write_idx_split(dir.str(), "train", train, true, suffix);
    write_idx_split(dir.str(), "t10k", test, true, suffix);
    DataSplits d = load_fashion_mnist(dir.str());
    check_same(d.train, train);
    check_same(d.test, test);
    CHECK(d.train.name == "fashion-mnist");
    CHECK(d.train.class_names.front() == "T-shirt/top");
    CHECK(d.train.class_names[7] == "Sneaker");
    CHECK(d.train.class_names[8] == "Bag");
    CHECK(d.train.class_names.back() == "Ankle boot");
  }
}

TEST_CASE("idx: missing files name the path, and Fashion-MNIST points to the Debian package") {
  TempDir dir("idx-missing");
  std::string msg = data_error_of([&] { load_fashion_mnist(dir.str()); });
  CHECK_MESSAGE_HAS(msg, dir / "train-images-idx3-ubyte");
  CHECK_MESSAGE_HAS(msg, "apt-get install dataset-fashion-mnist");

  DataSpec spec;
  spec.path = dir.str();  // source defaults to fashion-mnist
  CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), "apt-get install dataset-fashion-mnist");

  // Training files present, test labels missing: the message names exactly that file.
  RawImages r = random_images(3, 1, 4, 4, 10, 5);
  write_idx_split(dir.str(), "train", r, false);
  write_file(dir / "t10k-images-idx3-ubyte", idx_bytes(0x803, {3, 4, 4}, r.pixels));
  msg = data_error_of([&] { load_mnist(dir.str()); });
  CHECK_MESSAGE_HAS(msg, dir / "t10k-labels-idx1-ubyte");
  CHECK_MESSAGE_HAS(msg, "not found");
}

TEST_CASE("idx: malformed files are rejected with the file and the problem") {
  TempDir dir("idx-bad");
  const RawImages r = random_images(6, 1, 4, 3, 10, 6);
  const std::string images = dir / "images", labels = dir / "labels";
  auto load = [&] { return load_idx_pair(images, labels, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, "t", "train"); };
  auto good_images = [&] { write_file(images, idx_bytes(0x803, {6, 4, 3}, r.pixels)); };
  auto good_labels = [&] { write_file(labels, idx_bytes(0x801, {6}, r.labels)); };
  good_images();
  good_labels();
  CHECK(load().size() == 6);

  SUBCASE("wrong magic in the images file") {
    write_file(images, idx_bytes(0x802, {6, 4}, r.pixels));
    std::string msg = data_error_of(load);
    CHECK_MESSAGE_HAS(msg, images);
    CHECK_MESSAGE_HAS(msg, "wrong IDX magic 0x00000802, expected 0x00000803");
  }
  SUBCASE("wrong magic in the labels file (an images file given as labels)") {
    write_file(labels, idx_bytes(0x803, {6, 4, 3}, r.pixels));
    CHECK_MESSAGE_HAS(data_error_of(load), labels + ": wrong IDX magic 0x00000803, expected 0x00000801");
  }
  SUBCASE("wrong dimensions: zero rows") {
    write_file(images, idx_bytes(0x803, {6, 0, 3}, {}));
    std::string msg = data_error_of(load);
    CHECK_MESSAGE_HAS(msg, images);
    CHECK_MESSAGE_HAS(msg, "wrong IDX dimensions 0x3");
  }
  SUBCASE("truncated images") {
    std::vector<uint8_t> cut(r.pixels.begin(), r.pixels.end() - 5);
    write_file(images, idx_bytes(0x803, {6, 4, 3}, cut));
    std::string msg = data_error_of(load);
    CHECK_MESSAGE_HAS(msg, images + ": truncated");
    CHECK_MESSAGE_HAS(msg, "72 bytes) but only 67");
  }
  SUBCASE("truncated gzipped images") {
    std::vector<uint8_t> whole = idx_bytes(0x803, {6, 4, 3}, r.pixels);
    write_gz(images, whole);
    std::vector<uint8_t> gz;
    {
      std::ifstream in(images, std::ios::binary);
      gz.assign(std::istreambuf_iterator<char>(in), {});
    }
    gz.resize(gz.size() / 2);
    write_file(images, gz);
    std::string msg = data_error_of(load);
    CHECK_MESSAGE_HAS(msg, images);
    CHECK_MESSAGE_HAS(msg, "truncated");
  }
  SUBCASE("truncated header") {
    write_file(images, {0, 0, 8});
    CHECK_MESSAGE_HAS(data_error_of(load), images + ": truncated: shorter than the 16-byte IDX header");
  }
  SUBCASE("truncated labels") {
    write_file(labels, idx_bytes(0x801, {6}, {1, 2, 3}));
    CHECK_MESSAGE_HAS(data_error_of(load), labels + ": truncated: the header promises 6 labels");
  }
  SUBCASE("trailing bytes") {
    std::vector<uint8_t> more = r.pixels;
    more.push_back(0);
    write_file(images, idx_bytes(0x803, {6, 4, 3}, more));
    CHECK_MESSAGE_HAS(data_error_of(load), images + ": longer than the header declares");
  }
  SUBCASE("label out of range") {
    std::vector<uint8_t> bad = r.labels;
    bad[3] = 10;
    write_file(labels, idx_bytes(0x801, {6}, bad));
    CHECK_MESSAGE_HAS(data_error_of(load), labels + ": label 10 of image 3 is outside 0..9");
  }
  SUBCASE("image and label counts differ") {
    write_file(labels, idx_bytes(0x801, {5}, std::vector<uint8_t>(r.labels.begin(), r.labels.begin() + 5)));
    CHECK_MESSAGE_HAS(data_error_of(load), images + " holds 6 images but " + labels + " holds 5 labels");
  }
  SUBCASE("a zero-byte file") {
    write_file(labels, {});
    CHECK_MESSAGE_HAS(data_error_of(load), labels + ": truncated");
  }
}

TEST_CASE("idx: test images of other dimensions than the training images are rejected") {
  TempDir dir("idx-dims");
  write_idx_split(dir.str(), "train", random_images(3, 1, 28, 28, 10, 7), false);
  write_idx_split(dir.str(), "t10k", random_images(3, 1, 32, 28, 10, 8), false);
  std::string msg = data_error_of([&] { load_mnist(dir.str()); });
  CHECK_MESSAGE_HAS(msg, dir / "t10k-images-idx3-ubyte");
  CHECK_MESSAGE_HAS(msg, "wrong IDX dimensions: 32x28 test images but 28x28 training images");
}
