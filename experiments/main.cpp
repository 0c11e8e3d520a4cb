// delve: train deep plain convolutional nets on the CPU and see why they train or stall.
// The command line: parses arguments (CLI11) and dispatches to experiments/cmd_*.cpp.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <algorithm>
#include <exception>
#include <utility>

#include "core/blas.h"
#include "core/error.h"
#include "experiments/commands.h"
#include "experiments/config.h"
#include "optim/communicator.h"

using namespace delve;

int main(int argc, char** argv) {
  ensure_fast_blas(argc, argv);
  MpiSession mpi(argc, argv);  // only under mpirun in a build with MPI (optim/communicator.h)

  CLI::App app{
      "delve: trains deep plain conv nets on the CPU to reproduce He et al. 2015, \"Delving Deep into\n"
      "Rectifiers\" (PReLU, Kaiming initialisation) against the \"Xavier\" initialisation, and measures\n"
      "layer by layer why deep rectifier nets train or stall.",
      "delve"};
  app.require_subcommand(1);
  app.footer(
      "\nExamples:\n"
      "  delve run experiments/default.json                 train (Xavier vs Kaiming, 30 layers)\n"
      "  delve run experiments/fig3_plain30.json --set train.epochs=2 --only kind-kaiming\n"
      "  delve probe experiments/probe_plain30.json          signal propagation at initialisation\n"
      "  delve plot runs/default/*/ -o curves.svg            error curves of several runs\n"
      "  delve slopes runs/table1/*/                         learned PReLU slopes (Table 1)\n"
      "  delve eval runs/default/kind-kaiming/checkpoint.safetensors\n"
      "Run 'delve COMMAND --help' for a command's options. Exit codes: 0 ok, 2 usage, 3 config,\n"
      "4 data, 5 checkpoint, 6 diverged, 130 interrupted (state saved: resume with --resume).");

  RunArgs run;
  auto* run_cmd = app.add_subcommand("run", "Train the runs of an experiment config into run directories");
  run_cmd->add_option("config", run.config, "Experiment config (JSON)")->required()->check(CLI::ExistingFile);
  run_cmd->add_option("--out", run.out, "Run directory (default: the config's \"out\", else runs/<name>)");
  run_cmd->add_option("--set", run.sets, "Override a config value: --set train.epochs=3 --set init.kind=xavier")
      ->allow_extra_args(false);
  run_cmd->add_option("--only", run.only, "Run only this sweep member (its run directory's name); repeat for several: --only a --only b")
      ->allow_extra_args(false);
  run_cmd->add_flag("--resume", run.resume, "Continue from each run's checkpoint (bit-identical to an uninterrupted run)");
  run_cmd->add_flag("--force", run.force, "Start over in a run directory that already holds a run");
  run_cmd->add_flag("--quiet", run.quiet, "No progress line on stderr");
  run_cmd->add_flag("--sweep-parallel", run.sweep_parallel,
                    "Under mpirun: each rank trains its own members of the sweep (member i on rank i mod P) "
                    "instead of all ranks training each run data-parallel");
  run_cmd->footer(
      "\nWrites per run: config.json (resolved), log.jsonl (events), summary.json, checkpoint.safetensors,\n"
      "curves.svg. A sweep writes one sub-directory per member and a curves.svg comparing them.\n"
      "Ctrl-C finishes the step, saves a checkpoint and stops (exit 130); --resume continues.\n"
      "Under `mpirun -np P` (a build with -DDELVE_MPI=ON) every run trains data-parallel: each rank takes\n"
      "B/P images of each batch of B and one allreduce averages the gradients; rank 0 writes the run.\n"
      "Examples:\n  delve run experiments/default.json --set train.epochs=1 --out runs/try\n"
      "  mpirun -np 2 delve run experiments/default.json                  each run on 2 ranks\n"
      "  mpirun -np 2 delve run experiments/default.json --sweep-parallel one member per rank");

  ProbeArgs probe;
  auto* probe_cmd = app.add_subcommand("probe", "Per-layer signal statistics at initialisation, against the paper's theory");
  probe_cmd->add_option("config", probe.config, "Experiment config (JSON); a sweep probes every member")
      ->required()
      ->check(CLI::ExistingFile);
  probe_cmd->add_option("--set", probe.sets, "Override a config value")->allow_extra_args(false);
  probe_cmd->add_option("--batches", probe.batches, "Batches to average over")->check(CLI::Range(1, 1000));
  probe_cmd->add_option("--json", probe.json_out, "Also write the statistics as JSON to this file");
  probe_cmd->add_option("-o,--svg", probe.svg_out, "Also draw response and gradient std against depth (SVG)");
  probe_cmd->footer(
      "\nNo training: builds the net, runs forward and backward on a few batches and prints, per weight\n"
      "layer, the std of its response y and of the gradient at its input, P(y>0), and the gains the\n"
      "paper predicts (Eq. 10 forward, Eq. 14 backward: 1 keeps the signal, 0.5 halves its variance).\n"
      "Example:\n  delve probe experiments/probe_plain30.json -o probe.svg");

  PlotArgs plot;
  auto* plot_cmd = app.add_subcommand("plot", "Draw runs as an SVG: error curves, per-layer statistics, slopes");
  plot_cmd->add_option("runs", plot.runs, "Run directories (or a sweep's parent directory)")->required();
  plot_cmd->add_option("-o,--out", plot.out, "SVG file to write")->required();
  plot_cmd->add_option("--what", plot.what,
                       "curves: error and loss against epochs | layers: a statistic against depth, first and last "
                       "layers event | heatmap: a statistic per layer against iterations | slopes: learned PReLU "
                       "slopes against depth, beside the paper's Table 1")
      ->check(CLI::IsMember({"curves", "layers", "heatmap", "slopes"}));
  plot_cmd->add_option("--metric", plot.metric,
                       "With --what layers or heatmap: response_std, grad_input_std, positive_fraction, update_ratio, "
                       "weight_norm, slope_mean (default: the four main ones for layers, positive_fraction for "
                       "heatmap)");
  plot_cmd->add_option("--title", plot.title, "Title of the picture");
  plot_cmd->footer("\nExample:\n  delve plot runs/fig3/*/ -o fig3.svg\n  delve plot runs/fig3/kind-xavier --what layers -o layers.svg\n"
                   "  delve plot runs/fig3/ --what heatmap -o positive.svg     P(y>0) per layer over training\n"
                   "  delve plot runs/fig3/ --what heatmap --metric grad_input_std -o grads.svg");

  SlopesArgs slopes;
  auto* slopes_cmd = app.add_subcommand("slopes", "The learned PReLU slopes per layer, as the paper's Table 1");
  slopes_cmd->add_option("runs", slopes.runs, "Run directories (or a sweep's parent directory)")->required();
  slopes_cmd->add_flag("--json", slopes.json, "JSON instead of a Markdown table");
  slopes_cmd->footer("\nExample:\n  delve slopes runs/table1/*/");

  EvalArgs eval;
  auto* eval_cmd = app.add_subcommand("eval", "Test loss and error of a checkpoint");
  eval_cmd->add_option("checkpoint", eval.checkpoint, "checkpoint.safetensors of a run")->required()->check(CLI::ExistingFile);
  eval_cmd->add_option("--set", eval.sets, "Override a value of the run's config (e.g. data.path=...)")->allow_extra_args(false);
  eval_cmd->add_option("--split", eval.split, "test | train")->check(CLI::IsMember({"test", "train"}));
  eval_cmd->footer("\nExample:\n  delve eval runs/default/kind-kaiming/checkpoint.safetensors");

  BenchArgs bench;
  auto* bench_cmd = app.add_subcommand("bench", "Training and inference speed of a net on synthetic data");
  bench_cmd->add_option("net", bench.net, "plain14 | plain22 | plain30, or an experiment config (JSON)");
  bench_cmd->add_option("--set", bench.sets, "Override a value of the config")->allow_extra_args(false);
  bench_cmd->add_option("--activation", bench.activation, "relu | prelu | prelu_shared | tanh");
  bench_cmd->add_option("--batch", bench.batch, "Batch size (default 128)")->check(CLI::Range(1, 1 << 16));
  bench_cmd->add_option("--threads", bench.threads, "Threads (default: all cores)")->check(CLI::Range(1, 1024));
  bench_cmd->add_option("--input", bench.channels, "Input channels (default 3)")->check(CLI::Range(1, 4096));
  bench_cmd->add_option("--size", bench.size, "Input height and width (default 32)")->check(CLI::Range(1, 4096));
  bench_cmd->add_option("--warmup", bench.warmup, "Untimed steps first (default 2)")->check(CLI::Range(0, 1000));
  bench_cmd->add_option("--steps", bench.steps, "Timed steps; the median counts (default 8)")->check(CLI::Range(1, 100000));
  bench_cmd->add_option("--conv", bench.conv_algo,
                        "Convolution: winograd (default: F(2x2,3x3) for 3x3 stride 1 pad 1, im2col for the "
                        "others) | im2col (image chunks on delve's threads) | whole (one OpenBLAS-threaded GEMM "
                        "per batch); layers/conv2d.h")
      ->check(CLI::IsMember({"winograd", "im2col", "whole"}));
  bench_cmd->add_flag("--layers", bench.layers, "Also print forward and backward time per layer");
  bench_cmd->add_flag("--json", bench.json, "One JSON line instead of the table");
  bench_cmd->footer(
      "\nTrains on random inputs and labels (no data loading), SGD with momentum; prints median images/s,\n"
      "effective GFLOP/s (a training step counts 3x the forward FLOPs), the fraction of the FMA peak\n"
      "measured on the same threads, and peak RSS.\n"
      "Examples:\n  delve bench plain22 --layers\n  delve bench plain30 --activation prelu --batch 64 --threads 1");

  std::string data_config;
  std::vector<std::string> data_sets;
  int data_batch = 128, data_batches = 400;
  auto* bench_data_cmd = app.add_subcommand("bench-data", "Time the data pipeline: loading, normalising, batching");
  bench_data_cmd->add_option("config", data_config, "Experiment config whose \"data\" to use (default: Fashion-MNIST)")
      ->check(CLI::ExistingFile);
  bench_data_cmd->add_option("--set", data_sets, "Override a config value (e.g. data.source=synthetic)")->allow_extra_args(false);
  bench_data_cmd->add_option("--batch", data_batch, "Batch size")->check(CLI::Range(1, 65536));
  bench_data_cmd->add_option("--batches", data_batches, "Batches to time")->check(CLI::Range(1, 1000000));
  bench_data_cmd->footer("\nExample:\n  delve bench-data --batch 128");

  int gemm_repeats = 5;
  auto* bench_gemm_cmd = app.add_subcommand("bench-gemm", "GFLOP/s of SGEMM through delve's BLAS wrapper, 1 and 2 threads");
  bench_gemm_cmd->add_option("--repeats", gemm_repeats, "Timed products per shape (median reported)")->check(CLI::Range(1, 1000));
  bench_gemm_cmd->footer("\nExample:\n  delve bench-gemm --repeats 9");

  if (argc == 1) {
    std::fprintf(stderr, "%s", app.help().c_str());
    return kExitUsage;
  }
  // An unknown command gets a suggestion rather than CLI11's "a subcommand is required".
  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> known;
    for (auto* sub : app.get_subcommands([](CLI::App*) { return true; })) known.push_back(sub->get_name());
    if (std::find(known.begin(), known.end(), argv[1]) == known.end()) {
      std::string hint = closest_key(argv[1], known), list;
      for (auto& k : known) list += (list.empty() ? "" : ", ") + k;
      std::fprintf(stderr, "delve: error: unknown command '%s'%s; commands: %s (see delve --help)\n", argv[1],
                   hint.empty() ? "" : (" (did you mean '" + hint + "'?)").c_str(), list.c_str());
      return kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  try {
    if (*run_cmd) return command_run(run);
    if (*probe_cmd) return command_probe(probe);
    if (*plot_cmd) return command_plot(plot);
    if (*slopes_cmd) return command_slopes(slopes);
    if (*eval_cmd) return command_eval(eval);
    if (*bench_gemm_cmd) return command_bench_gemm(gemm_repeats);
    if (*bench_data_cmd) return command_bench_data(data_config, data_sets, data_batch, data_batches);
    if (*bench_cmd) return command_bench(bench);
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
  return kExitUsage;
}
