// Hands the trainer float batches: shuffled, padded, augmented and normalised, optionally
// prepared on a background thread while the caller trains on the previous batch.
//
// Output: x is N × C × P × P CHANNEL-MAJOR (core/tensor.h; P = spec.pad_to), labels has N entries.
// Train mode: an endless stream of epochs over the training images (data/subset.h); each epoch is
//   a fresh seeded permutation, cut into batches_per_epoch() full batches (the last partial batch
//   is dropped); random crop/flip per spec (data/augment.h). next() always returns true.
// Eval mode: one pass in data-set order, every image once, the final batch possibly smaller, no
//   augmentation; next() returns false at the end until seek() (seek(0, 0) restarts).
//
// Cursor and determinism: batch i of epoch e depends ONLY on (spec.seed, e, i): the permutation
// of epoch e comes from Rng(seed_mix(seed, kEpochShuffle, e)), the augmentation of batch (e, i)
// from Rng(seed_mix(seed, kAugmentation, e, i)). A run that saves the cursor (epoch(), index())
// and later seek()s to it gets exactly the batches an uninterrupted run would have had.
//
// Prefetch (spec.prefetch = depth > 0): a worker thread fills up to `depth` batches ahead
// (ring buffer, condition variable); next() copies a ready batch out. seek() discards prepared
// batches; an exception in the worker is rethrown by next(); the destructor stops the thread.
// The worker starts at the first next(), so a seek() right after construction wastes nothing.
// Steady state allocates nothing: every buffer keeps its first-batch capacity.
//
// The Dataset must outlive the Batcher and stay unchanged (checked on every batch).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/tensor.h"
#include "data/augment.h"
#include "data/data_spec.h"
#include "data/dataset.h"
#include "data/normalizer.h"

namespace delve {

class Batcher {
 public:
  // Uses spec.seed, train_subset, crop_pad, flip, prefetch (pad_to and normalize via norm).
  // DataError when the geometry of ds differs from norm's, batch < 1, or (train) batch exceeds
  // the training images.
  Batcher(const Dataset& ds, const Normalizer& norm, const DataSpec& spec, int batch, bool train);
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  size_t batches_per_epoch() const { return batches_; }
  size_t images() const { return order_.size(); }  // images per epoch (train: the subset)
  int batch_size() const { return batch_; }
  bool train() const { return train_; }

  // The cursor of the batch next() returns next. Train: index < batches_per_epoch(); eval:
  // index <= batches_per_epoch() (equal = the pass is over). DataError otherwise.
  void seek(int64_t epoch, int64_t index);
  int64_t epoch() const { return epoch_; }
  int64_t index() const { return index_; }

  // Fills x and labels with the batch at the cursor, reports that cursor in *epoch, *index, and
  // advances. Returns false (touching nothing) only in eval mode at the end of the pass.
  bool next(Tensor& x, std::vector<int32_t>& labels, int64_t* epoch = nullptr, int64_t* index = nullptr);

  // The crop/flip of image j of batch (epoch, index) (identity in eval mode); for tests and
  // for inspecting what a run saw.
  Augmentation augmentation(int64_t epoch, int64_t index, int j) const;

 private:
  struct Slot {
    Tensor x;
    std::vector<int32_t> labels;
    int64_t epoch = 0, index = 0;
    bool end = false;
    std::exception_ptr error;
  };

  void advance(int64_t& epoch, int64_t& index) const;
  bool at_end(int64_t index) const { return !train_ && size_t(index) >= batches_; }
  // Builds batch (epoch, index) into x and labels: the only code that touches the images. Runs on
  // the caller's thread without prefetch and on the worker's with it, never on both.
  void produce(int64_t epoch, int64_t index, Tensor& x, std::vector<int32_t>& labels);
  void start_worker();
  void worker_loop();

  const Dataset& ds_;
  const Normalizer norm_;
  const bool train_;
  const int batch_, crop_pad_;
  const bool flip_;
  const uint64_t seed_;
  const size_t data_bytes_, data_labels_;  // the data set's sizes at construction
  std::vector<uint32_t> order_;            // the images of one epoch, ascending
  size_t batches_ = 0;

  // Producer state (see produce()).
  std::vector<uint32_t> permutation_;
  int64_t permutation_epoch_ = -1;
  std::vector<float> canvas_;

  // Consumer cursor.
  int64_t epoch_ = 0, index_ = 0;

  // Prefetch: slots_[head_ .. head_+filled_) (mod depth) are ready, in stream order.
  std::vector<Slot> slots_;
  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable changed_;
  size_t head_ = 0, filled_ = 0;
  int64_t produce_epoch_ = 0, produce_index_ = 0;  // the worker's next batch
  uint64_t generation_ = 0;                        // bumped by seek(): work of older generations is discarded
  bool halted_ = false;                            // the worker produced the end or an error; waits for seek()
  bool stop_ = false;
};

}  // namespace delve
