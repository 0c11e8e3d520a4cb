// The real Fashion-MNIST from Debian's dataset-fashion-mnist, when installed, and the data
// benchmark on a small synthetic set.
#include <doctest/doctest.h>

#include <chrono>
#include <sstream>

#include "data/bench.h"
#include "data/batcher.h"
#include "data/idx.h"
#include "data/load.h"
#include "data/normalizer.h"
#include "data_test_files.h"

using namespace delve;

TEST_CASE("fashion-mnist: the Debian package loads as 60000 + 10000 balanced 28x28 images") {
  const std::string probe = std::string(kFashionMnistDefaultDir) + "/train-images-idx3-ubyte.gz";
  if (!std::filesystem::exists(probe)) {
    MESSAGE("skipped: " << probe << " not found (apt-get install dataset-fashion-mnist)");
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  DataSplits d = load_data(DataSpec{});  // the defaults: fashion-mnist from the Debian path
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("loaded 70000 Fashion-MNIST images in " << ms << " ms");
  CHECK(d.train.size() == 60000);
  CHECK(d.test.size() == 10000);
  CHECK(d.train.c == 1);
  CHECK(d.train.h == 28);
  CHECK(d.train.w == 28);
  CHECK(d.train.classes() == 10);
  std::vector<int> train_count(10, 0), test_count(10, 0);
  for (int32_t l : d.train.labels) train_count.at(l)++;
  for (int32_t l : d.test.labels) test_count.at(l)++;
  CHECK(train_count == std::vector<int>(10, 6000));
  CHECK(test_count == std::vector<int>(10, 1000));

  // The default pipeline: padded to 32, mean image subtracted; the mean of a batch is near zero.
  DataSpec spec;
  Normalizer norm(d.train, spec);
  Batcher batcher(d.test, norm, spec, 1000, false);
  Tensor x;
  std::vector<int32_t> labels;
  REQUIRE(batcher.next(x, labels));
  CHECK(x.shape() == Shape{1000, 1, 32, 32});
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) sum += x[i];
  CHECK(std::abs(sum / double(x.size())) < 0.02);
}

TEST_CASE("bench: the data benchmark runs and reports loading and batch rates") {
  DataSpec spec;
  spec.source = "synthetic";
  spec.synthetic_train = 200;
  spec.synthetic_test = 50;
  std::ostringstream out;
  CHECK(run_data_benchmark(spec, 16, 5, out) == 0);
  const std::string text = out.str();
  MESSAGE(text);
  CHECK_MESSAGE_HAS(text, "load:");
  CHECK_MESSAGE_HAS(text, "images/s");
  CHECK_MESSAGE_HAS(text, "batches (no prefetch):");
  CHECK_MESSAGE_HAS(text, "batches (prefetch 1):");
}
