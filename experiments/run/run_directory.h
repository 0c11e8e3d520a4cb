// The run directory at the start of a run: what it holds, whether the command line may use it,
// and its preparation once nothing can fail any more (README: "Run directory").
//
// Under mpirun rank 0 alone looks at and changes the directory; every other rank learns what rank
// 0 saw through the communicator and never touches a file of it. The order is explicit: every
// rank reads what it needs (the checkpoint it resumes) before a barrier, and rank 0 changes the
// directory only after it, so no rank can remove or rewrite a file another rank is using.
#pragma once
#include <filesystem>
#include <string>

namespace delve {

class Communicator;

struct RunDirectory {
  std::filesystem::path dir;
  bool has_checkpoint = false;  // checkpoint.safetensors
  bool has_log = false;         // log.jsonl
  bool has_config = false;      // config.json: a run was started here
  bool resuming = false;        // --resume, and there is a checkpoint to resume from

  std::string file(const char* name) const { return (dir / name).string(); }
};

// Collective. What rank 0 sees in `dir`, checked against --resume and --force: UsageError for a
// directory that holds a run when neither is given, and for --resume of a directory that holds
// no run at all. A started run without a checkpoint (a log or config.json only) is resumed from
// the beginning, and rank 0 says so on stderr.
RunDirectory inspect_run_directory(const std::string& dir, bool resume, bool force, Communicator& comm);

// Collective: a barrier, then on rank 0 only: removes the temporary files a killed process left
// (core/atomic_file.h) and writes config.json; when not resuming, then removes the previous run's
// log, summary and checkpoint (config.json first, so the directory always shows that a run was
// started here). A directory that does not exist yet appears at once with its config.json
// (made beside it under a temporary name, then renamed), so that a kill at any moment leaves
// either no directory or one that --resume accepts.
void prepare_run_directory(const RunDirectory& run, const std::string& config_text, Communicator& comm);

// Collective: a barrier, then on rank 0 only the removal of stale temporary files (for a resume
// that has nothing to do).
void tidy_run_directory(const RunDirectory& run, Communicator& comm);

}  // namespace delve
