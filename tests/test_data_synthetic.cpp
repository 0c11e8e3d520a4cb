// data/synthetic and data/load: the synthetic set is seeded, balanced, CIFAR-sized, and learnable
// from orientation yet not from raw pixel means; load_data dispatches and rejects unknown sources.
#include <doctest/doctest.h>

#include <cmath>

#include "core/error.h"
#include "data/load.h"
#include "data/synthetic.h"
#include "data_test_files.h"

using namespace delve;
using namespace delve::test;

namespace {

DataSpec synthetic_spec(int train, int test) {
  DataSpec spec;
  spec.source = "synthetic";
  spec.synthetic_train = train;
  spec.synthetic_test = test;
  return spec;
}

// The class an orientation detector assigns: the dominant gradient direction of channel 0 from the
// structure tensor, folded into [0, π) and rounded to the nearest class angle.
int orientation_class(const uint8_t* img, int classes) {
  double jxx = 0, jyy = 0, jxy = 0;
  for (int y = 1; y < 31; ++y)
    for (int x = 1; x < 31; ++x) {
      double gx = img[y * 32 + x + 1] - img[y * 32 + x - 1], gy = img[(y + 1) * 32 + x] - img[(y - 1) * 32 + x];
      jxx += gx * gx;
      jyy += gy * gy;
      jxy += gx * gy;
    }
  double theta = 0.5 * std::atan2(2 * jxy, jxx - jyy);
  if (theta < 0) theta += M_PI;
  return int(std::lround(theta / (M_PI / classes))) % classes;
}

}  // namespace

TEST_CASE("synthetic: sizes, geometry, balanced labels, determinism by seed") {
  DataSplits a = load_data(synthetic_spec(200, 50));
  CHECK(a.train.size() == 200);
  CHECK(a.test.size() == 50);
  CHECK(a.train.c == 3);
  CHECK(a.train.h == 32);
  CHECK(a.train.w == 32);
  CHECK(a.train.classes() == 10);
  for (size_t i = 0; i < a.train.size(); ++i) CHECK(a.train.labels[i] == int(i % 10));
  DataSplits b = load_data(synthetic_spec(200, 50));
  CHECK(a.train.images == b.train.images);
  CHECK(a.test.images == b.test.images);
  CHECK(a.train.images != a.test.images);
  // Train image i does not depend on how many images there are.
  DataSplits fewer = load_data(synthetic_spec(20, 0));
  CHECK(std::equal(fewer.train.images.begin(), fewer.train.images.end(), a.train.images.begin()));
  DataSpec other = synthetic_spec(200, 50);
  other.seed = 2;
  CHECK(load_data(other).train.images != a.train.images);
  other.synthetic_channels = 1;
  other.synthetic_classes = 4;
  DataSplits grey = load_data(other);
  CHECK(grey.train.c == 1);
  CHECK(grey.train.classes() == 4);
}

TEST_CASE("synthetic: learnable from orientation, not from the class mean image") {
  DataSplits d = load_data(synthetic_spec(2000, 500));
  const int K = 10;
  const size_t bytes = d.train.image_bytes();
  // Nearest class-mean on raw pixels: a trivial classifier that should stay near chance.
  std::vector<double> mean(size_t(K) * bytes, 0.0);
  for (size_t i = 0; i < d.train.size(); ++i)
    for (size_t p = 0; p < bytes; ++p) mean[d.train.labels[i] * bytes + p] += d.train.image(i)[p] / 200.0;
  int mean_right = 0, orientation_right = 0;
  for (size_t i = 0; i < d.test.size(); ++i) {
    int best = 0;
    double best_d = 1e300;
    for (int k = 0; k < K; ++k) {
      double dist = 0;
      for (size_t p = 0; p < bytes; ++p) dist += std::pow(d.test.image(i)[p] - mean[k * bytes + p], 2);
      if (dist < best_d) best_d = dist, best = k;
    }
    mean_right += best == d.test.labels[i];
    orientation_right += orientation_class(d.test.image(i), K) == d.test.labels[i];
  }
  const double mean_acc = mean_right / 500.0, orientation_acc = orientation_right / 500.0;
  MESSAGE("synthetic: nearest class mean " << mean_acc << ", orientation detector " << orientation_acc);
  // Properties of the seeded data set, not rounding (the images are integers; the classifiers'
  // distances and angles decide nothing near ties at these margins): chance is 0.1, and 6 standard
  // errors of a 500-image accuracy near chance, 6·√(0.1·0.9/500) = 0.08, stay below 0.25.
  CHECK(mean_acc < 0.25);
  CHECK(orientation_acc > 0.4);
  CHECK(orientation_acc < 0.95);  // neighbouring classes overlap: not solved outright
}

TEST_CASE("synthetic and load_data: bad options and unknown sources") {
  DataSpec spec = synthetic_spec(10, 10);
  spec.synthetic_classes = 1;
  CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), "data.synthetic_classes must be 2..1000, not 1");
  spec.synthetic_classes = 10;
  spec.synthetic_channels = 2;
  CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), "data.synthetic_channels must be 1 or 3, not 2");
  spec.synthetic_channels = 3;
  spec.synthetic_train = 0;
  CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), "data.synthetic_train must be >= 1");
  spec.source = "imagenet";
  std::string msg = data_error_of([&] { load_data(spec); });
  CHECK_MESSAGE_HAS(msg, "unknown data.source \"imagenet\"");
  CHECK_MESSAGE_HAS(msg, "fashion-mnist, mnist, cifar10, cifar100, folder, synthetic");
  spec.source = "mnist";
  CHECK_MESSAGE_HAS(data_error_of([&] { load_data(spec); }), "data.source \"mnist\" has no default location: set data.path");
}
