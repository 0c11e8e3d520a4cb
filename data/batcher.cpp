#include "data/batcher.h"

#include <algorithm>

#include "core/error.h"
#include "core/rng.h"
#include "data/seed_mix.h"
#include "data/subset.h"

namespace delve {

Batcher::Batcher(const Dataset& ds, const Normalizer& norm, const DataSpec& spec, int batch, bool train)
    : ds_(ds),
      norm_(norm),
      train_(train),
      batch_(batch),
      crop_pad_(train ? spec.crop_pad : 0),
      flip_(train && spec.flip),
      seed_(spec.seed),
      data_bytes_(ds.images.size()),
      data_labels_(ds.labels.size()) {
  const std::string what = ds.name + " " + ds.split;
  if (ds.c != norm.channels() || ds.h != norm.image_h() || ds.w != norm.image_w())
    throw DataError(what + ": images are " + std::to_string(ds.c) + "x" + std::to_string(ds.h) + "x" +
                    std::to_string(ds.w) + " but the normaliser was fitted on " + std::to_string(norm.channels()) +
                    "x" + std::to_string(norm.image_h()) + "x" + std::to_string(norm.image_w()));
  if (batch < 1) throw DataError("batch size must be at least 1, not " + std::to_string(batch));
  if (spec.crop_pad < 0 || spec.crop_pad > norm.canvas_size())
    throw DataError("data.crop_pad must be 0.." + std::to_string(norm.canvas_size()) + ", not " +
                    std::to_string(spec.crop_pad));
  if (spec.prefetch < 0 || spec.prefetch > 64)
    throw DataError("data.prefetch must be 0..64, not " + std::to_string(spec.prefetch));
  if (train) {
    order_ = training_subset(ds, spec.train_subset, spec.seed);
    batches_ = order_.size() / size_t(batch);
    if (batches_ == 0)
      throw DataError("batch size " + std::to_string(batch) + " exceeds the " + std::to_string(order_.size()) +
                      " training images of " + what + "; lower train.batch");
    permutation_.resize(order_.size());
  } else {
    order_.resize(ds.size());
    for (size_t i = 0; i < order_.size(); ++i) order_[i] = uint32_t(i);
    batches_ = (order_.size() + size_t(batch) - 1) / size_t(batch);
  }
  canvas_.resize(size_t(norm.channels()) * norm.canvas_size() * norm.canvas_size());
  slots_.resize(size_t(spec.prefetch));
}

Batcher::~Batcher() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

void Batcher::advance(int64_t& epoch, int64_t& index) const {
  ++index;
  if (train_ && size_t(index) == batches_) {
    ++epoch;
    index = 0;
  }
}

void Batcher::seek(int64_t epoch, int64_t index) {
  const size_t limit = train_ ? batches_ - 1 : batches_;
  if (epoch < 0 || index < 0 || size_t(index) > limit)
    throw DataError("data cursor (epoch " + std::to_string(epoch) + ", batch " + std::to_string(index) +
                    ") is outside this " + (train_ ? "training" : "evaluation") + " stream of " +
                    std::to_string(batches_) + " batches per epoch");
  epoch_ = epoch;
  index_ = index;
  if (!worker_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    ++generation_;
    filled_ = 0;
    halted_ = false;
    produce_epoch_ = epoch;
    produce_index_ = index;
  }
  changed_.notify_all();
}

Augmentation Batcher::augmentation(int64_t epoch, int64_t index, int j) const {
  Rng rng(seed_mix(seed_, kAugmentation, epoch, index));
  Augmentation a = draw_augmentation(rng, crop_pad_, flip_);
  for (int k = 0; k < j; ++k) a = draw_augmentation(rng, crop_pad_, flip_);
  return a;
}

void Batcher::produce(int64_t epoch, int64_t index, Tensor& x, std::vector<int32_t>& labels) {
  if (ds_.images.size() != data_bytes_ || ds_.labels.size() != data_labels_)
    throw DataError(ds_.name + " " + ds_.split + ": the data set changed after its Batcher was made");
  const size_t first = size_t(index) * batch_;
  const int n = int(std::min<size_t>(batch_, order_.size() - first));
  const uint32_t* images = order_.data() + first;
  if (train_) {
    if (permutation_epoch_ != epoch) {
      std::copy(order_.begin(), order_.end(), permutation_.begin());
      Rng rng(seed_mix(seed_, kEpochShuffle, epoch));
      for (size_t i = permutation_.size(); i > 1; --i) std::swap(permutation_[i - 1], permutation_[rng.below(i)]);
      permutation_epoch_ = epoch;
    }
    images = permutation_.data() + first;
  }
  const int C = norm_.channels(), P = norm_.canvas_size();
  x.resize(Shape{n, C, P, P});
  labels.resize(size_t(n));
  const size_t plane = size_t(P) * P, channel_stride = size_t(n) * plane;
  Rng rng(seed_mix(seed_, kAugmentation, epoch, index));
  for (int j = 0; j < n; ++j) {
    const uint32_t i = images[j];
    norm_.apply(ds_.image(i), canvas_.data());
    const Augmentation a = train_ ? draw_augmentation(rng, crop_pad_, flip_) : no_augmentation(0);
    write_augmented(canvas_.data(), C, P, crop_pad_, a, x.data() + j * plane, channel_stride);
    labels[j] = ds_.labels[i];
  }
}

bool Batcher::next(Tensor& x, std::vector<int32_t>& labels, int64_t* epoch, int64_t* index) {
  if (slots_.empty()) {  // no prefetch: build the batch right here, into the caller's buffers
    if (at_end(index_)) return false;
    produce(epoch_, index_, x, labels);
  } else {
    if (!worker_.joinable()) start_worker();
    Slot* slot;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return filled_ > 0; });
      slot = &slots_[head_];
    }
    // The worker never writes a filled slot, so it can be read without the lock.
    if (slot->error) std::rethrow_exception(slot->error);
    if (slot->end) return false;
    x.copy_from(slot->x);
    labels.assign(slot->labels.begin(), slot->labels.end());
    epoch_ = slot->epoch;  // equal to the cursor already; the slot is the authority
    index_ = slot->index;
    {
      std::lock_guard lock(mutex_);
      head_ = (head_ + 1) % slots_.size();
      --filled_;
    }
    changed_.notify_all();
  }
  if (epoch) *epoch = epoch_;
  if (index) *index = index_;
  advance(epoch_, index_);
  return true;
}

void Batcher::start_worker() {
  produce_epoch_ = epoch_;
  produce_index_ = index_;
  worker_ = std::thread([this] { worker_loop(); });
}

void Batcher::worker_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stop_ || (!halted_ && filled_ < slots_.size()); });
    if (stop_) return;
    const int64_t epoch = produce_epoch_, index = produce_index_;
    const uint64_t generation = generation_;
    Slot& slot = slots_[(head_ + filled_) % slots_.size()];
    lock.unlock();

    slot.epoch = epoch;
    slot.index = index;
    slot.end = at_end(index);
    slot.error = nullptr;
    if (!slot.end) {
      try {
        produce(epoch, index, slot.x, slot.labels);
      } catch (...) {
        slot.error = std::current_exception();
      }
    }

    lock.lock();
    if (generation != generation_) continue;  // a seek() made this batch obsolete
    ++filled_;
    if (slot.end || slot.error) halted_ = true;
    else advance(produce_epoch_, produce_index_);
    changed_.notify_all();
  }
}

}  // namespace delve
