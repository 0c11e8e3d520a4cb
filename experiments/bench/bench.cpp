#include "experiments/bench/bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "core/blas.h"
#include "core/point_gemm.h"
#include "core/fma_peak.h"
#include "core/rng.h"
#include "layers/conv2d.h"
#include "layers/init.h"
#include "layers/net.h"
#include "layers/softmax_xent.h"
#include "experiments/run/model_builder.h"
#include "optim/sgd.h"

namespace delve {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Wraps a layer and records the wall time of each forward and backward call. Everything else
// is delegated, including the shared scratch (Layer::set_scratch is not virtual, so the wrapper
// hands its pointer on before every call), except fuses_activation: so that each layer's time is its
// own, a net timed per layer runs its activations unfused (layers/layer.h).
class TimedLayer : public Layer {
 public:
  explicit TimedLayer(std::unique_ptr<Layer> inner) : Layer(inner->name()), inner_(std::move(inner)) {}
  const char* kind() const override { return inner_->kind(); }
  void declare(const Shape& in, ParamRegistry& reg) override { inner_->declare(in, reg); }
  Shape reshape(const Shape& in) override { return out_ = inner_->reshape(in); }
  size_t scratch_floats(const Shape& in) const override { return inner_->scratch_floats(in); }
  void forward(const Tensor& x, Tensor& y, Mode mode) override {
    inner_->set_scratch(scratch_);
    const auto t0 = Clock::now();
    inner_->forward(x, y, mode);
    forward_s.push_back(since(t0));
  }
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override {
    inner_->set_scratch(scratch_);
    const auto t0 = Clock::now();
    inner_->backward(x, y, dy, dx);
    backward_s.push_back(since(t0));
  }
  Param* weight() override { return inner_->weight(); }
  bool is_activation() const override { return inner_->is_activation(); }
  std::string describe() const override { return inner_->describe(); }
  Layer& inner() { return *inner_; }
  const Shape& out() const { return out_; }

  std::vector<double> forward_s, backward_s;

 private:
  std::unique_ptr<Layer> inner_;
  Shape out_;
};

// Forward FLOPs of a layer for one batch: 2 per multiply-add of a conv or linear weight.
double forward_flops(Layer& layer, const Shape& out) {
  Param* w = layer.weight();
  return w ? 2.0 * double(w->count()) * double(out.per_channel()) : 0.0;
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // Linux reports KiB
}

}  // namespace

BenchResult run_bench(const BenchOptions& o) {
  const int threads = o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  set_worker_threads(threads);
  Net net;
  add_model_layers(net, o.model, o.classes);
  for (auto& layer : net.layers()) {
    if (!o.conv_algo.empty())
      if (auto* conv = dynamic_cast<Conv2d*>(layer.get())) conv->set_algorithm(parse_conv_algorithm(o.conv_algo));
    if (o.layers) layer = std::make_unique<TimedLayer>(std::move(layer));
  }
  Rng rng(1);
  InitSpec init;  // kaiming: keeps activations finite through 30 layers
  const Shape input{o.batch, o.channels, o.height, o.width};
  net.build(input, init, rng);

  Tensor x(input);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(rng.normal());
  std::vector<int32_t> labels(size_t(o.batch));
  for (auto& l : labels) l = int32_t(rng.uniform() * o.classes) % o.classes;
  SoftmaxCrossEntropy xent;
  Tensor dlogits;
  Sgd sgd;
  net.set_keep_preactivations(false);  // as a training run's steps without statistics

  auto train_step = [&] {
    net.zero_grad();
    const Tensor& logits = net.forward(x, Mode::Train);
    xent.forward(logits, labels.data());
    xent.backward(dlogits);
    net.backward(dlogits);
    sgd.step(net.params(), 1e-4f);  // small: the weights stay in their usual range
  };
  std::vector<double> train_s, infer_s;
  for (int i = 0; i < o.warmup; ++i) train_step();
  for (auto& layer : net.layers())
    if (auto* t = dynamic_cast<TimedLayer*>(layer.get())) t->forward_s.clear(), t->backward_s.clear();
  for (int i = 0; i < o.steps; ++i) {
    const auto t0 = Clock::now();
    train_step();
    train_s.push_back(since(t0));
  }
  std::vector<LayerTiming> timings;
  for (auto& layer : net.layers())
    if (auto* t = dynamic_cast<TimedLayer*>(layer.get())) {
      timings.push_back({t->name(), t->kind(), t->describe(), 1e3 * median(t->forward_s), 1e3 * median(t->backward_s),
                         forward_flops(t->inner(), t->out()) / 1e9});
    }
  net.forward(x, Mode::Eval);  // warm-up of the inference path
  for (int i = 0; i < std::max(1, o.steps); ++i) {
    const auto t0 = Clock::now();
    net.forward(x, Mode::Eval);
    infer_s.push_back(since(t0));
  }

  double flops = 0;
  {
    Shape s = input;
    for (auto& layer : net.layers()) {
      Shape out = layer->reshape(s);
      flops += forward_flops(*layer, out);
      s = out;
    }
  }
  BenchResult r;
  r.model = o.model.family + (o.model.activation == "relu" ? "" : "-" + o.model.activation);
  r.batch = o.batch;
  r.threads = threads;
  r.train_images_per_s = o.batch / median(train_s);
  r.infer_images_per_s = o.batch / median(infer_s);
  r.forward_gflop_per_image = flops / o.batch / 1e9;
  r.train_gflops = 3 * flops / median(train_s) / 1e9;
  r.infer_gflops = flops / median(infer_s) / 1e9;
  r.peak_rss_mib = peak_rss_mib();
  r.net_mib = double(net.memory_bytes()) / (1 << 20);
  r.layers = std::move(timings);
  r.peak_gflops = measured_fma_peak_gflops(threads);
  return r;
}

void print_bench(const BenchResult& r, bool layers) {
  std::printf("%s  batch %d  threads %d  BLAS core %s  point GEMM %s\n", r.model.c_str(), r.batch, r.threads,
              blas_core().c_str(), gemm_kernel_name(gemm_kernel()));
  std::printf("  forward cost   %.3f GFLOP/image (a training step counts 3x)\n", r.forward_gflop_per_image);
  std::printf("  training       %8.1f images/s  %6.1f GFLOP/s  %5.1f%% of the measured FMA peak\n", r.train_images_per_s,
              r.train_gflops, 100 * r.train_gflops / r.peak_gflops);
  std::printf("  inference      %8.1f images/s  %6.1f GFLOP/s  %5.1f%% of the measured FMA peak\n", r.infer_images_per_s,
              r.infer_gflops, 100 * r.infer_gflops / r.peak_gflops);
  std::printf("  FMA peak       %6.1f GFLOP/s on %d thread(s), measured now\n", r.peak_gflops, r.threads);
  std::printf("  memory         peak RSS %.0f MiB (net buffers %.0f MiB)\n", r.peak_rss_mib, r.net_mib);
  if (!layers || r.layers.empty()) return;
  std::printf("\n  %-8s %-8s %-12s %10s %10s %9s %9s\n", "layer", "kind", "shape", "fwd ms", "bwd ms", "fwd GF/s",
              "bwd GF/s");
  double fwd = 0, bwd = 0;
  for (const auto& l : r.layers) {
    fwd += l.forward_ms;
    bwd += l.backward_ms;
    if (l.forward_gflop > 0)
      std::printf("  %-8s %-8s %-12s %10.2f %10.2f %9.1f %9.1f\n", l.name.c_str(), l.kind.c_str(), l.describe.c_str(),
                  l.forward_ms, l.backward_ms, l.forward_gflop / l.forward_ms * 1e3,
                  2 * l.forward_gflop / l.backward_ms * 1e3);
    else
      std::printf("  %-8s %-8s %-12s %10.2f %10.2f\n", l.name.c_str(), l.kind.c_str(), l.describe.c_str(), l.forward_ms,
                  l.backward_ms);
  }
  std::printf("  %-30s %10.2f %10.2f   (the rest of a step: loss, SGD, zero_grad)\n", "total", fwd, bwd);
}

std::string bench_json(const BenchResult& r) {
  json j = {{"model", r.model},
            {"batch", r.batch},
            {"threads", r.threads},
            {"train_images_per_s", r.train_images_per_s},
            {"infer_images_per_s", r.infer_images_per_s},
            {"forward_gflop_per_image", r.forward_gflop_per_image},
            {"train_gflops", r.train_gflops},
            {"infer_gflops", r.infer_gflops},
            {"peak_gflops", r.peak_gflops},
            {"peak_rss_mib", r.peak_rss_mib},
            {"net_mib", r.net_mib}};
  for (const auto& l : r.layers)
    j["layers"].push_back({{"name", l.name}, {"kind", l.kind}, {"forward_ms", l.forward_ms},
                           {"backward_ms", l.backward_ms}, {"forward_gflop", l.forward_gflop}});
  return j.dump();
}

}  // namespace delve
