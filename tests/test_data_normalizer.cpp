// data/subset and data/normalizer: the class-balanced subset, padding geometry (28→32 centred),
// and the statistics of each method checked against sums computed here from the raw bytes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "data/normalizer.h"
#include "data/subset.h"
#include "data_test_files.h"
#include "tests/float_bounds.h"

using namespace delve;
using namespace delve::test;

namespace {

Dataset make_dataset(int n, int c, int h, int w, std::vector<int32_t> labels, int classes, uint64_t seed) {
  Dataset ds;
  ds.name = "t";
  ds.split = "train";
  ds.c = c;
  ds.h = h;
  ds.w = w;
  ds.images = random_images(n, c, h, w, 1, seed).pixels;
  ds.labels = std::move(labels);
  for (int k = 0; k < classes; ++k) ds.class_names.push_back(std::string("k") + std::to_string(k));
  return ds;
}

std::vector<int32_t> cyclic_labels(int n, int classes) {
  std::vector<int32_t> l(n);
  for (int i = 0; i < n; ++i) l[i] = i % classes;
  return l;
}

DataSpec spec_with(const std::string& method, int pad_to) {
  DataSpec spec;
  spec.normalize = method;
  spec.pad_to = pad_to;
  return spec;
}

}  // namespace

TEST_CASE("subset: class-balanced counts, sorted, seeded, fixed by (data, n, seed)") {
  // 100 images: 50 of class 0, 30 of class 1, 20 of class 2.
  std::vector<int32_t> labels;
  for (int i = 0; i < 100; ++i) labels.push_back(i < 50 ? 0 : i < 80 ? 1 : 2);
  Dataset ds = make_dataset(100, 1, 2, 2, labels, 3, 1);
  auto counts = [&](const std::vector<uint32_t>& idx) {
    std::vector<int> c(3, 0);
    for (uint32_t i : idx) c[ds.labels[i]]++;
    return c;
  };
  auto s30 = training_subset(ds, 30, 1);
  CHECK(counts(s30) == std::vector<int>{10, 10, 10});
  CHECK(std::is_sorted(s30.begin(), s30.end()));
  CHECK(std::adjacent_find(s30.begin(), s30.end()) == s30.end());
  CHECK(counts(training_subset(ds, 31, 1)) == std::vector<int>{11, 10, 10});
  CHECK(counts(training_subset(ds, 60, 1)) == std::vector<int>{20, 20, 20});
  CHECK(training_subset(ds, 30, 1) == s30);
  CHECK(training_subset(ds, 30, 2) != s30);
  auto all = training_subset(ds, 0, 1);
  CHECK(all.size() == 100);
  CHECK(all.front() == 0);
  CHECK(all.back() == 99);
  CHECK_MESSAGE_HAS(data_error_of([&] { training_subset(ds, 101, 1); }), "data.train_subset 101 is outside 0..100");
  CHECK_MESSAGE_HAS(data_error_of([&] { training_subset(ds, 70, 1); }),
                    "data.train_subset 70 needs 23 images of class \"k2\" but the t training split has only 20");
}

TEST_CASE("normalizer: 28x28 sits centred on the 32x32 canvas, odd margins go bottom/right") {
  Dataset ds = make_dataset(2, 1, 28, 28, {0, 1}, 2, 2);
  Normalizer norm(ds, spec_with("none", 32));
  CHECK(norm.top() == 2);
  CHECK(norm.left() == 2);
  std::vector<float> canvas(32 * 32, -1.f);
  norm.apply(ds.image(1), canvas.data());
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x) {
      const bool inside = y >= 2 && y < 30 && x >= 2 && x < 30;
      // canvas = 0 + x·fl(1/255): two roundings (the scale, the product; + 0 is exact) against
      // the exact x/255 (tests/float_bounds.h).
      const double want = inside ? ds.image(1)[(y - 2) * 28 + (x - 2)] / 255.0 : 0.0;
      CHECK(within_rounding(canvas[y * 32 + x], want, want, 2));
    }

  Dataset odd = make_dataset(1, 2, 5, 3, {0}, 1, 3);
  Normalizer n2(odd, spec_with("none", 8));
  CHECK(n2.top() == 1);  // (8 − 5) / 2
  CHECK(n2.left() == 2);  // (8 − 3) / 2
  std::vector<float> c2(2 * 64);
  n2.apply(odd.image(0), c2.data());
  const double v0 = odd.image(0)[15] / 255.0, v1 = odd.image(0)[15 + 4 * 3 + 2] / 255.0;
  CHECK(within_rounding(c2[64 + 1 * 8 + 2], v0, v0, 2));  // channel 1, image (0, 0)
  CHECK(within_rounding(c2[64 + 5 * 8 + 4], v1, v1, 2));  // channel 1, (4, 2)
  CHECK(c2[64 + 6 * 8 + 4] == 0.f);  // below the image: padding
}

TEST_CASE("normalizer: mean_image is the per-pixel training mean on the canvas, (x − m)/255") {
  Dataset ds;
  ds.name = "t";
  ds.c = 1;
  ds.h = ds.w = 2;
  ds.class_names = {"a"};
  ds.images = {0, 10, 20, 30, /**/ 2, 10, 40, 31, /**/ 4, 10, 60, 35};
  ds.labels = {0, 0, 0};
  Normalizer norm(ds, spec_with("mean_image", 4));
  const std::vector<double>& m = norm.mean_image();
  REQUIRE(m.size() == 16);
  // Integer sums divided by 3 in double, and these sums are multiples of 3: exact.
  CHECK(within_rounding(m[1 * 4 + 1], 2.0, 2.0, 0));
  CHECK(within_rounding(m[1 * 4 + 2], 10.0, 10.0, 0));
  CHECK(within_rounding(m[2 * 4 + 1], 40.0, 40.0, 0));
  CHECK(within_rounding(m[2 * 4 + 2], 32.0, 32.0, 0));
  for (int p : {0, 3, 4, 7, 8, 11, 12, 15}) CHECK(m[p] == 0.0);  // padding averages to zero
  std::vector<float> canvas(16);
  norm.apply(ds.image(2), canvas.data());
  // canvas = fl(−m/255) + x·fl(1/255): the offset rounds once (m exact here), the scale and the
  // product once each, the sum once: 3 roundings on a path, M = (|x| + |m|)/255.
  CHECK(within_rounding(canvas[1 * 4 + 1], (4 - 2.0) / 255, (4 + 2.0) / 255, 3));
  CHECK(within_rounding(canvas[2 * 4 + 1], (60 - 40.0) / 255, (60 + 40.0) / 255, 3));
  CHECK(within_rounding(canvas[2 * 4 + 2], (35 - 32.0) / 255, (35 + 32.0) / 255, 3));
  CHECK(canvas[0] == 0.f);
  CHECK(norm.channel_mean().empty());
}

TEST_CASE("normalizer: channel mean/std over whole canvases (padding included), (x − m_c)/s_c") {
  Dataset ds = make_dataset(5, 3, 6, 4, cyclic_labels(5, 1), 1, 4);
  const int P = 8;
  Normalizer norm(ds, spec_with("channel", P));
  // Reference: build each padded canvas here and take plain sums.
  for (int c = 0; c < 3; ++c) {
    double s = 0, s2 = 0, n = 0;
    for (size_t i = 0; i < ds.size(); ++i)
      for (int y = 0; y < P; ++y)
        for (int x = 0; x < P; ++x) {
          const bool inside = y >= 1 && y < 7 && x >= 2 && x < 6;
          const double v = inside ? ds.image(i)[(c * 6 + (y - 1)) * 4 + (x - 2)] : 0.0;
          s += v;
          s2 += v * v;
          n += 1;
        }
    // s and s2 are sums of integers, exact in double (and in the normalizer's uint64): mean = s/n
    // rounds once. var = s2/n − mean² takes 3 roundings on a path (an FMA contraction only
    // removes one), M = s2/n + mean², so sd = √var is within γ_3·M/(2·sd) plus the root's own
    // rounding, u·sd (double's u, tests/float_bounds.h).
    const double mean = s / n, sd = std::sqrt(s2 / n - mean * mean);
    const double ud = kDoubleUnitRoundoff;
    CHECK(std::abs(norm.channel_mean()[c] - mean) <= 2 * ud * mean);  // both round the same quotient
    CHECK(std::abs(norm.channel_std()[c] - sd) <=
          2 * gamma_n(3, ud) * (s2 / n + mean * mean) / (2 * sd) + 2 * ud * sd);
    std::vector<float> canvas(3 * P * P);
    norm.apply(ds.image(3), canvas.data());
    const double x = ds.image(3)[(c * 6 + 2) * 4 + 1];  // image (2, 1) → canvas (3, 3)
    // canvas = fl(−mean/sd) + x·fl(1/sd) in float: the offset and the scale round once each (their
    // double parts ~2⁻⁵³), the product and the sum once: 3 roundings, M = (|x| + mean)/sd.
    CHECK(within_rounding(canvas[(c * P + 3) * P + 3], (x - mean) / sd, (std::abs(x) + mean) / sd, 3));
    CHECK(within_rounding(canvas[(c * P + 0) * P + 0], -mean / sd, mean / sd, 1));
  }
  CHECK(norm.mean_image().empty());

  // A constant channel has std 0, which counts as 1.
  Dataset flat = make_dataset(2, 1, 2, 2, {0, 0}, 1, 5);
  std::fill(flat.images.begin(), flat.images.end(), 7);
  Normalizer fn(flat, spec_with("channel", 2));
  CHECK(fn.channel_mean()[0] == 7.0);
  CHECK(fn.channel_std()[0] == 1.0);
}

TEST_CASE("normalizer: statistics come from the training subset only") {
  Dataset ds = make_dataset(40, 1, 3, 3, cyclic_labels(40, 4), 4, 6);
  DataSpec spec = spec_with("mean_image", 3);
  spec.train_subset = 8;
  spec.seed = 9;
  Normalizer norm(ds, spec);
  const auto subset = training_subset(ds, 8, 9);
  double mean0 = 0, all0 = 0;
  for (uint32_t i : subset) mean0 += ds.image(i)[0] / 8.0;
  for (size_t i = 0; i < ds.size(); ++i) all0 += ds.image(i)[0] / 40.0;
  // The library sums integers exactly and divides once; mean0 adds 8 rounded quotients in double
  // (γ_9 in double's u of Σ|terms| = mean0). The two means differ by far more than either's rounding.
  const double ud = kDoubleUnitRoundoff;
  CHECK(std::abs(norm.mean_image()[0] - mean0) <= gamma_n(10, ud) * mean0);
  CHECK(std::abs(mean0 - all0) > gamma_n(10, ud) * mean0 + gamma_n(41, ud) * all0);
}

TEST_CASE("normalizer: pad_to smaller than the images, and unknown methods, are errors") {
  Dataset ds = make_dataset(1, 3, 32, 32, {0}, 1, 7);
  CHECK_MESSAGE_HAS(data_error_of([&] { Normalizer(ds, spec_with("none", 28)); }),
                    "data.pad_to 28 is smaller than the 32x32 images of t");
  Dataset wide = make_dataset(1, 1, 20, 30, {0}, 1, 7);
  CHECK_MESSAGE_HAS(data_error_of([&] { Normalizer(wide, spec_with("none", 28)); }), "smaller than the 20x30 images");
  CHECK_MESSAGE_HAS(data_error_of([&] { Normalizer(ds, spec_with("zscore", 32)); }),
                    "data.normalize must be \"mean_image\", \"channel\" or \"none\", not \"zscore\"");
  CHECK(Normalizer(ds, spec_with("mean_image", 32)).canvas_size() == 32);  // already that size: untouched
}
