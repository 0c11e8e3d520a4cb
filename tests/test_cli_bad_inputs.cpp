// The bad-input table: malformed configs, command lines, data files and checkpoints, each given to
// the real `delve` binary. Every row asserts the exit code (core/error.h), that the message names
// the offending key, file or value, and that no file of an existing run directory was written
// over. The README's troubleshooting section lists the same errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data_test_files.h"
#include "tests/checkpoint_compare.h"
#include "tests/file_bytes.h"
#include "tests/run_delve.h"
#include "tests/xml_check.h"

namespace fs = std::filesystem;
using namespace delve;
using delve::test::read_bytes;
using delve::test::write_bytes;

namespace {

// Two steps on a small synthetic set: the run every row starts from or compares against.
constexpr const char* kGoodConfig = R"({
  "name": "good",
  "data": {"source": "synthetic", "synthetic_train": 64, "synthetic_test": 16, "synthetic_channels": 1,
           "synthetic_classes": 4, "prefetch": 0},
  "model": {"family": "plain", "stages": [{"convs": 1, "width": 4}], "fc": [8]},
  "train": {"iterations": 2, "batch": 16, "threads": 1}
})";

struct Row {
  std::string name;
  std::vector<std::string> args;
  int exit_code;
  std::vector<std::string> mentions;  // each must appear in stderr
  test::ChildOptions child = {};
};

// Every file under `dir` with its bytes.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files[e.path().string()] = read_bytes(e.path().string());
  return files;
}

// A checkpoint with its JSON header edited (tensor entries and metadata), data section unchanged.
std::string with_header(const std::string& file, const std::function<void(nlohmann::ordered_json&)>& edit) {
  uint64_t length = 0;
  std::memcpy(&length, file.data(), 8);
  auto header = nlohmann::ordered_json::parse(file.substr(8, length));
  edit(header);
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t new_length = text.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &new_length, 8);
  return out + text + file.substr(8 + length);
}

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

}  // namespace

TEST_CASE("bad inputs: exit code, a message naming the culprit, existing results untouched") {
  test::TempDir tmp("bad_inputs");
  auto path = [&](const std::string& name) { return tmp / name; };
  auto file = [&](const std::string& name, const std::string& bytes) {
    test::write_file(path(name), bytes_of(bytes));
    return path(name);
  };
  const std::string good = file("good.json", kGoodConfig);
  auto config = [&](const std::string& name, const std::string& patch) {
    nlohmann::json j = nlohmann::json::parse(kGoodConfig);
    j.merge_patch(nlohmann::json::parse(patch));
    return file(name, j.dump());
  };

  // The existing results: one finished run, and copies of it with a damaged checkpoint.
  const std::string runs = path("runs"), existing = path("runs/existing");
  const test::DelveResult first = test::run_delve({"run", good, "--out", existing, "--quiet"}, tmp.str());
  REQUIRE_MESSAGE(first.exit_code == kExitOk, first.err);
  const std::string checkpoint = read_bytes(existing + "/checkpoint.safetensors");
  auto run_copy = [&](const std::string& name, const std::string& checkpoint_bytes) {
    fs::copy(existing, path("runs/" + name), fs::copy_options::recursive);
    write_bytes(path("runs/" + name + "/checkpoint.safetensors"), checkpoint_bytes);
    return path("runs/" + name);
  };
  auto edited = [&](const std::function<void(nlohmann::ordered_json&)>& edit) { return with_header(checkpoint, edit); };
  auto checkpoint_file = [&](const std::string& name, const std::string& bytes) { return file(name + ".safetensors", bytes); };
  const std::string newer = edited([](auto& h) { h["__metadata__"]["format_version"] = "99"; });

  // Data files, valid but for one defect each.
  const auto images = test::random_images(4, 1, 28, 28, 10, 1);
  auto idx_dir = [&](const std::string& name, const std::function<void(const std::string&)>& damage) {
    const std::string dir = path("data/" + name);
    test::write_idx_split(dir, "train", images, false);
    test::write_idx_split(dir, "t10k", images, false);
    damage(dir);
    return dir;
  };
  const std::string train_images = "/train-images-idx3-ubyte", train_labels = "/train-labels-idx1-ubyte";
  auto images_file = [&](uint32_t magic, uint32_t n, size_t pixels) {
    return test::idx_bytes(magic, {n, 28, 28}, std::vector<uint8_t>(pixels, 7));
  };
  const std::string idx_magic = idx_dir("idx_magic", [&](auto& d) { test::write_file(d + train_images, images_file(0x0802, 4, 4 * 784)); });
  const std::string idx_short = idx_dir("idx_short", [&](auto& d) { test::write_file(d + train_images, images_file(0x0803, 4, 3 * 784)); });
  const std::string idx_long = idx_dir("idx_long", [&](auto& d) { test::write_file(d + train_images, images_file(0x0803, 4, 4 * 784 + 1)); });
  const std::string idx_count = idx_dir("idx_count", [&](auto& d) { test::write_file(d + train_images, images_file(0x0803, 3, 3 * 784)); });
  const std::string idx_label = idx_dir("idx_label", [&](auto& d) { test::write_file(d + train_labels, test::idx_bytes(0x0801, {4}, {0, 1, 42, 3})); });
  const std::string idx_gz = idx_dir("idx_gz", [&](auto& d) {
    fs::remove(d + train_images);
    test::write_file(d + train_images + ".gz", {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 'n', 'o', 't', ' ', 'g', 'z'});
  });
  const std::string cifar_size = path("data/cifar_size");
  test::write_file(cifar_size + "/data_batch_1.bin", std::vector<uint8_t>(100, 1));
  const std::string folder_empty = path("data/folder_empty"), folder_corrupt = path("data/folder_corrupt");
  fs::create_directories(folder_empty + "/cat");
  test::write_png(folder_empty + "/dog/1.png", 4, 4, 1, std::vector<uint8_t>(16, 9));
  test::write_png(folder_corrupt + "/dog/1.png", 4, 4, 1, std::vector<uint8_t>(16, 9));
  test::write_png(folder_corrupt + "/dog/2.png", 4, 4, 1, std::vector<uint8_t>(16, 9));
  test::write_file(folder_corrupt + "/cat/1.png", bytes_of("this is not a PNG"));
  test::write_file(folder_corrupt + "/cat/2.png", bytes_of("this is not a PNG either"));

  auto with_data = [&](const std::string& source, const std::string& dir) {
    return std::vector<std::string>{"run", good, "--out", path("runs/new"), "--quiet", "--set", "data.source=" + source,
                                    "--set", "data.path=" + dir};
  };
  auto run_good_with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"run", good, "--out", path("runs/new"), "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  auto eval = [&](const std::string& name, const std::string& bytes) {
    return std::vector<std::string>{"eval", checkpoint_file(name, bytes)};
  };
  auto resume = [&](const std::string& dir) {
    return std::vector<std::string>{"run", good, "--out", dir, "--resume", "--quiet"};
  };
  // A copy that the full-disk row resumes (and so may write into): kept out of runs/.
  fs::rename(run_copy("full", checkpoint), path("full"));
  std::vector<std::string> resume_full = resume(path("full"));
  resume_full.insert(resume_full.end(), {"--set", "train.iterations=4"});

  const std::vector<Row> rows = {
      // Command lines.
      {"no subcommand", {}, kExitUsage, {"Usage: delve", "Subcommands:"}},
      {"unknown subcommand", {"rnu", good}, kExitUsage, {"rnu", "run"}},
      {"unknown option", {"run", good, "--frobnicate"}, kExitUsage, {"--frobnicate"}},
      {"missing config file", {"run", path("missing.json")}, kExitUsage, {"missing.json"}},
      {"--set without a value", {"run", good, "--set"}, kExitUsage, {"--set"}},
      {"--only an unknown sweep member", run_good_with({"--only", "kind-nope"}), kExitUsage, {"kind-nope"}},
      {"run into a directory holding a run", {"run", good, "--out", existing}, kExitUsage, {existing, "--resume"}},
      {"eval of a missing checkpoint", {"eval", path("missing.safetensors")}, kExitUsage, {"missing.safetensors"}},
      {"probe with zero batches", {"probe", good, "--batches", "0"}, kExitUsage, {"--batches"}},
      {"probe --init of a config", {"probe", good, "--init"}, kExitUsage, {"--init", "checkpoint.safetensors"}},
      {"plot of an unknown kind", {"plot", existing, "-o", path("x.svg"), "--what", "bogus"}, kExitUsage, {"bogus"}},
      {"plot --layers without history", {"plot", existing, "-o", path("x.svg"), "--layers", "1"}, kExitUsage, {"--layers", "history"}},
      {"plot --layers of depth 0", {"plot", existing, "-o", path("x.svg"), "--what", "history", "--layers", "0"}, kExitUsage, {"--layers"}},
      {"plot --split of a heatmap", {"plot", existing, "-o", path("x.svg"), "--what", "heatmap", "--split", "test"}, kExitUsage, {"--split"}},
      // Configs.
      {"config not JSON", {"run", file("comma.json", R"({"name": "x",})")}, kExitConfig, {"comma.json", "not valid JSON"}},
      {"config empty", {"run", file("empty.json", "")}, kExitConfig, {"empty.json"}},
      {"config not an object", {"run", file("array.json", "[1, 2]")}, kExitConfig, {"array.json", "object"}},
      {"unknown top-level key", {"run", file("typo.json", R"({"trian": {}})")}, kExitConfig, {"trian", "train"}},
      {"unknown nested key", {"run", config("nested.json", R"({"train": {"epocs": 2}})")}, kExitConfig, {"train.epocs", "epochs"}},
      {"value of the wrong type", {"run", config("type.json", R"({"train": {"epochs": "three"}})")}, kExitConfig, {"train.epochs"}},
      {"batch out of range", {"run", config("batch.json", R"({"train": {"batch": 0}})")}, kExitConfig, {"train.batch"}},
      {"negative learning rate", {"run", config("lr.json", R"({"optim": {"lr": -1}})")}, kExitConfig, {"optim.lr"}},
      {"misspelt choice", {"run", config("kind.json", R"({"init": {"kind": "kaimin"}})")}, kExitConfig, {"kaimin", "kaiming"}},
      {"unknown activation", {"run", config("act.json", R"({"model": {"activation": "relux"}})")}, kExitConfig, {"relux"}},
      {"sweep over an unknown key", {"run", config("sweep.json", R"({"sweep": {"init.kindd": ["xavier"]}})")}, kExitConfig, {"init.kindd"}},
      {"sweep with no values", {"run", config("sweep0.json", R"({"sweep": {"init.kind": []}})")}, kExitConfig, {"init.kind"}},
      {"sweep too large", {"run", config("sweepbig.json", R"({"sweep": {"seed": [1,2,3,4,5,6,7,8,9,10], "init.kind": ["xavier", "kaiming"],
         "train.batch": [1,2,3,4,5,6,7,8,9,10], "optim.lr": [0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0], "train.epochs": [1,2,3,4,5,6,7,8,9,10]}})")},
       kExitConfig, {"limit"}},
      {"--set without '='", run_good_with({"--set", "noequals"}), kExitConfig, {"noequals"}},
      {"--set of an unknown key", run_good_with({"--set", "train.epochz=3"}), kExitConfig, {"epochz"}},
      {"--set of the wrong type", run_good_with({"--set", "train.batch=abc"}), kExitConfig, {"train.batch"}},
      {"--set out of range", run_good_with({"--set", "train.epochs=-1"}), kExitConfig, {"train.epochs"}},
      {"unknown data source", run_good_with({"--set", "data.source=imagenet"}), kExitConfig, {"imagenet"}},
      // Data files.
      {"data source without a path", with_data("mnist", ""), kExitData, {"data.path"}},
      {"data directory missing", with_data("mnist", path("data/nowhere")), kExitData, {"nowhere", "train-images-idx3-ubyte"}},
      {"IDX with a wrong magic", with_data("mnist", idx_magic), kExitData, {idx_magic + train_images, "magic"}},
      {"IDX truncated", with_data("mnist", idx_short), kExitData, {idx_short + train_images, "truncated"}},
      {"IDX with trailing bytes", with_data("mnist", idx_long), kExitData, {idx_long + train_images, "trailing"}},
      {"IDX images and labels disagree", with_data("mnist", idx_count), kExitData, {idx_count + train_images, "3 images"}},
      {"IDX label out of range", with_data("mnist", idx_label), kExitData, {idx_label + train_labels, "label 42"}},
      {"IDX corrupt gzip", with_data("mnist", idx_gz), kExitData, {idx_gz + train_images + ".gz"}},
      {"CIFAR file of a wrong size", with_data("cifar10", cifar_size), kExitData, {"data_batch_1.bin", "record"}},
      {"CIFAR directory missing", with_data("cifar10", path("data/nowhere")), kExitData, {"data_batch_1.bin"}},
      {"image folder missing", with_data("folder", path("data/nowhere")), kExitData, {"nowhere"}},
      {"image folder with an empty class", with_data("folder", folder_empty), kExitData, {folder_empty + "/cat", "empty"}},
      {"image folder with a corrupt image", with_data("folder", folder_corrupt), kExitData, {folder_corrupt + "/cat/1.png"}},
      {"--force with bad data keeps the old run",
       {"run", good, "--out", existing, "--force", "--set", "data.source=mnist", "--set", "data.path=" + path("data/nowhere")},
       kExitData, {"nowhere"}},
      {"batch larger than the training set", run_good_with({"--set", "train.batch=100"}), kExitData, {"train.batch"}},
      // Checkpoints.
      {"checkpoint shorter than its length field", eval("short", "hello"), kExitCheckpoint, {"short.safetensors", "8-byte"}},
      {"checkpoint with an absurd header length", eval("huge", std::string("\xff\xff\xff\xff\xff\x00\x00\x00{}", 10)), kExitCheckpoint,
       {"huge.safetensors", "header length"}},
      {"checkpoint truncated", eval("cut", checkpoint.substr(0, checkpoint.size() - 100)), kExitCheckpoint, {"cut.safetensors"}},
      {"checkpoint with trailing bytes", eval("tail", checkpoint + "xyz"), kExitCheckpoint, {"tail.safetensors", "3 trailing bytes"}},
      {"checkpoint of a wrong dtype", eval("f16", edited([](auto& h) { h["conv1.weight"]["dtype"] = "F16"; })), kExitCheckpoint,
       {"f16.safetensors", "conv1.weight", "F16"}},
      {"checkpoint with overlapping tensors",
       eval("overlap", edited([](auto& h) { h["momentum.conv1.weight"]["data_offsets"] = h["conv1.weight"]["data_offsets"]; })),
       kExitCheckpoint, {"overlap.safetensors", "overlap"}},
      {"checkpoint with a negative offset", eval("negative", edited([](auto& h) { h["conv1.weight"]["data_offsets"][0] = -8; })),
       kExitCheckpoint, {"negative.safetensors", "negative data offset -8"}},
      {"checkpoint with an offset out of range",
       eval("range", edited([](auto& h) { h["conv1.weight"]["data_offsets"][1] = 1000000000000LL; })), kExitCheckpoint,
       {"range.safetensors", "past the end"}},
      {"checkpoint whose shape does not fit its bytes", eval("shape", edited([](auto& h) { h["conv1.weight"]["shape"] = {999}; })),
       kExitCheckpoint, {"shape.safetensors", "conv1.weight", "[999]"}},
      {"not a delve checkpoint", eval("foreign", edited([](auto& h) { h["__metadata__"].erase("format"); })), kExitCheckpoint,
       {"foreign.safetensors", "not a delve checkpoint"}},
      {"checkpoint of a newer format version", eval("newer", newer), kExitCheckpoint, {"newer.safetensors", "99", "(1)"}},
      {"checkpoint whose config is not JSON", eval("config", edited([](auto& h) { h["__metadata__"]["config"] = "{"; })),
       kExitCheckpoint, {"config.safetensors", "config"}},
      {"checkpoint without its iteration", eval("iteration", edited([](auto& h) { h["__metadata__"].erase("iteration"); })),
       kExitCheckpoint, {"iteration.safetensors", "iteration"}},
      {"resume from a truncated checkpoint", resume(run_copy("cut", checkpoint.substr(0, 64))), kExitCheckpoint,
       {path("runs/cut/checkpoint.safetensors")}},
      {"resume from a checkpoint of a newer version", resume(run_copy("newer", newer)), kExitCheckpoint, {"99", "(1)"}},
      {"resume with a changed model", {"run", good, "--out", existing, "--resume", "--set", "model.fc=[16]"}, kExitCheckpoint,
       {"fc1.weight", "model changed"}},
      // Where results go.
      {"run directory under a regular file", {"run", good, "--out", good + "/run"}, kExitError, {good + "/run"}},
      {"disk full while checkpointing", resume_full, kExitError, {"cannot write", "checkpoint.safetensors"},
       {long(checkpoint.size()) - 1}},
  };
  CHECK(rows.size() >= 40);

  for (const Row& row : rows) {
    CAPTURE(row.name);
    fs::remove_all(path("runs/new"));
    const auto before = snapshot(runs);
    const test::DelveResult r = test::run_delve(row.args, tmp.str(), row.child);
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == row.exit_code);
    for (const std::string& m : row.mentions) CHECK_MESSAGE_HAS(r.err, m);
    CHECK(r.err.find("AddressSanitizer") == std::string::npos);
    // Nothing that existed was written over (new files, e.g. an empty runs/new, may appear).
    const auto after = snapshot(runs);
    for (const auto& [name, bytes] : before) {
      INFO("file " << name);
      CHECK((after.count(name) && after.at(name) == bytes));
    }
  }
  // A full disk leaves the previous checkpoint whole: the same tensors as before the attempt.
  test::check_same_tensors(existing + "/checkpoint.safetensors", path("full/checkpoint.safetensors"));
  CHECK(read_bytes(path("full/checkpoint.safetensors")) == checkpoint);
}

TEST_CASE("command line: --version, delve's error form, eval's --set and file checks, probe's n/a") {
  test::TempDir tmp("cli_messages");
  const std::string good = tmp / "good.json", run = tmp / "run";
  test::write_file(good, bytes_of(kGoodConfig));
  auto delve = [&](const std::vector<std::string>& args) { return test::run_delve(args, tmp.str()); };
  auto one_line = [](const std::string& err) { return err.find('\n') == err.size() - 1; };
  const test::DelveResult trained = delve({"run", good, "--out", run, "--quiet"});
  REQUIRE_MESSAGE(trained.exit_code == kExitOk, trained.err);
  const std::string checkpoint = run + "/checkpoint.safetensors";

  {  // --version prints the revision and BLAS core that a run logs
    const std::string log = read_bytes(run + "/log.jsonl");
    const auto start = nlohmann::json::parse(log.substr(0, log.find('\n')));
    const test::DelveResult r = delve({"--version"});
    CHECK(r.exit_code == kExitOk);
    CHECK(r.out == "delve " + start["version"].get<std::string>() + " (OpenBLAS core " +
                       start["blas_core"].get<std::string>() + ")\n");
    CHECK(delve({"--help"}).out.find("Exit codes: 0 ok, 1 other error, 2 usage") != std::string::npos);
  }
  {  // a missing config is delve's one-line error
    const test::DelveResult r = delve({"run", tmp / "nonexist.json"});
    CHECK(r.exit_code == kExitUsage);
    CHECK(r.err.rfind("delve: error: ", 0) == 0);
    CHECK_MESSAGE_HAS(r.err, tmp / "nonexist.json");
    CHECK_MESSAGE_HAS(r.err, "delve run --help");
    CHECK(one_line(r.err));
  }
  {  // --set: the --set is blamed, and text that starts as JSON must be JSON
    test::DelveResult r = delve({"run", good, "--out", tmp / "new", "--set", "train.batch=abc"});
    CHECK(r.exit_code == kExitConfig);
    CHECK(r.err == "delve: error: --set train.batch=abc: \"train.batch\" must be an integer, got \"abc\"\n");
    r = delve({"run", good, "--out", tmp / "new", "--set", "model.fc=[32,"});
    CHECK(r.exit_code == kExitConfig);
    CHECK(r.err.rfind("delve: error: --set model.fc=[32,: not valid JSON (", 0) == 0);
  }
  {  // huge values are quoted cut short
    const std::string deep = std::string(5000, '[') + std::string(5000, ']');
    nlohmann::json config = nlohmann::json::parse(kGoodConfig);
    // Spliced into the text: dumping a 5,000-level value would recurse 5,000 deep in this process.
    config["name"] = "@deep@";
    std::string text = config.dump();
    text.replace(text.find("\"@deep@\""), 8, deep);
    test::write_file(tmp / "deep.json", bytes_of(text));
    for (const auto& args : {std::vector<std::string>{"run", tmp / "deep.json"},
                             std::vector<std::string>{"run", good, "--set", "name=" + deep},
                             std::vector<std::string>{"run", good, "--only", std::string(10000, 'x')},
                             std::vector<std::string>{std::string(10000, 'x')}}) {
      const test::DelveResult r = delve(args);
      INFO("stderr: ", r.err);
      CHECK((r.exit_code == kExitConfig || r.exit_code == kExitUsage));
      CHECK(r.err.size() < 400);  // fixed text and an 80-character quote, against 10,000 before
      CHECK(r.err.find("\u2026") != std::string::npos);
      CHECK(one_line(r.err));
    }
  }
  {  // eval: a JSON file is not a safetensors file
    const test::DelveResult r = delve({"eval", good});
    CHECK(r.exit_code == kExitCheckpoint);
    CHECK_MESSAGE_HAS(r.err, good + ": not a safetensors file (header length ");
  }
  {  // eval honours train.eval_subset and refuses keys it does not use
    test::DelveResult r = delve({"eval", checkpoint});
    CHECK(r.exit_code == kExitOk);
    CHECK_MESSAGE_HAS(r.out, "test split: 16 images");  // synthetic_test of kGoodConfig
    r = delve({"eval", checkpoint, "--set", "train.eval_subset=5"});
    CHECK(r.exit_code == kExitOk);
    CHECK_MESSAGE_HAS(r.out, "test split: 5 images");
    r = delve({"eval", checkpoint, "--split", "train", "--set", "train.eval_subset=7"});
    CHECK_MESSAGE_HAS(r.out, "train split: 7 images");
    r = delve({"eval", checkpoint, "--set", "optim.lr=0.5"});
    CHECK(r.exit_code == kExitConfig);
    CHECK_MESSAGE_HAS(r.err, "--set optim.lr=0.5: eval does not use \"optim.lr\" (it reads data.*");
  }
  {  // probe: n/a where a ratio does not apply, never nan
    const test::DelveResult r = delve({"probe", good, "--batches", "1"});
    REQUIRE_MESSAGE(r.exit_code == kExitOk, r.err);
    CHECK(r.out.find("nan") == std::string::npos);
    CHECK(test::count(r.out, "n/a") == 6 + 1);  // 3 forward cells of the first layer, 3 backward of the last; legend
  }
  {  // probe of a checkpoint: --init is the config's net as its seed made it; without, the trained one
    auto layers_of = [&](const std::vector<std::string>& args, const std::string& json_file) {
      std::vector<std::string> full = args;
      full.insert(full.end(), {"--batches", "2", "--json", tmp / json_file});
      const test::DelveResult r = delve(full);
      REQUIRE_MESSAGE(r.exit_code == kExitOk, r.err);
      return nlohmann::json::parse(read_bytes(tmp / json_file))["members"][0]["layers"];
    };
    const auto from_config = layers_of({"probe", good}, "config.json");
    const auto at_init = layers_of({"probe", checkpoint, "--init"}, "init.json");
    const auto trained = layers_of({"probe", checkpoint}, "trained.json");
    CHECK(at_init == from_config);  // bit for bit: the same seed, net and batches
    REQUIRE(trained.size() == 3);   // conv1 (4 channels), fc1 (8 units), the classifier fc2 (4 classes)
    CHECK(trained[0]["weight_norm"] != at_init[0]["weight_norm"]);
    for (const auto& l : trained) {
      const auto& per_channel = l["positive_per_channel"];
      double sum = 0;
      int dead = 0, on = 0;
      for (double p : per_channel) {
        CHECK(p >= 0.0);
        CHECK(p <= 1.0);
        sum += p, dead += p == 0.0, on += p == 1.0;
      }
      CHECK(l["dead_channels"] == dead);
      CHECK(l["always_positive_channels"] == on);
      // Every channel holds as many pre-activations, so their mean fraction is the layer's:
      // the same counts divided in another order, a few double roundings apart.
      const double n = double(per_channel.size());
      CHECK(std::abs(sum / n - l["positive_fraction"].get<double>()) <= 8 * n * 0x1p-53);
    }
    CHECK(trained[0]["positive_per_channel"].size() == 4);
    CHECK(trained[1]["positive_per_channel"].size() == 8);
    CHECK(trained[2]["positive_per_channel"].size() == 4);
  }
}

TEST_CASE("bad inputs: --force and --resume refuse what would damage a run, before any file changes") {
  test::TempDir tmp("force_resume");
  auto path = [&](const std::string& name) { return tmp / name; };
  const std::string good = path("good.json"), run = path("run");
  write_bytes(good, kGoodConfig);
  auto delve = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"run", good});
    args.push_back("--quiet");
    return test::run_delve(args, tmp.str());
  };
  const test::DelveResult first = delve({"--out", run});
  REQUIRE_MESSAGE(first.exit_code == kExitOk, first.err);
  const auto finished = snapshot(run);
  REQUIRE(finished.size() == 6);  // config, log, summary, checkpoint, curves, report
  struct Refusal {
    std::string name;
    std::vector<std::string> args;
    int exit_code;
    std::vector<std::string> mentions;
  };
  const std::vector<Refusal> refusals = {
      // The batcher throws only after the data and the model are loaded.
      {"--force with a batch larger than the data", {"--out", run, "--force", "--set", "train.batch=100"}, kExitData,
       {"batch size 100 exceeds the 64 training images"}},
      {"--resume that would shorten the run", {"--out", run, "--resume", "--set", "train.iterations=1"}, kExitUsage,
       {"shorten", "train.iterations 2 -> 1"}},
      {"--resume of a complete run with a changed config", {"--out", run, "--resume", "--set", "optim.lr=0.5"}, kExitUsage,
       {"is complete (iteration 2 of 2)", "optim.lr 0.01 -> 0.5"}},
      {"--resume of a complete run, nothing changed", {"--out", run, "--resume"}, kExitOk, {"already complete", "nothing to do"}},
      {"--resume of a directory that does not exist", {"--out", path("misspelt"), "--resume"}, kExitUsage,
       {path("misspelt"), "holds no run to resume"}},
  };
  for (const Refusal& r : refusals) {
    CAPTURE(r.name);
    const test::DelveResult result = delve(r.args);
    INFO("stderr: " << result.err);
    CHECK(result.exit_code == r.exit_code);
    for (const std::string& m : r.mentions) CHECK_MESSAGE_HAS(result.err, m);
    CHECK(snapshot(run) == finished);
  }
  CHECK_FALSE(fs::exists(path("misspelt")));

  SUBCASE("an empty directory holds nothing to resume") {
    fs::create_directories(path("empty"));
    const test::DelveResult r = delve({"--out", path("empty"), "--resume"});
    CHECK(r.exit_code == kExitUsage);
    CHECK_MESSAGE_HAS(r.err, "holds no run to resume");
    CHECK(fs::is_empty(path("empty")));
  }
  SUBCASE("a started run without a checkpoint starts again from the beginning") {
    fs::rename(run + "/checkpoint.safetensors", path("run_copy.safetensors"));
    const test::DelveResult r = delve({"--out", run, "--resume"});
    CHECK(r.exit_code == kExitOk);
    CHECK_MESSAGE_HAS(r.err, "no complete checkpoint");
    test::check_same_tensors(path("run_copy.safetensors"), run + "/checkpoint.safetensors");
  }
  SUBCASE("a longer resume names the changed keys on stderr") {
    const test::DelveResult r = delve({"--out", run, "--resume", "--set", "train.iterations=4"});
    CHECK(r.exit_code == kExitOk);
    CHECK_MESSAGE_HAS(r.err, "resuming '" + run + "' with a changed config: train.iterations 2 -> 4");
  }
  SUBCASE("--resume of a sweep starts the members that had not started") {
    nlohmann::json sweep = nlohmann::json::parse(kGoodConfig);
    sweep["sweep"] = {{"seed", {1, 2}}};
    write_bytes(good, sweep.dump());
    REQUIRE(delve({"--out", path("sweep"), "--only", "seed-1"}).exit_code == kExitOk);
    const test::DelveResult r = delve({"--out", path("sweep"), "--resume"});
    CHECK(r.exit_code == kExitOk);
    CHECK_MESSAGE_HAS(r.err, path("sweep/seed-2") + " has not started yet");
    CHECK(fs::exists(path("sweep/seed-2/summary.json")));
  }
}
