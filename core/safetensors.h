// Checkpoint files in the safetensors format (https://github.com/huggingface/safetensors), so a
// delve checkpoint opens in PyTorch with `safetensors.torch.load_file` and back.
//
// Layout: 8-byte little-endian u64 N, N bytes of JSON header, then the data section.
//   {"__metadata__": {"key": "value", ...},
//    "<tensor name>": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...}
// Offsets are bytes relative to the start of the data section; data is C-order little-endian.
// delve stores only float32.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace delve {

// A tensor to be written: the caller keeps `data` (product(shape) floats) alive during the call.
struct TensorRef {
  std::string name;
  std::vector<int64_t> shape;
  const float* data;
};

// Writes the tensors in the given order, contiguous, header padded with spaces to a multiple of 8
// bytes (as the reference implementation does, so the data section starts 8-byte aligned).
// Atomic (see write_file_atomic): on failure the previous file at `path` survives and an Error
// names the path and the reason. Duplicate, empty or reserved ("__metadata__") names and negative
// dimensions are bugs in the caller and throw Error before anything is written.
void write_safetensors(const std::string& path, const std::vector<TensorRef>& tensors,
                       const std::map<std::string, std::string>& metadata);

struct SafetensorsFile {
  std::string path;  // where it was read from, for error messages
  std::map<std::string, std::string> metadata;
  std::vector<std::string> names;  // in the order the tensors lie in the data section
  std::map<std::string, std::vector<int64_t>> shapes;
  std::map<std::string, std::vector<float>> data;

  bool has(const std::string& name) const { return data.count(name) != 0; }
  // The values of tensor `name`; CheckpointError naming the file and the tensor if it is absent.
  const std::vector<float>& get(const std::string& name) const;
};

// Reads and validates a whole file. Strict: any deviation from the format (malformed header,
// unknown keys, dtype other than F32, offsets that overlap, leave gaps or run past the end,
// duplicate names, trailing bytes) throws CheckpointError naming the file and the problem.
// Memory use is bounded by the file size: nothing is allocated from an unchecked length.
SafetensorsFile read_safetensors(const std::string& path);

}  // namespace delve
