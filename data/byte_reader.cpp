#include "data/byte_reader.h"

#include <zlib.h>

#include <cerrno>
#include <algorithm>
#include <climits>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace delve {

ByteReader::ByteReader(const std::string& path) : path_(path) {
  if (directory_exists(path)) throw DataError(path + ": is a directory, expected a file");
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) throw DataError(path + ": cannot open (" + std::strerror(errno) + ")");
  unsigned char magic[2] = {0, 0};
  size_t got = std::fread(magic, 1, 2, file_);
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    std::fclose(file_);
    file_ = nullptr;
    gz_ = gzopen(path.c_str(), "rb");
    if (!gz_) throw DataError(path + ": cannot open (" + std::strerror(errno) + ")");
    gzbuffer(gz_, 1 << 18);  // fewer, larger reads: measurably faster than zlib's 8 KB default
  } else {
    std::rewind(file_);
  }
}

ByteReader::~ByteReader() {
  if (file_) std::fclose(file_);
  if (gz_) gzclose(gz_);
}

size_t ByteReader::read(void* dst, size_t n) {
  auto* out = static_cast<unsigned char*>(dst);
  size_t done = 0;
  if (file_) {
    done = std::fread(out, 1, n, file_);
    if (done < n && std::ferror(file_))
      throw DataError(path_ + ": read error (" + std::strerror(errno) + ")");
    return done;
  }
  while (done < n) {
    unsigned chunk = unsigned(std::min<size_t>(n - done, INT_MAX / 2));
    int got = gzread(gz_, out + done, chunk);
    int err = Z_OK;
    const char* msg = gzerror(gz_, &err);
    if (got < 0 || (err != Z_OK && err != Z_STREAM_END))
      throw DataError(path_ + ": gzip data is truncated or corrupt (zlib: " + (msg ? msg : "?") + ")");
    if (got == 0) break;
    done += size_t(got);
  }
  return done;
}

std::vector<uint8_t> ByteReader::read_all() {
  std::vector<uint8_t> bytes;
  size_t chunk = 1 << 20;
  if (file_) {
    // A plain file's size is known: one allocation and one read (+1 so that it meets the end).
    long here = std::ftell(file_);
    std::fseek(file_, 0, SEEK_END);
    long end = std::ftell(file_);
    std::fseek(file_, here, SEEK_SET);
    if (here >= 0 && end >= here) chunk = std::max(chunk, size_t(end - here) + 1);
  }
  for (;;) {
    size_t old = bytes.size();
    bytes.resize(old + chunk);
    size_t got = read(bytes.data() + old, chunk);
    bytes.resize(old + got);
    if (got < chunk) break;
  }
  return bytes;
}

bool ByteReader::at_end() {
  unsigned char probe;
  return read(&probe, 1) == 0;
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

bool directory_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

}  // namespace delve
