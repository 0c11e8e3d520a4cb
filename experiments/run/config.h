// Experiment configs: strict JSON, resolved against the defaults, expanded into sweeps.
//
// The defaults (default_config()) are also the schema: every key a user may write exists there,
// with a value of the type it must have. An unknown key is an error naming its JSON path and the
// closest known key; a value of the wrong type names the type expected. Range checks live next to
// the code that converts the resolved JSON into typed specs (parse_run_config).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/data_spec.h"
#include "layers/init.h"
#include "optim/schedule.h"
#include "optim/sgd.h"

namespace delve {

using json = nlohmann::json;

struct ModelSpec {
  std::string family;                       // plain | plain14 | plain22 | plain30 | layers
  std::vector<std::pair<int, int>> stages;  // (convs, width) per stage; 2×2 max-pool after each
  std::vector<int> fc;                      // hidden fc widths; the classifier is added after them
  std::string activation = "relu";          // relu | prelu (channel-wise) | prelu_shared | tanh
  float prelu_init = 0.25f;                 // paper §2.1
  float dropout = 0.f;                      // on the hidden fc layers
  json layers = json::array();              // family "layers": an explicit layer list
};

struct TrainSpec {
  int epochs = 1;
  int64_t iterations = 0;      // > 0: stop after this many steps instead of epochs
  int batch = 128;
  int log_every = 50;          // iterations between train events
  int layers_every = 0;        // iterations between layers events (0: at start and end only)
  int eval_every = 1;          // epochs between evaluations (0: only at the end)
  int eval_every_iterations = 0;  // iterations between further evaluations, for curves (0: none)
  int eval_subset = 0;         // evaluate on the first N test images (0: all)
  int checkpoint_every = 0;    // iterations between checkpoints (0: at the end and on interrupt)
  int threads = 0;             // BLAS threads (0: all cores)
  bool skip_nonfinite = false; // skip a step whose loss or gradient is not finite instead of stopping
};

struct RunConfig {
  std::string name;
  uint64_t seed = 1;
  DataSpec data;
  ModelSpec model;
  InitSpec init;
  SgdOptions sgd;
  ScheduleSpec schedule;
  TrainSpec train;
  std::string out;  // run directory
  json resolved;    // the whole resolved config, as saved in the run directory
};

struct SweepMember {
  std::string name;  // sub-directory: "kind-xavier", "activation-prelu_shared", joined by '_'
  json config;       // resolved, without "sweep"
};

const json& default_config();

// Reads and parses a config file (ConfigError naming the file and the JSON error's position).
json load_config_file(const std::string& path);
// Applies "--set a.b.c=value" (value parsed as JSON, else taken as a string) to a user config.
void apply_override(json& user, const std::string& assignment);
// Merges a user config onto the defaults, strictly. `origin` names the source in messages.
json resolve_config(const json& user, const std::string& origin);
// load_config_file + apply_override for each "--set" + resolve_config: what every command does.
json load_resolved_config(const std::string& path, const std::vector<std::string>& sets);
// Expands "sweep": {"init.kind": ["xavier", "kaiming"], ...} into the cartesian product, in order.
// A config without a sweep gives one member with an empty name.
std::vector<SweepMember> expand_sweep(const json& resolved);
// Converts a resolved config (no sweep) into typed specs, checking every range.
RunConfig parse_run_config(const json& resolved);

// A value as an error message quotes it: its JSON text, clipped (core/error.h).
std::string quoted(const json& value);

// The closest of `candidates` to `word` by edit distance, or "" when nothing is close.
std::string closest_key(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace delve
