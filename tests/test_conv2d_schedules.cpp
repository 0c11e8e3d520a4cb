// layers/conv2d: the chunked algorithms (im2col, and Winograd F(2×2, 3×3) for 3×3 stride-1
// pad-1, im2col elsewhere) against the whole-batch schedule (one GEMM per pass), forward and backward,
// for uneven chunks, several chunks per worker, odd image sizes, rows and columns of one pixel,
// 1-3 threads; gradient checks of every algorithm. Winograd's forward against a naive direct convolution in double.
//
// Tolerance: both schedules add the same products in a different order (per-chunk GEMMs, ∂L/∂w
// summed per worker), so they agree to float rounding, |Δ| ≤ tol · (1 + |value|): y and dx are
// sums of K = c·k² ≤ 144 products of size ~1, tol 1e-5 (~80 ulps); dw and db sum P = N·Ho·Wo
// = 3600 products (partial sums up to ~100 while the result may be ~10), tol 1e-4. Winograd
// sums other terms (transformed inputs and weights: sums of up to 4, resp. 9 values, ×½) and
// adds ~4 roundings per value: tol 1e-4 for y and dx as well, still ~1000× below a wrong index.
#include <doctest/doctest.h>

#include <cmath>

#include "core/thread_pool.h"
#include "layers/conv2d.h"
#include "tests/gradcheck.h"
#include "tests/schedule_compare.h"

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

void compare_schedules(ConvAlgorithm algo, const Shape& in, int out, int k, int stride, int pad) {
  Rng rng(11);
  Tensor x(in);
  fill_normal(x, rng);
  Conv2d probe("probe", out, k, stride, pad);
  ParamRegistry reg;
  probe.declare(in, reg);
  Tensor dy(probe.reshape(in));
  fill_normal(dy, rng);
  const Pass whole = run(ConvAlgorithm::WholeBatch, in, out, k, stride, pad, x, dy, 5);
  const Pass chunked = run(algo, in, out, k, stride, pad, x, dy, 5);
  const bool winograd = algo == ConvAlgorithm::Winograd && k == 3 && stride == 1 && pad == 1;
  const double tol = winograd ? 1e-4 : 1e-5;
  INFO("input ", in.str(), " kernel ", k, " /", stride, " pad ", pad, " threads ", ThreadPool::instance().threads(),
       winograd ? " winograd" : " im2col");
  CHECK(worst_relative(chunked.y.data(), whole.y.data(), whole.y.size()) < tol);
  CHECK(worst_relative(chunked.dx.data(), whole.dx.data(), whole.dx.size()) < tol);
  CHECK(worst_relative(chunked.dw.data(), whole.dw.data(), whole.dw.size()) < 1e-4);
  CHECK(worst_relative(chunked.db.data(), whole.db.data(), whole.db.size()) < 1e-4);
}

}  // namespace

TEST_CASE("conv2d chunked im2col and Winograd equal the whole-batch schedule (forward, dx, dw, db)") {
  for (ConvAlgorithm algo : {ConvAlgorithm::Im2col, ConvAlgorithm::Winograd})
    for (int threads : {1, 2, 3}) {
      ThreadsFor t(threads);
      // 16 channels of 20×20: 4 images per 1 MiB chunk (im2col), so 9 images make chunks 4, 4, 1.
      compare_schedules(algo, Shape{9, 16, 20, 20}, 8, 3, 1, 1);
      compare_schedules(algo, Shape{40, 8, 16, 16}, 16, 3, 1, 1);  // several chunks per worker
      compare_schedules(algo, Shape{3, 5, 7, 6}, 4, 3, 1, 1);      // odd height: half tiles
      compare_schedules(algo, Shape{2, 3, 5, 9}, 6, 3, 1, 1);      // odd width
      compare_schedules(algo, Shape{5, 3, 9, 7}, 4, 3, 2, 1);      // stride 2: im2col under Winograd
      compare_schedules(algo, Shape{3, 2, 6, 6}, 5, 1, 1, 0);      // 1x1
      compare_schedules(algo, Shape{1, 4, 5, 5}, 3, 3, 1, 1);      // one image: one chunk
      compare_schedules(algo, Shape{2, 2, 1, 1}, 3, 3, 1, 1);      // 1×1 image: one tile, mostly padding
      // Winograd's row and tile passes: vector bodies with scalar ends and remainders, both
      // column parities, rows and columns of one pixel.
      compare_schedules(algo, Shape{2, 3, 5, 37}, 4, 3, 1, 1);     // 19 tiles a row, odd width
      compare_schedules(algo, Shape{3, 2, 34, 18}, 3, 3, 1, 1);    // 9 tiles a row, 153 a plane
      compare_schedules(algo, Shape{2, 3, 1, 7}, 2, 3, 1, 1);      // one row
      compare_schedules(algo, Shape{2, 3, 6, 1}, 2, 3, 1, 1);      // one column
      compare_schedules(algo, Shape{1, 3, 2, 2}, 2, 3, 1, 1);      // one image of one full tile
    }
}

TEST_CASE("conv2d Winograd forward against a naive direct convolution in double") {
  // A plain-net layer (32 → 32 channels, 16×16, N(0,1) inputs, Kaiming-scaled weights, so outputs
  // are ~N(0, 2)): measured worst |y - y_exact| = 7.7e-7·(1 + |y_exact|), a few ulps; the bound
  // 5e-6 leaves room for other BLAS kernels' summation orders, far below SGD noise.
  ThreadsFor t(2);
  const Shape in{3, 32, 16, 16};
  Conv2d conv("conv", 32, 3, 1, 1, true);
  conv.set_algorithm(ConvAlgorithm::Winograd);
  LayerHarness h(conv, in);
  REQUIRE(conv.uses_winograd());
  Rng rng(77);
  h.randomize_params(rng);
  Tensor x(in), y(h.out);
  fill_normal(x, rng);
  h.forward(x, y, Mode::Train);
  const float* w = conv.weight()->w.data();
  const float* b = conv.bias()->w.data();
  double worst = 0;
  for (int n = 0; n < in.n; ++n)
    for (int o = 0; o < 32; ++o)
      for (int oh = 0; oh < 16; ++oh)
        for (int ow = 0; ow < 16; ++ow) {
          double want = b[o];
          for (int c = 0; c < in.c; ++c)
            for (int i = 0; i < 3; ++i)
              for (int j = 0; j < 3; ++j) {
                const int ih = oh - 1 + i, iw = ow - 1 + j;
                if (ih >= 0 && ih < 16 && iw >= 0 && iw < 16)
                  want += double(w[((o * in.c + c) * 3 + i) * 3 + j]) * x.at(n, c, ih, iw);
              }
          worst = std::max(worst, std::abs(want - y.at(n, o, oh, ow)) / (1 + std::abs(want)));
        }
  MESSAGE("Winograd F(2x2,3x3) worst relative error against double: ", worst);
  CHECK(worst < 5e-6);
}

TEST_CASE("conv2d gradients: whole-batch, chunked im2col and Winograd on 2 workers") {
  // 3 images: chunks of 2 and 1; odd sizes: half tiles; 13 wide: Winograd's vector body and its ends.
  for (const Shape& in : {Shape{3, 3, 5, 5}, Shape{3, 2, 3, 13}}) {
    for (ConvAlgorithm algo : {ConvAlgorithm::WholeBatch, ConvAlgorithm::Im2col, ConvAlgorithm::Winograd}) {
      INFO("input ", in.str());
      ThreadsFor t(2);
      Conv2d conv("conv", 4, 3, 1, 1, true);
      conv.set_algorithm(algo);
      LayerHarness h(conv, in);
      CHECK(conv.uses_winograd() == (algo == ConvAlgorithm::Winograd));
      Rng rng(31);
      h.randomize_params(rng);
      Tensor x(h.in);
      fill_normal(x, rng);
      GradCheckReport r = gradcheck(h, x, 32);
      expect_clean(r, coordinates(h));
    }
  }
}

TEST_CASE("conv algorithm names") {
  CHECK(parse_conv_algorithm("im2col") == ConvAlgorithm::Im2col);
  CHECK(parse_conv_algorithm("winograd") == ConvAlgorithm::Winograd);
  CHECK(parse_conv_algorithm("whole") == ConvAlgorithm::WholeBatch);
  CHECK(parse_conv_algorithm("") == ConvAlgorithm::Winograd);  // the default
  CHECK(Conv2d("c", 4, 3, 1, 1).algorithm() == ConvAlgorithm::Winograd);
  CHECK_THROWS(parse_conv_algorithm("fft"));
}
