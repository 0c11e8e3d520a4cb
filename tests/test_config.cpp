// experiments/config: strict keys with suggestions, types, ranges, --set overrides, sweeps.
#include <doctest/doctest.h>

#include <string>

#include "core/error.h"
#include "experiments/config.h"

using namespace delve;

namespace {
// The message of the ConfigError `f` throws ("" when it throws none).
template <class F>
std::string config_error(F f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
json parse(const char* text) { return json::parse(text); }
}  // namespace

TEST_CASE("an unknown key names its path and the likely intended key") {
  std::string msg = config_error([] { resolve_config(parse(R"({"model": {"activaton": "relu"}})"), "x.json"); });
  CHECK(msg.find("x.json") != std::string::npos);
  CHECK(msg.find("\"model.activaton\"") != std::string::npos);
  CHECK(msg.find("did you mean \"model.activation\"") != std::string::npos);
  msg = config_error([] { resolve_config(parse(R"({"trian": {}})"), "x.json"); });
  CHECK(msg.find("did you mean \"train\"") != std::string::npos);
  msg = config_error([] { resolve_config(parse(R"({"zzzzzzzz": 1})"), "x.json"); });
  CHECK(msg.find("unknown key \"zzzzzzzz\"") != std::string::npos);
  CHECK(msg.find("did you mean") == std::string::npos);
}

TEST_CASE("a wrong type names the type expected") {
  std::string msg = config_error([] { resolve_config(parse(R"({"train": {"epochs": "ten"}})"), "c.json"); });
  CHECK(msg.find("\"train.epochs\" must be an integer") != std::string::npos);
  msg = config_error([] { resolve_config(parse(R"({"train": {"batch": 12.5}})"), "c.json"); });
  CHECK(msg.find("\"train.batch\" must be an integer") != std::string::npos);
  msg = config_error([] { resolve_config(parse(R"({"optim": {"lr": "0.1"}})"), "c.json"); });
  CHECK(msg.find("\"optim.lr\" must be a number") != std::string::npos);
  msg = config_error([] { resolve_config(parse(R"({"data": []})"), "c.json"); });
  CHECK(msg.find("\"data\" must be an object") != std::string::npos);
  // An integer is a fine number.
  json ok = resolve_config(parse(R"({"optim": {"lr": 1}})"), "c.json");
  CHECK(ok["optim"]["lr"].get<double>() == 1.0);
}

TEST_CASE("out-of-range and unknown values are named") {
  auto parse_with = [](const char* text) {
    return config_error([&] { parse_run_config(resolve_config(json::parse(text), "c.json")); });
  };
  CHECK(parse_with(R"({"model": {"family": "plain22", "dropout": 1.5}})").find("\"model.dropout\" must be in [0, 1)") !=
        std::string::npos);
  CHECK(parse_with(R"({"model": {"family": "plain22"}, "train": {"batch": 0}})").find("\"train.batch\" must be between 1") !=
        std::string::npos);
  std::string msg = parse_with(R"({"model": {"family": "plain22"}, "init": {"kind": "kaimng"}})");
  CHECK(msg.find("\"init.kind\" must be one of kaiming, xavier, glorot, gaussian") != std::string::npos);
  CHECK(msg.find("did you mean \"kaiming\"") != std::string::npos);
  CHECK(parse_with(R"({"model": {"family": "plain", "stages": [{"convs": 2}]}})").find("model.stages[0]") != std::string::npos);
  CHECK(parse_with(R"({"model": {"family": "plain"}})").find("at least one stage") != std::string::npos);
  CHECK(parse_with(R"({"model": {"family": "plain22", "stages": [{"convs": 2, "width": 8}]}})").find("fixed by family") !=
        std::string::npos);
  CHECK(parse_with(R"({"model": {"family": "plain22"}, "train": {"epochs": 0}})").find("train.iterations") != std::string::npos);
}

TEST_CASE("--set overrides values, parses JSON, rejects unknown keys") {
  json user = parse(R"({"model": {"family": "plain14"}})");
  apply_override(user, "train.epochs=3");
  apply_override(user, "init.kind=xavier");
  apply_override(user, "model.fc=[64, 32]");
  RunConfig c = parse_run_config(resolve_config(user, "c.json"));
  CHECK(c.train.epochs == 3);
  CHECK(c.init.kind == InitSpec::Kind::Xavier);
  CHECK(c.model.fc == std::vector<int>{64, 32});
  CHECK(config_error([&] { apply_override(user, "train.epoch=3"); }).find("did you mean \"train.epochs\"") != std::string::npos);
  CHECK(config_error([&] { apply_override(user, "noequals"); }).find("expected key.path=value") != std::string::npos);
}

TEST_CASE("a sweep expands into named members; --set pins a swept key") {
  json user = parse(R"({"model": {"family": "plain14"},
                        "sweep": {"init.kind": ["xavier", "kaiming"], "model.activation": ["relu", "prelu"]}})");
  auto members = expand_sweep(resolve_config(user, "s.json"));
  REQUIRE(members.size() == 4);
  CHECK(members[0].name == "kind-xavier_activation-relu");
  CHECK(members[3].name == "kind-kaiming_activation-prelu");
  CHECK(members[3].config["init"]["kind"] == "kaiming");
  CHECK(members[3].config["model"]["activation"] == "prelu");
  CHECK_FALSE(members[0].config.contains("sweep"));

  apply_override(user, "init.kind=kaiming");
  members = expand_sweep(resolve_config(user, "s.json"));
  CHECK(members.size() == 2);
  CHECK(members[0].name == "activation-relu");

  json objects = parse(R"({"sweep": {"init": [{"kind": "xavier", "mode": "fan_out"}, {"kind": "gaussian", "std": 0.01}]}})");
  members = expand_sweep(resolve_config(objects, "s.json"));
  REQUIRE(members.size() == 2);
  CHECK(members[0].name == "init-xavier-fan_out");
  CHECK(members[1].config["init"]["std"].get<double>() == doctest::Approx(0.01));
  CHECK(members[1].config["init"]["mode"] == "fan_in");  // untouched keys keep their values
}

TEST_CASE("bad sweeps are refused with the key named") {
  auto sweep_error = [](const char* text) {
    return config_error([&] { expand_sweep(resolve_config(json::parse(text), "s.json")); });
  };
  CHECK(sweep_error(R"({"sweep": {"init.knd": ["xavier"]}})").find("did you mean \"init.kind\"") != std::string::npos);
  CHECK(sweep_error(R"({"sweep": {"init.kind": []}})").find("non-empty list") != std::string::npos);
  CHECK(sweep_error(R"({"sweep": {"init.kind": "xavier"}})").find("non-empty list") != std::string::npos);
  CHECK(sweep_error(R"({"sweep": {"train.epochs": ["two"]}})").find("must be an integer") != std::string::npos);
  CHECK(sweep_error(R"({"sweep": {"init": [{"knd": "xavier"}]}})").find("\"init.knd\"") != std::string::npos);
}

TEST_CASE("closest_key finds typos only") {
  CHECK(closest_key("epoch", {"epochs", "batch"}) == "epochs");
  CHECK(closest_key("xyz", {"epochs", "batch"}).empty());
}

TEST_CASE("kaiming's a is left to the built net unless given (Eq. 15; tests/test_init.cpp)") {
  auto a_for = [](const char* text) { return parse_run_config(resolve_config(json::parse(text), "c.json")).init.a; };
  CHECK(a_for(R"({"model": {"family": "plain14"}})") < 0.f);
  CHECK(a_for(R"({"model": {"family": "plain14", "activation": "prelu"}})") < 0.f);
  CHECK(parse_run_config(resolve_config(json::parse(R"({"model": {"family": "plain14"}})"), "c")).init.a_from_net());
  CHECK(a_for(R"({"model": {"family": "plain14", "activation": "prelu"}, "init": {"a": 0}})") == 0.f);
  CHECK(a_for(R"({"model": {"family": "plain14", "activation": "prelu"}, "init": {"a": 0.5}})") == 0.5f);
}
