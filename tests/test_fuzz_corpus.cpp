// Replays the fuzzers' corpora (tests/fuzz/corpus/<target>/*) through the same entry functions
// the fuzz targets call, so the ordinary suite, and CI, check every interesting input the fuzzers
// found without fuzzing: each must be accepted or refused with a delve::Error, nothing else.
#include <doctest/doctest.h>

#include <filesystem>

#include "tests/fuzz/fuzz_entries.h"

namespace fs = std::filesystem;

namespace {

void replay(const std::string& target, void (*entry)(const uint8_t*, size_t)) {
  const fs::path dir = fs::path(DELVE_FUZZ_CORPUS_DIR) / target;
  REQUIRE_MESSAGE(fs::is_directory(dir), "no corpus at " << dir);
  size_t files = 0;
  for (const auto& f : fs::directory_iterator(dir)) {
    const std::string bytes = delve::test::read_bytes(f.path().string());
    INFO("corpus file " << f.path().string());
    CHECK_NOTHROW(entry(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    ++files;
  }
  CHECK(files > 0);
}

}  // namespace

TEST_CASE("fuzz corpus: config") { replay("config", delve::fuzz::config); }
TEST_CASE("fuzz corpus: idx") { replay("idx", delve::fuzz::idx); }
TEST_CASE("fuzz corpus: cifar") { replay("cifar", delve::fuzz::cifar); }
TEST_CASE("fuzz corpus: safetensors") { replay("safetensors", delve::fuzz::safetensors); }
TEST_CASE("fuzz corpus: image_folder") { replay("image_folder", delve::fuzz::image_folder); }
