// experiments/run/config: strict keys with suggestions, types, ranges, --set overrides, sweeps.
#include <doctest/doctest.h>

#include <string>

#include "core/error.h"
#include "experiments/run/config.h"

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

TEST_CASE("a sweep expands into named members, --set pins a swept key") {
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
  CHECK(members[1].config["init"]["std"].get<double>() == 0.01);  // parsed from the same decimal: the same double
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

TEST_CASE("kaiming's a is left to the built net unless given (Eq. 15, tests/test_init.cpp)") {
  auto a_for = [](const char* text) { return parse_run_config(resolve_config(json::parse(text), "c.json")).init.a; };
  CHECK(a_for(R"({"model": {"family": "plain14"}})") < 0.f);
  CHECK(a_for(R"({"model": {"family": "plain14", "activation": "prelu"}})") < 0.f);
  CHECK(parse_run_config(resolve_config(json::parse(R"({"model": {"family": "plain14"}})"), "c")).init.a_from_net());
  CHECK(a_for(R"({"model": {"family": "plain14", "activation": "prelu"}, "init": {"a": 0}})") == 0.f);
  CHECK(a_for(R"({"model": {"family": "plain14", "activation": "prelu"}, "init": {"a": 0.5}})") == 0.5f);
}

// --- messages quote a user's value cut to a readable length -----------------------------------

namespace {
// Code points of UTF-8 text (bytes that do not continue a sequence).
size_t code_points(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}
std::string nested_lists(int depth) { return std::string(size_t(depth), '[') + std::string(size_t(depth), ']'); }
}  // namespace

TEST_CASE("clipped: at most kQuotedChars code points, the last one … when cut, never inside a character") {
  const std::string exact(kQuotedChars, 'a');
  CHECK(clipped(exact) == exact);
  const std::string cut = clipped(exact + "b");
  CHECK(code_points(cut) == kQuotedChars);
  CHECK(cut == std::string(kQuotedChars - 1, 'a') + "\u2026");
  // Two-byte characters: the cut falls between them, so the text stays valid UTF-8.
  std::string umlauts;
  for (size_t i = 0; i < 2 * kQuotedChars; ++i) umlauts += "\u00e4";
  const std::string cut_umlauts = clipped(umlauts);
  CHECK(code_points(cut_umlauts) == kQuotedChars);
  CHECK(cut_umlauts.size() == 2 * (kQuotedChars - 1) + 3);  // 79 two-byte letters and the three bytes of …
  CHECK_NOTHROW((void)json(cut_umlauts).dump());            // dump() refuses invalid UTF-8
}

TEST_CASE("a huge bad value gives a one-line error of readable length, from every place that quotes one") {
  // Each message is its fixed text (under 120 characters) and at most two clipped quotes: the
  // value (80) and, for text that is not JSON, the parser's own message (160). 400 bounds them all.
  const size_t bound = 400;
  const std::string deep = nested_lists(5000);  // 10,000 characters
  const std::string long_word(10000, 'r');
  const std::vector<std::string> messages = {
      config_error([&] { resolve_config(json::parse(R"({"name": )" + deep + "}"), "my.json"); }),
      config_error([&] { resolve_config(json::parse(R"({"train": {")" + long_word + R"(": 1}})"), "my.json"); }),
      config_error([&] {
        parse_run_config(resolve_config(json::parse(R"({"model": {"activation": ")" + long_word + R"("}})"), "c"));
      }),
      config_error([&] { parse_run_config(resolve_config(json{{"model", {{"fc", std::vector<int>(5000, 0)}}}}, "c")); }),
      config_error([&] { expand_sweep(resolve_config(json::parse(R"({"sweep": {"seed": [")" + long_word + R"("]}})"), "s")); }),
      config_error([&] { expand_sweep(resolve_config(json::parse(R"({"sweep": {"sweep.)" + long_word + R"(": [1]}})"), "s")); }),
      config_error([&] { expand_sweep(resolve_config(json::parse(R"({"sweep": {"name": [")" + long_word + R"("]}})"), "s")); }),
  };
  json user = json::object();
  const std::vector<std::string> set_messages = {
      config_error([&] { apply_override(user, "name=" + deep); }),                  // valid JSON, wrong type
      config_error([&] { apply_override(user, "model.fc=" + deep.substr(0, 5000)); }),  // not valid JSON
      config_error([&] { apply_override(user, "train." + long_word + "=1"); }),         // unknown key
      config_error([&] { apply_override(user, long_word); }),                           // no '='
  };
  for (const auto* list : {&messages, &set_messages}) {
    for (const std::string& m : *list) {
      INFO("message: ", m);
      CHECK(!m.empty());
      CHECK(code_points(m) < bound);
      CHECK(m.find('\n') == std::string::npos);
      CHECK(m.find("\u2026") != std::string::npos);
    }
  }
  CHECK(messages[0].find("my.json: \"name\" must be a string, got [[[[") == 0);
}

TEST_CASE("--set: a bad value names the --set, not the config file, JSON that does not parse is an error") {
  json user = parse(R"({"model": {"family": "plain14"}})");
  const std::string wrong_type = config_error([&] { apply_override(user, "train.batch=abc"); });
  CHECK(wrong_type.find("--set train.batch=abc: \"train.batch\" must be an integer, got \"abc\"") == 0);
  // Objects are checked key by key, like the config file.
  CHECK(config_error([&] { apply_override(user, R"(optim={"lr": "x"})"); })
            .find(R"(--set optim={"lr": "x"}: "optim.lr" must be a number)") == 0);
  CHECK(config_error([&] { apply_override(user, R"(optim={"lrr": 1})"); }).find("did you mean \"optim.lr\"") !=
        std::string::npos);
  // Text that starts as only JSON does (a list, an object, a string, a number) must parse.
  for (const char* bad : {"model.fc=[32,", "model.fc= [32", R"(optim={"lr": )", R"(init.kind="xavier)", "train.epochs=3x",
                          "optim.lr=-", "optim.lr=1e999"}) {
    const std::string m = config_error([&] { apply_override(user, bad); });
    INFO(bad, " -> ", m);
    CHECK(m.find(std::string("--set ") + bad + ": not valid JSON (") == 0);
  }
  // A bare word stays a string; a quoted string is a string too.
  apply_override(user, "init.kind=xavier");
  apply_override(user, "data.path=runs/x");
  apply_override(user, R"(out="2024-runs")");
  CHECK(user["init"]["kind"] == "xavier");
  CHECK(user["data"]["path"] == "runs/x");
  CHECK(user["out"] == "2024-runs");
  // The file's own mistakes still name the file; a --set that fixes one wins.
  json bad_file = parse(R"({"model": {"family": "plain14"}, "train": {"batch": "abc"}})");
  CHECK(config_error([&] { resolve_config(bad_file, "my.json"); }).find("my.json: \"train.batch\"") == 0);
  apply_override(bad_file, "train.batch=16");
  CHECK(parse_run_config(resolve_config(bad_file, "my.json")).train.batch == 16);
}
