// The delve subcommands, one file each (experiments/cmd_<name>.cpp); main.cpp parses the command
// line with CLI11 and calls these. Each returns the process exit code (core/error.h).
#pragma once
#include <string>
#include <vector>

namespace delve {

struct RunArgs {
  std::string config;
  std::string out;
  std::vector<std::string> sets;
  std::vector<std::string> only;  // sweep members to run (by name); empty: all
  bool resume = false, force = false, quiet = false;
  bool sweep_parallel = false;  // under mpirun: members spread over the ranks, not one run over all ranks
};
int command_run(const RunArgs& args);

struct ProbeArgs {
  std::string config;
  std::vector<std::string> sets;
  int batches = 4;
  bool init = false;  // with a checkpoint: probe its net as initialised, not as saved
  std::string json_out, svg_out;
};
int command_probe(const ProbeArgs& args);

struct PlotArgs {
  std::vector<std::string> runs;
  std::string out;
  std::string what = "curves";  // curves | layers | heatmap | history | slopes
  std::string metric;           // for layers: response_std, grad_input_std, positive_fraction, ...
  std::string split = "both";   // for curves: both | train | test
  std::vector<int> depths;      // for history: the weight layers to trace (empty: first, middle, last)
  std::string title;
};
int command_plot(const PlotArgs& args);

struct ReportArgs {
  std::vector<std::string> runs;  // run directories or a sweep's parent directory
  std::string out = "report.html";
};
int command_report(const ReportArgs& args);

struct SlopesArgs {
  std::vector<std::string> runs;
  bool json = false;
};
int command_slopes(const SlopesArgs& args);

struct EvalArgs {
  std::string checkpoint;
  std::vector<std::string> sets;
  std::string split = "test";
};
int command_eval(const EvalArgs& args);
// The config keys eval's --set may change: what eval reads. Others are refused (cmd_eval.cpp).
constexpr const char* kEvalSetKeys = "data.*, seed, train.batch, train.eval_subset, train.threads";

struct BenchDataArgs {
  std::string config;  // may be empty: the default data (Fashion-MNIST)
  std::vector<std::string> sets;
  int batch = 128, batches = 400;
};
int command_bench_data(const BenchDataArgs& args);

int command_bench_gemm(int repeats);

struct BenchArgs {
  std::string net = "plain22";   // plain14 | plain22 | plain30 | a config file
  std::vector<std::string> sets; // overrides for a config file
  std::string activation;        // relu | prelu | prelu_shared | tanh (default: the net's)
  std::string conv_algo;         // "" (winograd) | winograd | im2col | whole (layers/conv2d.h)
  int batch = 0, threads = 0;    // 0: 128 (or the config's) and all cores
  int channels = 3, size = 32;   // synthetic input C × size × size
  int warmup = 2, steps = 8;
  bool layers = false, json = false;
};
int command_bench(const BenchArgs& args);

}  // namespace delve
