#include "experiments/run/run_log.h"

#include <chrono>
#include <cstring>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"

namespace delve {

RunLog::~RunLog() {
  if (file_) std::fclose(file_);
}

std::vector<nlohmann::json> read_run_log(const std::string& path, bool strict) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read log '" + path + "'");
  std::vector<nlohmann::json> events;
  std::string line;
  long long number = 0, bad_line = 0;  // bad_line: the latest line that is no event
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    // A bad line with more after it is damage, not the torn last line of a crash mid-write.
    if (strict && bad_line > 0)
      throw Error("log '" + path + "' line " + std::to_string(bad_line) + " is not a JSON event (a damaged log)");
    nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
    if (!event.is_discarded() && event.is_object()) events.push_back(std::move(event));
    else bad_line = number;
  }
  if (in.bad()) throw Error("cannot read log '" + path + "': read error");
  return events;
}

void RunLog::open(const std::string& path, long long keep_until) {
  path_ = path;
  if (keep_until >= 0) {
    std::vector<std::string> kept;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      try {
        auto e = nlohmann::json::parse(line);
        if (e.contains("iteration") && e["iteration"].is_number() && e["iteration"].get<long long>() > keep_until) continue;
        if (e.value("event", "") == "end") continue;
        kept.push_back(line);
      } catch (const nlohmann::json::exception&) {
      }
    }
    // Atomically: a kill during this rewrite must not lose the events of the kept iterations.
    std::string text;
    for (auto& l : kept) text += l + '\n';
    write_text_file_atomic(path, text);
  }
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) throw Error("cannot open log '" + path + "' for writing: " + std::strerror(errno));
}

void RunLog::write(nlohmann::json event) {
  if (!file_) return;
  using namespace std::chrono;
  event["time"] = duration<double>(system_clock::now().time_since_epoch()).count();
  const std::string line = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    throw Error("cannot write log '" + path_ + "': " + std::strerror(errno));
}

}  // namespace delve
