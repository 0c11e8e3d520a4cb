#include "data/normalizer.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "data/subset.h"

namespace delve {

Normalizer::Normalizer(const Dataset& train, const DataSpec& spec)
    : c_(train.c), h_(train.h), w_(train.w), p_(spec.pad_to), method_(spec.normalize) {
  if (method_ != "none" && method_ != "mean_image" && method_ != "channel")
    throw DataError("data.normalize must be \"mean_image\", \"channel\" or \"none\", not \"" + method_ + "\"");
  if (p_ < h_ || p_ < w_)
    throw DataError("data.pad_to " + std::to_string(p_) + " is smaller than the " + std::to_string(h_) + "x" +
                    std::to_string(w_) + " images of " + train.name + " (pad_to only pads; set it to at least " +
                    std::to_string(std::max(h_, w_)) + ")");
  if (p_ > 4096) throw DataError("data.pad_to " + std::to_string(p_) + " is larger than 4096");
  top_ = (p_ - h_) / 2;
  left_ = (p_ - w_) / 2;

  const size_t plane = size_t(p_) * p_, pixels = size_t(h_) * w_;
  scale_.assign(c_, float(1.0 / 255.0));
  offset_.assign(size_t(c_) * plane, 0.f);
  if (method_ == "none") return;

  // Exact integer sums over the training images; the padding adds zeros to every sum.
  const std::vector<uint32_t> images = training_subset(train, spec.train_subset, spec.seed);
  const double count = double(images.size());
  if (images.empty()) throw DataError("cannot fit data.normalize \"" + method_ + "\" on an empty training split");
  auto canvas_index = [&](int c, size_t p) {
    return size_t(c) * plane + size_t(top_ + int(p / w_)) * p_ + size_t(left_) + p % w_;
  };

  if (method_ == "mean_image") {
    std::vector<uint64_t> sum(train.image_bytes(), 0);
    for (uint32_t i : images) {
      const uint8_t* x = train.image(i);
      for (size_t k = 0; k < sum.size(); ++k) sum[k] += x[k];
    }
    mean_image_.assign(size_t(c_) * plane, 0.0);
    for (int c = 0; c < c_; ++c)
      for (size_t p = 0; p < pixels; ++p) mean_image_[canvas_index(c, p)] = double(sum[c * pixels + p]) / count;
    for (size_t k = 0; k < offset_.size(); ++k) offset_[k] = float(-mean_image_[k] / 255.0);
    return;
  }

  // channel
  std::vector<uint64_t> sum(c_, 0), sum_sq(c_, 0);
  for (uint32_t i : images) {
    const uint8_t* x = train.image(i);
    for (int c = 0; c < c_; ++c) {
      uint64_t s = 0, s2 = 0;
      for (size_t p = 0; p < pixels; ++p) {
        const uint32_t v = x[c * pixels + p];
        s += v;
        s2 += v * v;
      }
      sum[c] += s;
      sum_sq[c] += s2;
    }
  }
  const double n = count * double(plane);
  channel_mean_.resize(c_);
  channel_std_.resize(c_);
  for (int c = 0; c < c_; ++c) {
    const double mean = double(sum[c]) / n;
    const double var = std::max(0.0, double(sum_sq[c]) / n - mean * mean);
    channel_mean_[c] = mean;
    channel_std_[c] = std::sqrt(var) < 1e-6 ? 1.0 : std::sqrt(var);
    scale_[c] = float(1.0 / channel_std_[c]);
    std::fill(offset_.begin() + c * plane, offset_.begin() + (c + 1) * plane, float(-mean / channel_std_[c]));
  }
}

void Normalizer::apply(const uint8_t* image, float* canvas) const {
  // The whole canvas starts as the offsets (the padding's value), then the image rows add
  // x·scale. __restrict matters: a uint8_t pointer may alias anything, and without it GCC does
  // not vectorise the row loop.
  const size_t P = size_t(p_);
  std::memcpy(canvas, offset_.data(), offset_.size() * sizeof(float));
  for (int c = 0; c < c_; ++c) {
    const float s = scale_[c];
    for (int y = 0; y < h_; ++y) {
      const uint8_t* __restrict src = image + (size_t(c) * h_ + y) * w_;
      float* __restrict out = canvas + (size_t(c) * P + size_t(top_ + y)) * P + left_;
      for (int x = 0; x < w_; ++x) out[x] += float(src[x]) * s;
    }
  }
}

}  // namespace delve
