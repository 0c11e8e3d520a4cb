// Error types that carry a message a user can act on, and the exit code the CLI returns for each.
// Throw the most specific one; the message names the offending key, file or value.
#pragma once
#include <stdexcept>
#include <string>

namespace delve {

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
