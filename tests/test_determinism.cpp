// Determinism through the real command line: the same config, seed and thread count give the same
// bits, on a machine that other processes load as on a quiet one, and an interrupt at a random
// moment followed by --resume ends where an uninterrupted run does. "The same" means every
// checkpoint tensor byte for byte, and every number of log.jsonl and summary.json except the
// clock's (time, seconds, images_per_s).
//
// The net is big enough that each conv layer gets several image chunks per worker (so per-worker
// partial sums over chunks matter): a Winograd 3×3 conv, an im2col 5×5 conv, channel-wise and
// channel-shared PReLU, ReLU, max-pooling, dropout and two fc layers.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/rng.h"
#include "experiments/run/checkpoint.h"
#include "tests/checkpoint_compare.h"
#include "tests/run_delve.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;
using namespace delve;
using nlohmann::json;

namespace {

// Batch 32 on 32×32 images: conv1 (Winograd, 1→8) gets 5 chunks of ≤ 7 images, conv2 (im2col
// 5×5, 8→8) 32 chunks of 1 image, conv3 (Winograd, 8→16) 4 chunks of ≤ 10 images.
constexpr const char* kConfig = R"({
  "name": "determinism",
  "data": {"source": "synthetic", "synthetic_train": 256, "synthetic_test": 64, "synthetic_channels": 1,
           "flip": true, "crop_pad": 2},
  "model": {"family": "layers", "layers": [
    {"type": "conv", "out": 8, "kernel": 3}, {"type": "prelu"},
    {"type": "conv", "out": 8, "kernel": 5}, {"type": "relu"}, {"type": "maxpool", "kernel": 2},
    {"type": "conv", "out": 16, "kernel": 3}, {"type": "prelu_shared"}, {"type": "maxpool", "kernel": 2},
    {"type": "linear", "out": 32}, {"type": "prelu"}, {"type": "dropout", "p": 0.25},
    {"type": "linear", "out": 10}]},
  "optim": {"lr": 0.02},
  "train": {"epochs": 2, "batch": 32, "log_every": 1, "layers_every": 4}
})";

// Other processes on every core for as long as it lives: one child per core spinning on nothing
// (no allocation and no other call after fork), killed and reaped at the end.
class CpuLoad {
 public:
  CpuLoad() {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < cores; ++i) {
      const pid_t pid = ::fork();
      if (pid == 0)
        for (;;) __asm__ volatile("");  // a side effect, so the loop is not optimised away
      if (pid > 0) children_.push_back(pid);
    }
  }
  ~CpuLoad() {
    for (pid_t pid : children_) ::kill(pid, SIGKILL);
    for (pid_t pid : children_) ::waitpid(pid, nullptr, 0);
  }
  CpuLoad(const CpuLoad&) = delete;
  CpuLoad& operator=(const CpuLoad&) = delete;
  size_t size() const { return children_.size(); }

 private:
  std::vector<pid_t> children_;
};

// A JSON value without the clock's fields, at any depth, nor the run directory's path (which the
// two runs compared must differ in).
json without_clock(json v) {
  if (v.is_object()) {
    json out = json::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string& k = it.key();
      const bool clock = k == "time" || k == "images_per_s" || k == "seconds" ||
                         (k.size() > 8 && k.compare(k.size() - 8, 8, "_seconds") == 0);
      if (!clock && k != "path") out[k] = without_clock(it.value());
    }
    return out;
  }
  if (v.is_array())
    for (auto& e : v) e = without_clock(e);
  return v;
}

std::vector<json> log_events(const std::string& path) {
  std::vector<json> events;
  std::istringstream lines(test::read_bytes(path));
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) events.push_back(without_clock(json::parse(line)));
  return events;
}

// Two run directories agree in every bit that does not measure time.
void check_same_run(const fs::path& a, const fs::path& b) {
  test::check_same_tensors((a / "checkpoint.safetensors").string(), (b / "checkpoint.safetensors").string());
  const std::vector<json> ea = log_events((a / "log.jsonl").string()), eb = log_events((b / "log.jsonl").string());
  REQUIRE(ea.size() == eb.size());
  for (size_t i = 0; i < ea.size(); ++i) {
    INFO("log.jsonl line " << i + 1);
    CHECK(ea[i].dump() == eb[i].dump());
  }
  CHECK(without_clock(json::parse(test::read_bytes((a / "summary.json").string()))).dump() ==
        without_clock(json::parse(test::read_bytes((b / "summary.json").string()))).dump());
}

// The log of an interrupted and resumed run holds the events of one uninterrupted run, plus the
// interrupted part's checkpoint and end and the resumed part's start. The checkpoint holds the
// running sums of the log interval and the epoch, so the train and epoch events of the interval and
// the epoch the interrupt cut in two are the same too.
void check_same_resumed_log(const fs::path& whole, const fs::path& resumed) {
  auto steps = [](const fs::path& p) {
    std::vector<json> kept;
    for (json& e : log_events(p.string()))
      if (e["event"] != "start" && e["event"] != "end" && e["event"] != "checkpoint") kept.push_back(e);
    return kept;
  };
  const std::vector<json> a = steps(whole), b = steps(resumed);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("event " << i << " of " << a[i].dump());
    CHECK(a[i].dump() == b[i].dump());
  }
}

std::vector<std::string> run_args(const std::string& config, const fs::path& out, int threads) {
  return {"run", config, "--out", out.string(), "--quiet", "--set", "train.threads=" + std::to_string(threads)};
}

int logged_threads(const fs::path& dir) { return log_events((dir / "log.jsonl").string()).at(0).at("threads"); }

}  // namespace

TEST_CASE("determinism: same config, seed and threads give the same bits, on a loaded machine too") {
  test::TempDir tmp("determinism");
  const std::string config = tmp.file("net.json");
  test::write_bytes(config, kConfig);
  for (int threads : {2, 3}) {
    CAPTURE(threads);
    const fs::path quiet = tmp.file("quiet" + std::to_string(threads)), loaded = tmp.file("loaded" + std::to_string(threads));
    const test::DelveResult q = test::run_delve(run_args(config, quiet, threads), tmp.str());
    REQUIRE_MESSAGE(q.exit_code == kExitOk, q.err);
    {
      CpuLoad load;
      REQUIRE(load.size() >= 1);
      const test::DelveResult l = test::run_delve(run_args(config, loaded, threads), tmp.str());
      REQUIRE_MESSAGE(l.exit_code == kExitOk, l.err);
    }
    CHECK(logged_threads(quiet) == threads);
    check_same_run(quiet, loaded);
  }
}

TEST_CASE("determinism: SIGINT at a random moment, then --resume, ends bit for bit where an uninterrupted run does") {
  test::TempDir tmp("interrupt");
  const std::string config = tmp.file("net.json");
  test::write_bytes(config, kConfig);
  const fs::path whole = tmp.file("whole");
  const auto t0 = std::chrono::steady_clock::now();
  const test::DelveResult w = test::run_delve(run_args(config, whole, 2), tmp.str());
  const double run_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE_MESSAGE(w.exit_code == kExitOk, w.err);
  const int64_t total = read_checkpoint_header((whole / "checkpoint.safetensors").string()).state.iteration;

  // A signal can come before the handler is installed or after the run ended; draw another moment
  // until one lands mid-run (the checkpoint it leaves is of a step strictly inside the run).
  const char* seed = std::getenv("DELVE_INTERRUPT_SEED");
  Rng rng(seed && *seed ? uint64_t(std::atoll(seed)) : 11);
  bool interrupted = false;
  for (int attempt = 0; attempt < 10 && !interrupted; ++attempt) {
    const fs::path dir = tmp.file("parts" + std::to_string(attempt));
    const pid_t pid = test::start_delve(run_args(config, dir, 2), tmp.file("out"), tmp.file("err"));
    std::this_thread::sleep_for(std::chrono::duration<double>(run_seconds * (0.1 + 0.8 * rng.uniform())));
    ::kill(pid, SIGINT);
    test::DelveResult r;
    test::wait_delve(pid, r);
    if (r.exit_code != kExitInterrupted || !fs::exists(dir / "checkpoint.safetensors")) continue;
    const int64_t stopped_at = read_checkpoint_header((dir / "checkpoint.safetensors").string()).state.iteration;
    if (stopped_at <= 0 || stopped_at >= total) continue;
    interrupted = true;
    MESSAGE("interrupted at iteration " << stopped_at << " of " << total);
    std::vector<std::string> args = run_args(config, dir, 2);
    args.push_back("--resume");
    const test::DelveResult resumed = test::run_delve(args, tmp.str());
    REQUIRE_MESSAGE(resumed.exit_code == kExitOk, resumed.err);
    test::check_same_tensors((whole / "checkpoint.safetensors").string(), (dir / "checkpoint.safetensors").string());
    check_same_resumed_log(whole / "log.jsonl", dir / "log.jsonl");
    json sw = without_clock(json::parse(test::read_bytes((whole / "summary.json").string())));
    json sr = without_clock(json::parse(test::read_bytes((dir / "summary.json").string())));
    CHECK(sw.dump() == sr.dump());
  }
  REQUIRE_MESSAGE(interrupted, "no SIGINT landed inside the run in 10 attempts");
}
