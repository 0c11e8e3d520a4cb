// Crash safety of checkpoints: `delve run` is killed with SIGKILL at random moments (during steps,
// evaluations and checkpoint writes alike) and resumed with --resume, over and over. After every
// kill the checkpoint on disk is absent or whole and never older than the one before (nothing
// lost), and each run ends bit for bit where an uninterrupted run ends. Two worker threads, so the
// convolution's per-worker gradient sums are part of what must come out the same.
//
// DELVE_KILLS sets the number of kills (default 20, well under a minute; tests/kill_test.sh runs
// 100). DELVE_KILL_SEED chooses the random delays, to replay a failure.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/error.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "experiments/run/checkpoint.h"
#include "tests/checkpoint_compare.h"
#include "tests/run_delve.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;
using namespace delve;

namespace {

// A run of some 60 short steps with a checkpoint after every one, so that a good share of the
// kills land inside a checkpoint write.
constexpr const char* kConfig = R"({
  "name": "kill",
  "data": {"source": "synthetic", "synthetic_train": 64, "synthetic_test": 16, "synthetic_channels": 1,
           "synthetic_classes": 4, "flip": true, "prefetch": 0},
  "model": {"family": "plain", "stages": [{"convs": 1, "width": 4}], "fc": [8], "activation": "prelu",
            "dropout": 0.5},
  "optim": {"lr": 0.02},
  "train": {"epochs": 15, "batch": 16, "log_every": 1, "checkpoint_every": 1, "threads": 2}
})";

long env_or(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atol(v) : fallback;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool has_temporary(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("kill test: SIGKILL at random moments, then --resume, loses nothing") {
  test::TempDir tmp("kill");
  const std::string config = tmp.file("kill.json");
  test::write_bytes(config, kConfig);

  // The reference: one uninterrupted run, and how long it takes (delays are drawn from it).
  const auto t0 = std::chrono::steady_clock::now();
  const test::DelveResult whole = test::run_delve({"run", config, "--out", tmp.file("whole"), "--quiet"}, tmp.path().string());
  const double run_seconds = seconds_since(t0);
  REQUIRE_MESSAGE(whole.exit_code == kExitOk, whole.err);
  const std::string reference = tmp.file("whole/checkpoint.safetensors");
  const int64_t total = read_checkpoint_header(reference).state.iteration;

  const long kills_wanted = env_or("DELVE_KILLS", 20);
  Rng rng(uint64_t(env_or("DELVE_KILL_SEED", 7)));
  long kills = 0, kills_mid_write = 0, kills_before_checkpoint = 0, resumes = 0, clean_starts = 0, rounds = 0;
  while (kills < kills_wanted) {
    // One round: a fresh directory, killed and resumed until a resume runs to the end.
    const fs::path dir = tmp.file("round" + std::to_string(rounds++));
    const std::string checkpoint = (dir / "checkpoint.safetensors").string();
    int64_t last_iteration = -1;  // of the last complete checkpoint seen
    for (bool finished = false; !finished;) {
      const bool first = !fs::exists(dir);
      std::vector<std::string> args{"run", config, "--out", dir.string()};
      if (!first) args.push_back("--resume");
      const bool had_log = fs::exists(dir / "log.jsonl"), had_checkpoint = fs::exists(checkpoint);
      const bool had_temporary = !first && has_temporary(dir);
      test::DelveResult r;
      const pid_t pid = test::start_delve(args, tmp.file("out"), tmp.file("err"));
      // Kills land anywhere in the time of a whole run; one that comes after the run has finished
      // is no kill, and the round is over. Once enough kills are done, the last resume of the
      // round runs to its end.
      bool killed = false;
      if (kills < kills_wanted) {
        const double delay = run_seconds * double(rng.below(1000)) / 1000.0;
        std::this_thread::sleep_for(std::chrono::duration<double>(delay));
        killed = ::kill(pid, SIGKILL) == 0;
      }
      test::wait_delve(pid, r);
      r.err = test::read_bytes(tmp.file("err"));
      resumes += !first;
      if (!first && had_log && !had_checkpoint && r.err.find("no complete checkpoint") != std::string::npos)
        ++clean_starts;
      if (r.signal != SIGKILL) {
        INFO("delve ended by itself: exit " << r.exit_code << ", stderr: " << r.err);
        REQUIRE(r.exit_code == kExitOk);
        finished = true;
      } else {
        REQUIRE(killed);
        ++kills;
      }
      if (!fs::exists(dir)) continue;  // killed before it made the directory
      kills_mid_write += r.signal == SIGKILL && !had_temporary && has_temporary(dir);
      if (!fs::exists(checkpoint)) {
        // No complete checkpoint yet; one seen earlier must not have vanished.
        REQUIRE(last_iteration < 0);
        kills_before_checkpoint += r.signal == SIGKILL;
        continue;
      }
      // Whatever moment the kill hit, the checkpoint on disk is whole and no older than before.
      int64_t iteration = -1;
      try {
        read_safetensors(checkpoint);
        iteration = read_checkpoint_header(checkpoint).state.iteration;
      } catch (const Error& e) {
        FAIL("after kill " << kills << " the checkpoint is not valid: " << e.what());
      }
      REQUIRE(iteration >= last_iteration);
      REQUIRE(iteration <= total);
      last_iteration = iteration;
    }
    // The round's end equals the uninterrupted run bit for bit, and no temporary file is left.
    test::check_same_tensors(reference, (dir / "checkpoint.safetensors").string());
    CHECK_FALSE(has_temporary(dir));
    CHECK(test::read_bytes((dir / "config.json").string()) == test::read_bytes(tmp.file("whole/config.json")));
  }
  MESSAGE("kill test: " << kills << " kills (" << kills_mid_write << " during an atomic file write, " << kills_before_checkpoint
                        << " before the first checkpoint), " << resumes << " resumes (" << clean_starts
                        << " clean starts said so), " << rounds << " runs each equal to the uninterrupted one");
  CHECK(kills >= kills_wanted);
}
