// delve probe CONFIG: the signal-propagation argument of the paper (Eq. 7-14), measured at
// initialisation, layer by layer, next to what the theory predicts. No training.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "core/atomic_file.h"
#include "core/blas.h"
#include "core/error.h"
#include "experiments/cli/commands.h"
#include "experiments/run/config.h"
#include "experiments/run/layer_stats.h"
#include "experiments/run/session.h"
#include "experiments/plot/plot.h"
#include "layers/softmax_xent.h"
#include "optim/communicator.h"

namespace delve {

namespace {

// Averages LayerStats over several batches.
std::vector<LayerStats> probe_member(const RunConfig& cfg, int batches) {
  auto session = open_session(cfg);
  DataSpec plain = cfg.data;  // statistics of the data as it is, without augmentation
  plain.crop_pad = 0;
  plain.flip = false;
  Batcher source(session->data.train, *session->normalizer, plain, cfg.train.batch, true);
  SoftmaxCrossEntropy xent;
  Tensor x, dlogits;
  std::vector<int32_t> labels;
  std::vector<LayerStats> sum;
  for (int b = 0; b < batches; ++b) {
    source.next(x, labels);
    Net& net = session->net;
    net.zero_grad();
    const Tensor& logits = net.forward(x, Mode::Train);
    xent.forward(logits, labels.data());
    dlogits.resize(logits.shape());
    xent.backward(dlogits);
    LayerProbe probe(net);
    net.backward(dlogits, probe.observer());
    auto stats = probe.collect();
    if (sum.empty()) {
      sum = stats;
      continue;
    }
    for (size_t i = 0; i < stats.size(); ++i) {
      sum[i].response_std += stats[i].response_std;
      sum[i].grad_input_std += stats[i].grad_input_std;
      sum[i].positive_fraction += stats[i].positive_fraction;
      sum[i].positive_min = std::min(sum[i].positive_min, stats[i].positive_min);
      sum[i].positive_max = std::max(sum[i].positive_max, stats[i].positive_max);
    }
  }
  for (auto& s : sum) {
    s.response_std /= batches;
    s.grad_input_std /= batches;
    s.positive_fraction /= batches;
  }
  return sum;
}

void print_table(const std::string& name, const InitSpec& init, const std::vector<LayerStats>& stats) {
  std::printf("\n%s   init %s\n", name.c_str(), init.str().c_str());
  std::printf("%-7s %-9s %11s %8s %8s %8s %11s %8s %8s %8s %7s\n", "layer", "shape", "std(y)", "fwd x", "theory",
              "+border", "std(dL/dx)", "bwd x", "theory", "+border", "P(y>0)");
  // The theory's product over the same layers as the measured ratios: what the whole stack should do.
  double fwd_theory = 1, bwd_theory = 1;
  // The three ratio columns of one direction; "n/a" where there is no neighbouring weight layer
  // to compare with (forward for the first layer, backward for the last).
  auto ratios = [](bool applies, double measured, double gain, double border) {
    char cells[40];
    if (applies)
      std::snprintf(cells, sizeof cells, "%8.3f %8.3f %8.3f", measured, gain, gain * border);
    else
      std::snprintf(cells, sizeof cells, "%8s %8s %8s", "n/a", "n/a", "n/a");
    return std::string(cells);
  };
  for (size_t i = 0; i < stats.size(); ++i) {
    const LayerStats& s = stats[i];
    const bool has_previous = i > 0, has_next = i + 1 < stats.size();
    // Measured per-layer variance ratios, the quantities Eq. 10 and Eq. 14 predict.
    const double fwd = has_previous ? std::pow(s.response_std / stats[i - 1].response_std, 2) : NAN;
    const double bwd = has_next ? std::pow(s.grad_input_std / stats[i + 1].grad_input_std, 2) : NAN;
    std::printf("%-7s %-9s %11.3e %s %11.3e %s %7.3f\n", s.layer.c_str(), s.describe.c_str(), s.response_std,
                ratios(has_previous, fwd, s.gain_forward, s.border_factor).c_str(), s.grad_input_std,
                ratios(has_next, bwd, s.gain_backward, s.border_factor).c_str(), s.positive_fraction);
    if (has_previous && std::isfinite(fwd)) fwd_theory *= s.gain_forward * s.border_factor;
    if (has_next && std::isfinite(bwd)) bwd_theory *= s.gain_backward * s.border_factor;
  }
  const LayerStats& first = stats.front();
  const LayerStats& last = stats.back();
  std::printf("response std, last/first weight layer: %.3e (theory with borders %.3e)   gradient std, first/last: "
              "%.3e (theory with borders %.3e)\n",
              last.response_std / first.response_std, std::sqrt(fwd_theory), first.grad_input_std / last.grad_input_std,
              std::sqrt(bwd_theory));
}

}  // namespace

int command_probe(const ProbeArgs& args) {
  const json resolved = load_resolved_config(args.config, args.sets);
  std::vector<SweepMember> members = expand_sweep(resolved);
  json out = {{"config", args.config}, {"members", json::array()}};
  for (auto& m : members) {
    RunConfig cfg = parse_run_config(m.config);
    set_worker_threads(cfg.train.threads > 0 ? cfg.train.threads : default_threads());
    auto stats = probe_member(cfg, args.batches);
    const std::string label = m.name.empty() ? cfg.name : m.name;
    print_table(label, cfg.init, stats);
    json layers = json::array();
    for (auto& s : stats) layers.push_back(to_json(s));
    out["members"].push_back({{"name", label}, {"init", cfg.init.str()}, {"layers", layers}});
  }
  std::printf("\nfwd x / bwd x: measured Var ratio to the previous / next weight layer; theory: ½(1+a²)·n·Var[w]\n"
              "(Eq. 10/15) and ½(1+a²)·n̂·Var[w] (Eq. 14); +border: times the share of kernel taps inside the image\n"
              "(zero padding gives border pixels fewer inputs: 0.96 at 32x32, 0.92 at 16x16, 0.84 at 8x8).\n"
              "Across a max-pool or the first fc layer the measured ratio also holds pooling's effect, which\n"
              "the theory leaves out. n/a: no ratio to take (fwd: the first weight layer has no previous one;\n"
              "bwd: the last has no next one).\n");
  if (!args.json_out.empty()) write_text_file_atomic(args.json_out, out.dump(2) + "\n");
  if (!args.svg_out.empty()) write_text_file_atomic(args.svg_out, probe_svg(out, "delve probe"));
  return kExitOk;
}

}  // namespace delve
