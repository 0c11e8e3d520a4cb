// Reads a file's bytes in order, gunzipping on the fly when the file starts with the gzip magic
// bytes 1f 8b, whatever its name ends with: Debian ships Fashion-MNIST as .gz, other copies are
// plain, and some tools drop the suffix. Reading into the caller's buffer avoids a second copy of
// a 47 MB image file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

struct gzFile_s;  // zlib's handle, kept out of this header

namespace delve {

class ByteReader {
 public:
  // Throws DataError naming the path when it cannot be opened (missing, unreadable, a directory).
  explicit ByteReader(const std::string& path);
  ~ByteReader();
  ByteReader(const ByteReader&) = delete;
  ByteReader& operator=(const ByteReader&) = delete;

  // Reads up to n bytes; fewer only at the end of the data. Throws DataError on a read error or
  // corrupt/truncated gzip data.
  size_t read(void* dst, size_t n);
  // Everything from the current position to the end.
  std::vector<uint8_t> read_all();
  // True when no byte is left; otherwise consumes one (used to reject trailing bytes).
  bool at_end();

  bool gzipped() const { return gz_ != nullptr; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  gzFile_s* gz_ = nullptr;
};

// True when a regular file exists at path.
bool file_exists(const std::string& path);
// True when a directory exists at path.
bool directory_exists(const std::string& path);
// dir + "/" + name, without doubling a trailing slash.
std::string join_path(const std::string& dir, const std::string& name);

}  // namespace delve
