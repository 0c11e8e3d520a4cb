#include "experiments/run/checkpoint.h"

#include <cstring>
#include <map>

#include "core/error.h"
#include "core/safetensors.h"
#include "core/version.h"

namespace delve {

namespace {

std::string double_text(double v) {
  // Round-trip exact: the bits of the double as hex, so a resumed schedule compares equal.
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%016llx", (unsigned long long)bits);
  return buf;
}

double parse_double(const std::string& path, const std::map<std::string, std::string>& meta, const char* key) {
  auto it = meta.find(key);
  if (it == meta.end()) throw CheckpointError(path + ": metadata lacks \"" + key + "\"");
  const std::string& s = it->second;
  if (s.size() != 18 || s.rfind("0x", 0) != 0) throw CheckpointError(path + ": metadata \"" + key + "\" is not a hex double");
  uint64_t bits = 0;
  for (size_t i = 2; i < s.size(); ++i) {
    char c = s[i];
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) throw CheckpointError(path + ": metadata \"" + key + "\" is not a hex double");
    bits = (bits << 4) | uint64_t(d);
  }
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

int64_t parse_int(const std::string& path, const std::map<std::string, std::string>& meta, const char* key) {
  auto it = meta.find(key);
  if (it == meta.end()) throw CheckpointError(path + ": metadata lacks \"" + key + "\"");
  try {
    size_t used = 0;
    long long v = std::stoll(it->second, &used);
    if (used != it->second.size() || v < 0) throw std::invalid_argument("");
    return v;
  } catch (const std::exception&) {
    throw CheckpointError(path + ": metadata \"" + key + "\" is not a non-negative integer: \"" + it->second + "\"");
  }
}

// The running sums, absent from checkpoints written before they were saved: zero then (a resume
// from such a checkpoint logs its cut epoch's means over the steps after the resume).
RunningSums parse_sums(const std::string& path, const std::map<std::string, std::string>& meta) {
  RunningSums s;
  if (meta.find("sum_epoch_steps") == meta.end()) return s;
  s.interval_loss = parse_double(path, meta, "sum_interval_loss");
  s.interval_error = parse_double(path, meta, "sum_interval_error");
  s.epoch_loss = parse_double(path, meta, "sum_epoch_loss");
  s.epoch_error = parse_double(path, meta, "sum_epoch_error");
  s.interval_steps = parse_int(path, meta, "sum_interval_steps");
  s.epoch_steps = parse_int(path, meta, "sum_epoch_steps");
  s.skipped = parse_int(path, meta, "sum_skipped");
  return s;
}

LoadedCheckpoint parse_header(const std::string& path, const std::map<std::string, std::string>& meta) {
  auto format = meta.find("format");
  if (format == meta.end() || format->second != "delve-checkpoint")
    throw CheckpointError(path + ": not a delve checkpoint (metadata \"format\" is not \"delve-checkpoint\")");
  const int64_t version = parse_int(path, meta, "format_version");
  if (version > kCheckpointFormatVersion)
    throw CheckpointError(path + ": checkpoint format version " + std::to_string(version) +
                          " is newer than this delve reads (" + std::to_string(kCheckpointFormatVersion) +
                          "); update delve");
  LoadedCheckpoint c;
  c.state.iteration = parse_int(path, meta, "iteration");
  c.state.epoch = parse_int(path, meta, "epoch");
  c.state.batch_in_epoch = parse_int(path, meta, "batch_in_epoch");
  c.state.schedule.lr = float(parse_double(path, meta, "lr"));
  c.state.schedule.best_error = parse_double(path, meta, "lr_best_error");
  c.state.schedule.bad_epochs = int(parse_int(path, meta, "lr_bad_epochs"));
  c.state.best_test_error = parse_double(path, meta, "best_test_error");
  c.state.elapsed_seconds = parse_double(path, meta, "elapsed_seconds");
  c.state.sums = parse_sums(path, meta);
  auto config = meta.find("config");
  if (config == meta.end()) throw CheckpointError(path + ": metadata lacks \"config\"");
  try {
    c.config = nlohmann::json::parse(config->second);
  } catch (const nlohmann::json::exception&) {  // parse_error, or out_of_range (a number like 9e999)
    throw CheckpointError(path + ": metadata \"config\" is not valid JSON");
  }
  return c;
}

}  // namespace

void save_checkpoint(const std::string& path, Net& net, const TrainState& state, const nlohmann::json& config) {
  std::vector<TensorRef> tensors;
  for (auto& p : net.params()) {
    std::vector<int64_t> shape(p->dims.begin(), p->dims.end());
    tensors.push_back({p->name, shape, p->w.data()});
  }
  for (auto& p : net.params()) {
    std::vector<int64_t> shape(p->dims.begin(), p->dims.end());
    tensors.push_back({"momentum." + p->name, shape, p->v.data()});
  }
  std::map<std::string, std::string> meta = {
      {"format", "delve-checkpoint"},
      {"format_version", std::to_string(kCheckpointFormatVersion)},
      {"iteration", std::to_string(state.iteration)},
      {"epoch", std::to_string(state.epoch)},
      {"batch_in_epoch", std::to_string(state.batch_in_epoch)},
      {"rng", net.rng().save()},
      {"lr", double_text(state.schedule.lr)},
      {"lr_best_error", double_text(state.schedule.best_error)},
      {"lr_bad_epochs", std::to_string(state.schedule.bad_epochs)},
      {"best_test_error", double_text(state.best_test_error)},
      {"elapsed_seconds", double_text(state.elapsed_seconds)},
      {"sum_interval_loss", double_text(state.sums.interval_loss)},
      {"sum_interval_error", double_text(state.sums.interval_error)},
      {"sum_epoch_loss", double_text(state.sums.epoch_loss)},
      {"sum_epoch_error", double_text(state.sums.epoch_error)},
      {"sum_interval_steps", std::to_string(state.sums.interval_steps)},
      {"sum_epoch_steps", std::to_string(state.sums.epoch_steps)},
      {"sum_skipped", std::to_string(state.sums.skipped)},
      {"config", config.dump()},
      {"delve_version", source_revision()},
  };
  write_safetensors(path, tensors, meta);
}

LoadedCheckpoint read_checkpoint_header(const std::string& path) {
  return parse_header(path, read_safetensors(path).metadata);
}

LoadedCheckpoint load_checkpoint(const std::string& path, Net& net, bool with_momentum) {
  SafetensorsFile file = read_safetensors(path);
  LoadedCheckpoint c = parse_header(path, file.metadata);
  auto load = [&](const std::string& name, const Param& p, Tensor& into) {
    auto shape = file.shapes.find(name);
    if (shape == file.shapes.end())
      throw CheckpointError(path + ": has no tensor \"" + name + "\" (the model differs from the one saved)");
    std::vector<int64_t> want(p.dims.begin(), p.dims.end());
    if (shape->second != want) {
      auto dims = [](const std::vector<int64_t>& d) {
        std::string s = "[";
        for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
        return s + "]";
      };
      throw CheckpointError(path + ": tensor \"" + name + "\" has shape " + dims(shape->second) + " in the checkpoint but " +
                            dims(want) + " in the model (the model changed since it was saved)");
    }
    const std::vector<float>& values = file.get(name);
    std::memcpy(into.data(), values.data(), values.size() * sizeof(float));
  };
  for (auto& p : net.params()) load(p->name, *p, p->w);
  if (with_momentum)
    for (auto& p : net.params()) load("momentum." + p->name, *p, p->v);
  const size_t expected = net.params().size() * 2;
  if (file.names.size() != expected) {
    for (auto& name : file.names) {
      std::string base = name.rfind("momentum.", 0) == 0 ? name.substr(9) : name;
      if (!net.find_param(base))
        throw CheckpointError(path + ": tensor \"" + name + "\" has no place in the model (the model changed since it was saved)");
    }
  }
  auto rng = file.metadata.find("rng");
  if (rng == file.metadata.end()) throw CheckpointError(path + ": metadata lacks \"rng\"");
  net.rng().restore(rng->second);
  return c;
}

}  // namespace delve
