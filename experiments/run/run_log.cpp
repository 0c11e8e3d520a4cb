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

std::vector<nlohmann::json> read_run_log(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read log '" + path + "'");
  std::vector<nlohmann::json> events;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      events.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception&) {
      // only a torn final line is expected; anything else is skipped the same way
    }
  }
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
