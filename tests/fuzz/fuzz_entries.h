// The fuzz entry points: one plain function per parser that reads user input. The libFuzzer
// targets (tests/fuzz/fuzz_<name>.cpp) call them, and the ordinary test suite replays every file
// of tests/fuzz/corpus/<name>/ through the same function (tests/test_fuzz_corpus.cpp), so CI checks
// the interesting inputs without fuzzing and the logic lives in one place.
//
// Contract: a parser may accept an input or refuse it with a delve::Error (the CLI turns that into
// a message and an exit code). Anything else escaping (another exception, a crash, a hang, an
// absurd allocation, a sanitizer report) is a finding.
#pragma once
#include <stb_image_write.h>
#include <zlib.h>

#include <algorithm>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "data/cifar.h"
#include "data/data_spec.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "experiments/run/checkpoint.h"
#include "experiments/run/config.h"
#include "experiments/run/model_builder.h"
#include "layers/init.h"
#include "layers/net.h"
#include "tests/temp_dir.h"

namespace delve::fuzz {

// A scratch directory for the files the loaders read (they all take paths), one per process and
// removed at exit; each input overwrites the files of the previous one.
inline const test::TempDir& scratch() {
  static const test::TempDir dir("fuzz");
  return dir;
}

inline void put_file(const std::string& path, std::string_view bytes) {
  test::write_bytes(path, std::string(bytes));
}

// gzip of `bytes`, so a target can reach the gzip path of a loader with content the fuzzer
// mutates in the clear.
inline std::string gzip(std::string_view bytes) {
  const std::string path = scratch().file("gzip.tmp");
  gzFile f = gzopen(path.c_str(), "wb");
  if (!bytes.empty()) gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
  return test::read_bytes(path);
}

// Runs a parser: a delve::Error is a refusal, which is fine; everything else propagates.
inline void accept_or_refuse(const std::function<void()>& parse) {
  try {
    parse();
  } catch (const Error&) {
  }
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits at the first NUL byte: (before, after). No NUL: (all, "").
inline std::pair<std::string_view, std::string_view> split_at_nul(std::string_view s) {
  const size_t nul = s.find('\0');
  if (nul == std::string_view::npos) return {s, {}};
  return {s.substr(0, nul), s.substr(nul + 1)};
}

// ---------------------------------------------------------------------------------------------
// Config: the JSON file, then (after a NUL byte) one "--set" assignment per line; resolved,
// sweep-expanded and range-checked exactly as `delve run` does.
inline void config(const uint8_t* data, size_t size) {
  const auto [file, sets_text] = split_at_nul(as_text(data, size));
  std::vector<std::string> sets;
  for (size_t start = 0; start < sets_text.size();) {
    const size_t end = std::min(sets_text.find('\n', start), sets_text.size());
    sets.emplace_back(sets_text.substr(start, end - start));
    start = end + 1;
  }
  const std::string path = scratch().file("config.json");
  put_file(path, file);
  accept_or_refuse([&] {
    const json resolved = load_resolved_config(path, sets);
    for (const SweepMember& m : expand_sweep(resolved)) parse_run_config(m.config);
  });
}

// ---------------------------------------------------------------------------------------------
// IDX: byte 0 chooses the role (bit 0: images or labels file) and whether the harness gzips the
// rest (bit 1); the other file of the pair is a valid one of two 2×2 images. A raw input that
// starts with the gzip magic takes the gzip path too, with the fuzzer's own compressed bytes.
inline void idx(const uint8_t* data, size_t size) {
  if (size == 0) return;
  const bool as_labels = data[0] & 1, compress = data[0] & 2;
  std::string_view rest = as_text(data + 1, size - 1);
  const std::string fuzzed = compress ? gzip(rest) : std::string(rest);
  const std::string valid_images("\0\0\x08\x03\0\0\0\x02\0\0\0\x02\0\0\0\x02" "abcdefgh", 24);
  const std::string valid_labels("\0\0\x08\x01\0\0\0\x02\x01\x00", 10);
  const std::string images = scratch().file("images-idx3-ubyte"), labels = scratch().file("labels-idx1-ubyte");
  put_file(images, as_labels ? valid_images : fuzzed);
  put_file(labels, as_labels ? fuzzed : valid_labels);
  accept_or_refuse([&] {
    load_idx_pair(images, labels, {"zero", "one", "two"}, "fuzz", "train");
  });
}

// ---------------------------------------------------------------------------------------------
// CIFAR binary: byte 0 chooses CIFAR-10 or -100 (bit 0) and whether the rest is the class-names
// text file rather than the records (bit 1). The other files hold one valid record each.
inline void cifar(const uint8_t* data, size_t size) {
  if (size == 0) return;
  const bool hundred = data[0] & 1, names = data[0] & 2;
  const std::string_view rest = as_text(data + 1, size - 1);
  const std::string dir = scratch().file(hundred ? "cifar100" : "cifar10");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string record = std::string(hundred ? 2 : 1, '\x01') + std::string(3072, '\x80');
  const std::vector<std::string> files = hundred ? std::vector<std::string>{"train.bin", "test.bin"}
                                                 : std::vector<std::string>{"data_batch_1.bin", "data_batch_2.bin",
                                                                            "data_batch_3.bin", "data_batch_4.bin",
                                                                            "data_batch_5.bin", "test_batch.bin"};
  for (const std::string& f : files) put_file(dir + "/" + f, record);
  if (names) {
    put_file(dir + "/" + (hundred ? "fine_label_names.txt" : "batches.meta.txt"), rest);
  } else {
    put_file(dir + "/" + files.back(), rest);  // the test split: every record file is read alike
  }
  accept_or_refuse([&] { hundred ? load_cifar100(dir, "fine") : load_cifar10(dir); });
}

// ---------------------------------------------------------------------------------------------
// Checkpoints: the whole file, read as `delve eval` and `--resume` read it: safetensors, the
// checkpoint header, the saved config, then the tensors into a small fixed net.
// The model of tests/fuzz/checkpoint_seed.json, whose checkpoint seeds the corpus.
inline Net& checkpoint_net() {
  static Net* net = [] {
    auto* n = new Net;  // lives for the process: the fuzzer never returns from main normally
    ModelSpec spec;
    spec.family = "plain";
    spec.stages = {{1, 2}, {1, 2}};
    spec.fc = {4};
    add_model_layers(*n, spec, 3);
    Rng rng(1);
    n->build(Shape{1, 1, 32, 32}, InitSpec{}, rng);
    return n;
  }();
  return *net;
}

inline void safetensors(const uint8_t* data, size_t size) {
  const std::string path = scratch().file("checkpoint.safetensors");
  put_file(path, as_text(data, size));
  accept_or_refuse([&] { read_safetensors(path); });
  accept_or_refuse([&] {
    const LoadedCheckpoint header = read_checkpoint_header(path);
    parse_run_config(resolve_config(header.config, path + " (config)"));
  });
  accept_or_refuse([&] { load_checkpoint(path, checkpoint_net()); });
}

// ---------------------------------------------------------------------------------------------
// Image folders: the input is one image file (any format stb_image reads), next to valid PNGs,
// in root/train/<class>/ and root/test/<class>/; byte 0 chooses resize or centre crop (bit 0)
// and the output side (bits 1-3).
inline void image_folder(const uint8_t* data, size_t size) {
  if (size == 0) return;
  DataSpec spec;
  spec.source = "folder";
  spec.folder_fit = data[0] & 1 ? "center_crop" : "resize";
  spec.image_size = 1 + ((data[0] >> 1) & 7) * 4;
  const std::string root = scratch().file("images");
  std::filesystem::remove_all(root);
  static const std::string png = [] {  // a valid 1×1 grey PNG for the other files
    const std::string path = scratch().file("valid.png");
    const uint8_t grey = 128;
    stbi_write_png(path.c_str(), 1, 1, 1, &grey, 1);
    return test::read_bytes(path);
  }();
  for (const char* split : {"train", "test"}) {
    for (const char* cls : {"a", "b"}) {
      std::filesystem::create_directories(root + "/" + split + "/" + cls);
      put_file(root + "/" + split + "/" + cls + "/1.png", png);
    }
  }
  put_file(root + "/train/a/0.png", as_text(data + 1, size - 1));
  accept_or_refuse([&] { load_image_folder(root, spec); });
}

}  // namespace delve::fuzz
