// experiments/trainer: an end-to-end run on synthetic data, the log schema, checkpoints,
// bit-identical resume (after an interrupt and after a shorter run), divergence detection.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/safetensors.h"
#include "experiments/checkpoint.h"
#include "experiments/config.h"
#include "experiments/run_log.h"
#include "experiments/signals.h"
#include "experiments/trainer.h"
#include "checkpoint_compare.h"
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

TEST_CASE("trainer: a run writes config, log, summary, checkpoint; the log follows its schema") {
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
      for (auto k : {"config", "seed", "threads", "blas_core", "version", "layers", "total_iterations"}) CHECK(e.contains(k));
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
