// PReLU forward (Eq. 1) and backward (Eq. 2-3, and ∂E/∂x).
// Shapes: x, y, dy, dx C × N × H × W; channel c's N·H·W values are contiguous; a is [C] or [1].
#include "layers/prelu.h"

#include "core/error.h"
#include "core/rectifier.h"
#include "core/thread_pool.h"

namespace delve {

PReLU::PReLU(std::string name, bool channel_shared, float init_slope)
    : Layer(std::move(name)), shared_(channel_shared), init_slope_(init_slope) {}

void PReLU::declare(const Shape& in, ParamRegistry& reg) {
  if (in.c <= 0) throw ShapeError(name_ + ": input has no channels");
  channels_ = in.c;
  channel_sums_.assign(size_t(channels_), 0.0);
  slope_ = reg.declare(name_ + ".weight", {shared_ ? 1 : channels_}, ParamRole::Slope, init_slope_,
                       /*lr_mult=*/1.f, /*decay_mult=*/0.f);  // §2.1: no weight decay on a
}

std::optional<double> PReLU::rectifier_gain() const {
  if (!slope_ || slope_->w.data() == nullptr) return 0.5 * (1.0 + double(init_slope_) * init_slope_);
  double sum2 = 0;
  for (size_t i = 0; i < slope_->count(); ++i) sum2 += double(slope_->w[i]) * slope_->w[i];
  return 0.5 * (1.0 + sum2 / double(slope_->count()));  // Eq. 15: ½(1+a²)
}

Shape PReLU::reshape(const Shape& in) {
  if (in.c != channels_)
    throw ShapeError(name_ + ": input has " + std::to_string(in.c) + " channels, the layer was declared for " +
                     std::to_string(channels_));
  return in;
}

void PReLU::forward(const Tensor& x, Tensor& y, Mode /*mode*/) {
  if (!(x.shape() == y.shape()) || x.shape().c != channels_)
    throw ShapeError(name_ + ": forward " + x.shape().str() + " -> " + y.shape().str());
  const Rectifier f = *fusable_rectifier();
  const size_t m = x.shape().per_channel();
  ThreadPool::instance().run(channels_, [&](int c, int) {  // channels are independent
    rectify(f, c, x.channel(c), m, y.channel(c));           // Eq. 1
  });
}

void PReLU::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor* dx) {
  if (!(x.shape() == dy.shape()) || x.shape().c != channels_ || (dx && !(dx->shape() == x.shape())))
    throw ShapeError(name_ + ": backward shapes differ: x " + x.shape().str() + ", dy " + dy.shape().str());
  const Rectifier f = *fusable_rectifier();
  const size_t m = x.shape().per_channel();
  // Channels are independent; each one's Σ goes to channel_sums_ and is added in channel order
  // afterwards, so the result does not depend on how the channels were spread over threads.
  ThreadPool::instance().run(channels_, [&](int c, int) {
    // Eq. 2-3: ∂E/∂a_c = Σ_i ∂E/∂f(x_i) · (x_i if x_i ≤ 0 else 0); ∂f/∂x: 1 or a
    channel_sums_[size_t(c)] = rectify_grad(f, c, dy.channel(c), x.channel(c), m, dx ? dx->channel(c) : nullptr);
  });
  add_slope_sums(channel_sums_.data());
}

void PReLU::add_slope_sums(const double* channel_sums) {
  float* da = slope_->dw.data();
  if (!shared_) {
    for (int c = 0; c < channels_; ++c) da[c] += float(channel_sums[c]);
    return;
  }
  double sum = 0.0;  // channel-shared: the sum over all channels too, in channel order
  for (int c = 0; c < channels_; ++c) sum += channel_sums[c];
  da[0] += float(sum);
}

}  // namespace delve
