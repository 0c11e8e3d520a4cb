// Data-parallel training under a real `mpirun -np 2` on this machine, against one process:
// equal weights up to float summation order, resume with another number of ranks, and
// --sweep-parallel. Skipped, with a message, in a build without MPI (DELVE_MPI=OFF).
//
// The tolerance, and why: P = 2 forms each gradient as ½·g₀ + ½·g₁, g_r the mean over rank r's
// 8 images, where one process sums all 16 images in one GEMM; the sums run in another order.
// The worst-case bound (tests/float_bounds.h) is γ_n·M per gradient with n up to 16·32² = 16384
// terms (conv1's ∂L/∂w): ~1e-3 of M, as large as a real fault, so it cannot separate them here.
// The probabilistic bound (Higham & Mary 2019: rounding errors as independent, mean-zero
// variables) is λ·√n·u·M with probability 1 − 2·exp(−λ²/2): for λ = 6, 6·128·2⁻²⁴ ≈ 4.6e-5 of
// M per gradient and per run. 18 steps of momentum SGD (lr 0.02, μ = 0.9) add each step's
// difference at most lr/(1 − μ) = 0.2 times over: 18 · 0.2 · 2 · 4.6e-5 ≈ 3.3e-4 of the gradients'
// magnitudes M (ignoring the feedback of weight differences into later gradients), so
// kTolerance = 1e-5 covers gradient magnitudes up to 0.03. The test does not measure M, so this
// is a model, not a proof; measured here: 6e-8 (one ulp of weights near 0.5). It sits far below what a real
// fault gives: one step less moves the weights by 4.7e-3, and averaging the shards of an odd
// batch (15 = 8 + 7) without their weights n_r/B by 9e-3 (both checked; the second by breaking
// optim/data_parallel.cpp on purpose).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include "core/safetensors.h"
#include "experiments/run/config.h"
#include "experiments/run/trainer.h"
#include "optim/communicator.h"
#include "temp_dir.h"

using namespace delve;

namespace {

constexpr double kTolerance = 1e-5;

// Dropout off (it draws different masks under P = 2); everything else a real run has.
const char* kConfig = R"({
  "name": "mpi",
  "data": {"source": "synthetic", "synthetic_train": 96, "synthetic_test": 40, "synthetic_channels": 1,
           "crop_pad": 2, "flip": true},
  "model": {"family": "plain", "stages": [{"convs": 1, "width": 4}, {"convs": 1, "width": 8}], "fc": [16],
            "activation": "prelu"},
  "init": {"kind": "kaiming"},
  "optim": {"lr": 0.02},
  "train": {"epochs": 3, "batch": 16, "log_every": 2, "threads": 1}
})";

std::string write_config(const test::TempDir& tmp, const std::string& text, const char* name = "config.json") {
  const std::string path = tmp.file(name);
  std::ofstream(path) << text;
  return path;
}

// One process, in this test's process.
void run_here(const std::string& config_path, const std::string& dir, const char* extra = "{}", bool resume = false) {
  json user = load_config_file(config_path);
  user.merge_patch(json::parse(extra));
  RunOptions opt;
  opt.dir = dir;
  opt.progress = false;
  opt.resume = resume;
  train_run(parse_run_config(resolve_config(user, "test")), opt);
}

// `delve run` under mpirun on this machine. As root Open MPI needs --allow-run-as-root; two
// ranks on a one-core CI machine need --oversubscribe; the ranks talk through shared memory only
// (btl self,vader: no TCP, which may find no usable interface in a container), and without
// single-copy (CMA) transfers, which containers often forbid.
int run_mpi(int ranks, const std::string& args) {
  const std::string cmd = std::string(DELVE_MPIEXEC) +
                          " --allow-run-as-root --oversubscribe --mca btl self,vader"
                          " --mca btl_vader_single_copy_mechanism none -np " +
                          std::to_string(ranks) + " " + DELVE_BINARY + " run " + args + " --quiet > /dev/null";
  return std::system(cmd.c_str());
}

// The largest |a - b| over every parameter and momentum tensor of two checkpoints.
double max_difference(const std::string& a, const std::string& b) {
  SafetensorsFile fa = read_safetensors(a), fb = read_safetensors(b);
  REQUIRE(fa.names == fb.names);
  double worst = 0;
  for (auto& name : fa.names) {
    const auto& va = fa.get(name);
    const auto& vb = fb.get(name);
    REQUIRE(va.size() == vb.size());
    for (size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::fabs(double(va[i]) - double(vb[i])));
  }
  return worst;
}

bool skip_without_mpi() {
  if (built_with_mpi()) return false;
  MESSAGE("skipped: built without MPI (configure with -DDELVE_MPI=ON, Open MPI installed)");
  return true;
}

}  // namespace

TEST_CASE("mpi: mpirun -np 2 trains the same weights as one process, up to float summation order") {
  if (skip_without_mpi()) return;
  test::TempDir tmp("mpi_equal");
  const std::string cfg = write_config(tmp, kConfig);
  run_here(cfg, tmp.file("one"));
  REQUIRE(run_mpi(2, cfg + " --out " + tmp.file("two")) == 0);
  const double diff = max_difference(tmp.file("one/checkpoint.safetensors"), tmp.file("two/checkpoint.safetensors"));
  MESSAGE("max |w(P=2) - w(P=1)| over weights and momentum: " << diff << " (tolerance " << kTolerance << ")");
  CHECK(diff <= kTolerance);

  // The tolerance does catch a real difference: one step less.
  run_here(cfg, tmp.file("short"), R"({"train": {"iterations": 17}})");
  CHECK(max_difference(tmp.file("one/checkpoint.safetensors"), tmp.file("short/checkpoint.safetensors")) > 1e-3);

  // An odd batch: 15 = 8 + 7 images, the remainder weighted exactly.
  run_here(cfg, tmp.file("odd_one"), R"({"train": {"batch": 15}})");
  json odd_config = json::parse(kConfig);
  odd_config["train"]["batch"] = 15;
  write_config(tmp, odd_config.dump(), "odd.json");
  REQUIRE(run_mpi(2, tmp.file("odd.json") + " --out " + tmp.file("odd_two")) == 0);
  const double odd = max_difference(tmp.file("odd_one/checkpoint.safetensors"), tmp.file("odd_two/checkpoint.safetensors"));
  MESSAGE("batch 15 over 2 ranks: max difference " << odd);
  CHECK(odd <= kTolerance);
}

TEST_CASE("mpi: a run resumes with another number of ranks") {
  if (skip_without_mpi()) return;
  test::TempDir tmp("mpi_resume");
  const std::string cfg = write_config(tmp, kConfig);
  run_here(cfg, tmp.file("whole"));
  // 7 steps on one process, the rest on two ranks ...
  run_here(cfg, tmp.file("one_then_two"), R"({"train": {"iterations": 7}})");
  REQUIRE(run_mpi(2, cfg + " --resume --out " + tmp.file("one_then_two")) == 0);
  CHECK(max_difference(tmp.file("whole/checkpoint.safetensors"), tmp.file("one_then_two/checkpoint.safetensors")) <=
        kTolerance);
  // ... and 7 on two ranks, the rest on one process.
  REQUIRE(run_mpi(2, cfg + " --set train.iterations=7 --out " + tmp.file("two_then_one")) == 0);
  run_here(cfg, tmp.file("two_then_one"), "{}", true);
  CHECK(max_difference(tmp.file("whole/checkpoint.safetensors"), tmp.file("two_then_one/checkpoint.safetensors")) <=
        kTolerance);
}

TEST_CASE("mpi: --sweep-parallel trains each member alone on its own rank") {
  if (skip_without_mpi()) return;
  test::TempDir tmp("mpi_sweep");
  json sweep = json::parse(kConfig);
  sweep["train"]["epochs"] = 1;
  sweep["sweep"] = {{"seed", {1, 2, 3}}};
  const std::string cfg = write_config(tmp, sweep.dump());
  REQUIRE(run_mpi(2, cfg + " --sweep-parallel --out " + tmp.file("sweep")) == 0);
  CHECK(std::filesystem::exists(tmp.file("sweep/curves.svg")));
  // Member seed-2 ran on rank 1 as a single process: bit for bit the run of one process.
  json member = sweep;
  member.erase("sweep");
  member["seed"] = 2;
  const std::string one = write_config(tmp, member.dump(), "seed2.json");
  run_here(one, tmp.file("seed2"));
  for (const char* m : {"seed-1", "seed-2", "seed-3"}) CHECK(std::filesystem::exists(tmp.path() / "sweep" / m / "summary.json"));
  CHECK(max_difference(tmp.file("seed2/checkpoint.safetensors"), tmp.file("sweep/seed-2/checkpoint.safetensors")) == 0);
}

TEST_CASE("mpi: a launcher's rank count that MPI does not match is refused before any file is written") {
  if (skip_without_mpi()) return;
  test::TempDir tmp("mpi_mismatch");
  const std::string cfg = write_config(tmp, kConfig);
  // The launcher's variable says 2 ranks, but this process starts alone: MPI makes a world of 1.
  const std::string cmd = "OMPI_COMM_WORLD_SIZE=2 " + std::string(DELVE_BINARY) + " run " + cfg + " --quiet --out " +
                          tmp.file("run") + " 2> " + tmp.file("err.txt");
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  CHECK(test::read_bytes(tmp.file("err.txt")).find("mpirun started 2 ranks but MPI joined a world of 1") !=
        std::string::npos);
  CHECK_FALSE(std::filesystem::exists(tmp.file("run")));
}
