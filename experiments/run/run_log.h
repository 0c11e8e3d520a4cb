// log.jsonl: one JSON object per line, flushed as written, so a crash loses at most the line
// being written and any tool can read a run while it trains.
// Events: start, train, epoch, eval, layers, checkpoint, skip, end (README: "Logs").
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace delve {

class RunLog {
 public:
  RunLog() = default;
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;
  // Opens for appending (creating the file). With keep_until >= 0, first drops the events of
  // iterations after keep_until: a resumed run continues the log of its checkpoint, not of the
  // steps that were lost with the process.
  void open(const std::string& path, long long keep_until = -1);
  void write(nlohmann::json event);  // adds "time" (seconds since the Unix epoch)
  const std::string& path() const { return path_; }

 private:
  std::FILE* file_ = nullptr;
  std::string path_;
};

// Reads every event of a log.jsonl; a torn last line (a crash mid-write) is skipped. Other lines
// that are not JSON objects are skipped too, unless `strict`: then Error names the file and line
// (a report must not silently draw a log that something else has damaged).
std::vector<nlohmann::json> read_run_log(const std::string& path, bool strict = false);

}  // namespace delve
