#include "experiments/run/model_builder.h"

#include "core/error.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/linear.h"
#include "layers/maxpool2d.h"
#include "layers/prelu.h"
#include "layers/relu.h"
#include "layers/tanh.h"

namespace delve {

ModelSpec expand_family(const ModelSpec& spec) {
  ModelSpec m = spec;
  if (spec.family == "plain14") m.stages = {{1, 32}, {4, 64}, {6, 128}};
  if (spec.family == "plain22") m.stages = {{6, 32}, {6, 64}, {7, 128}};
  if (spec.family == "plain30") m.stages = {{9, 16}, {9, 32}, {9, 64}};
  if (spec.family != "plain" && spec.family != "layers") m.fc = {256, 256};
  return m;
}

namespace {

struct Namer {
  int conv = 0, fc = 0, act = 0, pool = 0, drop = 0;
};

void add_activation(Net& net, const std::string& kind, float prelu_init, Namer& n) {
  const std::string id = std::to_string(++n.act);
  if (kind == "relu") net.add(std::make_unique<ReLU>("relu" + id));
  else if (kind == "tanh") net.add(std::make_unique<Tanh>("tanh" + id));
  else if (kind == "prelu") net.add(std::make_unique<PReLU>("prelu" + id, false, prelu_init));
  else if (kind == "prelu_shared") net.add(std::make_unique<PReLU>("prelu" + id, true, prelu_init));
  else throw ConfigError("unknown activation \"" + kind + "\"");
}

int get_int(const json& layer, const char* key, int fallback, const std::string& where) {
  if (!layer.contains(key)) return fallback;
  if (!layer[key].is_number_integer() || layer[key].get<int64_t>() < 0 || layer[key].get<int64_t>() > 1 << 20)
    throw ConfigError("\"" + where + "." + key + "\" must be a non-negative integer, got " + quoted(layer[key]));
  return layer[key].get<int>();
}

void check_keys(const json& layer, const std::vector<std::string>& allowed, const std::string& where) {
  for (auto it = layer.begin(); it != layer.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) != allowed.end()) continue;
    std::string hint = closest_key(it.key(), allowed);
    throw ConfigError("unknown key \"" + where + "." + clipped(it.key()) + "\"" +
                      (hint.empty() ? "" : " (did you mean \"" + where + "." + hint + "\"?)"));
  }
}

// A bare string entry ("relu") stands for {"type": "relu"}.
json listed_layer(const json& entry, const std::string& where) {
  if (entry.is_string()) return json{{"type", entry}};
  if (!entry.is_object() || !entry.contains("type") || !entry["type"].is_string())
    throw ConfigError("\"" + where + "\" must be a layer name such as \"relu\" or an object with a \"type\", got " +
                      quoted(entry));
  return entry;
}

void add_listed_layers(Net& net, const json& list, float prelu_init, Namer& n) {
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = "model.layers[" + std::to_string(i) + "]";
    const json l = listed_layer(list[i], where);
    const std::string type = l["type"].get<std::string>();
    if (type == "conv") {
      check_keys(l, {"type", "out", "kernel", "stride", "pad", "bias"}, where);
      int out = get_int(l, "out", 0, where), k = get_int(l, "kernel", 3, where);
      if (out < 1 || k < 1) throw ConfigError("\"" + where + "\" needs \"out\" ≥ 1 and \"kernel\" ≥ 1");
      int stride = get_int(l, "stride", 1, where);
      if (stride < 1) throw ConfigError("\"" + where + ".stride\" must be at least 1");
      bool bias = l.value("bias", true);
      net.add(std::make_unique<Conv2d>("conv" + std::to_string(++n.conv), out, k, stride,
                                       get_int(l, "pad", k / 2, where), bias));
    } else if (type == "linear") {
      check_keys(l, {"type", "out", "bias"}, where);
      int out = get_int(l, "out", 0, where);
      if (out < 1) throw ConfigError("\"" + where + ".out\" must be at least 1");
      net.add(std::make_unique<Linear>("fc" + std::to_string(++n.fc), out, l.value("bias", true)));
    } else if (type == "relu" || type == "tanh" || type == "prelu" || type == "prelu_shared") {
      const bool prelu = type == "prelu" || type == "prelu_shared";
      check_keys(l, prelu ? std::vector<std::string>{"type", "init"} : std::vector<std::string>{"type"}, where);
      if (l.contains("init") && !l["init"].is_number())
        throw ConfigError("\"" + where + ".init\" must be a number (the initial PReLU slope), got " + l["init"].dump());
      const float init = l.contains("init") ? l["init"].get<float>() : prelu_init;  // model.prelu_init
      add_activation(net, type, init, n);
    } else if (type == "maxpool") {
      check_keys(l, {"type", "kernel", "stride"}, where);
      int k = get_int(l, "kernel", 2, where);
      int stride = get_int(l, "stride", k, where);
      if (k < 1 || stride < 1) throw ConfigError("\"" + where + "\" needs kernel and stride ≥ 1");
      net.add(std::make_unique<MaxPool2d>("pool" + std::to_string(++n.pool), k, stride));
    } else if (type == "dropout") {
      check_keys(l, {"type", "p"}, where);
      double p = l.contains("p") && l["p"].is_number() ? l["p"].get<double>() : -1.0;
      if (!(p >= 0.0 && p < 1.0)) throw ConfigError("\"" + where + ".p\" must be a number in [0, 1)");
      net.add(std::make_unique<Dropout>("drop" + std::to_string(++n.drop), float(p), &net.rng()));
    } else {
      std::string hint = closest_key(type, {"conv", "linear", "relu", "prelu", "prelu_shared", "tanh", "maxpool", "dropout"});
      throw ConfigError("\"" + where + ".type\": unknown layer type \"" + clipped(type) + "\"" +
                        (hint.empty() ? " (known: conv, linear, relu, prelu, prelu_shared, tanh, maxpool, dropout)"
                                      : " (did you mean \"" + hint + "\"?)"));
    }
  }
}

}  // namespace

void add_model_layers(Net& net, const ModelSpec& spec, int classes) {
  Namer n;
  if (spec.family == "layers") {
    add_listed_layers(net, spec.layers, spec.prelu_init, n);
    return;
  }
  const ModelSpec m = expand_family(spec);
  for (auto [convs, width] : m.stages) {
    for (int i = 0; i < convs; ++i) {
      net.add(std::make_unique<Conv2d>("conv" + std::to_string(++n.conv), width, 3, 1, 1, true));
      add_activation(net, m.activation, m.prelu_init, n);
    }
    net.add(std::make_unique<MaxPool2d>("pool" + std::to_string(++n.pool), 2, 2));
  }
  for (int width : m.fc) {
    net.add(std::make_unique<Linear>("fc" + std::to_string(++n.fc), width, true));
    add_activation(net, m.activation, m.prelu_init, n);
    if (m.dropout > 0.f) net.add(std::make_unique<Dropout>("drop" + std::to_string(++n.drop), m.dropout, &net.rng()));
  }
  net.add(std::make_unique<Linear>("fc" + std::to_string(++n.fc), classes, true));
}

}  // namespace delve
