// layers/conv2d: the chunked schedule (image chunks on delve's workers) against the whole-batch
// schedule (one GEMM per pass) and the naive direct convolution, forward and backward, for
// uneven chunks, several chunks per worker, 1 and 2 threads; gradient checks of both schedules.
//
// Tolerance: both schedules add the same products in a different order (per-chunk GEMMs, ∂L/∂w
// summed per worker), so they agree to float rounding, |Δ| ≤ tol · (1 + |value|): y and dx are
// sums of K = c·k² ≤ 144 products of size ~1, tol 1e-5 (~80 ulps); dw and db sum P = N·Ho·Wo
// = 3600 products (partial sums up to ~100 while the result may be ~10), tol 1e-4.
#include <doctest/doctest.h>

#include <cmath>

#include "core/thread_pool.h"
#include "layers/conv2d.h"
#include "tests/gradcheck.h"

using namespace delve;
using namespace delve::test;

namespace {

struct Pass {
  Tensor y, dx;
  std::vector<float> dw, db;
};

Pass run(ConvAlgorithm algo, const Shape& in, int out, int k, int stride, int pad, const Tensor& x, const Tensor& dy,
         uint64_t seed) {
  Conv2d conv("conv", out, k, stride, pad, true);
  conv.set_algorithm(algo);
  LayerHarness h(conv, in);
  Rng rng(seed);
  h.randomize_params(rng);
  Pass p;
  p.y.resize(h.out);
  p.dx.resize(in);
  p.dx.fill(NAN);  // backward must overwrite every element
  h.forward(x, p.y, Mode::Train);
  conv.weight()->dw.zero();
  conv.bias()->dw.zero();
  h.backward(x, p.y, dy, &p.dx);
  p.dw.assign(conv.weight()->dw.data(), conv.weight()->dw.data() + conv.weight()->count());
  p.db.assign(conv.bias()->dw.data(), conv.bias()->dw.data() + conv.bias()->count());
  return p;
}

double worst_relative(const float* a, const float* b, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return INFINITY;
    worst = std::max(worst, std::abs(double(a[i]) - b[i]) / (1.0 + std::abs(double(b[i]))));
  }
  return worst;
}

void compare_schedules(const Shape& in, int out, int k, int stride, int pad) {
  Rng rng(11);
  Tensor x(in);
  fill_normal(x, rng);
  Conv2d probe("probe", out, k, stride, pad);
  ParamRegistry reg;
  probe.declare(in, reg);
  Tensor dy(probe.reshape(in));
  fill_normal(dy, rng);
  const Pass whole = run(ConvAlgorithm::WholeBatch, in, out, k, stride, pad, x, dy, 5);
  const Pass chunked = run(ConvAlgorithm::Chunked, in, out, k, stride, pad, x, dy, 5);
  INFO("input ", in.str(), " kernel ", k, " /", stride, " pad ", pad, " threads ", ThreadPool::instance().threads());
  CHECK(worst_relative(chunked.y.data(), whole.y.data(), whole.y.size()) < 1e-5);
  CHECK(worst_relative(chunked.dx.data(), whole.dx.data(), whole.dx.size()) < 1e-5);
  CHECK(worst_relative(chunked.dw.data(), whole.dw.data(), whole.dw.size()) < 1e-4);
  CHECK(worst_relative(chunked.db.data(), whole.db.data(), whole.db.size()) < 1e-4);
}

// Restores the pool's thread count when a test ends.
struct ThreadsFor {
  int saved = ThreadPool::instance().threads();
  explicit ThreadsFor(int t) { ThreadPool::instance().set_threads(t); }
  ~ThreadsFor() { ThreadPool::instance().set_threads(saved); }
};

}  // namespace

TEST_CASE("conv2d chunked schedule equals the whole-batch one (forward, dx, dw, db)") {
  for (int threads : {1, 2, 3}) {
    ThreadsFor t(threads);
    // 16 channels of 20×20: 4 images per 1 MiB chunk, so 9 images make chunks 4, 4, 1.
    compare_schedules(Shape{9, 16, 20, 20}, 8, 3, 1, 1);
    compare_schedules(Shape{5, 3, 9, 7}, 4, 3, 2, 1);  // stride 2, odd sizes
    compare_schedules(Shape{3, 2, 6, 6}, 5, 1, 1, 0);  // 1x1
    compare_schedules(Shape{1, 4, 5, 5}, 3, 3, 1, 1);  // one image: one chunk
  }
}

TEST_CASE("conv2d gradients, whole-batch schedule and chunked on 2 workers") {
  for (ConvAlgorithm algo : {ConvAlgorithm::WholeBatch, ConvAlgorithm::Chunked}) {
    ThreadsFor t(2);
    Conv2d conv("conv", 4, 3, 1, 1, true);
    conv.set_algorithm(algo);
    LayerHarness h(conv, Shape{3, 3, 5, 5});  // 3 images: chunks of 2 and 1 on two workers
    Rng rng(31);
    h.randomize_params(rng);
    Tensor x(h.in);
    fill_normal(x, rng);
    GradCheckReport r = gradcheck(h, x, 32);
    expect_clean(r, coordinates(h));
  }
}

TEST_CASE("conv algorithm names") {
  CHECK(parse_conv_algorithm("chunked") == ConvAlgorithm::Chunked);
  CHECK(parse_conv_algorithm("whole") == ConvAlgorithm::WholeBatch);
  CHECK_THROWS(parse_conv_algorithm("winograd"));
}
