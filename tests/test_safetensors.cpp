// core/safetensors and core/atomic_file: round trip, the exact byte layout of the format, a file
// built by hand from the specification, one test per way a hostile or broken file can be wrong,
// and that a failed write leaves the previous checkpoint intact with no temporary file behind.
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <bit>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "tests/temp_dir.h"

using namespace delve;
using delve::test::read_bytes;
using delve::test::TempDir;
using delve::test::write_bytes;

namespace {

// Little-endian bytes built by shifting, not memcpy, so the expected files follow the
// specification rather than this machine.
std::string u64_le(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s += char((v >> (8 * i)) & 0xff);
  return s;
}
std::string f32_le(std::initializer_list<float> values) {
  std::string s;
  for (float f : values) {
    const uint32_t bits = std::bit_cast<uint32_t>(f);
    for (int i = 0; i < 4; ++i) s += char((bits >> (8 * i)) & 0xff);
  }
  return s;
}
// A whole file: length prefix, header, data.
std::string file_bytes(const std::string& header, const std::string& data) {
  return u64_le(header.size()) + header + data;
}

// The message of the CheckpointError that reading `bytes` throws; fails the test if none.
std::string rejection(const std::string& bytes) {
  TempDir dir("st_bad");
  const std::string path = dir.file("bad.safetensors");
  write_bytes(path, bytes);
  try {
    read_safetensors(path);
  } catch (const CheckpointError& e) {
    const std::string message = e.what();
    CHECK_MESSAGE(message.find(path) != std::string::npos, "message must name the file: ", message);
    return message;
  }
  FAIL("the malformed file was accepted");
  return "";
}

#define CHECK_REJECTED(bytes, expected)                  \
  do {                                                   \
    const std::string message_ = rejection(bytes);       \
    INFO("message: ", message_);                         \
    CHECK(message_.find(expected) != std::string::npos); \
  } while (0)

// One tensor "a" of two floats with the given entry fields, e.g. R"("shape":[2])".
std::string one_tensor(const std::string& fields, const std::string& data = f32_le({1, 2})) {
  return file_bytes(R"({"a":{)" + fields + "}}", data);
}

const std::string kA = R"("dtype":"F32","shape":[2],"data_offsets":[0,8])";

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<std::string> directory_entries(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

// --- round trip and layout -----------------------------------------------------------------

TEST_CASE("safetensors: round trip keeps names, order, shapes, bit-exact values and metadata") {
  TempDir dir("st_roundtrip");
  const std::string path = dir.file("ckpt.safetensors");
  const float nan_payload = std::bit_cast<float>(uint32_t(0x7fc01234));
  std::vector<float> w(3 * 2 * 2 * 2);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.1f * float(i) - 1.f;
  std::vector<float> b = {-0.f, std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::infinity()};
  std::vector<float> scalar = {nan_payload};
  const std::map<std::string, std::string> meta = {
      {"format", "delve-1"}, {"rng", "xoshiro256ss:0123"}, {"quote\"s", "ünïcode \\ \n"}};
  write_safetensors(path,
                    {{"conv1.weight", {3, 2, 2, 2}, w.data()},
                     {"conv1.bias", {3}, b.data()},
                     {"empty", {0, 4}, nullptr},
                     {"scalar", {}, scalar.data()}},
                    meta);

  const SafetensorsFile f = read_safetensors(path);
  CHECK(f.names == std::vector<std::string>{"conv1.weight", "conv1.bias", "empty", "scalar"});
  CHECK(f.shapes.at("conv1.weight") == std::vector<int64_t>{3, 2, 2, 2});
  CHECK(f.shapes.at("empty") == std::vector<int64_t>{0, 4});
  CHECK(f.shapes.at("scalar").empty());
  CHECK(same_bits(f.get("conv1.weight"), w));
  CHECK(same_bits(f.get("conv1.bias"), b));
  CHECK(f.get("empty").empty());
  CHECK(same_bits(f.get("scalar"), scalar));
  CHECK(f.metadata == meta);
  CHECK(f.has("conv1.bias"));
  CHECK_FALSE(f.has("conv2.bias"));
  try {
    f.get("conv2.weight");
    FAIL("missing tensor returned");
  } catch (const CheckpointError& e) {
    CHECK(std::string(e.what()).find("'conv2.weight'") != std::string::npos);
    CHECK(std::string(e.what()).find(path) != std::string::npos);
  }
}

TEST_CASE("safetensors: bytes on disk follow the format") {
  TempDir dir("st_layout");
  const std::string path = dir.file("x.safetensors");
  std::vector<float> a = {1, 2, 3}, b = {4}, c = {5, 6, 7, 8, 9, 10};
  write_safetensors(
      path, {{"zeta", {3}, a.data()}, {"alpha", {1, 1}, b.data()}, {"mid", {2, 3}, c.data()}},
      {{"step", "7"}});
  const std::string bytes = read_bytes(path);
  REQUIRE(bytes.size() >= 8);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(bytes[i])) << (8 * i);
  CHECK(n % 8 == 0);
  CHECK(bytes.size() == 8 + n + 4 * (3 + 1 + 6));
  const std::string header = bytes.substr(8, n);
  CHECK(header.front() == '{');
  CHECK(header.find_last_not_of(' ') == header.rfind('}'));  // padded with spaces only
  const auto j = nlohmann::json::parse(header);
  CHECK(j["__metadata__"] == nlohmann::json{{"step", "7"}});
  // Contiguous in the order given, not in the alphabetical order of the names.
  CHECK(j["zeta"]["data_offsets"] == nlohmann::json{0, 12});
  CHECK(j["alpha"]["data_offsets"] == nlohmann::json{12, 16});
  CHECK(j["mid"]["data_offsets"] == nlohmann::json{16, 40});
  CHECK(j["mid"]["dtype"] == "F32");
  CHECK(j["mid"]["shape"] == nlohmann::json{2, 3});
  CHECK(bytes.substr(8 + n) == f32_le({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

TEST_CASE("safetensors: a file written by hand from the specification reads correctly") {
  TempDir dir("st_reference");
  const std::string path = dir.file("ref.safetensors");
  // Unpadded header, tensors listed in a different order from their data, metadata last.
  const std::string header = R"({"b":{"dtype":"F32","shape":[1,2],"data_offsets":[8,16]},)"
                             R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("__metadata__":{"format":"pt"}})";
  write_bytes(path, file_bytes(header, f32_le({1, 2, -3.5f, 1e-3f})));
  const SafetensorsFile f = read_safetensors(path);
  CHECK(f.names == std::vector<std::string>{"a", "b"});  // data order
  CHECK(f.get("a") == std::vector<float>{1, 2});
  CHECK(f.get("b") == std::vector<float>{-3.5f, 1e-3f});
  CHECK(f.shapes.at("b") == std::vector<int64_t>{1, 2});
  CHECK(f.metadata.at("format") == "pt");

  write_bytes(path, file_bytes("{}", ""));  // no tensors, no metadata: valid and empty
  CHECK(read_safetensors(path).names.empty());
}

// --- malformed files: one test per problem --------------------------------------------------

TEST_CASE("safetensors rejects: a missing file") {
  try {
    read_safetensors("/nonexistent/dir/x.safetensors");
    FAIL("read a missing file");
  } catch (const CheckpointError& e) {
    CHECK(std::string(e.what()).find("/nonexistent/dir/x.safetensors") != std::string::npos);
    CHECK(std::string(e.what()).find(std::strerror(ENOENT)) != std::string::npos);
  }
}
TEST_CASE("safetensors rejects: a file shorter than the length field") {
  CHECK_REJECTED(std::string("\x08\0\0", 3), "shorter than the 8-byte header length");
  CHECK_REJECTED("", "file is 0 bytes");
}
TEST_CASE("safetensors rejects: header length 0") {
  CHECK_REJECTED(u64_le(0) + "{}", "not a safetensors file (header length is 0");
}
TEST_CASE("safetensors rejects: header length beyond the file") {
  CHECK_REJECTED(u64_le(100) + "{}", "not a safetensors file (header length 100 exceeds the 2 bytes");
}
TEST_CASE("safetensors rejects: absurd header length") {
  CHECK_REJECTED(u64_le(100'000'001) + "{}", "not a safetensors file (header length 100000001 exceeds the 100 MB limit");
  CHECK_REJECTED(u64_le(~uint64_t(0)) + "{}", "exceeds the 100 MB limit");
}
TEST_CASE("safetensors rejects: header that is not JSON") {
  CHECK_REJECTED(file_bytes(R"({"a":{"dtype":)", ""), "header is not valid JSON");
  CHECK_REJECTED(file_bytes("{} x", ""), "header is not valid JSON");
  CHECK_REJECTED(file_bytes(std::string("{\"\xff\":1}"), ""), "header is not valid JSON");
}
TEST_CASE("safetensors rejects: header that is not an object, as not a safetensors file") {
  CHECK_REJECTED(file_bytes("[1, 2]", ""), "not a safetensors file (the header starts with '[', not '{')");
  CHECK_REJECTED(file_bytes("\"text\"", ""), "not a safetensors file (the header starts with '\"'");
  CHECK_REJECTED(file_bytes(std::string("\x01{}", 3), ""), "the header starts with 0x01");
}
TEST_CASE("safetensors rejects: another kind of file, as not a safetensors file") {
  // A config given where a checkpoint belongs: its first 8 bytes, read as a little-endian length,
  // are about 7e18, far beyond any header and beyond the file.
  const std::string config = "{\n  \"name\": \"tiny\",\n  \"seed\": 1\n}\n";
  CHECK_REJECTED(config, "not a safetensors file (header length ");
  // A length that fits the file but text that is not a JSON object.
  CHECK_REJECTED(u64_le(4) + "abcd", "not a safetensors file (the header starts with 'a', not '{')");
}
TEST_CASE("safetensors rejects: metadata that is not string to string") {
  CHECK_REJECTED(file_bytes(R"({"__metadata__":{"step":3}})", ""),
                 "__metadata__ value of 'step' is a number");
  CHECK_REJECTED(file_bytes(R"({"__metadata__":{"a":{"b":"c"}}})", ""),
                 "__metadata__ value of 'a' is an object");
  CHECK_REJECTED(file_bytes(R"({"__metadata__":["a"]})", ""), "__metadata__ is an array");
}
TEST_CASE("safetensors rejects: tensor entry that is not an object") {
  CHECK_REJECTED(file_bytes(R"({"a":[1]})", ""), "tensor 'a' is an array, expected an object");
}
TEST_CASE("safetensors rejects: tensor entry missing a key") {
  CHECK_REJECTED(one_tensor(R"("shape":[2],"data_offsets":[0,8])"), "tensor 'a' has no \"dtype\"");
  CHECK_REJECTED(one_tensor(R"("dtype":"F32","data_offsets":[0,8])"), "has no \"shape\"");
  CHECK_REJECTED(one_tensor(R"("dtype":"F32","shape":[2])"), "has no \"data_offsets\"");
}
TEST_CASE("safetensors rejects: tensor entry with an extra key") {
  CHECK_REJECTED(one_tensor(kA + R"(,"stride":[1])"), "tensor 'a' has unexpected key 'stride'");
}
TEST_CASE("safetensors rejects: dtype other than F32, naming it") {
  CHECK_REJECTED(one_tensor(R"("dtype":"F16","shape":[4],"data_offsets":[0,8])"),
                 "tensor 'a' has dtype F16; delve reads only F32");
  CHECK_REJECTED(one_tensor(R"("dtype":32,"shape":[2],"data_offsets":[0,8])"),
                 "dtype is a number, expected a string");
}
TEST_CASE("safetensors rejects: negative dimension") {
  CHECK_REJECTED(one_tensor(R"("dtype":"F32","shape":[-2],"data_offsets":[0,8])"),
                 "negative dimension -2");
}
TEST_CASE("safetensors rejects: shape whose size overflows") {
  CHECK_REJECTED(
      one_tensor(R"("dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8])"),
      "is too large");
  CHECK_REJECTED(one_tensor(R"("dtype":"F32","shape":[2.5],"data_offsets":[0,8])"),
                 "shape must hold non-negative integers, found 2.5");
  CHECK_REJECTED(
      one_tensor(R"("dtype":"F32","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,)"
                 R"(1,1,1,1,1,1,2],"data_offsets":[0,8])"),
      "more than 32 dimensions");
}
TEST_CASE("safetensors rejects: data_offsets that are not two non-negative integers") {
  CHECK_REJECTED(one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[8])"), "found 1 value");
  CHECK_REJECTED(one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[0,8,8])"),
                 "more than two entries");
  CHECK_REJECTED(one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[-1,8])"),
                 "negative data offset -1");
  CHECK_REJECTED(one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[0,8.0])"),
                 "data_offsets must hold non-negative integers, found 8.0");
  CHECK_REJECTED(one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":"0-8")"),
                 "data_offsets is a string");
  CHECK_REJECTED(one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[0,[8]])"),
                 "found an array");
}
TEST_CASE("safetensors rejects: end before begin") {
  CHECK_REJECTED(one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[8,0])"),
                 "data_offsets [8, 0] end before begin");
}
TEST_CASE("safetensors rejects: end beyond the data section") {
  CHECK_REJECTED(one_tensor(R"("dtype":"F32","shape":[4],"data_offsets":[0,16])"),
                 "run past the end of the data section (8 bytes)");
}
TEST_CASE("safetensors rejects: size that does not match the shape") {
  CHECK_REJECTED(one_tensor(R"("dtype":"F32","shape":[1],"data_offsets":[0,8])"),
                 "hold 8 bytes but shape [1] of F32 needs 4");
}
TEST_CASE("safetensors rejects: overlapping tensors") {
  CHECK_REJECTED(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                            f32_le({1, 2, 3})),
                 "tensors 'a' and 'b' overlap");
}
TEST_CASE("safetensors rejects: a gap between tensors") {
  CHECK_REJECTED(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                            f32_le({1, 2, 3})),
                 "data bytes 4 to 8 before tensor 'b' belong to no tensor");
}
TEST_CASE("safetensors rejects: duplicate names and keys") {
  CHECK_REJECTED(file_bytes("{\"a\":{" + kA + "},\"a\":{" + kA + "}}", f32_le({1, 2})),
                 "tensor name 'a' appears twice");
  CHECK_REJECTED(one_tensor(kA + R"(,"dtype":"F32")"), "tensor 'a' has key 'dtype' twice");
  CHECK_REJECTED(file_bytes(R"({"__metadata__":{"k":"1","k":"2"}})", ""),
                 "__metadata__ key 'k' appears twice");
  CHECK_REJECTED(file_bytes(R"({"__metadata__":{},"__metadata__":{}})", ""),
                 "__metadata__ appears twice");
}
TEST_CASE("safetensors rejects: trailing bytes after the last tensor") {
  CHECK_REJECTED(one_tensor(kA, f32_le({1, 2, 3})), "4 trailing bytes after the last tensor");
  CHECK_REJECTED(file_bytes("{}", "x"), "1 trailing byte after");
}

TEST_CASE("safetensors: randomly damaged files are rejected cleanly, never crash") {
  TempDir dir("st_fuzz");
  const std::string path = dir.file("x.safetensors");
  std::vector<float> a = {1, 2, 3, 4}, b = {5, 6};
  write_safetensors(path, {{"a", {2, 2}, a.data()}, {"b", {2}, b.data()}}, {{"step", "12"}});
  const std::string good = read_bytes(path);
  Rng rng(2015);
  int rejected = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::string bad = good;
    for (int edits = 1 + int(rng.below(3)); edits > 0; --edits) {
      const size_t at = size_t(rng.below(bad.size()));
      const uint64_t kind = rng.below(3);
      if (kind == 0) {
        bad[at] = char(rng.below(256));  // overwrite a byte
      } else if (kind == 1) {
        bad.resize(at);  // truncate
      } else {           // insert JSON syntax
        bad = bad.substr(0, at) + "{}[]\\\",:-0 9e"[rng.below(13)] + bad.substr(at);
      }
      if (bad.empty()) bad.push_back('x');  // keep something to edit
    }
    write_bytes(path, bad);
    try {
      read_safetensors(path);
    } catch (const CheckpointError&) {
      ++rejected;
    }  // any other exception type, or a crash, fails the test
  }
  CHECK(rejected > 300);  // the edits above almost always break something
}

// --- writing ----------------------------------------------------------------------------------

TEST_CASE("safetensors: writer refuses bad input before touching the file") {
  TempDir dir("st_badinput");
  const std::string path = dir.file("x.safetensors");
  std::vector<float> v = {1};
  CHECK_THROWS_AS(write_safetensors(path, {{"a", {1}, v.data()}, {"a", {1}, v.data()}}, {}), Error);
  CHECK_THROWS_AS(write_safetensors(path, {{"__metadata__", {1}, v.data()}}, {}), Error);
  CHECK_THROWS_AS(write_safetensors(path, {{"", {1}, v.data()}}, {}), Error);
  CHECK_THROWS_AS(write_safetensors(path, {{"a", {-1}, v.data()}}, {}), Error);
  CHECK_THROWS_AS(write_safetensors(path, {{"a", {1}, nullptr}}, {}), Error);
  CHECK(directory_entries(dir.path()).empty());
}

TEST_CASE("safetensors: writing where the directory does not exist names the path") {
  TempDir dir("st_nodir");
  for (const std::string& path : {dir.file("missing/x.safetensors"),   // no such directory
                                  dir.file("plain/x.safetensors")}) {  // parent is a file
    write_bytes(dir.file("plain"), "not a directory");
    std::vector<float> v = {1, 2};
    try {
      write_safetensors(path, {{"a", {2}, v.data()}}, {});
      FAIL("wrote into a missing directory");
    } catch (const Error& e) {
      const std::string message = e.what();
      INFO(message);
      CHECK(message.find(path) != std::string::npos);
      CHECK((message.find(std::strerror(ENOENT)) != std::string::npos ||
             message.find(std::strerror(ENOTDIR)) != std::string::npos));
    }
  }
  CHECK(read_bytes(dir.file("plain")) == "not a directory");
  CHECK(directory_entries(dir.path()) == std::vector<std::string>{"plain"});
}

TEST_CASE("safetensors: a write that fails part way keeps the old file and leaves no temp file") {
  TempDir dir("st_fullwrite");
  const std::string path = dir.file("ckpt.safetensors");
  std::vector<float> old_values = {1, 2};
  write_safetensors(path, {{"a", {2}, old_values.data()}}, {{"step", "1"}});
  const std::string old_bytes = read_bytes(path);

  // A full disk, simulated: with the file size limit lowered, write() fails with EFBIG part way
  // through (the same path through the code as ENOSPC). Root is bound by it too. SIGXFSZ is
  // ignored so the failure arrives as an error rather than killing the test.
  std::vector<float> big(4096, 3.f);
  std::string message;
  {
    rlimit saved{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
    const auto saved_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lowered = saved;
    lowered.rlim_cur = 1024;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lowered) == 0);
    try {
      write_safetensors(path, {{"a", {4096}, big.data()}}, {{"step", "2"}});
    } catch (const Error& e) {
      message = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, saved_handler);
  }
  INFO(message);
  CHECK(message.find(path) != std::string::npos);
  CHECK(message.find(std::strerror(EFBIG)) != std::string::npos);
  CHECK(read_bytes(path) == old_bytes);
  CHECK(read_safetensors(path).metadata.at("step") == "1");
  CHECK(directory_entries(dir.path()) == std::vector<std::string>{"ckpt.safetensors"});
}

TEST_CASE("safetensors: a rename that fails removes the temp file") {
  TempDir dir("st_rename");
  const std::string path = dir.file("taken");
  std::filesystem::create_directory(path);  // rename(file, directory) fails with EISDIR
  write_bytes(dir.file("taken/keep"), "kept");
  std::vector<float> v = {1};
  try {
    write_safetensors(path, {{"a", {1}, v.data()}}, {});
    FAIL("renamed a file over a directory");
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find(path) != std::string::npos);
    CHECK(std::string(e.what()).find(std::strerror(EISDIR)) != std::string::npos);
  }
  CHECK(directory_entries(dir.path()) == std::vector<std::string>{"taken"});
  CHECK(read_bytes(dir.file("taken/keep")) == "kept");
}

TEST_CASE("safetensors: rewriting replaces the file whole") {
  TempDir dir("st_rewrite");
  const std::string path = dir.file("ckpt.safetensors");
  std::vector<float> v1 = {1, 2, 3}, v2 = {9};
  write_safetensors(path, {{"a", {3}, v1.data()}}, {{"step", "1"}});
  write_safetensors(path, {{"b", {1}, v2.data()}}, {{"step", "2"}});
  const SafetensorsFile f = read_safetensors(path);
  CHECK(f.names == std::vector<std::string>{"b"});
  CHECK(f.metadata.at("step") == "2");
  CHECK(directory_entries(dir.path()) == std::vector<std::string>{"ckpt.safetensors"});
}
