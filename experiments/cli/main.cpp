// delve: train deep plain convolutional nets on the CPU and see why they train or stall.
// The command line: a table of commands (name, help, options, what runs), parsed with CLI11; each
// command's work is in experiments/cmd_*.cpp.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "core/blas.h"
#include "core/error.h"
#include "core/version.h"
#include "experiments/cli/commands.h"
#include "experiments/run/config.h"
#include "optim/communicator.h"

using namespace delve;

namespace {

// What each command's options write into.
struct Args {
  RunArgs run;
  ProbeArgs probe;
  PlotArgs plot;
  ReportArgs report;
  SlopesArgs slopes;
  EvalArgs eval;
  BenchArgs bench;
  BenchDataArgs bench_data;
  int gemm_repeats = 5;
};

struct Command {
  const char* name;
  const char* help;
  std::function<void(CLI::App&)> add_options;  // options, arguments and footer
  std::function<int()> run;                    // after parsing; returns the exit code
};

void run_options(CLI::App& cmd, RunArgs& run) {
  cmd.add_option("config", run.config, "Experiment config (JSON)")->required()->check(CLI::ExistingFile);
  cmd.add_option("--out", run.out, "Run directory (default: the config's \"out\", else runs/<name>)");
  cmd.add_option("--set", run.sets, "Override a config value: --set train.epochs=3 --set init.kind=xavier")
      ->allow_extra_args(false);
  cmd.add_option("--only", run.only, "Run only this sweep member (its run directory's name); repeat for several: --only a --only b")
      ->allow_extra_args(false);
  cmd.add_flag("--resume", run.resume, "Continue from each run's checkpoint (bit-identical to an uninterrupted run)");
  cmd.add_flag("--force", run.force, "Start over in a run directory that already holds a run");
  cmd.add_flag("--quiet", run.quiet, "No progress line on stderr");
  cmd.add_flag("--sweep-parallel", run.sweep_parallel,
               "Under mpirun: each rank trains its own members of the sweep (member i on rank i mod P) "
               "instead of all ranks training each run data-parallel");
  cmd.footer(
      "\nWrites per run: config.json (resolved), log.jsonl (events), summary.json, checkpoint.safetensors,\n"
      "curves.svg. A sweep writes one sub-directory per member and a curves.svg comparing them.\n"
      "Ctrl-C finishes the step, saves a checkpoint and stops (exit 130); --resume continues.\n"
      "Under `mpirun -np P` (a build with -DDELVE_MPI=ON) every run trains data-parallel: each rank takes\n"
      "B/P images of each batch of B and one allreduce averages the gradients; rank 0 writes the run.\n"
      "Examples:\n  delve run experiments/default.json --set train.epochs=1 --out runs/try\n"
      "  mpirun -np 2 delve run experiments/default.json                  each run on 2 ranks\n"
      "  mpirun -np 2 delve run experiments/default.json --sweep-parallel one member per rank");
}

void probe_options(CLI::App& cmd, ProbeArgs& probe) {
  cmd.add_option("config", probe.config,
                 "Experiment config (JSON; a sweep probes every member), or a run's checkpoint.safetensors "
                 "(its net with the saved weights and config)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd.add_option("--set", probe.sets, "Override a config value")->allow_extra_args(false);
  cmd.add_option("--batches", probe.batches, "Batches to average over (default 4)")->check(CLI::Range(1, 1000));
  cmd.add_flag("--init", probe.init, "With a checkpoint: its net as its seed initialised it, before training");
  cmd.add_option("--json", probe.json_out, "Also write the statistics as JSON to this file");
  cmd.add_option("-o,--svg", probe.svg_out, "Also draw response and gradient std against depth (SVG)");
  cmd.footer(
      "\nNo training: builds the net, runs forward and backward on a few batches and prints, per weight\n"
      "layer, the std of its response y and of the gradient at its input, P(y>0), and the gains the\n"
      "paper predicts (Eq. 10 forward, Eq. 14 backward: 1 keeps the signal, 0.5 halves its variance),\n"
      "and the channels that are dead (y <= 0 on every probed image). --json adds P(y>0) per channel.\n"
      "Examples:\n  delve probe experiments/paper/probe_plain30.json -o probe.svg\n"
      "  delve probe runs/default/kind-kaiming/checkpoint.safetensors --json trained.json\n"
      "  delve probe runs/default/kind-kaiming/checkpoint.safetensors --init --json at_init.json");
}

void plot_options(CLI::App& cmd, PlotArgs& plot) {
  cmd.add_option("runs", plot.runs, "Run directories (or a sweep's parent directory)")->required();
  cmd.add_option("-o,--out", plot.out, "SVG file to write")->required();
  cmd.add_option("--what", plot.what,
                 "curves: error and loss against epochs | layers: a statistic against depth, first and last "
                 "layers event | heatmap: a statistic per layer against iterations | history: a statistic "
                 "against epochs for a few layers | slopes: learned PReLU slopes against depth, beside the "
                 "paper's Table 1")
      ->check(CLI::IsMember({"curves", "layers", "heatmap", "history", "slopes"}));
  cmd.add_option("--metric", plot.metric,
                 "With --what layers, heatmap or history: response_std, grad_input_std, positive_fraction, "
                 "update_ratio, weight_norm, slope_mean (default: the four main ones for layers, "
                 "positive_fraction for heatmap and history)");
  cmd.add_option("--split", plot.split,
                 "With --what curves: both (default), train, or test (the error on the evaluated images "
                 "alone, one line per run, as the paper's Figures 2-3)")
      ->check(CLI::IsMember({"both", "train", "test"}));
  cmd.add_option("--layers", plot.depths,
                 "With --what history: weight layers by depth, comma-separated (default: the first, the "
                 "middle and the deepest)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  cmd.add_option("--title", plot.title, "Title of the picture");
  cmd.footer("\nExample:\n  delve plot runs/fig3_plain30/*/ -o fig3.svg\n"
             "  delve plot runs/fig3_plain30/kind-xavier --what layers -o layers.svg\n"
             "  delve plot runs/fig3_plain30/ --what heatmap -o positive.svg     P(y>0) per layer over training\n"
             "  delve plot runs/fig3_plain30/ --what heatmap --metric grad_input_std -o grads.svg\n"
             "  delve plot runs/fig3_plain30/ --split test -o fig3_test.svg   test error only, as the paper\n"
             "  delve plot runs/table1_plain14/ --what history --metric slope_mean --layers 1,7,13 -o slopes.svg");
}

void report_options(CLI::App& cmd, ReportArgs& report) {
  cmd.add_option("runs", report.runs, "Run directories, or a sweep's parent directory")->required();
  cmd.add_option("-o,--out", report.out, "HTML file to write (default report.html)");
  cmd.footer(
      "\nOne self-contained HTML page (inline SVG and CSS: no script, no network; it opens offline and\n"
      "travels by e-mail) holding: what was run (config, members and the config keys in which they differ,\n"
      "when, delve version, CPU, BLAS core, threads, wall time); an outcome table (final and best train and\n"
      "test error, loss, images/s, status, skipped steps); the error and loss curves of all runs together;\n"
      "per-layer heat maps (P(y>0), gradient std, response std) per run; learned PReLU slopes beside the\n"
      "paper's Table 1 when the nets have PReLU; the probe picture when a directory holds a probe.json\n"
      "(delve probe CONFIG --json DIR/probe.json); each run's resolved config, folded.\n"
      "delve run writes one into every run directory and into a sweep's directory at the end.\n"
      "Examples:\n"
      "  delve report runs/default -o default.html              a sweep: all its members on one page\n"
      "  delve report runs/default/kind-kaiming                  one run (writes ./report.html)\n"
      "  delve report runs/fig3_plain30/kind-xavier runs/fig3_plain30_lr0001/kind-xavier -o lr.html");
}

void slopes_options(CLI::App& cmd, SlopesArgs& slopes) {
  cmd.add_option("runs", slopes.runs, "Run directories (or a sweep's parent directory)")->required();
  cmd.add_flag("--json", slopes.json, "JSON instead of a Markdown table");
  cmd.footer("\nExample:\n  delve slopes runs/table1_plain14/*/");
}

void eval_options(CLI::App& cmd, EvalArgs& eval) {
  cmd.add_option("checkpoint", eval.checkpoint, "checkpoint.safetensors of a run")->required()->check(CLI::ExistingFile);
  cmd.add_option("--set", eval.sets,
                 std::string("Override a value of the run's config that eval reads: ") + kEvalSetKeys +
                     " (e.g. data.path=...)")
      ->allow_extra_args(false);
  cmd.add_option("--split", eval.split, "test | train")->check(CLI::IsMember({"test", "train"}));
  cmd.footer("\nExample:\n  delve eval runs/default/kind-kaiming/checkpoint.safetensors");
}

void bench_options(CLI::App& cmd, BenchArgs& bench) {
  cmd.add_option("net", bench.net, "plain14 | plain22 | plain30, or an experiment config (JSON)");
  cmd.add_option("--set", bench.sets, "Override a value of the config")->allow_extra_args(false);
  cmd.add_option("--activation", bench.activation, "relu | prelu | prelu_shared | tanh");
  cmd.add_option("--batch", bench.batch, "Batch size (default 128)")->check(CLI::Range(1, 1 << 16));
  cmd.add_option("--threads", bench.threads, "Threads (default: all cores)")->check(CLI::Range(1, 1024));
  cmd.add_option("--input", bench.channels, "Input channels (default 3)")->check(CLI::Range(1, 4096));
  cmd.add_option("--size", bench.size, "Input height and width (default 32)")->check(CLI::Range(1, 4096));
  cmd.add_option("--warmup", bench.warmup, "Untimed steps first (default 2)")->check(CLI::Range(0, 1000));
  cmd.add_option("--steps", bench.steps, "Timed steps; the median counts (default 8)")->check(CLI::Range(1, 100000));
  cmd.add_option("--conv", bench.conv_algo,
                 "Convolution: winograd (default: F(2x2,3x3) for 3x3 stride 1 pad 1, im2col for the "
                 "others) | im2col (image chunks on delve's threads) | whole (one OpenBLAS-threaded GEMM "
                 "per batch); layers/conv2d.h")
      ->check(CLI::IsMember({"winograd", "im2col", "whole"}));
  cmd.add_flag("--layers", bench.layers, "Also print forward and backward time per layer");
  cmd.add_flag("--json", bench.json, "One JSON line instead of the table");
  cmd.footer(
      "\nTrains on random inputs and labels (no data loading), SGD with momentum; prints median images/s,\n"
      "effective GFLOP/s (a training step counts 3x the forward FLOPs), the fraction of the FMA peak\n"
      "measured on the same threads, and peak RSS.\n"
      "Examples:\n  delve bench plain22 --layers\n  delve bench plain30 --activation prelu --batch 64 --threads 1");
}

void bench_data_options(CLI::App& cmd, BenchDataArgs& data) {
  cmd.add_option("config", data.config, "Experiment config whose \"data\" to use (default: Fashion-MNIST)")
      ->check(CLI::ExistingFile);
  cmd.add_option("--set", data.sets, "Override a config value (e.g. data.source=synthetic)")->allow_extra_args(false);
  cmd.add_option("--batch", data.batch, "Batch size (default 128)")->check(CLI::Range(1, 65536));
  cmd.add_option("--batches", data.batches, "Batches to time (default 400)")->check(CLI::Range(1, 1000000));
  cmd.footer("\nExample:\n  delve bench-data --batch 128");
}

void bench_gemm_options(CLI::App& cmd, int& repeats) {
  cmd.add_option("--repeats", repeats, "Timed products per shape (median reported)")->check(CLI::Range(1, 1000));
  cmd.footer("\nExample:\n  delve bench-gemm --repeats 9");
}

std::vector<Command> command_table(Args& a) {
  return {
      {"run", "Train the runs of an experiment config into run directories",
       [&](CLI::App& c) { run_options(c, a.run); }, [&] { return command_run(a.run); }},
      {"probe", "Per-layer signal statistics at initialisation or of a checkpoint, against the paper's theory",
       [&](CLI::App& c) { probe_options(c, a.probe); }, [&] { return command_probe(a.probe); }},
      {"plot", "Draw runs as an SVG: error curves, per-layer statistics, slopes",
       [&](CLI::App& c) { plot_options(c, a.plot); }, [&] { return command_plot(a.plot); }},
      {"report", "One self-contained HTML page of runs: header, outcomes, curves, heat maps, slopes, configs",
       [&](CLI::App& c) { report_options(c, a.report); }, [&] { return command_report(a.report); }},
      {"slopes", "The learned PReLU slopes per layer, as the paper's Table 1",
       [&](CLI::App& c) { slopes_options(c, a.slopes); }, [&] { return command_slopes(a.slopes); }},
      {"eval", "Test loss and error of a checkpoint",
       [&](CLI::App& c) { eval_options(c, a.eval); }, [&] { return command_eval(a.eval); }},
      {"bench", "Training and inference speed of a net on synthetic data",
       [&](CLI::App& c) { bench_options(c, a.bench); }, [&] { return command_bench(a.bench); }},
      {"bench-data", "Time the data pipeline: loading, normalising, batching",
       [&](CLI::App& c) { bench_data_options(c, a.bench_data); }, [&] { return command_bench_data(a.bench_data); }},
      {"bench-gemm", "GFLOP/s of SGEMM through delve's BLAS wrapper, 1 and 2 threads",
       [&](CLI::App& c) { bench_gemm_options(c, a.gemm_repeats); }, [&] { return command_bench_gemm(a.gemm_repeats); }},
  };
}

// "delve <git revision> (OpenBLAS core <core>)": what a bug report needs to name the build.
std::string version_text() { return std::string("delve ") + source_revision() + " (OpenBLAS core " + blas_core() + ")"; }

void describe(CLI::App& app) {
  app.require_subcommand(1);
  app.set_version_flag("--version", version_text, "Print the git revision of this build and the OpenBLAS core");
  app.footer(
      "\nExamples:\n"
      "  delve run experiments/default.json                 train (Xavier vs Kaiming, 30 layers)\n"
      "  delve run experiments/paper/fig3_plain30.json --set train.epochs=2 --only kind-kaiming\n"
      "  delve probe experiments/paper/probe_plain30.json          signal propagation at initialisation\n"
      "  delve plot runs/default/*/ -o curves.svg            error curves of several runs\n"
      "  delve report runs/default -o default.html           one HTML page of a sweep\n"
      "  delve slopes runs/table1_plain14/*/                 learned PReLU slopes (Table 1)\n"
      "  delve eval runs/default/kind-kaiming/checkpoint.safetensors\n"
      "Run 'delve COMMAND --help' for a command's options. Exit codes: 0 ok, 1 other error, 2 usage,\n"
      "3 config, 4 data, 5 checkpoint, 6 diverged, 130 interrupted (state saved: resume with --resume).");
}

// An unknown command gets a suggestion rather than CLI11's "a subcommand is required".
bool known_command(const char* word, const std::vector<Command>& table) {
  std::vector<std::string> known;
  for (const Command& c : table) known.push_back(c.name);
  if (std::find(known.begin(), known.end(), word) != known.end()) return true;
  std::string hint = closest_key(word, known), list;
  for (auto& k : known) list += (list.empty() ? "" : ", ") + k;
  std::fprintf(stderr, "delve: error: unknown command '%s'%s; commands: %s (see delve --help)\n", clipped(word).c_str(),
               hint.empty() ? "" : (" (did you mean '" + hint + "'?)").c_str(), list.c_str());
  return false;
}

// Help and --version go to stdout (exit 0); a bad command line gets delve's one-line form.
int parse_failed(const CLI::App& app, const CLI::ParseError& e, const char* command) {
  if (e.get_exit_code() == 0) return app.exit(e) == 0 ? kExitOk : kExitUsage;
  std::fprintf(stderr, "delve: error: %s (see delve %s--help)\n", clipped(e.what(), 4 * kQuotedChars).c_str(),
               command[0] != '-' ? (std::string(command) + " ").c_str() : "");
  return kExitUsage;
}

// Runs the chosen command; an Error's message and exit code reach the user, on every rank.
int run_guarded(const std::function<int()>& run, MpiSession& mpi) {
  try {
    return run();
  } catch (const Error& e) {
    std::fprintf(stderr, "delve: error: %s\n", e.what());
    return mpi.fail(e.code);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "delve: error: out of memory (lower train.batch or the model's widths)\n");
    return mpi.fail(kExitError);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "delve: error: %s\n", e.what());
    return mpi.fail(kExitError);
  }
}

}  // namespace

int main(int argc, char** argv) {
  ensure_fast_blas(argc, argv);
  MpiSession mpi(argc, argv);  // only under mpirun in a build with MPI (optim/communicator.h)

  CLI::App app{
      "delve: trains deep plain conv nets on the CPU to reproduce He et al. 2015, \"Delving Deep into\n"
      "Rectifiers\" (PReLU, Kaiming initialisation) against the \"Xavier\" initialisation, and measures\n"
      "layer by layer why deep rectifier nets train or stall.",
      "delve"};
  describe(app);
  Args args;
  const std::vector<Command> table = command_table(args);
  std::vector<CLI::App*> subcommands;
  for (const Command& c : table) {
    subcommands.push_back(app.add_subcommand(c.name, c.help));
    c.add_options(*subcommands.back());
  }
  if (argc == 1) {
    std::fprintf(stderr, "%s", app.help().c_str());
    return kExitUsage;
  }
  if (argv[1][0] != '-' && !known_command(argv[1], table)) return kExitUsage;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return parse_failed(app, e, argv[1]);
  }
  for (size_t i = 0; i < table.size(); ++i)
    if (*subcommands[i]) return run_guarded(table[i].run, mpi);
  return kExitUsage;
}
