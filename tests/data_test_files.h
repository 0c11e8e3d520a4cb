// Helpers for the data tests: a private temporary directory and writers for small IDX, CIFAR and
// PNG files, so that every loader is tested on files whose every byte the test chose.
#pragma once
#include <doctest/doctest.h>
#include <stb_image_write.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "temp_dir.h"

namespace delve::test {

inline void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  REQUIRE(out.good());
}

inline void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  if (!bytes.empty()) REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

inline void append_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}

// An IDX file: magic, dims, then payload.
inline std::vector<uint8_t> idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims,
                                      const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out;
  append_be32(out, magic);
  for (uint32_t d : dims) append_be32(out, d);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// n random images of h×w and labels i mod classes, seeded.
struct RawImages {
  int n, h, w;
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> labels;
};

inline RawImages random_images(int n, int c, int h, int w, int classes, uint64_t seed) {
  RawImages r{n, h, w, std::vector<uint8_t>(size_t(n) * c * h * w), std::vector<uint8_t>(size_t(n))};
  Rng rng(seed);
  for (auto& p : r.pixels) p = uint8_t(rng.below(256));
  for (int i = 0; i < n; ++i) r.labels[i] = uint8_t(i % classes);
  return r;
}

// Writes train-/t10k- image and label files in dir, optionally gzipped (with or without suffix).
inline void write_idx_split(const std::string& dir, const std::string& prefix, const RawImages& r, bool gz,
                            bool gz_suffix = true) {
  auto images = idx_bytes(0x803, {uint32_t(r.n), uint32_t(r.h), uint32_t(r.w)}, r.pixels);
  auto labels = idx_bytes(0x801, {uint32_t(r.n)}, r.labels);
  const std::string suffix = gz && gz_suffix ? ".gz" : "";
  if (gz) {
    write_gz(dir + "/" + prefix + "-images-idx3-ubyte" + suffix, images);
    write_gz(dir + "/" + prefix + "-labels-idx1-ubyte" + suffix, labels);
  } else {
    write_file(dir + "/" + prefix + "-images-idx3-ubyte", images);
    write_file(dir + "/" + prefix + "-labels-idx1-ubyte", labels);
  }
}

// A PNG of h×w with `comp` interleaved channels.
inline void write_png(const std::string& path, int w, int h, int comp, const std::vector<uint8_t>& hwc) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  REQUIRE(stbi_write_png(path.c_str(), w, h, comp, hwc.data(), w * comp) != 0);
}

// The message of the DataError that f() throws, or "<no DataError>" (which no check expects).
template <typename F>
std::string data_error_of(F&& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "<no DataError>";
}

// A message-substring check that fails visibly (prints the message) when the text is absent.
#define CHECK_MESSAGE_HAS(message, text) \
  CHECK_MESSAGE(std::string(message).find(text) != std::string::npos, "message: " << (message))

}  // namespace delve::test
