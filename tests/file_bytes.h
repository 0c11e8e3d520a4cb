// A whole file as bytes, and bytes as a whole file: the tests' way to set up and inspect files.
#pragma once
#include <fstream>
#include <iterator>
#include <string>

namespace delve::test {

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace delve::test
