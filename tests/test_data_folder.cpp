// data/image_folder: PNG/BMP/JPEG class folders load with exact pixels in C×H×W order, classes and
// files in name order, a seeded per-class hold-out, the channel policy (colour wins, alpha goes),
// resize and centre crop, and every bad tree is rejected with the path and the problem.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "data/image_folder.h"
#include "data/load.h"
#include "data_test_files.h"

using namespace delve;
using namespace delve::test;

namespace {

// An h×w image of `comp` interleaved channels whose every byte is distinct-ish and seeded.
std::vector<uint8_t> random_hwc(int w, int h, int comp, uint64_t seed) {
  return random_images(1, comp, h, w, 1, seed).pixels;
}

std::vector<uint8_t> constant_hwc(int w, int h, std::vector<uint8_t> value) {
  std::vector<uint8_t> out;
  for (int p = 0; p < w * h; ++p) out.insert(out.end(), value.begin(), value.end());
  return out;
}

// The C×H×W planes of an interleaved image.
std::vector<uint8_t> planes(const std::vector<uint8_t>& hwc, int w, int h, int comp) {
  std::vector<uint8_t> out(hwc.size());
  for (int c = 0; c < comp; ++c)
    for (int p = 0; p < w * h; ++p) out[size_t(c) * w * h + p] = hwc[size_t(p) * comp + c];
  return out;
}

std::vector<uint8_t> image_of(const Dataset& ds, size_t i) { return {ds.image(i), ds.image(i) + ds.image_bytes()}; }

DataSpec folder_spec(const std::string& root, int size = 8) {
  DataSpec spec;
  spec.source = "folder";
  spec.path = root;
  spec.image_size = size;
  return spec;
}

}  // namespace

TEST_CASE("folder: train/ and test/ subfolders, exact pixels, classes and files sorted by name") {
  TempDir root("folder-split");
  auto a = random_hwc(8, 8, 3, 1), b = random_hwc(8, 8, 3, 2), c = random_hwc(8, 8, 3, 3), d = random_hwc(8, 8, 3, 4);
  write_png(root / "train/dog/c.png", 8, 8, 3, c);
  write_png(root / "train/cat/b.PNG", 8, 8, 3, b);  // suffixes in any case
  write_png(root / "train/cat/a.png", 8, 8, 3, a);
  write_file(root / "train/cat/notes.txt", {'h', 'i'});  // not an image: ignored
  write_png(root / "test/dog/d.png", 8, 8, 3, d);
  std::filesystem::create_directories(root / "train/.hidden");  // hidden: not a class

  DataSplits s = load_data(folder_spec(root.str()));
  CHECK(s.train.class_names == std::vector<std::string>{"cat", "dog"});
  CHECK(s.train.c == 3);
  CHECK(s.train.h == 8);
  CHECK(s.train.w == 8);
  REQUIRE(s.train.size() == 3);
  CHECK(s.train.labels == std::vector<int32_t>{0, 0, 1});
  CHECK(image_of(s.train, 0) == planes(a, 8, 8, 3));
  CHECK(image_of(s.train, 1) == planes(b, 8, 8, 3));
  CHECK(image_of(s.train, 2) == planes(c, 8, 8, 3));
  REQUIRE(s.test.size() == 1);
  CHECK(s.test.labels == std::vector<int32_t>{1});
  CHECK(image_of(s.test, 0) == planes(d, 8, 8, 3));
  CHECK(s.test.class_names == s.train.class_names);
}

TEST_CASE("folder: BMP and JPEG decode too") {
  TempDir root("folder-formats");
  auto a = random_hwc(8, 8, 3, 5);
  std::filesystem::create_directories(root / "x");
  REQUIRE(stbi_write_bmp((root / "x/a.bmp").c_str(), 8, 8, 3, a.data()) != 0);
  auto flat = constant_hwc(8, 8, {200, 100, 50});
  REQUIRE(stbi_write_jpg((root / "x/b.jpg").c_str(), 8, 8, 3, flat.data(), 100) != 0);
  REQUIRE(stbi_write_jpg((root / "x/c.jpeg").c_str(), 8, 8, 3, flat.data(), 100) != 0);
  DataSpec spec = folder_spec(root.str());
  spec.holdout = 0;
  DataSplits s = load_data(spec);
  REQUIRE(s.train.size() == 3);
  CHECK(s.test.size() == 0);
  CHECK(image_of(s.train, 0) == planes(a, 8, 8, 3));  // BMP is lossless
  for (size_t i : {1, 2})
    for (int c = 0; c < 3; ++c)  // JPEG is not: a flat colour comes back within a few levels
      CHECK(std::abs(int(s.train.image(i)[c * 64 + 27]) - int(flat[c])) <= 3);
}

TEST_CASE("folder: seeded hold-out of round(holdout·n) per class, name order kept in both parts") {
  TempDir root("folder-holdout");
  // Class k, file i: a flat grey image of value 10k + i, named so that name order = i order.
  for (int k = 0; k < 2; ++k)
    for (int i = 0; i < 10; ++i)
      write_png(root / (std::string("c") + std::to_string(k) + "/f" + std::to_string(i) + ".png"), 4, 4, 1,
                std::vector<uint8_t>(16, uint8_t(10 * k + i)));
  auto split_values = [&](uint64_t seed) {
    DataSpec spec = folder_spec(root.str(), 4);
    spec.holdout = 0.3;
    spec.seed = seed;
    DataSplits s = load_data(spec);
    CHECK(s.train.c == 1);
    std::vector<int> train, test;
    for (size_t i = 0; i < s.train.size(); ++i) {
      CHECK(s.train.labels[i] == s.train.image(i)[0] / 10);
      train.push_back(s.train.image(i)[0]);
    }
    for (size_t i = 0; i < s.test.size(); ++i) {
      CHECK(s.test.labels[i] == s.test.image(i)[0] / 10);
      test.push_back(s.test.image(i)[0]);
    }
    return std::pair{train, test};
  };
  auto [train, test] = split_values(7);
  CHECK(train.size() == 14);
  CHECK(test.size() == 6);
  CHECK(std::is_sorted(train.begin(), train.end()));
  CHECK(std::is_sorted(test.begin(), test.end()));
  std::set<int> all(train.begin(), train.end());
  all.insert(test.begin(), test.end());
  CHECK(all.size() == 20);
  CHECK(std::count_if(test.begin(), test.end(), [](int v) { return v < 10; }) == 3);
  CHECK(split_values(7) == std::pair{train, test});  // same seed, same split
  bool differs = false;
  for (uint64_t seed = 8; seed < 12; ++seed) differs |= split_values(seed).second != test;
  CHECK(differs);
}

TEST_CASE("folder: mixed channel counts load as RGB (grey replicated, alpha dropped), all grey stays grey") {
  TempDir root("folder-channels");
  auto grey = random_hwc(4, 4, 1, 6), rgb = random_hwc(4, 4, 3, 7), rgba = random_hwc(4, 4, 4, 8);
  write_png(root / "k/a.png", 4, 4, 1, grey);
  write_png(root / "k/b.png", 4, 4, 3, rgb);
  write_png(root / "k/c.png", 4, 4, 4, rgba);
  DataSpec spec = folder_spec(root.str(), 4);
  spec.holdout = 0;
  DataSplits s = load_data(spec);
  REQUIRE(s.train.size() == 3);
  CHECK(s.train.c == 3);
  std::vector<uint8_t> grey3 = grey;
  grey3.insert(grey3.end(), grey.begin(), grey.end());
  grey3.insert(grey3.end(), grey.begin(), grey.end());
  CHECK(image_of(s.train, 0) == grey3);
  CHECK(image_of(s.train, 1) == planes(rgb, 4, 4, 3));
  std::vector<uint8_t> rgb_of_rgba;
  for (size_t p = 0; p < 16; ++p) rgb_of_rgba.insert(rgb_of_rgba.end(), rgba.begin() + 4 * p, rgba.begin() + 4 * p + 3);
  CHECK(image_of(s.train, 2) == planes(rgb_of_rgba, 4, 4, 3));

  TempDir grey_root("folder-grey");
  write_png(grey_root / "k/a.png", 4, 4, 1, grey);
  spec.path = grey_root.str();
  DataSplits g = load_data(spec);
  CHECK(g.train.c == 1);
  CHECK(image_of(g.train, 0) == grey);
}

TEST_CASE("folder: resize stretches, center_crop cuts the centred square first") {
  TempDir root("folder-fit");
  // 48 wide × 32 high: red left band (8 columns), green centre (32), blue right band (8).
  std::vector<uint8_t> banded;
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 48; ++x) {
      std::vector<uint8_t> px = x < 8 ? std::vector<uint8_t>{255, 0, 0}
                                      : x < 40 ? std::vector<uint8_t>{0, 255, 0} : std::vector<uint8_t>{0, 0, 255};
      banded.insert(banded.end(), px.begin(), px.end());
    }
  write_png(root / "k/band.png", 48, 32, 3, banded);
  write_png(root / "k/flat.png", 64, 64, 3, constant_hwc(64, 64, {10, 120, 230}));
  DataSpec spec = folder_spec(root.str(), 32);
  spec.holdout = 0;
  spec.folder_fit = "center_crop";
  DataSplits crop = load_data(spec);
  REQUIRE(crop.train.size() == 2);
  CHECK(image_of(crop.train, 0) == planes(constant_hwc(32, 32, {0, 255, 0}), 32, 32, 3));  // exactly the centre
  CHECK(image_of(crop.train, 1) == planes(constant_hwc(32, 32, {10, 120, 230}), 32, 32, 3));  // 64→32 of a flat colour

  spec.folder_fit = "resize";
  DataSplits stretched = load_data(spec);
  const uint8_t* img = stretched.train.image(0);
  CHECK(img[0 * 1024 + 16 * 32 + 0] > 200);   // left column is red
  CHECK(img[2 * 1024 + 16 * 32 + 31] > 200);  // right column is blue
  CHECK(img[1 * 1024 + 16 * 32 + 16] > 250);  // centre stays green
  CHECK(image_of(stretched.train, 1) == image_of(crop.train, 1));
}

TEST_CASE("folder: bad trees and options are rejected with the path and the problem") {
  TempDir root("folder-bad");
  write_png(root / "a/x.png", 4, 4, 1, std::vector<uint8_t>(16, 1));
  DataSpec spec = folder_spec(root.str(), 4);
  SUBCASE("zero-byte image") {
    write_file(root / "a/empty.png", {});
    std::string msg = data_error_of([&] { load_data(spec); });
    CHECK_MESSAGE_HAS(msg, root / "a/empty.png: cannot read image");
  }
  SUBCASE("undecodable image") {
    write_file(root / "a/junk.jpg", std::vector<uint8_t>(100, 0x42));
    CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), root / "a/junk.jpg: cannot read image (stb_image:");
  }
  SUBCASE("truncated PNG") {
    std::vector<uint8_t> png;
    {
      std::ifstream in(root / "a/x.png", std::ios::binary);
      png.assign(std::istreambuf_iterator<char>(in), {});
    }
    REQUIRE(png.size() > 40);
    png.erase(png.end() - 20, png.end());  // cut into the image data
    write_file(root / "a/y.png", png);
    CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), root / "a/y.png: cannot decode image");
  }
  SUBCASE("empty class folder") {
    std::filesystem::create_directories(root / "b");
    CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), root / "b: empty class folder");
  }
  SUBCASE("a class folder holding only non-images is empty too") {
    write_file(root / "b/readme.txt", {'x'});
    CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), root / "b: empty class folder");
  }
  SUBCASE("no class folders") {
    TempDir flat("folder-flat");
    write_png(flat / "x.png", 4, 4, 1, std::vector<uint8_t>(16, 1));
    spec.path = flat.str();
    CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), flat.str() + ": no class folders");
  }
  SUBCASE("missing root") {
    spec.path = root / "nowhere";
    CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), root / "nowhere: image folder root not found");
  }
  SUBCASE("no path") {
    spec.path.clear();
    CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), "data.source \"folder\" has no default location: set data.path");
  }
  SUBCASE("train/ without test/") {
    write_png(root / "train/a/x.png", 4, 4, 1, std::vector<uint8_t>(16, 1));
    CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), "has train/ but no test/");
  }
  SUBCASE("a test class without a training folder") {
    write_png(root / "train/a/x.png", 4, 4, 1, std::vector<uint8_t>(16, 1));
    write_png(root / "test/z/x.png", 4, 4, 1, std::vector<uint8_t>(16, 1));
    CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), root / "test/z: class \"z\" has no training folder");
  }
  SUBCASE("bad options") {
    spec.image_size = 0;
    CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), "data.image_size must be 1..4096, not 0");
    spec.image_size = 4;
    spec.folder_fit = "squash";
    CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), "data.folder_fit must be");
    spec.folder_fit = "resize";
    spec.holdout = 1.0;
    CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), "data.holdout must be in [0, 1)");
  }
}
