// data/augment and data/batcher: crop/flip pixels against an independent reference, channel-major
// batches, eval coverage with a partial last batch, per-epoch shuffles, determinism by seed, and
// the resume guarantee: seeking to a saved cursor replays the uninterrupted stream exactly —
// with and without prefetch. Errors in the worker reach the caller.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "data/batcher.h"
#include "data/subset.h"
#include "data_test_files.h"
#include "tests/float_bounds.h"

using namespace delve;
using namespace delve::test;

namespace {

// n images of c×s×s; image i is random bytes in 1..255 (0 marks padding) and has label i % classes.
Dataset random_dataset(int n, int c, int s, int classes, uint64_t seed) {
  Dataset ds;
  ds.name = "t";
  ds.split = "train";
  ds.c = c;
  ds.h = ds.w = s;
  ds.images.resize(size_t(n) * c * s * s);
  Rng rng(seed);
  for (auto& p : ds.images) p = uint8_t(1 + rng.below(255));
  for (int i = 0; i < n; ++i) ds.labels.push_back(i % classes);
  for (int k = 0; k < classes; ++k) ds.class_names.push_back(std::to_string(k));
  return ds;
}

struct Batch {
  std::vector<float> x;
  std::vector<int32_t> labels;
  int64_t epoch, index;
  bool operator==(const Batch&) const = default;
};

Batch take(Batcher& b) {
  Tensor x;
  Batch out;
  REQUIRE(b.next(x, out.labels, &out.epoch, &out.index));
  out.x.assign(x.data(), x.data() + x.size());
  return out;
}

std::vector<Batch> take(Batcher& b, int n) {
  std::vector<Batch> out;
  for (int i = 0; i < n; ++i) out.push_back(take(b));
  return out;
}

// Which image of ds (by content) sits in slot j of a batch of n without augmentation; the batch
// is P×P with the image centred (P = 0: the image size).
int identify(const Dataset& ds, const Batch& b, int j, int n, int P = 0) {
  if (P == 0) P = ds.h;
  const int top = (P - ds.h) / 2, left = (P - ds.w) / 2;
  for (size_t i = 0; i < ds.size(); ++i) {
    bool same = true;
    for (int c = 0; c < ds.c && same; ++c)
      for (int y = 0; y < ds.h && same; ++y)
        for (int x = 0; x < ds.w && same; ++x)
          same = b.x[((size_t(c) * n + j) * P + top + y) * P + left + x] ==
                 float(ds.image(i)[(c * ds.h + y) * ds.w + x]) * (1.0f / 255.0f);
    if (same) return int(i);
  }
  return -1;
}

DataSpec plain_spec(int pad_to, int prefetch) {
  DataSpec spec;
  spec.normalize = "none";
  spec.pad_to = pad_to;
  spec.prefetch = prefetch;
  return spec;
}

}  // namespace

TEST_CASE("augment: crop and flip of a 3x3 canvas, by hand") {
  const std::vector<float> canvas = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<float> out(9, -1.f);
  // Window at (0, 2) of the 1-padded 5x5: out(y, x) = canvas(y − 1, x + 1).
  write_augmented(canvas.data(), 1, 3, 1, Augmentation{0, 2, false}, out.data(), 9);
  CHECK(out == std::vector<float>{0, 0, 0, 2, 3, 0, 5, 6, 0});
  // Window at (2, 0), mirrored: out(y, x) = canvas(y + 1, 1 − x).
  write_augmented(canvas.data(), 1, 3, 1, Augmentation{2, 0, true}, out.data(), 9);
  CHECK(out == std::vector<float>{5, 4, 0, 8, 7, 0, 0, 0, 0});
  write_augmented(canvas.data(), 1, 3, 1, no_augmentation(1), out.data(), 9);
  CHECK(out == canvas);
  write_augmented(canvas.data(), 1, 3, 0, Augmentation{0, 0, true}, out.data(), 9);
  CHECK(out == std::vector<float>{3, 2, 1, 6, 5, 4, 9, 8, 7});
  // A shift by the whole canvas leaves only padding.
  write_augmented(canvas.data(), 1, 3, 3, Augmentation{0, 6, false}, out.data(), 9);
  CHECK(out == std::vector<float>(9, 0.f));
}

TEST_CASE("batcher: random crop + flip match an independent reference for a fixed seed") {
  const int S = 6, P = 8, K = 2, C = 2;  // 6x6 images padded to 8, then crop_pad 2
  Dataset ds = random_dataset(16, C, S, 4, 11);
  DataSpec spec = plain_spec(P, 0);
  spec.crop_pad = K;
  spec.flip = true;
  spec.seed = 5;
  Normalizer norm(ds, spec);
  Batcher batcher(ds, norm, spec, 8, true);
  // The unaugmented epoch order, from an identical batcher without augmentation.
  DataSpec still = spec;
  still.crop_pad = 0;
  still.flip = false;
  Batcher reference(ds, norm, still, 8, true);

  // The reference image: canvas(c, Y, X) padded by K with zeros, computed here from the raw bytes.
  auto padded = [&](int img, int c, int Y, int X) -> float {
    const int y = Y - K - 1, x = X - K - 1;  // canvas offset 1 = (8 − 6) / 2
    if (y < 0 || y >= S || x < 0 || x >= S) return 0.f;
    return float(ds.image(img)[(c * S + y) * S + x]) * (1.0f / 255.0f);
  };
  std::set<int> seen_dy, seen_dx, seen_flip;
  for (int b = 0; b < 6; ++b) {
    Batch got = take(batcher), plain = take(reference);
    REQUIRE(got.labels == plain.labels);
    for (int j = 0; j < 8; ++j) {
      const int img = identify(ds, plain, j, 8, P);
      REQUIRE(img >= 0);
      // Every (dy, dx, flip) whose reference matches the batch exactly.
      std::vector<Augmentation> matches;
      for (int dy = 0; dy <= 2 * K; ++dy)
        for (int dx = 0; dx <= 2 * K; ++dx)
          for (bool flip : {false, true}) {
            bool same = true;
            for (int c = 0; c < C && same; ++c)
              for (int y = 0; y < P && same; ++y)
                for (int x = 0; x < P && same; ++x)
                  same = got.x[((c * 8 + j) * P + y) * P + x] == padded(img, c, y + dy, (flip ? P - 1 - x : x) + dx);
            if (same) matches.push_back({dy, dx, flip});
          }
      REQUIRE(matches.size() == 1);
      CHECK(matches[0] == batcher.augmentation(got.epoch, got.index, j));
      seen_dy.insert(matches[0].dy);
      seen_dx.insert(matches[0].dx);
      seen_flip.insert(matches[0].flip);
    }
  }
  CHECK(seen_dy.size() == 5);  // every offset 0..4 and both flips occur in 48 draws
  CHECK(seen_dx.size() == 5);
  CHECK(seen_flip.size() == 2);
}

TEST_CASE("batcher: batches are channel-major N x C x P x P, padded and centred") {
  Dataset ds = random_dataset(5, 3, 28, 5, 12);
  DataSpec spec = plain_spec(32, 0);
  Normalizer norm(ds, spec);
  Batcher b(ds, norm, spec, 5, false);
  Tensor x;
  std::vector<int32_t> labels;
  REQUIRE(b.next(x, labels));
  CHECK(x.shape() == Shape{5, 3, 32, 32});
  for (int n = 0; n < 5; ++n)
    for (int c = 0; c < 3; ++c) {
      // normalize "none": x·fl(1/255), two roundings of x/255 (tests/float_bounds.h).
      const double a = ds.image(n)[c * 784] / 255.0, b = ds.image(n)[c * 784 + 27 * 28 + 27] / 255.0,
                   d = ds.image(n)[c * 784 + 8 * 28 + 15] / 255.0;
      CHECK(within_rounding(x.at(n, c, 2, 2), a, a, 2));
      CHECK(within_rounding(x.at(n, c, 29, 29), b, b, 2));
      CHECK(within_rounding(x.at(n, c, 10, 17), d, d, 2));
      CHECK(x.at(n, c, 1, 10) == 0.f);
      CHECK(x.at(n, c, 30, 10) == 0.f);
      CHECK(x.at(n, c, 15, 31) == 0.f);
    }
  // Channel-major: channel 1 of image 0 starts after channel 0 of all five images.
  const double first = ds.image(0)[784] / 255.0;
  CHECK(within_rounding(x.data()[5 * 1024 + 2 * 32 + 2], first, first, 2));
}

TEST_CASE("batcher: eval covers every image once, in order, with a partial last batch") {
  Dataset ds = random_dataset(10, 1, 4, 3, 13);
  for (int prefetch : {0, 1, 3}) {
    CAPTURE(prefetch);
    DataSpec spec = plain_spec(4, prefetch);
    spec.crop_pad = 2;  // train-only options do nothing in eval mode
    spec.flip = true;
    Normalizer norm(ds, spec);
    Batcher b(ds, norm, spec, 4, false);
    CHECK(b.batches_per_epoch() == 3);
    for (int pass = 0; pass < 2; ++pass) {
      std::vector<int> order;
      for (int i = 0; i < 3; ++i) {
        Batch batch = take(b);
        CHECK(batch.epoch == 0);
        CHECK(batch.index == i);
        const int n = int(batch.labels.size());
        CHECK(n == (i < 2 ? 4 : 2));
        for (int j = 0; j < n; ++j) {
          order.push_back(identify(ds, batch, j, n));
          CHECK(batch.labels[j] == ds.labels[order.back()]);
        }
      }
      CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
      Tensor x;
      std::vector<int32_t> labels;
      CHECK_FALSE(b.next(x, labels));
      CHECK_FALSE(b.next(x, labels));
      CHECK(b.index() == 3);
      b.seek(0, 0);
    }
    b.seek(0, 2);
    CHECK(take(b).labels.size() == 2);
  }
  // An empty split gives an empty pass.
  Dataset empty = random_dataset(0, 1, 4, 3, 14);
  DataSpec spec = plain_spec(4, 1);
  Normalizer norm(ds, spec);
  Batcher b(empty, norm, spec, 4, false);
  Tensor x;
  std::vector<int32_t> labels;
  CHECK(b.batches_per_epoch() == 0);
  CHECK_FALSE(b.next(x, labels));
}

TEST_CASE("batcher: train is an endless stream of reshuffled epochs, last partial batch dropped") {
  Dataset ds = random_dataset(10, 1, 4, 5, 15);
  DataSpec spec = plain_spec(4, 0);
  Normalizer norm(ds, spec);
  Batcher b(ds, norm, spec, 4, true);
  CHECK(b.batches_per_epoch() == 2);
  std::vector<std::vector<int>> epochs(4);
  for (int k = 0; k < 8; ++k) {
    Batch batch = take(b);
    CHECK(batch.epoch == k / 2);
    CHECK(batch.index == k % 2);
    CHECK(batch.labels.size() == 4);
    for (int j = 0; j < 4; ++j) epochs[k / 2].push_back(identify(ds, batch, j, 4));
  }
  for (auto& e : epochs) {
    CHECK(std::set<int>(e.begin(), e.end()).size() == 8);  // 8 distinct images of 10
    CHECK(std::find(e.begin(), e.end(), -1) == e.end());
  }
  CHECK(epochs[0] != epochs[1]);
  CHECK(epochs[1] != epochs[2]);
  CHECK(b.epoch() == 4);
  CHECK(b.index() == 0);
}

TEST_CASE("batcher: a train subset is fixed for the run and each epoch covers exactly it") {
  Dataset ds = random_dataset(60, 1, 4, 3, 16);
  DataSpec spec = plain_spec(4, 1);
  spec.train_subset = 12;
  spec.seed = 3;
  Normalizer norm(ds, spec);
  Batcher b(ds, norm, spec, 4, true);
  CHECK(b.images() == 12);
  CHECK(b.batches_per_epoch() == 3);
  const auto subset = training_subset(ds, 12, 3);
  for (int e = 0; e < 3; ++e) {
    std::vector<uint32_t> seen;
    std::vector<int> per_class(3, 0);
    for (int i = 0; i < 3; ++i) {
      Batch batch = take(b);
      for (int j = 0; j < 4; ++j) {
        seen.push_back(uint32_t(identify(ds, batch, j, 4)));
        per_class[batch.labels[j]]++;
      }
    }
    std::sort(seen.begin(), seen.end());
    CHECK(seen == subset);
    CHECK(per_class == std::vector<int>{4, 4, 4});
  }
}

TEST_CASE("batcher: same seed same batches, other seed other batches, prefetch changes nothing") {
  Dataset ds = random_dataset(40, 3, 6, 4, 17);
  auto stream = [&](uint64_t seed, int prefetch) {
    DataSpec spec = plain_spec(8, prefetch);
    spec.normalize = "mean_image";
    spec.crop_pad = 2;
    spec.flip = true;
    spec.seed = seed;
    Normalizer norm(ds, spec);
    Batcher b(ds, norm, spec, 8, true);
    return take(b, 12);  // 2.4 epochs
  };
  const auto a = stream(1, 0);
  CHECK(stream(1, 0) == a);
  CHECK(stream(1, 1) == a);
  CHECK(stream(1, 4) == a);
  const auto other = stream(2, 0);
  for (size_t k = 0; k < a.size(); ++k) CHECK(other[k].x != a[k].x);
}

TEST_CASE("batcher: seeking to a saved cursor replays the uninterrupted stream exactly") {
  Dataset ds = random_dataset(30, 3, 6, 3, 18);
  DataSpec spec = plain_spec(8, 0);
  spec.normalize = "channel";
  spec.crop_pad = 2;
  spec.flip = true;
  spec.train_subset = 27;
  spec.seed = 42;
  Normalizer norm(ds, spec);
  Batcher whole(ds, norm, spec, 4, true);  // 6 batches per epoch
  const auto uninterrupted = take(whole, 20);

  for (int prefetch : {0, 1, 2}) {
    CAPTURE(prefetch);
    spec.prefetch = prefetch;
    for (int stop : {1, 5, 6, 13}) {
      CAPTURE(stop);
      // The first run stops after `stop` batches and saves its cursor.
      int64_t epoch, index;
      {
        Batcher first(ds, norm, spec, 4, true);
        auto done = take(first, stop);
        CHECK(done.back() == uninterrupted[stop - 1]);
        epoch = first.epoch();
        index = first.index();
      }
      // A fresh batcher resumes from it.
      Batcher resumed(ds, norm, spec, 4, true);
      resumed.seek(epoch, index);
      for (int k = stop; k < 20; ++k) CHECK(take(resumed) == uninterrupted[k]);
    }
    // Seeking back and forth on a running batcher (discarding prefetched batches) works too.
    Batcher b(ds, norm, spec, 4, true);
    take(b, 3);
    b.seek(1, 4);
    CHECK(take(b) == uninterrupted[10]);
    b.seek(0, 0);
    CHECK(take(b, 2) == std::vector<Batch>(uninterrupted.begin(), uninterrupted.begin() + 2));
    b.seek(3, 1);
    CHECK(take(b) == uninterrupted[19]);
  }
}

TEST_CASE("batcher: buffers are reused, nothing is reallocated in the steady state") {
  Dataset ds = random_dataset(20, 1, 4, 2, 19);
  for (int prefetch : {0, 2}) {
    DataSpec spec = plain_spec(4, prefetch);
    spec.crop_pad = 1;
    Normalizer norm(ds, spec);
    Batcher b(ds, norm, spec, 6, true);
    Tensor x;
    std::vector<int32_t> labels;
    b.next(x, labels);
    const float* data = x.data();
    const int32_t* label_data = labels.data();
    for (int k = 0; k < 10; ++k) {
      b.next(x, labels);
      CHECK(x.data() == data);
      CHECK(labels.data() == label_data);
    }
  }
}

TEST_CASE("batcher: bad arguments, cursors and a changed data set are errors, also from the worker") {
  Dataset ds = random_dataset(10, 1, 4, 2, 20);
  DataSpec spec = plain_spec(4, 0);
  Normalizer norm(ds, spec);
  CHECK_MESSAGE_HAS(data_error_of([&] { Batcher(ds, norm, spec, 11, true); }),
                    "batch size 11 exceeds the 10 training images of t train");
  CHECK_MESSAGE_HAS(data_error_of([&] { Batcher(ds, norm, spec, 0, false); }), "batch size must be at least 1");
  Dataset other = random_dataset(10, 3, 4, 2, 21);
  CHECK_MESSAGE_HAS(data_error_of([&] { Batcher(other, norm, spec, 2, false); }),
                    "images are 3x4x4 but the normaliser was fitted on 1x4x4");
  Batcher b(ds, norm, spec, 3, true);
  CHECK_MESSAGE_HAS(data_error_of([&] { b.seek(0, 3); }), "data cursor (epoch 0, batch 3) is outside");
  CHECK_MESSAGE_HAS(data_error_of([&] { b.seek(-1, 0); }), "data cursor (epoch -1, batch 0) is outside");

  for (int prefetch : {0, 1}) {
    CAPTURE(prefetch);
    Dataset changing = random_dataset(10, 1, 4, 2, 22);
    spec.prefetch = prefetch;
    Batcher c(changing, norm, spec, 3, true);
    changing.labels.pop_back();  // before the first next(): the worker has not started yet
    changing.images.resize(9 * 16);
    Tensor x;
    std::vector<int32_t> labels;
    CHECK_MESSAGE_HAS(data_error_of([&] { c.next(x, labels); }), "t train: the data set changed after its Batcher was made");
    CHECK_MESSAGE_HAS(data_error_of([&] { c.next(x, labels); }), "changed");  // and stays failed
  }
}
