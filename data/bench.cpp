#include "data/bench.h"

#include <chrono>
#include <cstdio>
#include <string>

#include "core/error.h"
#include "data/batcher.h"
#include "data/load.h"
#include "data/normalizer.h"

namespace delve {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string format(const char* fmt, double a, double b) {
  char buf[128];
  std::snprintf(buf, sizeof buf, fmt, a, b);
  return buf;
}

}  // namespace

int run_data_benchmark(const DataSpec& spec, int batch, int batches, std::ostream& out) {
  if (batch < 1 || batches < 1) throw UsageError("bench-data needs a batch size and a batch count of at least 1");
  auto start = Clock::now();
  const DataSplits data = load_data(spec);
  const double load_s = seconds_since(start);
  const double loaded = double(data.train.size() + data.test.size());
  out << "data: " << data.train.name << ", " << data.train.size() << " train + " << data.test.size() << " test, "
      << data.train.c << "x" << data.train.h << "x" << data.train.w << "\n";
  out << "load:       " << format("%8.1f ms  %12.0f images/s", load_s * 1e3, loaded / load_s) << "\n";

  start = Clock::now();
  const Normalizer norm(data.train, spec);
  const double fit_s = seconds_since(start);
  out << "normalise:  " << format("%8.1f ms  %12.0f images/s", fit_s * 1e3, double(data.train.size()) / fit_s)
      << "  [" << norm.method() << " fitted on the training split]\n";

  DataSpec augmented = spec;
  augmented.crop_pad = 4;
  augmented.flip = true;
  Tensor x;
  std::vector<int32_t> labels;
  for (int prefetch : {0, 1}) {
    augmented.prefetch = prefetch;
    Batcher batcher(data.train, norm, augmented, batch, /*train=*/true);
    batcher.next(x, labels);  // the first batch sizes the buffers (and starts the worker)
    start = Clock::now();
    for (int b = 0; b < batches; ++b) batcher.next(x, labels);
    const double s = seconds_since(start);
    out << "batches " << (prefetch ? "(prefetch 1):" : "(no prefetch):")
        << format(" %9.1f batches/s  %10.0f images/s", batches / s, batches * double(batch) / s) << "  [batch "
        << batch << ", crop_pad 4, flip]\n";
  }
  // Nothing trains here, so the prefetch figure shows the thread hand-off, not the overlap it buys.
  out << "(prefetch hides batch preparation behind training; with an idle consumer it only adds a hand-off)\n";
  return 0;
}

}  // namespace delve
