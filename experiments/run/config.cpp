#include "experiments/run/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace delve {

namespace {

// The defaults, which are also the schema (see config.h). Keep README's config reference in step.
const char* kDefaults = R"json({
  "name": "run",
  "seed": 1,
  "out": "",
  "data": {
    "source": "fashion-mnist", "path": "", "cifar100_labels": "fine",
    "image_size": 32, "folder_fit": "resize", "holdout": 0.1,
    "synthetic_train": 2000, "synthetic_test": 500, "synthetic_classes": 10, "synthetic_channels": 3,
    "train_subset": 0, "pad_to": 32, "crop_pad": 0, "flip": false, "normalize": "mean_image",
    "prefetch": 1
  },
  "model": {
    "family": "plain", "stages": [], "fc": [256, 256], "activation": "relu", "prelu_init": 0.25,
    "dropout": 0.0, "layers": []
  },
  "init": {"kind": "kaiming", "mode": "fan_in", "a": -1.0, "distribution": "normal", "std": 0.01},
  "optim": {
    "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0005,
    "schedule": {"kind": "constant", "every": 10, "milestones": [], "gamma": 0.1, "patience": 2,
                 "factor": 0.1, "threshold": 0.01, "min_lr": 1e-05}
  },
  "train": {
    "epochs": 1, "iterations": 0, "batch": 128, "log_every": 50, "layers_every": 0, "eval_every": 1,
    "eval_every_iterations": 0, "eval_subset": 0, "checkpoint_every": 0, "threads": 0, "skip_nonfinite": false
  },
  "sweep": {}
})json";

// Objects whose keys are the user's own (validated elsewhere).
bool free_form(const std::string& path) { return path == "sweep"; }

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

std::string type_wanted(const json& def) {
  switch (def.type()) {
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "true or false";
    case json::value_t::array: return "a list";
    case json::value_t::object: return "an object";
    default: return "a value";
  }
}

bool type_fits(const json& def, const json& v) {
  if (def.is_number_integer()) return v.is_number_integer();
  if (def.is_number()) return v.is_number();
  return def.type() == v.type();
}

void merge_strict(json& into, const json& user, const std::string& path, const std::string& origin);

// Writes `value` over `slot` (its default, at `key_path`) if the type fits; an object patches
// the keys it names, each checked the same way.
void merge_value(json& slot, const json& value, const std::string& key_path, const std::string& origin) {
  if (!type_fits(slot, value))
    throw ConfigError(origin + ": \"" + clipped(key_path) + "\" must be " + type_wanted(slot) + ", got " +
                      quoted(value));
  if (slot.is_object() && !free_form(key_path))
    merge_strict(slot, value, key_path, origin);
  else
    slot = value;
}

void merge_strict(json& into, const json& user, const std::string& path, const std::string& origin) {
  for (auto it = user.begin(); it != user.end(); ++it) {
    const std::string key_path = join(path, it.key());
    if (!into.contains(it.key())) {
      std::vector<std::string> known;
      for (auto k = into.begin(); k != into.end(); ++k) known.push_back(k.key());
      std::string hint = closest_key(it.key(), known);
      throw ConfigError(origin + ": unknown key \"" + clipped(key_path) + "\"" +
                        (hint.empty() ? "" : " (did you mean \"" + join(path, hint) + "\"?)"));
    }
    merge_value(into[it.key()], it.value(), key_path, origin);
  }
}

// nlohmann's message without its "[json.exception.parse_error.101] " prefix, cut to a readable
// length (its "last read: '...'" quotes the input).
std::string json_error_text(const json::exception& e) {
  const std::string what = e.what();
  const size_t end_of_id = what.find("] ");
  return clipped(end_of_id == std::string::npos ? what : what.substr(end_of_id + 2), 2 * kQuotedChars);
}

// Walks a dotted path through the defaults; ConfigError when a component does not exist.
const json& schema_at(const std::string& dotted, const std::string& origin) {
  const json* node = &default_config();
  std::string path;
  std::stringstream ss(dotted);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (!node->is_object() || !node->contains(part)) {
      std::vector<std::string> known;
      if (node->is_object())
        for (auto k = node->begin(); k != node->end(); ++k) known.push_back(k.key());
      std::string hint = closest_key(part, known);
      throw ConfigError(origin + ": unknown key \"" + clipped(join(path, part)) + "\"" +
                        (hint.empty() ? "" : " (did you mean \"" + join(path, hint) + "\"?)"));
    }
    node = &(*node)[part];
    path = join(path, part);
  }
  return *node;
}

json& create_at(json& root, const std::string& dotted) {
  json* node = &root;
  std::stringstream ss(dotted);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (!node->is_object()) *node = json::object();
    node = &(*node)[part];
  }
  return *node;
}

std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '-';
  return out;
}

// How a swept value reads in a directory name: the value itself, or an object's values in order
// ({"kind": "xavier", "mode": "fan_in"} → "xavier-fan_in"); lists by their position.
std::string value_name(const json& v, int index) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_primitive()) return v.dump();
  if (v.is_object()) {
    std::string text;
    for (auto& item : v.items()) {
      if (!item.value().is_primitive()) continue;
      // Appended piecewise: g++ 12 warns (-Wrestrict, a false positive) on "x" + std::string&&.
      if (!text.empty()) text += '-';
      text += item.value().is_string() ? item.value().get<std::string>() : item.value().dump();
    }
    if (!text.empty()) return text;
  }
  return std::to_string(index);
}

}  // namespace

const json& default_config() {
  static const json defaults = json::parse(kDefaults);
  return defaults;
}

namespace {

// Appends value's compact JSON text (as dump() writes it) to out, and stops once out holds more
// than `room` bytes: a deeply nested value is walked no further than a message shows, never dumped
// whole (dump() recurses once per level, and 5,000 levels overflow a sanitizer build's stack).
void append_json_prefix(std::string& out, const json& value, size_t room) {
  auto scalar = [](const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); };
  if (value.is_object()) {
    out += '{';
    for (auto it = value.begin(); it != value.end() && out.size() <= room; ++it) {
      if (it != value.begin()) out += ',';
      out += scalar(json(it.key())) + ':';
      append_json_prefix(out, it.value(), room);
    }
    out += '}';
  } else if (value.is_array()) {
    out += '[';
    for (size_t i = 0; i < value.size() && out.size() <= room; ++i) {
      if (i > 0) out += ',';
      append_json_prefix(out, value[i], room);
    }
    out += ']';
  } else {
    out += scalar(value);
  }
}

}  // namespace

std::string quoted(const json& value) {
  std::string text;
  append_json_prefix(text, value, 4 * kQuotedChars);  // bytes enough for kQuotedChars code points
  return clipped(text);
}

std::string closest_key(const std::string& word, const std::vector<std::string>& candidates) {
  // Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
  // neighbouring letters ("trian" → "train") each cost one; case is ignored.
  auto distance = [](const std::string& a, const std::string& b) {
    auto same = [](char x, char y) { return std::tolower(x) == std::tolower(y); };
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i)
      for (size_t j = 1; j <= b.size(); ++j) {
        d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + !same(a[i - 1], b[j - 1])});
        if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1]))
          d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    return d[a.size()][b.size()];
  };
  std::string best;
  size_t best_d = SIZE_MAX;
  for (auto& c : candidates) {
    size_t d = distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  // Close enough to be a typo: at most a third of the word wrong (and at least one edit allowed).
  return best_d <= std::max<size_t>(1, word.size() / 3) ? best : "";
}

json load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot open config file '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  json j;
  try {
    j = json::parse(buffer.str());
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 9e999
    throw ConfigError(path + ": not valid JSON: " + json_error_text(e));
  }
  if (!j.is_object()) throw ConfigError(path + ": the config must be a JSON object {...}");
  return j;
}

namespace {

// The value of "--set key=text": JSON, or a bare word (kaiming, fan_out, runs/x) taken as a
// string. Text that starts the way only JSON does (a list, an object, a quoted string, a number)
// but does not parse is a mistake such as a missing bracket, not a string.
json override_value(const std::string& key, const std::string& text, const std::string& origin) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // a parse error, or out_of_range for a number like 9e999
    const size_t first = text.find_first_not_of(" \t");
    const char c = first == std::string::npos ? ' ' : text[first];
    const bool number_like = c == '-' || std::isdigit(static_cast<unsigned char>(c));
    if (!number_like && c != '[' && c != '{' && c != '"') return text;
    // A string may start like a number (2024-runs): say how to give one.
    throw ConfigError(origin + ": not valid JSON (" + json_error_text(e) + ")" +
                      (number_like ? "; to give a string, quote it: --set '" + clipped(key) + "=\"...\"'" : ""));
  }
}

}  // namespace

void apply_override(json& user, const std::string& assignment) {
  // A bare word becomes a JSON string, and JSON strings must be UTF-8: refuse other bytes here
  // rather than fail later, when the config is written to config.json or a checkpoint.
  try {
    (void)json(assignment).dump();
  } catch (const json::type_error&) {
    throw ConfigError("--set '" + clipped(json(assignment).dump(-1, ' ', false, json::error_handler_t::replace)) +
                      "': not valid UTF-8 text");
  }
  const std::string origin = "--set " + clipped(assignment);
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set '" + clipped(assignment) + "': expected key.path=value, e.g. train.epochs=3");
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  const json value = override_value(key, text, origin);
  // Checked here against the schema, so that a bad value names this --set, not the config file.
  if (key.rfind("sweep.", 0) != 0) {
    json slot = schema_at(key, origin);  // names the unknown component
    merge_value(slot, value, key, origin);
  }
  create_at(user, key) = value;
  // Setting a swept key pins it: that sweep axis goes away.
  if (user.contains("sweep") && user["sweep"].is_object()) user["sweep"].erase(key);
}

json resolve_config(const json& user, const std::string& origin) {
  if (!user.is_object()) throw ConfigError(origin + ": the config must be a JSON object {...}");
  json resolved = default_config();
  merge_strict(resolved, user, "", origin);
  return resolved;
}

json load_resolved_config(const std::string& path, const std::vector<std::string>& sets) {
  json user = load_config_file(path);
  for (auto& s : sets) apply_override(user, s);
  return resolve_config(user, path);
}

std::vector<SweepMember> expand_sweep(const json& resolved) {
  std::vector<SweepMember> members{{"", resolved}};
  members[0].config.erase("sweep");
  const json& sweep = resolved.value("sweep", json::object());
  for (auto axis = sweep.begin(); axis != sweep.end(); ++axis) {
    const std::string key = axis.key();
    if (key == "sweep" || key.rfind("sweep.", 0) == 0) throw ConfigError("sweep: cannot sweep over \"" + clipped(key) + "\"");
    const json& def = schema_at(key, "sweep");
    if (!axis.value().is_array() || axis.value().empty())
      throw ConfigError("sweep: \"" + key + "\" must be a non-empty list of values");
    // The product grows with every axis; a config that asks for more runs than anyone could
    // train is a mistake, refused before it costs memory (each member is a whole config).
    constexpr size_t kMaxMembers = 10000;
    if (members.size() * axis.value().size() > kMaxMembers)
      throw ConfigError("sweep: \"" + key + "\" makes " + std::to_string(members.size() * axis.value().size()) +
                        "+ runs, more than the limit of " + std::to_string(kMaxMembers));
    std::vector<SweepMember> next;
    for (auto& m : members) {
      int index = 0;
      for (auto& v : axis.value()) {
        if (!type_fits(def, v))
          throw ConfigError("sweep: values of \"" + key + "\" must be " + type_wanted(def) + ", got " + quoted(v));
        SweepMember child = m;
        json& slot = create_at(child.config, key);
        if (def.is_object())
          merge_strict(slot, v, key, "sweep");  // an object value patches the keys it names
        else
          slot = v;
        const std::string leaf = key.substr(key.rfind('.') == std::string::npos ? 0 : key.rfind('.') + 1);
        child.name = (m.name.empty() ? "" : m.name + "_") + sanitize(leaf + "-" + value_name(v, index));
        constexpr size_t kMaxName = 255;  // NAME_MAX of common file systems: the member's directory
        if (child.name.size() > kMaxName)
          throw ConfigError("sweep: member \"" + clipped(child.name) + "\" names its directory with " +
                            std::to_string(child.name.size()) + " characters, more than the " +
                            std::to_string(kMaxName) + " a file system allows (sweep shorter values)");
        next.push_back(std::move(child));
        ++index;
      }
    }
    members = std::move(next);
  }
  return members;
}

}  // namespace delve

namespace delve {

namespace {

// Typed, range-checked reads from a resolved config; messages name the dotted path.
class Reader {
 public:
  explicit Reader(const json& root) : root_(root) {}
  const json& at(const std::string& dotted) const {
    std::string pointer = "/" + dotted;
    std::replace(pointer.begin(), pointer.end(), '.', '/');
    return root_.at(json::json_pointer(pointer));
  }
  int64_t integer(const std::string& p, int64_t lo, int64_t hi) const {
    int64_t v = at(p).get<int64_t>();
    if (v < lo || v > hi)
      throw ConfigError("\"" + p + "\" must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                        ", got " + std::to_string(v));
    return v;
  }
  double number(const std::string& p, double lo, double hi, bool open_lo = false, bool open_hi = false) const {
    double v = at(p).get<double>();
    bool bad = (open_lo ? v <= lo : v < lo) || (open_hi ? v >= hi : v > hi) || !std::isfinite(v);
    if (bad) {
      std::ostringstream msg;
      msg << "\"" << p << "\" must be in " << (open_lo ? "(" : "[") << lo << ", " << hi << (open_hi ? ")" : "]")
          << ", got " << quoted(at(p));
      throw ConfigError(msg.str());
    }
    return v;
  }
  std::string choice(const std::string& p, const std::vector<std::string>& allowed) const {
    std::string v = at(p).get<std::string>();
    if (std::find(allowed.begin(), allowed.end(), v) != allowed.end()) return v;
    std::string list;
    for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    std::string hint = closest_key(v, allowed);
    throw ConfigError("\"" + p + "\" must be one of " + list + ", got \"" + clipped(v) + "\"" +
                      (hint.empty() ? "" : " (did you mean \"" + hint + "\"?)"));
  }
  std::string text(const std::string& p) const { return at(p).get<std::string>(); }
  bool flag(const std::string& p) const { return at(p).get<bool>(); }

 private:
  const json& root_;
};

constexpr int64_t kBig = int64_t(1) << 40;

DataSpec parse_data(const Reader& r, uint64_t seed) {
  DataSpec d;
  d.source = r.choice("data.source", {"fashion-mnist", "mnist", "cifar10", "cifar100", "folder", "synthetic"});
  d.path = r.text("data.path");
  d.cifar100_labels = r.choice("data.cifar100_labels", {"fine", "coarse"});
  d.image_size = int(r.integer("data.image_size", 4, 1024));
  d.folder_fit = r.choice("data.folder_fit", {"resize", "center_crop"});
  d.holdout = r.number("data.holdout", 0.0, 1.0, true, true);
  d.synthetic_train = int(r.integer("data.synthetic_train", 1, 10000000));
  d.synthetic_test = int(r.integer("data.synthetic_test", 1, 10000000));
  d.synthetic_classes = int(r.integer("data.synthetic_classes", 2, 1000));
  d.synthetic_channels = int(r.integer("data.synthetic_channels", 1, 4));
  d.train_subset = int(r.integer("data.train_subset", 0, 100000000));
  d.pad_to = int(r.integer("data.pad_to", 1, 1024));
  d.crop_pad = int(r.integer("data.crop_pad", 0, 64));
  d.flip = r.flag("data.flip");
  d.normalize = r.choice("data.normalize", {"mean_image", "channel", "none"});
  d.prefetch = int(r.integer("data.prefetch", 0, 64));
  d.seed = seed;
  return d;
}

ModelSpec parse_model(const Reader& r) {
  ModelSpec m;
  m.family = r.choice("model.family", {"plain", "plain14", "plain22", "plain30", "layers"});
  m.activation = r.choice("model.activation", {"relu", "prelu", "prelu_shared", "tanh"});
  m.prelu_init = float(r.number("model.prelu_init", -10.0, 10.0));
  m.dropout = float(r.number("model.dropout", 0.0, 1.0, false, true));
  m.layers = r.at("model.layers");
  const json& stages = r.at("model.stages");
  for (size_t i = 0; i < stages.size(); ++i) {
    const std::string p = "model.stages[" + std::to_string(i) + "]";
    const json& s = stages[i];
    if (!s.is_object() || !s.contains("convs") || !s.contains("width") || s.size() != 2 ||
        !s["convs"].is_number_integer() || !s["width"].is_number_integer())
      throw ConfigError("\"" + p + "\" must be {\"convs\": integer, \"width\": integer}, got " + quoted(s));
    int convs = s["convs"].get<int>(), width = s["width"].get<int>();
    if (convs < 1 || convs > 1000 || width < 1 || width > 65536)
      throw ConfigError("\"" + p + "\" needs convs in [1, 1000] and width in [1, 65536], got " + quoted(s));
    m.stages.emplace_back(convs, width);
  }
  for (auto& v : r.at("model.fc")) {
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 1 << 20)
      throw ConfigError("\"model.fc\" must list positive integer widths, got " + quoted(r.at("model.fc")));
    m.fc.push_back(v.get<int>());
  }
  if (m.family == "plain" && m.stages.empty())
    throw ConfigError("\"model.stages\" must list at least one stage for family \"plain\" "
                      "(e.g. [{\"convs\": 3, \"width\": 32}]), or use family plain14, plain22, plain30");
  if (m.family != "plain" && m.family != "layers" && !m.stages.empty())
    throw ConfigError("\"model.stages\" is fixed by family \"" + m.family + "\"; use family \"plain\" to give your own");
  if (m.family == "layers" && m.layers.empty())
    throw ConfigError("\"model.layers\" must list the layers for family \"layers\"");
  if (m.family != "layers" && !m.layers.empty())
    throw ConfigError("\"model.layers\" is only read with \"model.family\": \"layers\"");
  return m;
}

InitSpec parse_init(const Reader& r) {
  InitSpec in;
  const std::string kind = r.choice("init.kind", {"kaiming", "xavier", "glorot", "gaussian"});
  in.kind = kind == "kaiming" ? InitSpec::Kind::Kaiming
            : kind == "xavier" ? InitSpec::Kind::Xavier
            : kind == "glorot" ? InitSpec::Kind::Glorot
                               : InitSpec::Kind::Gaussian;
  in.mode = r.choice("init.mode", {"fan_in", "fan_out"}) == "fan_in" ? InitSpec::Fan::In : InitSpec::Fan::Out;
  // a < 0 leaves a to the built net: each weight layer takes it from its activation's rectifier
  // gain (Net::init, Eq. 15), for the presets and listed layers alike.
  in.a = float(r.number("init.a", -1.0, 100.0));
  in.distribution = r.choice("init.distribution", {"normal", "uniform"}) == "normal" ? InitSpec::Distribution::Normal
                                                                                       : InitSpec::Distribution::Uniform;
  in.std = float(r.number("init.std", 0.0, 100.0, true));
  return in;
}

void parse_optim(const Reader& r, SgdOptions& sgd, ScheduleSpec& s) {
  sgd.momentum = float(r.number("optim.momentum", 0.0, 1.0, false, true));
  sgd.weight_decay = float(r.number("optim.weight_decay", 0.0, 1.0));
  s.base_lr = float(r.number("optim.lr", 0.0, 1e6, true));
  s.kind = r.choice("optim.schedule.kind", {"constant", "step", "multistep", "plateau"});
  s.every = int(r.integer("optim.schedule.every", 1, 1000000));
  for (auto& v : r.at("optim.schedule.milestones")) {
    if (!v.is_number_integer() || v.get<int64_t>() < 1)
      throw ConfigError("\"optim.schedule.milestones\" must list positive epochs, got " + quoted(r.at("optim.schedule.milestones")));
    s.milestones.push_back(v.get<int>());
  }
  if (!std::is_sorted(s.milestones.begin(), s.milestones.end()))
    throw ConfigError("\"optim.schedule.milestones\" must be increasing");
  s.gamma = float(r.number("optim.schedule.gamma", 0.0, 1.0, true));
  s.patience = int(r.integer("optim.schedule.patience", 0, 1000));
  s.factor = float(r.number("optim.schedule.factor", 0.0, 1.0, true, true));
  s.threshold = float(r.number("optim.schedule.threshold", 0.0, 1.0));
  s.min_lr = float(r.number("optim.schedule.min_lr", 0.0, 1e6));
}

TrainSpec parse_train(const Reader& r) {
  TrainSpec t;
  t.epochs = int(r.integer("train.epochs", 0, 1000000));
  t.iterations = r.integer("train.iterations", 0, kBig);
  if (t.epochs == 0 && t.iterations == 0) throw ConfigError("set \"train.epochs\" or \"train.iterations\" above 0");
  t.batch = int(r.integer("train.batch", 1, 65536));
  t.log_every = int(r.integer("train.log_every", 1, 1 << 30));
  t.layers_every = int(r.integer("train.layers_every", 0, 1 << 30));
  t.eval_every = int(r.integer("train.eval_every", 0, 1 << 20));
  t.eval_every_iterations = int(r.integer("train.eval_every_iterations", 0, 1 << 30));
  t.eval_subset = int(r.integer("train.eval_subset", 0, 1 << 30));
  t.checkpoint_every = int(r.integer("train.checkpoint_every", 0, 1 << 30));
  t.threads = int(r.integer("train.threads", 0, 1024));
  t.skip_nonfinite = r.flag("train.skip_nonfinite");
  return t;
}

}  // namespace

RunConfig parse_run_config(const json& resolved) {
  if (resolved.contains("sweep") && !resolved["sweep"].empty())
    throw ConfigError("parse_run_config: expand the sweep first");
  Reader r(resolved);
  RunConfig c;
  c.resolved = resolved;
  c.resolved.erase("sweep");
  c.name = r.text("name");
  if (c.name.empty()) throw ConfigError("\"name\" must not be empty");
  c.seed = uint64_t(r.integer("seed", 0, kBig));
  c.out = r.text("out");

  c.data = parse_data(r, c.seed);
  c.model = parse_model(r);
  c.init = parse_init(r);
  parse_optim(r, c.sgd, c.schedule);
  c.train = parse_train(r);
  return c;
}

}  // namespace delve
