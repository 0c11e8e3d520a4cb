#include "experiments/run/run_directory.h"

#include <unistd.h>

#include <cstdio>

#include "core/atomic_file.h"
#include "core/error.h"
#include "optim/communicator.h"

namespace fs = std::filesystem;

namespace delve {

namespace {

// The files a run writes (their stale temporaries are removed at the start); the last three are
// the previous run's results that --force discards.
constexpr const char* kRunFiles[] = {"config.json", "curves.svg", "report.html", "log.jsonl", "summary.json",
                                     "checkpoint.safetensors"};
constexpr const char* kResultFiles[] = {"log.jsonl", "summary.json", "checkpoint.safetensors"};

Error cannot_create(const fs::path& dir, const std::error_code& ec) {
  return Error("cannot create run directory '" + dir.string() + "': " + ec.message());
}

// Staging directories (`<name>.tmp.<pid>`) of a run directory whose creating process was killed
// before the rename: never a run, only litter.
void remove_stale_staging(const fs::path& dir) {
  const std::string prefix = dir.filename().string() + ".tmp.";
  std::error_code ec;
  for (fs::directory_iterator it(dir.parent_path(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
        name.find_first_not_of("0123456789", prefix.size()) == std::string::npos && it->is_directory()) {
      std::error_code ignored;
      fs::remove_all(it->path(), ignored);
    }
  }
}

// A new run directory with its config.json, appearing at once by a rename.
void create_with_config(const fs::path& dir, const std::string& config_text) {
  const fs::path target = dir.filename().empty() ? dir.parent_path() : dir;  // "runs/x/" names runs/x
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw cannot_create(dir, ec);
  remove_stale_staging(target);
  const fs::path staging = parent / (target.filename().string() + ".tmp." + std::to_string(::getpid()));
  fs::remove_all(staging, ec);
  fs::create_directory(staging, ec);
  if (ec) throw cannot_create(dir, ec);
  write_text_file_atomic((staging / "config.json").string(), config_text);
  fs::rename(staging, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove_all(staging, ignored);
    throw cannot_create(dir, ec);
  }
}

}  // namespace

RunDirectory inspect_run_directory(const std::string& dir, bool resume, bool force, Communicator& comm) {
  RunDirectory run;
  run.dir = dir;
  auto root_sees = [&](const char* name) { return comm.any(comm.is_root() && fs::exists(run.dir / name)); };
  run.has_checkpoint = root_sees("checkpoint.safetensors");
  run.has_log = root_sees("log.jsonl");
  run.has_config = root_sees("config.json");
  if (!resume && !force && (run.has_checkpoint || run.has_log))
    throw UsageError("'" + dir + "' already holds a run; pass --resume to continue it, --force to start it over, "
                     "or --out to choose another directory");
  if (resume && !run.has_checkpoint && !run.has_log && !run.has_config)
    throw UsageError("--resume: '" + dir + "' holds no run to resume (no checkpoint.safetensors, log.jsonl or config.json); "
                     "check --out, or leave out --resume to start a new run there");
  // Not a progress line: said even with --quiet, since the earlier steps are being redone.
  if (resume && !run.has_checkpoint && comm.is_root())
    std::fprintf(stderr, "delve: no complete checkpoint in '%s': starting this run from the beginning\n", dir.c_str());
  run.resuming = resume && run.has_checkpoint;
  return run;
}

void tidy_run_directory(const RunDirectory& run, Communicator& comm) {
  comm.barrier();  // every rank has read from the directory what it needs
  if (!comm.is_root()) return;
  for (const char* f : kRunFiles) remove_stale_temporaries(run.file(f));
}

void prepare_run_directory(const RunDirectory& run, const std::string& config_text, Communicator& comm) {
  tidy_run_directory(run, comm);
  if (!comm.is_root()) return;
  if (!fs::exists(run.dir)) return create_with_config(run.dir, config_text);
  write_text_file_atomic(run.file("config.json"), config_text);
  if (run.resuming) return;
  std::error_code ec;
  for (const char* f : kResultFiles) {
    fs::remove(run.dir / f, ec);
    if (ec) throw Error("cannot remove '" + run.file(f) + "' of the previous run: " + ec.message());
  }
}

}  // namespace delve
