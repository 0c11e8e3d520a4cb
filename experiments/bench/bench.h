// The speed benchmark behind `delve bench`: trains a net on synthetic data (random inputs and
// labels, so no loader time is measured) and reports median images/s for training steps and for
// inference, the effective GFLOP/s against the machine's measured FMA peak, peak memory, and on
// request the forward and backward time of every layer.
//
// A training step is what the trainer does: zero_grad, forward, softmax cross-entropy, backward,
// SGD with momentum. Its cost is counted as 3× the forward FLOPs (forward, ∂L/∂x, ∂L/∂w), the
// convention of the comparison with PyTorch (experiments/bench/compare_pytorch.py).
#pragma once
#include <string>
#include <vector>

#include "experiments/run/config.h"

namespace delve {

struct BenchOptions {
  ModelSpec model;           // e.g. family "plain22"
  int channels = 3, height = 32, width = 32, classes = 10;
  int batch = 128;
  int threads = 0;           // 0: all cores
  int warmup = 2;            // untimed steps first (page faults, BLAS buffers, caches)
  int steps = 8;             // timed steps; the median is reported
  bool layers = false;       // also time every layer
  std::string conv_algo;     // "" or "winograd" (default), "im2col", "whole" (layers/conv2d.h)
};

struct LayerTiming {
  std::string name, kind, describe;
  double forward_ms = 0, backward_ms = 0;  // medians over the timed training steps
  double forward_gflop = 0;                // per batch (conv and linear layers)
};

struct BenchResult {
  std::string model;
  int batch = 0, threads = 0;
  double train_images_per_s = 0, infer_images_per_s = 0;
  double forward_gflop_per_image = 0;
  double train_gflops = 0, infer_gflops = 0;  // effective: counted FLOPs / median time
  double peak_gflops = 0;                     // measured FMA peak on `threads` threads
  double peak_rss_mib = 0;                    // of the whole process (getrusage)
  double net_mib = 0;                         // activations, gradients, scratch, arenas
  std::vector<LayerTiming> layers;
};

BenchResult run_bench(const BenchOptions& options);
void print_bench(const BenchResult& r, bool layers);
std::string bench_json(const BenchResult& r);

}  // namespace delve
