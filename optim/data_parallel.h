// Data-parallel SGD over the ranks of a Communicator (optim/communicator.h).
//
// Every rank draws the SAME global batch of B images from the deterministic batcher (a batch
// depends only on seed, epoch and index: data/batcher.h) and trains on its own shard of it:
//   rank r of P takes images [begin_r, begin_r + n_r), n_r = ⌊B/P⌋ + (r < B mod P ? 1 : 0),
// so shards differ by at most one image when P does not divide B (the first B mod P ranks take
// one more). Its loss and gradients are means over its n_r images; the global-batch mean is
//   g = Σ_r (n_r / B) · g_r,
// which average_gradients() forms with ONE MPI_Allreduce (sum) over the Net's flat gradient
// arena after scaling by n_r / B. With equal shards that is the plain average over the ranks;
// with unequal ones the weights keep it the exact global mean, so the remainder costs nothing
// in correctness (only the rank with the extra image works slightly longer).
// Every rank then applies the same SGD step to the same weights, so the weights stay identical on
// every rank without ever being sent (MPI hands every rank the same reduced sum).
//
// With one rank every method is the identity and shard() returns the batch itself, so a single
// process trains exactly as it did before data parallelism existed.
#pragma once
#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "optim/communicator.h"

namespace delve {

class DataParallel {
 public:
  // UsageError when the batch has fewer images than there are ranks.
  DataParallel(Communicator& comm, int batch);

  Communicator& comm() { return comm_; }
  int ranks() const { return comm_.size(); }
  int shard_begin() const { return begin_; }
  int shard_images() const { return count_; }

  // This rank's images of the global batch x (C × B × H × W, channel-major: each channel's
  // block of B images is cut at the same place), or x itself with one rank.
  const Tensor& shard(const Tensor& x);
  // This rank's labels of the global batch's B labels.
  const int32_t* shard_labels(const std::vector<int32_t>& labels) const { return labels.data() + begin_; }

  // loss (mean over this shard) and errors (count in this shard) become the global batch's
  // mean loss and error count, on every rank: the logged figures are those of the global batch.
  void reduce_loss(float& loss, int& errors);
  // grads (the mean over this shard) becomes the mean over the global batch on every rank.
  void average_gradients(Tensor& grads);
  // Wall time spent in average_gradients since construction (the communication cost per step).
  double allreduce_seconds() const { return allreduce_seconds_; }

  // Dropout under several ranks: each rank must draw its own masks (with one shared generator,
  // image j of every shard would get the same mask), yet the generator saved in checkpoints
  // must stay the same on every rank. use_rank_stream() switches rng to a stream of its own for
  // this rank and step; restore_shared_stream() puts back the shared state, advanced by one
  // draw on every rank alike. Call them around forward/backward; no-ops with one rank.
  void use_rank_stream(Rng& rng);
  void restore_shared_stream(Rng& rng);

 private:
  Communicator& comm_;
  int batch_, begin_ = 0, count_ = 0;
  Tensor shard_;
  Rng shared_;
  double allreduce_seconds_ = 0;
};

}  // namespace delve
