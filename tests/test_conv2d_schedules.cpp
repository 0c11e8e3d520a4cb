// layers/conv2d: the chunked algorithms (im2col, and Winograd F(2×2, 3×3) for 3×3 stride-1
// pad-1, im2col elsewhere) against the whole-batch schedule (one GEMM per pass), forward and backward,
// for uneven chunks, several chunks per worker, odd image sizes, rows and columns of one pixel,
// 1-3 threads; gradient checks of every algorithm. Winograd's forward against a naive direct convolution in double.
//
// Tolerance: each schedule is checked on its own against the convolution in float64
// (tests/conv_reference.h), elementwise within its rounding bound γ_n·M (tests/float_bounds.h):
// direct summation (whole batch, chunked im2col) with n = the number of summed products and
// M = Σ|products|, Winograd with n counted on its transforms and M its magnitudes. Two schedules
// then agree within the sum of their bounds, on any CPU and BLAS kernel; a wrong index moves a
// value by about its size, hundreds of times the bound.
#include <doctest/doctest.h>

#include <cmath>
#include <optional>
#include <string>

#include "core/thread_pool.h"
#include "layers/conv2d.h"
#include "tests/conv_gradcheck.h"
#include "tests/conv_reference.h"
#include "tests/gradcheck.h"
#include "tests/schedule_compare.h"

using namespace delve;
using namespace delve::test;

namespace {

struct Pass {
  Tensor y, dx;
  std::vector<float> dw, db;
};

// One forward and backward of a conv seeded with `seed`; w and b receive its parameters.
Pass run(ConvAlgorithm algo, const Shape& in, int out, int k, int stride, int pad, const Tensor& x, const Tensor& dy,
         uint64_t seed, std::vector<float>& w, std::vector<float>& b) {
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
  w.assign(conv.weight()->w.data(), conv.weight()->w.data() + conv.weight()->count());
  b.assign(conv.bias()->w.data(), conv.bias()->w.data() + conv.bias()->count());
  return p;
}

// Every schedule at 1-3 threads against the float64 convolution, within its rounding bound.
void compare_schedules(const Shape& in, int out, int k, int stride, int pad) {
  Rng rng(11);
  Tensor x(in);
  fill_normal(x, rng);
  const ConvCase g{in, out, k, k, stride, pad};
  Tensor dy(g.out());
  fill_normal(dy, rng);
  std::vector<float> w, b;
  for (ConvAlgorithm algo : {ConvAlgorithm::WholeBatch, ConvAlgorithm::Im2col, ConvAlgorithm::Winograd}) {
    const bool winograd = algo == ConvAlgorithm::Winograd && k == 3 && stride == 1 && pad == 1;
    std::optional<ConvBounds> bounds;
    // Winograd's point GEMMs once with every kernel this CPU can run (core/point_gemm.h)
    for (GemmKernel kernel : gemm_kernels_to_test(winograd)) {
      GemmKernelFor forced(kernel);
      for (int threads : {1, 2, 3}) {
        ThreadsFor t(threads);
        const Pass p = run(algo, in, out, k, stride, pad, x, dy, 5, w, b);
        if (!bounds) bounds = conv_bounds(g, winograd, x.data(), w.data(), b.data(), dy.data());
        INFO("input ", in.str(), " kernel ", k, " /", stride, " pad ", pad, " threads ", threads,
             std::string(algo == ConvAlgorithm::WholeBatch ? " whole batch" : winograd ? " winograd" : " im2col"),
             " point GEMMs ", std::string(gemm_kernel_name(kernel)));
        check_within_bound("y", p.y.data(), bounds->ref.y, bounds->depth.y);
        check_within_bound("dx", p.dx.data(), bounds->ref.dx, bounds->depth.dx);
        check_within_bound("dw", p.dw.data(), bounds->ref.dw, bounds->depth.dw);
        check_within_bound("db", p.db.data(), bounds->ref.db, bounds->depth.db);
      }
    }
  }
}

}  // namespace

TEST_CASE("conv2d schedules (whole batch, chunked im2col, Winograd) each match a float64 convolution within their rounding bounds") {
  // 16 channels of 20×20: 4 images per 1 MiB chunk (im2col), so 9 images make chunks 4, 4, 1.
  compare_schedules(Shape{9, 16, 20, 20}, 8, 3, 1, 1);
  compare_schedules(Shape{40, 8, 16, 16}, 16, 3, 1, 1);  // several chunks per worker
  compare_schedules(Shape{3, 5, 7, 6}, 4, 3, 1, 1);      // odd height: half tiles
  compare_schedules(Shape{2, 3, 5, 9}, 6, 3, 1, 1);      // odd width
  compare_schedules(Shape{5, 3, 9, 7}, 4, 3, 2, 1);      // stride 2: im2col under Winograd
  compare_schedules(Shape{3, 2, 6, 6}, 5, 1, 1, 0);      // 1x1
  compare_schedules(Shape{1, 4, 5, 5}, 3, 3, 1, 1);      // one image: one chunk
  compare_schedules(Shape{2, 2, 1, 1}, 3, 3, 1, 1);      // 1×1 image: one tile, mostly padding
  // Winograd's row and tile passes: vector bodies with scalar ends and remainders, both
  // column parities, rows and columns of one pixel.
  compare_schedules(Shape{2, 3, 5, 37}, 4, 3, 1, 1);     // 19 tiles a row, odd width
  compare_schedules(Shape{3, 2, 34, 18}, 3, 3, 1, 1);    // 9 tiles a row, 153 a plane
  compare_schedules(Shape{2, 3, 1, 7}, 2, 3, 1, 1);      // one row
  compare_schedules(Shape{2, 3, 6, 1}, 2, 3, 1, 1);      // one column
  compare_schedules(Shape{1, 3, 2, 2}, 2, 3, 1, 1);      // one image of one full tile
}

TEST_CASE("conv2d Winograd forward on a plain-net layer within its rounding bound of a float64 convolution") {
  // A plain-net layer (32 → 32 channels, 16×16, N(0,1) inputs, Kaiming-scaled weights): C = 32, so
  // the bound is γ_43 times Winograd's magnitudes (tests/conv_reference.h).
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
  const ConvCase g{in, 32, 3, 3, 1, 1};
  const ConvBounds cb = conv_bounds(g, true, x.data(), conv.weight()->w.data(), conv.bias()->w.data(), kForwardOnly);
  const BoundReport r = bound_report(y.data(), cb.ref.y, cb.depth.y);
  MESSAGE("Winograd F(2x2,3x3) against float64: ", r.str());
  CHECK(r.worst_ratio <= 1.0);
}

TEST_CASE("conv2d gradients: whole-batch, chunked im2col and Winograd (each point-GEMM kernel) on 2 workers") {
  // 3 images: chunks of 2 and 1; odd sizes: half tiles; 13 wide: Winograd's vector body and its ends.
  for (const Shape& in : {Shape{3, 3, 5, 5}, Shape{3, 2, 3, 13}}) {
    for (ConvAlgorithm algo : {ConvAlgorithm::WholeBatch, ConvAlgorithm::Im2col, ConvAlgorithm::Winograd}) {
      for (GemmKernel kernel : gemm_kernels_to_test(algo == ConvAlgorithm::Winograd)) {
        INFO("input ", in.str(), " point GEMMs ", std::string(gemm_kernel_name(kernel)));
        GemmKernelFor forced(kernel);
        ThreadsFor t(2);
        Conv2d conv("conv", 4, 3, 1, 1, true);
        conv.set_algorithm(algo);
        LayerHarness h(conv, in);
        CHECK(conv.uses_winograd() == (algo == ConvAlgorithm::Winograd));
        Rng rng(31);
        h.randomize_params(rng);
        Tensor x(h.in);
        fill_normal(x, rng);
        const ConvCase g{in, 4, 3, 3, 1, 1};
        GradCheckReport r = gradcheck(h, x, 32, conv_gradcheck_options(g, conv.uses_winograd()));
        expect_clean(r, coordinates(h));
      }
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
