// Turns an image's raw bytes into the floats the network sees, with statistics fitted ONCE on the
// training images and reused unchanged for test images.
//
// Canvas: an H×W image sits on a P×P canvas (P = spec.pad_to ≥ H, W) at top = (P−H)/2,
// left = (P−W)/2 (an odd margin puts the extra row/column at the bottom/right); the rest of the
// canvas is the byte value 0, i.e. zero padding. Fashion-MNIST's 28×28 becomes 32×32 this way.
// Statistics are taken over whole canvases, padding included: the inputs the network sees.
// The "training images" are those the batcher trains on (data/subset.h, spec.train_subset).
//
// Scale: x is the raw byte 0..255; every method is on that scale divided by 255.
//   none:       y = x / 255                                  (y in [0, 1])
//   mean_image: y = (x − m[c,i,j]) / 255                     (m: per-pixel training mean; the paper)
//   channel:    y = (x − m_c) / s_c = (x/255 − m_c/255) / (s_c/255)
//               (m_c, s_c: mean and population standard deviation of channel c over all training
//                canvas pixels; s_c below 1e-6 counts as 1 so a constant channel does not blow up)
// All three are y = x · scale[c] + offset[c,i,j], which apply() evaluates.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/data_spec.h"
#include "data/dataset.h"

namespace delve {

class Normalizer {
 public:
  // Uses spec.pad_to, spec.normalize, spec.train_subset and spec.seed. DataError when pad_to is
  // smaller than the images or the method is unknown.
  Normalizer(const Dataset& train, const DataSpec& spec);

  // Writes the C×P×P canvas of one image (image-major, C planes of P×P) of the fitted geometry.
  void apply(const uint8_t* image, float* canvas) const;

  int channels() const { return c_; }
  int image_h() const { return h_; }
  int image_w() const { return w_; }
  int canvas_size() const { return p_; }  // P
  int top() const { return top_; }
  int left() const { return left_; }
  const std::string& method() const { return method_; }

  // Fitted statistics on the 0..255 scale: mean_image() is C×P×P (mean_image only);
  // channel_mean()/channel_std() have C entries (channel only).
  const std::vector<double>& mean_image() const { return mean_image_; }
  const std::vector<double>& channel_mean() const { return channel_mean_; }
  const std::vector<double>& channel_std() const { return channel_std_; }

 private:
  int c_, h_, w_, p_, top_, left_;
  std::string method_;
  std::vector<double> mean_image_, channel_mean_, channel_std_;
  std::vector<float> scale_;   // C
  std::vector<float> offset_;  // C×P×P
};

}  // namespace delve
