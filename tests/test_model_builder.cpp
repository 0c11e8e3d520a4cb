// experiments/run/model_builder: listed layers (model.family "layers"), bare activation names among
// them, listed PReLUs' initial slope, and the errors for bad entries.
#include <doctest/doctest.h>

#include <string>

#include "core/error.h"
#include "experiments/run/config.h"
#include "experiments/run/model_builder.h"
#include "layers/net.h"

using namespace delve;

namespace {
// The layers add_model_layers makes of a config's model, as "name:kind" (and describe() for activations).
std::vector<std::string> listed(const char* model) {
  const RunConfig c = parse_run_config(resolve_config(json::parse(std::string(R"({"model": )") + model + "}"), "c.json"));
  Net net;
  add_model_layers(net, c.model, 10);
  std::vector<std::string> out;
  for (auto& l : net.layers()) out.push_back(l->name() + ":" + l->kind() + (l->is_activation() ? ":" + l->describe() : ""));
  return out;
}

std::string build_error(const char* model) {
  try {
    listed(model);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("model.layers takes activations as bare names, as objects, or mixed") {
  const std::vector<std::string> expected{"conv1:conv2d", "relu1:relu:relu", "conv2:conv2d", "prelu2:prelu:channel-wise",
                                          "conv3:conv2d", "prelu3:prelu:channel-shared", "fc1:linear", "tanh4:tanh:tanh",
                                          "fc2:linear"};
  const auto bare = listed(R"({"family": "layers", "layers": [{"type": "conv", "out": 4}, "relu", {"type": "conv", "out": 4},
      "prelu", {"type": "conv", "out": 4}, "prelu_shared", {"type": "linear", "out": 8}, "tanh",
      {"type": "linear", "out": 10}]})");
  std::string got;
  for (auto& l : bare) got += l + " ";
  INFO(got);
  CHECK(bare == expected);
  CHECK(listed(R"({"family": "layers", "layers": [{"type": "conv", "out": 4}, {"type": "relu"}, {"type": "conv", "out": 4},
      {"type": "prelu"}, {"type": "conv", "out": 4}, {"type": "prelu_shared"}, {"type": "linear", "out": 8},
      {"type": "tanh"}, {"type": "linear", "out": 10}]})") == expected);
  // A bare name is {"type": name}: a layer with defaults works, one that needs keys says which.
  CHECK(listed(R"({"family": "layers", "layers": [{"type": "conv", "out": 4}, "maxpool", {"type": "linear", "out": 10}]})")[1] ==
        "pool1:maxpool2d");
  CHECK(build_error(R"({"family": "layers", "layers": ["conv"]})").find("model.layers[0]") != std::string::npos);
}

TEST_CASE("listed PReLUs start at model.prelu_init unless their own init says otherwise") {
  const RunConfig c = parse_run_config(resolve_config(json::parse(R"({"model": {"family": "layers", "prelu_init": 0.1,
      "layers": [{"type": "linear", "out": 4}, "prelu", {"type": "linear", "out": 4}, {"type": "prelu_shared", "init": 0.7},
      {"type": "linear", "out": 2}]}})"), "c.json"));
  Net net;
  add_model_layers(net, c.model, 2);
  Rng rng(1);
  net.build(Shape{2, 3, 1, 1}, c.init, rng);
  for (size_t i = 0; i < 4; ++i) CHECK(net.find_param("prelu1.weight")->w[i] == 0.1f);
  CHECK(net.find_param("prelu2.weight")->w[0] == 0.7f);
}

TEST_CASE("a bad model.layers entry is named with what was expected") {
  std::string msg = build_error(R"({"family": "layers", "layers": [{"type": "conv", "out": 4}, 3]})");
  CHECK(msg.find("\"model.layers[1]\"") != std::string::npos);
  CHECK(msg.find("\"relu\"") != std::string::npos);  // suggests the bare form
  msg = build_error(R"({"family": "layers", "layers": ["reluu"]})");
  CHECK(msg.find("unknown layer type \"reluu\"") != std::string::npos);
  CHECK(msg.find("did you mean \"relu\"") != std::string::npos);
  msg = build_error(R"({"family": "layers", "layers": [{"type": "relu", "init": 0.3}]})");
  CHECK(msg.find("\"model.layers[0].init\"") != std::string::npos);  // only PReLUs have a slope
  msg = build_error(R"({"family": "layers", "layers": [{"type": "prelu", "init": "big"}]})");
  CHECK(msg.find("\"model.layers[0].init\" must be a number") != std::string::npos);
}
