// delve probe CONFIG | CHECKPOINT: the signal-propagation argument of the paper (Eq. 7-14), measured
// layer by layer next to what the theory predicts, at initialisation or on a trained net's
// checkpoint; and, per channel, whether P(y>0) = ½ (the derivation's assumption) holds. No training.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "core/atomic_file.h"
#include "core/blas.h"
#include "core/error.h"
#include "experiments/cli/commands.h"
#include "experiments/run/checkpoint.h"
#include "experiments/run/config.h"
#include "experiments/run/layer_stats.h"
#include "experiments/run/session.h"
#include "experiments/plot/plot.h"
#include "layers/softmax_xent.h"
#include "optim/communicator.h"

namespace delve {

namespace {

// What one probe looks at: a config's net as initialised, or with a checkpoint's weights.
struct ProbeTarget {
  std::string label;
  RunConfig cfg;
  std::string checkpoint;  // empty: at initialisation
};

bool is_checkpoint(const std::string& path) {
  const std::string tail = ".safetensors";
  return path.size() >= tail.size() && path.compare(path.size() - tail.size(), tail.size(), tail) == 0;
}

// A config's sweep members, or the run a checkpoint holds (its saved config; its weights unless
// --init asks for the same net as its seed initialised it).
std::vector<ProbeTarget> probe_targets(const ProbeArgs& args) {
  std::vector<ProbeTarget> out;
  if (is_checkpoint(args.config)) {
    LoadedCheckpoint header = read_checkpoint_header(args.config);
    json user = header.config;
    for (auto& s : args.sets) apply_override(user, s);
    RunConfig cfg = parse_run_config(resolve_config(user, args.config + " (config)"));
    const std::string when = args.init ? "at initialisation" : "at iteration " + std::to_string(header.state.iteration);
    const std::string run = std::filesystem::path(args.config).parent_path().string();
    out.push_back({(run.empty() ? cfg.name : run) + " " + when, cfg, args.init ? "" : args.config});
    return out;
  }
  if (args.init) throw UsageError("--init probes a checkpoint's net as initialised: give a checkpoint.safetensors");
  for (auto& m : expand_sweep(load_resolved_config(args.config, args.sets))) {
    RunConfig cfg = parse_run_config(m.config);
    out.push_back({m.name.empty() ? cfg.name : m.name, cfg, ""});
  }
  return out;
}

void add_into(LayerStats& sum, const LayerStats& s) {
  sum.response_std += s.response_std;
  sum.grad_input_std += s.grad_input_std;
  sum.positive_fraction += s.positive_fraction;
  sum.positive_min = std::min(sum.positive_min, s.positive_min);
  sum.positive_max = std::max(sum.positive_max, s.positive_max);
  for (size_t c = 0; c < s.positive_per_channel.size(); ++c) sum.positive_per_channel[c] += s.positive_per_channel[c];
}

// Averages LayerStats over several batches (of equal size: the mean of the per-batch fractions is
// the fraction over all their images).
std::vector<LayerStats> probe_member(const ProbeTarget& target, int batches) {
  const RunConfig& cfg = target.cfg;
  auto session = open_session(cfg);
  if (!target.checkpoint.empty()) load_checkpoint(target.checkpoint, session->net, false);
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
    for (size_t i = 0; i < stats.size(); ++i) add_into(sum[i], stats[i]);
  }
  for (auto& s : sum) {
    s.response_std /= batches;
    s.grad_input_std /= batches;
    s.positive_fraction /= batches;
    for (double& p : s.positive_per_channel) p /= batches;
  }
  return sum;
}

// Channels whose P(y>0) is exactly `value` over every probed image: 0 dead, 1 never rectified.
int channels_at(const LayerStats& s, double value) {
  return int(std::count(s.positive_per_channel.begin(), s.positive_per_channel.end(), value));
}

json probe_json(const LayerStats& s) {
  json j = to_json(s);
  j["positive_per_channel"] = s.positive_per_channel;
  j["dead_channels"] = channels_at(s, 0.0);
  j["always_positive_channels"] = channels_at(s, 1.0);
  return j;
}

void print_table(const std::string& name, const InitSpec& init, const std::vector<LayerStats>& stats) {
  std::printf("\n%s   init %s\n", name.c_str(), init.str().c_str());
  std::printf("%-7s %-9s %11s %8s %8s %8s %11s %8s %8s %8s %7s %5s\n", "layer", "shape", "std(y)", "fwd x", "theory",
              "+border", "std(dL/dx)", "bwd x", "theory", "+border", "P(y>0)", "dead");
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
    std::printf("%-7s %-9s %11.3e %s %11.3e %s %7.3f %5d\n", s.layer.c_str(), s.describe.c_str(), s.response_std,
                ratios(has_previous, fwd, s.gain_forward, s.border_factor).c_str(), s.grad_input_std,
                ratios(has_next, bwd, s.gain_backward, s.border_factor).c_str(), s.positive_fraction,
                channels_at(s, 0.0));
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
  json out = {{"config", args.config}, {"members", json::array()}};
  for (auto& target : probe_targets(args)) {
    const RunConfig& cfg = target.cfg;
    set_worker_threads(cfg.train.threads > 0 ? cfg.train.threads : default_threads());
    auto stats = probe_member(target, args.batches);
    print_table(target.label, cfg.init, stats);
    json layers = json::array();
    for (auto& s : stats) layers.push_back(probe_json(s));
    out["members"].push_back({{"name", target.label}, {"init", cfg.init.str()}, {"checkpoint", target.checkpoint},
                              {"layers", layers}});
  }
  std::printf("\nfwd x / bwd x: measured Var ratio to the previous / next weight layer; theory: ½(1+a²)·n·Var[w]\n"
              "(Eq. 10/15) and ½(1+a²)·n̂·Var[w] (Eq. 14); +border: times the share of kernel taps inside the image\n"
              "(zero padding gives border pixels fewer inputs: 0.96 at 32x32, 0.92 at 16x16, 0.84 at 8x8).\n"
              "Across a max-pool or the first fc layer the measured ratio also holds pooling's effect, which\n"
              "the theory leaves out. n/a: no ratio to take (fwd: the first weight layer has no previous one;\n"
              "bwd: the last has no next one). dead: channels (fc: units) with y <= 0 on every probed image.\n");
  if (!args.json_out.empty()) write_text_file_atomic(args.json_out, out.dump(2) + "\n");
  if (!args.svg_out.empty()) write_text_file_atomic(args.svg_out, probe_svg(out, "delve probe"));
  return kExitOk;
}

}  // namespace delve
