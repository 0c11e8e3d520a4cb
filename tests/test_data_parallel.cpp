// optim/data_parallel: the shards of a global batch (the remainder, channel-major slicing), the
// weights that turn shard means into the global mean, and the dropout streams. No MPI needed: a
// fake communicator plays one rank of P and sums as if the other ranks held given values.
#include <doctest/doctest.h>

#include <numeric>
#include <vector>

#include "core/error.h"
#include "optim/data_parallel.h"
#include "tests/float_bounds.h"

using namespace delve;
using namespace delve::test;

namespace {

// Rank `r` of `p`; allreduce adds `others` (what the other ranks contribute, element-wise).
struct FakeRanks final : Communicator {
  FakeRanks(int r, int p) : r_(r), p_(p) {}
  int rank() const override { return r_; }
  int size() const override { return p_; }
  int local_size() const override { return p_; }
  void allreduce_sum(float* d, size_t n) override {
    for (size_t i = 0; i < n && i < others.size(); ++i) d[i] += float(others[i]);
  }
  void allreduce_sum(double* d, size_t n) override {
    for (size_t i = 0; i < n && i < others.size(); ++i) d[i] += others[i];
  }
  bool any(bool flag) override { return flag; }
  void barrier() override {}
  [[noreturn]] void abort(int) override { throw Error("abort"); }
  std::string describe() const override { return "fake"; }
  std::vector<double> others;
  int r_, p_;
};

}  // namespace

TEST_CASE("data parallel: shards cover the batch once, the first B mod P ranks take one more image") {
  for (int p : {1, 2, 3, 5, 8})
    for (int b : {8, 13, 16, 21}) {
      if (b < p) continue;
      int next = 0;
      for (int r = 0; r < p; ++r) {
        FakeRanks ranks(r, p);
        DataParallel dp(ranks, b);
        CHECK(dp.shard_begin() == next);
        CHECK(dp.shard_images() == b / p + (r < b % p ? 1 : 0));
        next += dp.shard_images();
      }
      CHECK(next == b);
    }
  FakeRanks four(0, 4);
  CHECK_THROWS_AS(DataParallel(four, 3), UsageError);
}

TEST_CASE("data parallel: a shard is the same images of every channel, in the channel-major layout") {
  Tensor x(Shape{5, 2, 2, 3});  // N=5, C=2, 2×3 images
  std::iota(x.data(), x.data() + x.size(), 0.f);
  std::vector<int32_t> labels{10, 11, 12, 13, 14};
  FakeRanks r1(1, 2);  // 5 = 3 + 2: rank 1 takes images 3 and 4
  DataParallel dp(r1, 5);
  const Tensor& s = dp.shard(x);
  REQUIRE(s.shape() == Shape{2, 2, 2, 3});
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 2; ++c)
      for (int h = 0; h < 2; ++h)
        for (int w = 0; w < 3; ++w) CHECK(s.at(n, c, h, w) == x.at(3 + n, c, h, w));
  CHECK(dp.shard_labels(labels)[0] == 13);

  SingleProcess one;
  DataParallel whole(one, 5);
  CHECK(&whole.shard(x) == &x);  // one rank: no copy
}

TEST_CASE("data parallel: shard means weighted n_r/B give the global-batch mean, for the loss and gradients") {
  // B = 5 over 2 ranks: rank 0 holds 3 images with mean gradient 1.0, rank 1 two with mean 6.0:
  // the global mean is (3·1 + 2·6)/5 = 3, not the plain average 3.5.
  FakeRanks r0(0, 2);
  DataParallel dp(r0, 5);
  Tensor g(Shape{1, 1, 1, 4});
  g.fill(1.f);
  r0.others = {2.0 / 5 * 6, 2.0 / 5 * 6, 2.0 / 5 * 6, 2.0 / 5 * 6};  // rank 1's contribution, already weighted
  dp.average_gradients(g);
  // In float: the weight 3/5 rounds, the product, the sum with rank 1's share and its conversion:
  // at most 4 roundings on a path, all terms positive (M = 3; tests/float_bounds.h).
  for (size_t i = 0; i < g.size(); ++i) CHECK(within_rounding(g[i], 3.0, 3.0, 4));

  r0.others = {2 * 6.0, 4};  // rank 1: loss sum over its images, its error count
  float loss = 1.f;
  int errors = 1;
  dp.reduce_loss(loss, errors);
  CHECK(within_rounding(loss, 3.0, 3.0, 4));  // (1·3 + 12)/5 with the same roundings
  CHECK(errors == 5);
}

TEST_CASE("data parallel: each rank draws its own dropout stream, the shared generator advances alike") {
  Rng a(7), b(7);
  FakeRanks r0(0, 2), r1(1, 2);
  DataParallel d0(r0, 4), d1(r1, 4);
  d0.use_rank_stream(a);
  d1.use_rank_stream(b);
  CHECK(a.next_u64() != b.next_u64());  // different masks on different ranks
  d0.restore_shared_stream(a);
  d1.restore_shared_stream(b);
  CHECK(a == b);  // and the same generator state to save in a checkpoint

  Rng single(7), untouched(7);
  SingleProcess one;
  DataParallel alone(one, 4);
  alone.use_rank_stream(single);
  alone.restore_shared_stream(single);
  CHECK(single == untouched);  // one process trains exactly as before
}
