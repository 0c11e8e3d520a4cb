// experiments/run/trainer: an end-to-end run on synthetic data, the log schema, checkpoints,
// bit-identical resume (after an interrupt and after a shorter run), divergence detection.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/safetensors.h"
#include "data/idx.h"
#include "data/load.h"
#include "data_test_files.h"
#include "experiments/run/checkpoint.h"
#include "experiments/run/config.h"
#include "experiments/run/run_directory.h"
#include "experiments/run/run_log.h"
#include "experiments/run/signals.h"
#include "experiments/run/trainer.h"
#include "checkpoint_compare.h"
#include "optim/communicator.h"
#include "temp_dir.h"

using namespace delve;

namespace {

// A small but complete config: conv, PReLU, pooling, fc with dropout, on synthetic 32×32 data.
RunConfig tiny_config(const char* extra = "{}") {
  json user = json::parse(R"({
    "name": "t",
    "data": {"source": "synthetic", "synthetic_train": 96, "synthetic_test": 40, "synthetic_channels": 1,
             "crop_pad": 2, "flip": true},
    "model": {"family": "plain", "stages": [{"convs": 1, "width": 4}, {"convs": 1, "width": 8}], "fc": [16],
              "activation": "prelu", "dropout": 0.5},
    "init": {"kind": "kaiming", "a": 0.25},
    "optim": {"lr": 0.02, "schedule": {"kind": "plateau", "patience": 0}},
    "train": {"epochs": 3, "batch": 16, "log_every": 2, "layers_every": 4, "threads": 1}
  })");
  user.merge_patch(json::parse(extra));
  return parse_run_config(resolve_config(user, "test"));
}

RunOptions quiet(const std::string& dir) {
  RunOptions o;
  o.dir = dir;
  o.progress = false;
  return o;
}

}  // namespace

TEST_CASE("trainer: a run writes config, log, summary, checkpoint, the log follows its schema") {
  test::TempDir tmp("trainer_e2e");
  RunOutcome out = train_run(tiny_config(), quiet(tmp.file("run")));
  CHECK(out.exit_code == kExitOk);
  for (auto f : {"config.json", "log.jsonl", "summary.json", "checkpoint.safetensors"})
    CHECK(std::filesystem::exists(tmp.path() / "run" / f));
  auto events = read_run_log(tmp.file("run/log.jsonl"));
  REQUIRE(events.size() > 5);
  CHECK(events.front()["event"] == "start");
  CHECK(events.back()["event"] == "end");
  CHECK(events.back()["status"] == "completed");
  int train = 0, eval = 0, layers = 0, epochs = 0;
  for (auto& e : events) {
    CHECK(e.contains("time"));
    const std::string kind = e["event"];
    if (kind == "start") {
      for (auto k : {"config", "seed", "threads", "blas_core", "point_gemm", "version", "layers", "total_iterations"}) CHECK(e.contains(k));
    } else if (kind == "train") {
      ++train;
      for (auto k : {"iteration", "epoch", "loss", "error", "lr", "images_per_s"}) CHECK(e.contains(k));
    } else if (kind == "eval") {
      ++eval;
      CHECK(e["split"] == "test");
      CHECK(e["images"] == 40);
    } else if (kind == "epoch") {
      ++epochs;
    } else if (kind == "layers") {
      ++layers;
      REQUIRE(e["layers"].size() == 4);  // conv1, conv2, fc1, fc2
      const json& conv1 = e["layers"][0];
      for (auto k : {"response_std", "grad_input_std", "positive_fraction", "slope_mean", "slope_min", "slope_max",
                     "weight_norm", "update_ratio", "gain_forward", "gain_backward"})
        CHECK(conv1.contains(k));
      CHECK(conv1["positive_fraction"].get<double>() > 0.0);
      CHECK(conv1["positive_fraction"].get<double>() < 1.0);
    }
  }
  CHECK(train == 9);  // 18 iterations (6 per epoch), every 2
  CHECK(epochs == 3);
  CHECK(eval == 3);
  CHECK(layers == 6);  // at 0, 4, 8, 12, 16 and the last step
  CHECK(out.summary["slopes"].size() == 3);  // prelu after conv1, conv2, fc1
  CHECK(out.summary["slopes"][0]["layer"] == "conv1");
  CHECK(out.summary["slopes"][0]["values"].size() == 4);

  // The checkpoint: PyTorch names and shapes, momentum, metadata.
  SafetensorsFile ck = read_safetensors(tmp.file("run/checkpoint.safetensors"));
  CHECK(ck.shapes.at("conv1.weight") == std::vector<int64_t>{4, 1, 3, 3});
  CHECK(ck.shapes.at("fc1.weight") == std::vector<int64_t>{16, 8 * 8 * 8});
  CHECK(ck.shapes.at("prelu1.weight") == std::vector<int64_t>{4});
  CHECK(ck.has("momentum.conv1.weight"));
  CHECK(ck.metadata.at("iteration") == "18");
  CHECK(ck.metadata.at("format_version") == "1");

  // A second run into the same directory is refused without --resume or --force.
  CHECK_THROWS_AS(train_run(tiny_config(), quiet(tmp.file("run"))), UsageError);
}

TEST_CASE("trainer: resume is bit-identical to an uninterrupted run") {
  test::TempDir tmp("trainer_resume");
  train_run(tiny_config(), quiet(tmp.file("whole")));

  SUBCASE("after a shorter run, mid-epoch") {
    train_run(tiny_config(R"({"train": {"iterations": 7}})"), quiet(tmp.file("parts")));
    RunOptions resume = quiet(tmp.file("parts"));
    resume.resume = true;
    train_run(tiny_config(), resume);
  }
  SUBCASE("after an interrupt") {
    request_stop_for_test(2);  // as if SIGINT arrived: the first step finishes, then save and stop
    RunOutcome first = train_run(tiny_config(), quiet(tmp.file("parts")));
    request_stop_for_test(0);
    CHECK(first.exit_code == kExitInterrupted);
    CHECK(first.summary["status"] == "interrupted");
    CHECK(read_checkpoint_header(tmp.file("parts/checkpoint.safetensors")).state.iteration == 1);
    RunOptions resume = quiet(tmp.file("parts"));
    resume.resume = true;
    CHECK(train_run(tiny_config(), resume).exit_code == kExitOk);
  }
  test::check_same_tensors(tmp.file("whole/checkpoint.safetensors"), tmp.file("parts/checkpoint.safetensors"));
  // The resumed log holds each iteration's train event once.
  int train_events = 0;
  for (auto& e : read_run_log(tmp.file("parts/log.jsonl"))) train_events += e["event"] == "train";
  CHECK(train_events >= 9);
  CHECK(train_events <= 10);
}

TEST_CASE("trainer: resuming a changed model is refused, naming the tensor") {
  test::TempDir tmp("trainer_changed");
  train_run(tiny_config(R"({"train": {"iterations": 2}})"), quiet(tmp.file("run")));
  RunOptions resume = quiet(tmp.file("run"));
  resume.resume = true;
  try {
    train_run(tiny_config(R"({"model": {"fc": [32]}})"), resume);
    FAIL("a changed model was resumed");
  } catch (const CheckpointError& e) {
    CHECK(std::string(e.what()).find("fc1.weight") != std::string::npos);
  }
}

TEST_CASE("trainer: divergence stops the run, names iteration and layer, keeps the last checkpoint") {
  test::TempDir tmp("trainer_diverge");
  RunConfig absurd = tiny_config(R"({"optim": {"lr": 100000.0}, "train": {"checkpoint_every": 1}})");
  try {
    train_run(absurd, quiet(tmp.file("run")));
    FAIL("an absurd learning rate did not diverge");
  } catch (const DivergenceError& e) {
    const std::string msg = e.what();
    CHECK(e.code == kExitDiverged);
    CHECK(msg.find("diverged at iteration") != std::string::npos);
    CHECK((msg.find("first non-finite output: ") != std::string::npos || msg.find("gradient of ") != std::string::npos));
  }
  auto events = read_run_log(tmp.file("run/log.jsonl"));
  CHECK(events.back()["status"] == "diverged");
  // The last checkpoint is one of the finite steps before the divergence.
  SafetensorsFile ck = read_safetensors(tmp.file("run/checkpoint.safetensors"));
  for (auto& name : ck.names)
    for (float v : ck.get(name)) REQUIRE(std::isfinite(v));

  SUBCASE("skip_nonfinite counts the skipped steps instead") {
    RunConfig skip = tiny_config(R"({"optim": {"lr": 100000.0}, "train": {"skip_nonfinite": true, "iterations": 6}})");
    RunOutcome out = train_run(skip, quiet(tmp.file("skip")));
    CHECK(out.summary["skipped_steps"].get<int>() > 0);
  }
}

namespace {

// What rank 1 of a 2-rank job sees of its communicator, without MPI: every collective acts on this
// process alone (sums and barriers do nothing, any() is its own flag).
class StandInRank1 final : public Communicator {
 public:
  int rank() const override { return 1; }
  int size() const override { return 2; }
  int local_size() const override { return 2; }
  void allreduce_sum(float*, size_t) override {}
  void allreduce_sum(double*, size_t) override {}
  bool any(bool flag) override { return flag; }
  void barrier() override {}
  [[noreturn]] void abort(int) override { std::abort(); }
  std::string describe() const override { return "stand-in rank 1 of 2"; }
};

// Every file under `dir` with its bytes.
std::map<std::string, std::string> files_of(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files[e.path().string()] = test::read_bytes(e.path().string());
  return files;
}

}  // namespace

TEST_CASE("trainer: under MPI a rank other than 0 never changes the run directory") {
  test::TempDir tmp("trainer_rank1");
  const std::string dir = tmp.file("run");
  train_run(tiny_config(R"({"train": {"iterations": 2}})"), quiet(dir));
  // A temporary file as rank 0 leaves it mid-write (or a killed process left it).
  test::write_bytes(dir + "/config.json.tmp.12345", "half a config");
  const auto before = files_of(dir);
  StandInRank1 rank1;

  SUBCASE("the preparation alone") {
    RunDirectory run;
    run.dir = dir;
    prepare_run_directory(run, "{}\n", rank1);
  }
  SUBCASE("a whole run started over with --force") {
    RunOptions opt = quiet(dir);
    opt.force = true;
    opt.comm = &rank1;
    train_run(tiny_config(R"({"train": {"iterations": 2}})"), opt);
  }
  CHECK(files_of(dir) == before);

  // Rank 0 does prepare it: the old results and the temporary go, config.json is written.
  RunDirectory run;
  run.dir = dir;
  SingleProcess rank0;
  prepare_run_directory(run, "{}\n", rank0);
  CHECK(test::read_bytes(dir + "/config.json") == "{}\n");
  for (auto f : {"log.jsonl", "summary.json", "checkpoint.safetensors", "config.json.tmp.12345"})
    CHECK_FALSE(std::filesystem::exists(tmp.path() / "run" / f));
}

TEST_CASE("trainer: the start event counts the images trained on, config.json records the data directory read") {
  test::TempDir tmp("trainer_recorded");
  train_run(tiny_config(R"({"data": {"train_subset": 40}})"), quiet(tmp.file("subset")));
  const json start = read_run_log(tmp.file("subset/log.jsonl")).front();
  CHECK(start["train_images"] == 40);
  CHECK(start["train_images_available"] == 96);

  // IDX files in a directory named relative to the working directory: recorded absolute.
  const std::string data = tmp.file("idx");
  const auto images = test::random_images(32, 1, 28, 28, 10, 3);
  test::write_idx_split(data, "train", images, false);
  test::write_idx_split(data, "t10k", images, false);
  const std::string relative = std::filesystem::relative(data).string();
  REQUIRE(relative.front() != '/');
  json patch = {{"data", {{"source", "mnist"}, {"path", relative}}}, {"train", {{"iterations", 1}}}};
  train_run(tiny_config(patch.dump().c_str()), quiet(tmp.file("idx_run")));
  const json recorded = json::parse(test::read_bytes(tmp.file("idx_run/config.json")));
  CHECK(recorded["data"]["path"] == std::filesystem::absolute(data).lexically_normal().string());
  CHECK(read_checkpoint_header(tmp.file("idx_run/checkpoint.safetensors")).config["data"]["path"] == recorded["data"]["path"]);
  // Fashion-MNIST's default location is the one recorded when no path is given; synthetic reads none.
  DataSpec fashion;
  fashion.source = "fashion-mnist";
  CHECK(data_location(fashion) == kFashionMnistDefaultDir);
  CHECK(json::parse(test::read_bytes(tmp.file("subset/config.json")))["data"]["path"] == "");
}

TEST_CASE("trainer: a step's layers event carries the iteration count after it, as train, eval and checkpoint do") {
  test::TempDir tmp("trainer_labels");
  train_run(tiny_config(), quiet(tmp.file("run")));  // 18 steps, layers_every 4
  std::vector<int64_t> layers;
  int64_t last_eval = -1, last_checkpoint = -1, last_train = -1;
  for (auto& e : read_run_log(tmp.file("run/log.jsonl"))) {
    const std::string kind = e["event"];
    if (kind == "layers") layers.push_back(e["iteration"]);
    if (kind == "eval") last_eval = e["iteration"];
    if (kind == "checkpoint") last_checkpoint = e["iteration"];
    if (kind == "train") last_train = e["iteration"];
  }
  CHECK(layers == std::vector<int64_t>{1, 4, 8, 12, 16, 18});  // the first step, every 4th, the last
  CHECK(layers.back() == last_eval);
  CHECK(layers.back() == last_checkpoint);
  CHECK(layers.back() == last_train);
}

TEST_CASE("trainer: eval_every_iterations adds evaluations between epochs and leaves the training alone") {
  test::TempDir tmp("trainer_eval_iterations");
  train_run(tiny_config(), quiet(tmp.file("epochs")));  // 18 steps, 6 an epoch, an evaluation after each
  train_run(tiny_config(R"({"train": {"eval_every_iterations": 4}})"), quiet(tmp.file("finer")));
  std::vector<int64_t> evals;
  for (auto& e : read_run_log(tmp.file("finer/log.jsonl")))
    if (e["event"] == "eval") evals.push_back(e["iteration"]);
  CHECK(evals == std::vector<int64_t>{4, 6, 8, 12, 16, 18});  // every 4th and each epoch's end, once each
  // Evaluation reads the weights and draws no random number: the weights and momenta (so also the
  // plateau schedule's learning rates, which they depend on) come out bit for bit as without it.
  test::check_same_tensors(tmp.file("epochs/checkpoint.safetensors"), tmp.file("finer/checkpoint.safetensors"));
}
