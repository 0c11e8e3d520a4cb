#include "optim/data_parallel.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>

#include "core/error.h"

namespace delve {

DataParallel::DataParallel(Communicator& comm, int batch) : comm_(comm), batch_(batch) {
  const int p = comm.size(), r = comm.rank();
  if (batch < p)
    throw UsageError("train.batch " + std::to_string(batch) + " is smaller than the " + std::to_string(p) +
                     " ranks: every rank needs at least one image of each batch");
  const int base = batch / p, extra = batch % p;
  count_ = base + (r < extra ? 1 : 0);
  begin_ = r * base + std::min(r, extra);
}

const Tensor& DataParallel::shard(const Tensor& x) {
  if (count_ == x.shape().n) return x;
  const Shape& s = x.shape();
  shard_.resize(Shape{count_, s.c, s.h, s.w});
  const size_t image = size_t(s.h) * s.w;
  for (int c = 0; c < s.c; ++c)
    std::memcpy(shard_.channel(c), x.channel(c) + size_t(begin_) * image, size_t(count_) * image * sizeof(float));
  return shard_;
}

void DataParallel::reduce_loss(float& loss, int& errors) {
  if (ranks() == 1) return;
  double sums[2] = {double(loss) * count_, double(errors)};
  comm_.allreduce_sum(sums, 2);
  loss = float(sums[0] / batch_);
  errors = int(sums[1]);
}

void DataParallel::average_gradients(Tensor& grads) {
  if (ranks() == 1) return;
  const auto t0 = std::chrono::steady_clock::now();
  const float weight = float(count_) / float(batch_);  // n_r / B
  float* g = grads.data();
  const size_t n = grads.size();
  for (size_t i = 0; i < n; ++i) g[i] *= weight;
  comm_.allreduce_sum(g, n);
  allreduce_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void DataParallel::use_rank_stream(Rng& rng) {
  if (ranks() == 1) return;
  shared_ = rng;
  // seed_with() runs the seed through splitmix64, so distinct ranks give unrelated streams.
  rng.seed_with(rng.next_u64() ^ (0x9e3779b97f4a7c15ULL * uint64_t(comm_.rank() + 1)));
}

void DataParallel::restore_shared_stream(Rng& rng) {
  if (ranks() == 1) return;
  rng = shared_;
  rng.next_u64();  // the one draw use_rank_stream() took, taken on every rank alike
}

}  // namespace delve
