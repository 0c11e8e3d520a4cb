#include "core/safetensors.h"

#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string_view>

#include "core/atomic_file.h"
#include "core/error.h"

namespace delve {

// Tensor bytes go to and from disk by plain copies, which is only right on a little-endian host
// (every machine delve targets). A big-endian port would byte-swap here.
static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this code copies it without swapping");

namespace {

constexpr const char* kMetadataKey = "__metadata__";
// The reference implementation refuses headers over 100 MB; so do we, before allocating one.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// No real tensor has more dimensions; the cap keeps a hostile "shape": [1,1,1,...] from costing
// memory out of proportion to what it describes.
constexpr size_t kMaxRank = 32;

// Bytes of an F32 tensor of this shape, or nothing if a dimension is negative or the size
// overflows 64 bits.
std::optional<uint64_t> f32_bytes(const std::vector<int64_t>& shape) {
  uint64_t bytes = sizeof(float);
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(bytes, uint64_t(d), &bytes)) return std::nullopt;
  }
  return bytes;
}

// "1 byte", "3 bytes".
std::string count_of(uint64_t n, const std::string& unit) {
  return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// ---------------------------------------------------------------------------------------------
// Header parsing. A SAX handler rather than json::parse: it sees duplicate keys (which a DOM
// silently merges), rejects anything unexpected the moment it appears, and never builds a tree
// for content the format does not allow, so a hostile header cannot make us allocate more than
// the few fields we keep.

struct HeaderEntry {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint64_t> offsets;
  std::set<std::string> keys_seen;
};

struct Header {
  std::map<std::string, std::string> metadata;
  std::vector<std::pair<std::string, HeaderEntry>> tensors;  // header order
};

class HeaderParser final : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit HeaderParser(Header& out) : out_(out) {}
  const std::string& error() const { return error_; }

  bool start_object(std::size_t) override {
    if (where_ == Where::Start) return enter(Where::Top);
    if (where_ == Where::Top && top_key_ == kMetadataKey) return enter(Where::Metadata);
    if (where_ == Where::Top) {
      out_.tensors.emplace_back(top_key_, HeaderEntry{});
      return enter(Where::Tensor);
    }
    return unexpected("an object");
  }

  bool end_object() override {
    if (where_ == Where::Top) return enter(Where::Done);
    if (where_ == Where::Tensor) {
      const HeaderEntry& entry = out_.tensors.back().second;
      for (const char* required : {"dtype", "shape", "data_offsets"}) {
        if (!entry.keys_seen.count(required)) {
          return fail(tensor() + " has no \"" + required + "\" key");
        }
      }
    }
    return enter(Where::Top);  // from Metadata or Tensor
  }

  bool key(string_t& k) override {
    if (where_ == Where::Top) {
      if (!top_keys_.insert(k).second) {
        return fail(k == kMetadataKey ? "__metadata__ appears twice"
                                      : "tensor name '" + k + "' appears twice");
      }
      top_key_ = k;
    } else if (where_ == Where::Metadata) {
      if (out_.metadata.count(k)) return fail("__metadata__ key '" + k + "' appears twice");
      meta_key_ = k;
      out_.metadata[k];  // filled by string(); marks the key as seen
    } else {  // in a tensor entry
      if (k != "dtype" && k != "shape" && k != "data_offsets") {
        return fail(tensor() + " has unexpected key '" + k +
                    "' (a tensor entry has exactly dtype, shape, data_offsets)");
      }
      if (!out_.tensors.back().second.keys_seen.insert(k).second) {
        return fail(tensor() + " has key '" + k + "' twice");
      }
      field_ = k;
    }
    return true;
  }

  bool string(string_t& s) override {
    if (where_ == Where::Metadata) {
      out_.metadata[meta_key_] = std::move(s);
      return true;
    }
    if (where_ == Where::Tensor && field_ == "dtype") {
      out_.tensors.back().second.dtype = std::move(s);
      return true;
    }
    return unexpected("a string");
  }

  bool start_array(std::size_t) override {
    if (where_ == Where::Tensor && field_ == "shape") return enter(Where::Shape);
    if (where_ == Where::Tensor && field_ == "data_offsets") return enter(Where::Offsets);
    return unexpected("an array");
  }

  bool end_array() override { return enter(Where::Tensor); }  // only Shape and Offsets open one

  bool number_unsigned(number_unsigned_t u) override {
    HeaderEntry* entry =
        where_ == Where::Shape || where_ == Where::Offsets ? &out_.tensors.back().second : nullptr;
    if (where_ == Where::Shape) {
      if (entry->shape.size() == kMaxRank) {
        return fail(tensor() + " has more than " + std::to_string(kMaxRank) + " dimensions");
      }
      if (u > uint64_t(INT64_MAX)) return fail(tensor() + " has a dimension over 2^63");
      entry->shape.push_back(int64_t(u));
      return true;
    }
    if (where_ == Where::Offsets) {
      if (entry->offsets.size() == 2) {
        return fail(tensor() + ": data_offsets has more than two entries (expected [begin, end])");
      }
      entry->offsets.push_back(u);
      return true;
    }
    return unexpected("a number");
  }

  bool number_integer(number_integer_t i) override {  // the lexer reports only signed ("-3")
    if (i >= 0) return number_unsigned(number_unsigned_t(i));  // "-0"
    if (where_ == Where::Shape) {
      return fail(tensor() + " has negative dimension " + std::to_string(i) + " in its shape");
    }
    if (where_ == Where::Offsets) {
      return fail(tensor() + " has negative data offset " + std::to_string(i));
    }
    return unexpected("a number");
  }

  bool number_float(number_float_t, const string_t& text) override {
    if (where_ == Where::Shape || where_ == Where::Offsets) {
      return fail(tensor() + ": " + (where_ == Where::Shape ? "shape" : "data_offsets") +
                  " must hold non-negative integers, found " + text);
    }
    return unexpected("a number");
  }

  bool null() override { return unexpected("null"); }
  bool boolean(bool) override { return unexpected("a boolean"); }
  bool binary(binary_t&) override { return unexpected("binary data"); }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    return fail(std::string("header is not valid JSON: ") + e.what());
  }

 private:
  enum class Where { Start, Top, Metadata, Tensor, Shape, Offsets, Done };

  bool enter(Where w) {
    where_ = w;
    return true;
  }
  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;  // stops the parser
  }
  std::string tensor() const { return "tensor '" + top_key_ + "'"; }

  // A value of the wrong kind, described by where it appeared.
  bool unexpected(const std::string& found) {
    switch (where_) {
      case Where::Start:
        return fail("header is not a JSON object (it starts with " + found + ")");
      case Where::Top:
        return fail(top_key_ == kMetadataKey
                        ? "__metadata__ is " + found + ", expected an object of strings"
                        : tensor() + " is " + found + ", expected an object");
      case Where::Metadata:
        return fail("__metadata__ value of '" + meta_key_ + "' is " + found +
                    ", expected a string (metadata maps strings to strings)");
      case Where::Tensor:
        return fail(tensor() + ": " + field_ + " is " + found + ", expected " +
                    (field_ == "dtype" ? "a string" : "an array of non-negative integers"));
      case Where::Shape:
      case Where::Offsets:
        return fail(tensor() + ": " + (where_ == Where::Shape ? "shape" : "data_offsets") +
                    " must hold non-negative integers, found " + found);
      case Where::Done:
        break;
    }
    return fail("unexpected " + found + " after the header object");
  }

  Header& out_;
  Where where_ = Where::Start;
  std::set<std::string> top_keys_;
  std::string top_key_, meta_key_, field_;
  std::string error_;
};

// A tensor whose entry passed every check, placed in the data section.
struct Placed {
  std::string name;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

// Checks each entry against the format and the data section, then that the tensors tile the data
// section exactly: no overlap, no gap, nothing after the last. Returns them in data order.
// Throws a plain message; the caller adds the file name.
std::vector<Placed> place_tensors(const Header& header, uint64_t data_bytes) {
  std::vector<Placed> placed;
  for (const auto& [name, e] : header.tensors) {
    const std::string who = "tensor '" + name + "'";
    if (e.dtype != "F32") {
      throw std::runtime_error(who + " has dtype " + e.dtype + "; delve reads only F32");
    }
    if (e.offsets.size() != 2) {
      throw std::runtime_error(who + ": data_offsets must be [begin, end], found " +
                               count_of(e.offsets.size(), "value"));
    }
    const uint64_t begin = e.offsets[0], end = e.offsets[1];
    const std::string offsets =
        "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "]";
    const auto bytes = f32_bytes(e.shape);
    if (!bytes) throw std::runtime_error(who + ": shape " + shape_text(e.shape) + " is too large");
    if (end < begin) throw std::runtime_error(who + ": " + offsets + " end before begin");
    if (end > data_bytes) {
      throw std::runtime_error(who + ": " + offsets + " run past the end of the data section (" +
                               std::to_string(data_bytes) + " bytes)");
    }
    if (end - begin != *bytes) {
      throw std::runtime_error(who + ": " + offsets + " hold " + count_of(end - begin, "byte") +
                               " but shape " + shape_text(e.shape) + " of F32 needs " +
                               std::to_string(*bytes));
    }
    placed.push_back({name, e.shape, begin, end});
  }
  std::sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;  // the data section is accounted for up to here
  for (size_t i = 0; i < placed.size(); ++i) {
    const Placed& t = placed[i];
    if (t.begin < covered) {
      throw std::runtime_error("tensors '" + placed[i - 1].name + "' and '" + t.name +
                               "' overlap in the data section");
    }
    if (t.begin > covered) {
      throw std::runtime_error("data bytes " + std::to_string(covered) + " to " +
                               std::to_string(t.begin) + " before tensor '" + t.name +
                               "' belong to no tensor (a gap)");
    }
    covered = t.end;
  }
  if (covered != data_bytes) {
    throw std::runtime_error(count_of(data_bytes - covered, "trailing byte") +
                             " after the last tensor");
  }
  return placed;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

void write_safetensors(const std::string& path, const std::vector<TensorRef>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string context = "cannot write checkpoint " + path + ": ";
  // ordered_json keeps the header in writing order, so it reads like the data section.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::vector<std::string_view> pieces(2);  // header length, header; then the tensors
  uint64_t offset = 0;
  for (const TensorRef& t : tensors) {
    if (t.name.empty() || t.name == kMetadataKey) {
      throw Error(context + "invalid tensor name '" + t.name + "'");
    }
    if (header.contains(t.name)) throw Error(context + "tensor '" + t.name + "' given twice");
    const auto bytes = f32_bytes(t.shape);
    if (!bytes) {
      throw Error(context + "tensor '" + t.name + "' has invalid shape " + shape_text(t.shape));
    }
    if (*bytes > 0 && !t.data) throw Error(context + "tensor '" + t.name + "' has no data");
    header[t.name] = {
        {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + *bytes}}};
    pieces.emplace_back(reinterpret_cast<const char*>(t.data), size_t(*bytes));
    offset += *bytes;
  }
  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // names or metadata that are not UTF-8
    throw Error(context + "header cannot be encoded: " + e.what());
  }
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  const uint64_t header_length = header_text.size();
  char length_bytes[8];
  std::memcpy(length_bytes, &header_length, 8);
  pieces[0] = std::string_view(length_bytes, 8);
  pieces[1] = header_text;
  write_file_atomic(path, pieces);
}

const std::vector<float>& SafetensorsFile::get(const std::string& name) const {
  const auto it = data.find(name);
  if (it == data.end()) {
    throw CheckpointError("checkpoint " + path + " has no tensor '" + name + "'");
  }
  return it->second;
}

SafetensorsFile read_safetensors(const std::string& path) {
  auto invalid = [&](const std::string& problem) {
    return CheckpointError("checkpoint " + path + ": " + problem);
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) throw invalid(std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(::fileno(file.get()), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw invalid("not a regular file");
  }
  const uint64_t file_bytes = uint64_t(st.st_size);
  auto read_exactly = [&](void* into, uint64_t n, const std::string& what) {
    if (std::fread(into, 1, size_t(n), file.get()) != n) {
      throw invalid("file ends early (truncated or changed while reading) in " + what);
    }
  };

  if (file_bytes < 8) {
    throw invalid("file is " + std::to_string(file_bytes) +
                  " bytes, shorter than the 8-byte header length");
  }
  // Some other file (a config, a text file, a PyTorch pickle) shows itself here: read as a length,
  // its first 8 bytes make no sense for its size, or the header does not open a JSON object.
  auto not_safetensors = [&](const std::string& why) { return invalid("not a safetensors file (" + why + ")"); };
  uint64_t header_bytes = 0;
  read_exactly(&header_bytes, 8, "the header length");
  if (header_bytes == 0) throw not_safetensors("header length is 0");
  if (header_bytes > kMaxHeaderBytes) {
    throw not_safetensors("header length " + std::to_string(header_bytes) + " exceeds the 100 MB limit");
  }
  if (header_bytes > file_bytes - 8) {
    throw not_safetensors("header length " + std::to_string(header_bytes) + " exceeds the " +
                          std::to_string(file_bytes - 8) + " bytes after the length field");
  }
  std::string header_text(size_t(header_bytes), '\0');
  read_exactly(header_text.data(), header_bytes, "the header");
  if (header_text[0] != '{') {
    const unsigned char first = static_cast<unsigned char>(header_text[0]);
    char shown[8];
    std::snprintf(shown, sizeof shown, first >= 0x20 && first < 0x7f ? "'%c'" : "0x%02x", first);
    throw not_safetensors(std::string("the header starts with ") + shown + ", not '{'");
  }

  Header header;
  HeaderParser parser(header);
  if (!nlohmann::json::sax_parse(header_text, &parser)) throw invalid(parser.error());
  header_text = std::string();  // the data may be large; give the header's memory back first

  std::vector<Placed> placed;
  try {
    placed = place_tensors(header, file_bytes - 8 - header_bytes);
  } catch (const std::runtime_error& e) {
    throw invalid(e.what());
  }

  SafetensorsFile out;
  out.path = path;
  out.metadata = std::move(header.metadata);
  // The tensors tile the data section in this order, so one sequential pass reads them all
  // straight into their vectors.
  for (Placed& t : placed) {
    std::vector<float> values(size_t((t.end - t.begin) / sizeof(float)));
    read_exactly(values.data(), t.end - t.begin, "tensor '" + t.name + "'");
    out.names.push_back(t.name);
    out.data.emplace(t.name, std::move(values));
    out.shapes.emplace(t.name, std::move(t.shape));
  }
  return out;
}

}  // namespace delve
