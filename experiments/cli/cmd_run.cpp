// delve run CONFIG: trains every member of the config's sweep, one after another.
// Under mpirun every rank takes part in every run (data-parallel, optim/data_parallel.h) and rank 0
// reports; with --sweep-parallel each rank instead trains its own members alone (member i on rank
// i mod P), for seed studies, and rank 0 draws the comparison once all are done.
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "experiments/cli/commands.h"
#include "experiments/run/config.h"
#include "experiments/plot/plot.h"
#include "experiments/plot/report.h"
#include "experiments/run/signals.h"
#include "experiments/run/trainer.h"
#include "optim/communicator.h"

namespace fs = std::filesystem;

namespace delve {

namespace {

// One line per run for the final report: name, status, train and test error, time, directory.
std::string outcome_line(const std::string& name, const json& summary, const std::string& dir) {
  const json s = summary.is_object() ? summary : json::object();
  auto pct = [](const json& v) {
    char buf[16];
    if (!v.is_number()) return std::string("     -");
    std::snprintf(buf, sizeof buf, "%6.2f%%", 100.0 * v.get<double>());
    return std::string(buf);
  };
  char line[400];
  std::snprintf(line, sizeof line, "%-28s %-11s train error %s  test error %s  (%.0f s, %.0f img/s)  %s", name.c_str(),
                s.value("status", "?").c_str(), pct(s.value("train_error", json())).c_str(),
                pct(s.value("test_error", json())).c_str(), s.value("seconds", 0.0), s.value("images_per_s", 0.0),
                dir.c_str());
  return line;
}

// After an interrupt: the command that continues where it stopped.
void say_how_to_continue(const RunArgs& args) {
  std::string again = "delve run " + args.config + " --resume";
  if (!args.out.empty()) again += " --out " + args.out;
  for (auto& s : args.sets) again += " --set '" + s + "'";
  for (auto& o : args.only) again += " --only " + o;
  std::fprintf(stderr, "delve: interrupted; state saved. Continue with: %s\n", again.c_str());
}

// The members --only names, in the order named; a name that is no member is refused with the list.
std::vector<SweepMember> chosen_members(const std::vector<SweepMember>& members, const std::vector<std::string>& only) {
  std::vector<SweepMember> chosen;
  for (auto& name : only) {
    auto it = std::find_if(members.begin(), members.end(), [&](const SweepMember& m) { return m.name == name; });
    if (it == members.end()) {
      std::string known;
      for (auto& m : members) known += (known.empty() ? "" : ", ") + (m.name.empty() ? "(no sweep)" : m.name);
      throw UsageError("--only " + clipped(name) + ": no such sweep member (members: " + known + ")");
    }
    chosen.push_back(*it);
  }
  return chosen;
}

}  // namespace

int command_run(const RunArgs& args) {
  const json resolved = load_resolved_config(args.config, args.sets);
  std::vector<SweepMember> members = expand_sweep(resolved);
  for (auto& m : members) parse_run_config(m.config);  // every member's errors before any training
  if (!args.only.empty()) members = chosen_members(members, args.only);
  const std::string name = resolved["name"].get<std::string>();
  const std::string base = !args.out.empty() ? args.out
                           : !resolved["out"].get<std::string>().empty() ? resolved["out"].get<std::string>()
                                                                         : "runs/" + name;
  auto dir_of = [&](const SweepMember& m) { return m.name.empty() ? base : (fs::path(base) / m.name).string(); };
  install_stop_handlers();
  Communicator& ranks = world();
  SingleProcess alone;  // a --sweep-parallel member's own communicator
  const bool reports = args.sweep_parallel || ranks.is_root();  // prints and plots its runs
  int exit_code = kExitOk;
  std::vector<std::string> dirs;
  std::vector<std::string> outcomes;
  // --resume continues a sweep: a member that an interrupt kept from starting has no directory
  // yet and starts now. When no member has one, each is resumed and refused (a mistyped --out).
  auto started = [&](Communicator& c, const SweepMember& m) { return c.any(c.is_root() && fs::exists(dir_of(m))); };
  bool sweep_started = false;
  if (args.resume && members.size() > 1)
    for (auto& m : members) sweep_started = started(args.sweep_parallel ? alone : ranks, m) || sweep_started;
  for (size_t i = 0; i < members.size(); ++i) {
    const SweepMember& m = members[i];
    if (args.sweep_parallel && int(i % size_t(ranks.size())) != ranks.rank()) continue;  // another rank's
    RunConfig cfg = parse_run_config(m.config);
    if (!m.name.empty()) cfg.name = name + "/" + m.name;
    RunOptions opt;
    opt.dir = dir_of(m);
    opt.force = args.force;
    opt.progress = !args.quiet;
    opt.comm = args.sweep_parallel ? &alone : nullptr;
    opt.resume = args.resume && !(sweep_started && !started(args.sweep_parallel ? alone : ranks, m));
    if (args.resume && !opt.resume && reports)
      std::fprintf(stderr, "delve: %s has not started yet: starting it\n", opt.dir.c_str());
    if (!args.quiet && reports) std::fprintf(stderr, "delve: run %s -> %s\n", cfg.name.c_str(), opt.dir.c_str());
    RunOutcome outcome;
    try {
      outcome = train_run(cfg, opt);
    } catch (const DivergenceError& e) {
      if (reports) std::fprintf(stderr, "delve: %s: %s\n", cfg.name.c_str(), e.what());
      exit_code = e.code;
      outcomes.push_back(cfg.name + ": diverged");
      dirs.push_back(opt.dir);
      continue;  // the other members of a sweep still run
    }
    dirs.push_back(opt.dir);
    if (reports) {
      write_run_plot(opt.dir);
      const std::string page = (fs::path(opt.dir) / "report.html").string();
      write_report({opt.dir}, page);
      outcomes.push_back(outcome_line(cfg.name, outcome.summary, opt.dir));
      if (members.size() == 1) outcomes.push_back("report: " + page);
    }
    if (outcome.exit_code != kExitOk) {
      exit_code = outcome.exit_code;
      break;  // interrupted: stop the sweep too
    }
  }
  if (args.sweep_parallel && ranks.size() > 1) {
    ranks.barrier();  // every member is done: the picture compares them all
    dirs.clear();
    if (ranks.is_root())
      for (auto& m : members) dirs.push_back(dir_of(m));
  }
  if (members.size() > 1 && !dirs.empty() && ranks.is_root()) {
    const std::string picture = (fs::path(base) / "curves.svg").string();
    write_comparison_plot(dirs, picture, name);
    const std::string page = (fs::path(base) / "report.html").string();
    write_report(dirs, page);
    outcomes.push_back("picture: " + picture);
    outcomes.push_back("report: " + page);
  }
  if (reports)
    for (auto& o : outcomes) std::printf("%s\n", o.c_str());
  if (exit_code == kExitInterrupted && reports) say_how_to_continue(args);
  return exit_code;
}

}  // namespace delve
