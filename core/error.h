// Error types that carry a message a user can act on, and the exit code the CLI returns for each.
// Throw the most specific one; the message names the offending key, file or value.
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>

namespace delve {

// A user's value as a message quotes it: at most `max_chars` characters (UTF-8 code points), the
// last one "…" when it was cut, so that a 10,000-character value still gives a one-line error.
// Cuts only between code points, so the message stays valid UTF-8.
constexpr size_t kQuotedChars = 80;
inline std::string clipped(const std::string& text, size_t max_chars = kQuotedChars) {
  size_t chars = 0, keep = 0;  // keep: bytes of the first max_chars - 1 code points
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;  // a continuation byte
    if (++chars == max_chars) keep = i;
    if (chars > max_chars) return text.substr(0, keep) + "\u2026";
  }
  return text;
}

// Exit codes of the delve command (documented in the README's troubleshooting section).
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,        // anything not covered below
  kExitUsage = 2,        // bad command line
  kExitConfig = 3,       // bad config file or --set override
  kExitData = 4,         // missing or malformed data set
  kExitCheckpoint = 5,   // unreadable or incompatible checkpoint
  kExitDiverged = 6,     // loss or gradient went non-finite
  kExitInterrupted = 130 // SIGINT/SIGTERM: state saved, then stopped
};

struct Error : std::runtime_error {
  explicit Error(const std::string& what, int exit_code = kExitError)
      : std::runtime_error(what), code(exit_code) {}
  int code;
};

struct UsageError : Error {
  explicit UsageError(const std::string& w) : Error(w, kExitUsage) {}
};
struct ConfigError : Error {
  explicit ConfigError(const std::string& w) : Error(w, kExitConfig) {}
};
struct DataError : Error {
  explicit DataError(const std::string& w) : Error(w, kExitData) {}
};
struct CheckpointError : Error {
  explicit CheckpointError(const std::string& w) : Error(w, kExitCheckpoint) {}
};
struct DivergenceError : Error {
  explicit DivergenceError(const std::string& w) : Error(w, kExitDiverged) {}
};
// A shape mismatch or misuse inside the library: a bug or a bad model description.
struct ShapeError : Error {
  explicit ShapeError(const std::string& w) : Error(w, kExitConfig) {}
};

}  // namespace delve
