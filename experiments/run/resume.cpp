#include "experiments/run/resume.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "experiments/run/run_log.h"
#include "optim/communicator.h"

namespace delve {

nlohmann::json read_summary_file(const RunDirectory& run) {
  std::ifstream in(run.file("summary.json"));
  return in ? nlohmann::json::parse(in, nullptr, false) : nlohmann::json();
}

namespace {

// "train.epochs 40 -> 20, optim.lr 0.02 -> 0.01": the keys in which two resolved configs differ.
std::string describe_changes(const nlohmann::json& before, const nlohmann::json& after) {
  std::string text;
  for (auto& d : nlohmann::json::diff(before, after)) {
    const nlohmann::json::json_pointer at(d["path"].get<std::string>());
    std::string key = at.to_string().substr(1);
    std::replace(key.begin(), key.end(), '/', '.');
    auto value = [&](const nlohmann::json& j) { return j.contains(at) ? j.at(at).dump() : std::string("(none)"); };
    text += (text.empty() ? "" : ", ") + key + " " + value(before) + " -> " + value(after);
  }
  return text;
}


// Whether summary.json records the run as completed at iteration `done`.
bool summary_completed(const RunDirectory& run, int64_t done) {
  const nlohmann::json s = read_summary_file(run);
  return s.is_object() && s.value("status", "") == "completed" && s.value("iterations", int64_t(-1)) == done;
}

// Copies `values` from rank 0 to every rank (a sum to which the other ranks add zeros).
void share_from_root(std::vector<double>& values, Communicator& comm) {
  if (!comm.is_root()) std::fill(values.begin(), values.end(), 0.0);
  comm.allreduce_sum(values.data(), values.size());
}

}  // namespace

int64_t planned_iterations(const nlohmann::json& train, int64_t images) {
  const int64_t iterations = train.value("iterations", int64_t(0));
  if (iterations > 0) return iterations;
  return train.value("epochs", int64_t(1)) * (images / std::max<int64_t>(1, train.value("batch", int64_t(1))));
}

Figures recover_figures(const RunDirectory& run, int64_t done, Communicator& comm) {
  Figures f;
  if (comm.is_root() && run.has_log)
    for (auto& e : read_run_log(run.file("log.jsonl"))) {
      if (!e.contains("iteration") || !e["iteration"].is_number() || e["iteration"].get<int64_t>() > done) continue;
      const std::string kind = e.value("event", "");
      auto number = [&](const char* key) { return e.contains(key) && e[key].is_number() ? e[key].get<double>() : NAN; };
      if (kind == "epoch") f.train_loss = number("train_loss"), f.train_error = number("train_error");
      if (kind == "eval") f.test_loss = number("loss"), f.test_error = number("error"), f.eval_iteration = e["iteration"];
    }
  std::vector<double> v = {f.train_loss, f.train_error, f.test_loss, f.test_error, double(f.eval_iteration)};
  share_from_root(v, comm);
  return {v[0], v[1], v[2], v[3], int64_t(v[4])};
}

bool check_resume(const RunDirectory& run, int64_t done, int64_t planned, int64_t total, const nlohmann::json& before,
                  const nlohmann::json& after, Communicator& comm) {
  const std::string changes = describe_changes(before, after);
  const std::string where = "--resume: the run in '" + run.dir.string() + "'";
  if (total < planned)
    throw UsageError(where + " planned " + std::to_string(planned) + " iterations; this config would shorten it to " +
                     std::to_string(total) + " (" + changes + "); resume it with its own length, or start over with --force");
  if (done >= total) {
    if (!changes.empty())
      throw UsageError(where + " is complete (iteration " + std::to_string(done) + " of " + std::to_string(total) +
                       "): nothing would be trained, so the changed config (" + changes +
                       ") would not take effect; raise train.epochs or train.iterations to continue it");
    const bool finished = comm.any(comm.is_root() && summary_completed(run, done));
    if (finished) {
      if (comm.is_root())
        std::fprintf(stderr, "delve: the run in '%s' is already complete (iteration %lld of %lld): nothing to do\n",
                     run.dir.c_str(), (long long)done, (long long)total);
      return false;
    }
  }
  if (!changes.empty() && comm.is_root())
    std::fprintf(stderr, "delve: resuming '%s' with a changed config: %s\n", run.dir.c_str(), changes.c_str());
  return true;
}
}  // namespace delve
