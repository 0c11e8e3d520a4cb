#include "layers/net.h"

#include <algorithm>

#include "core/error.h"
#include "layers/init.h"

namespace delve {

namespace {
// Parameters start on 64-byte boundaries inside the arenas, so every view is as aligned as a Tensor.
constexpr size_t kAlignFloats = 16;
size_t align_up(size_t n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }
}  // namespace

Layer& Net::add(std::unique_ptr<Layer> layer) {
  if (built_) throw ShapeError("cannot add layer '" + layer->name() + "' after the net was built");
  for (auto& l : layers_)
    if (l->name() == layer->name()) throw ShapeError("two layers are named '" + layer->name() + "'");
  layers_.push_back(std::move(layer));
  return *layers_.back();
}

void Net::build(const Shape& input, const InitSpec& init_spec, Rng& rng) {
  if (built_) throw ShapeError("the net is built already");
  if (layers_.empty()) throw ShapeError("the net has no layers");
  input_shape_ = input;
  Shape s = input;
  for (auto& layer : layers_) {
    layer->declare(s, registry_);
    s = layer->reshape(s);
  }
  size_t total = 0;
  for (auto& p : registry_.all()) {
    p->offset = total;
    total += align_up(p->count());
  }
  const Shape arena{1, 1, 1, int(total)};
  values_.resize(arena);
  grads_.resize(arena);
  momentum_.resize(arena);
  for (auto& p : registry_.all()) {
    const Shape ps{1, 1, 1, int(p->count())};
    p->w = Tensor::view(values_.data() + p->offset, ps);
    p->dw = Tensor::view(grads_.data() + p->offset, ps);
    p->v = Tensor::view(momentum_.data() + p->offset, ps);
  }
  acts_.resize(layers_.size());
  built_ = true;
  set_batch(input.n);
  init(init_spec, rng);
}

void Net::init(const InitSpec& init_spec, Rng& rng) {
  values_.zero();
  grads_.zero();
  momentum_.zero();
  // Biases and slopes first: a PReLU's gain at initialisation is that of its initial slope. They
  // draw nothing, so the weights still draw in declaration order.
  for (auto& p : registry_.all())
    if (p->role != ParamRole::Weight) init_param(*p, init_spec, rng);
  for (auto& p : registry_.all()) {
    if (p->role != ParamRole::Weight) continue;
    InitSpec spec = init_spec;
    if (spec.a_from_net()) {
      double gain = 0.5;  // a weight of no conv or fc layer: ReLU's
      for (size_t k = 0; k < layers_.size(); ++k)
        if (layers_[k]->weight() == p.get()) gain = rectifier_gain_at(k, spec.mode == InitSpec::Fan::In);
      spec.a = kaiming_slope_for_gain(gain);
    }
    init_param(*p, spec, rng);
  }
}

double Net::rectifier_gain_at(size_t k, bool before) const {
  // The nearest activation on one side of layer k, not past another weight layer.
  auto nearest = [&](bool back) -> std::optional<double> {
    for (size_t j = k; back ? j-- > 0 : ++j < layers_.size();) {
      if (auto g = layers_[j]->rectifier_gain()) return g;
      if (layers_[j]->weight()) break;
    }
    return std::nullopt;
  };
  if (auto g = nearest(before)) return *g;
  if (auto g = nearest(!before)) return *g;  // the first or last weight layer (§2.2: one factor ½ less does not matter)
  return 0.5;                                // no activation at all: ReLU's, a = 0
}

void Net::set_batch(int n) {
  if (!built_) throw ShapeError("set_batch before build");
  if (n <= 0) throw ShapeError("batch size must be positive, got " + std::to_string(n));
  Shape s = input_shape_;
  s.n = n;
  input_shape_.n = n;
  size_t scratch = 0, largest = s.count();
  for (size_t i = 0; i < layers_.size(); ++i) {
    scratch = std::max(scratch, layers_[i]->scratch_floats(s));
    s = layers_[i]->reshape(s);
    acts_[i].resize(s);
    largest = std::max(largest, s.count());
  }
  // ∂L/∂(activation) buffers: every gradient has the shape of some layer's input or output.
  grad_a_.resize(Shape{1, 1, 1, int(largest)});
  grad_b_.resize(Shape{1, 1, 1, int(largest)});
  if (scratch_.size() < scratch) scratch_.resize(scratch);
  for (auto& layer : layers_) layer->set_scratch(scratch_.data());
  fuses_next_.assign(layers_.size(), 0);
  size_t channels = 0;
  for (size_t i = 0; fusion_ && i + 1 < layers_.size(); ++i) {
    fuses_next_[i] = layers_[i]->fuses_activation() && layers_[i + 1]->fusable_rectifier().has_value();
    if (fuses_next_[i]) channels = std::max(channels, size_t(acts_[i].shape().c));
  }
  slope_sums_.assign(channels, 0.0);
  written_.assign(layers_.size(), 0);
}

void Net::set_keep_preactivations(bool keep) { keep_preactivations_ = keep; }

void Net::set_fusion(bool on) {
  fusion_ = on;
  if (built_) set_batch(input_shape_.n);
}

const Tensor& Net::forward(const Tensor& x, Mode mode) {
  const Shape& in = x.shape();
  if (in.c != input_shape_.c || in.h != input_shape_.h || in.w != input_shape_.w)
    throw ShapeError("net expects input " + std::to_string(input_shape_.c) + "x" + std::to_string(input_shape_.h) +
                     "x" + std::to_string(input_shape_.w) + " per image, got " + in.str());
  if (in.n != input_shape_.n) set_batch(in.n);
  last_input_ = &x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Tensor& in = i == 0 ? x : acts_[i - 1];
    written_[i] = 1;
    if (fuses_next_[i]) {  // writes the activation's output too, and the activation is skipped
      const Rectifier f = *layers_[i + 1]->fusable_rectifier();
      // y is read after a training pass by statistics and by a PReLU's slope gradient; a ReLU's
      // derivative reads the sign of max(0, y) as well (y > 0 exactly where max(0, y) > 0).
      written_[i] = mode == Mode::Train && (keep_preactivations_ || f.learned());
      layers_[i]->forward_fused(in, acts_[i], f, acts_[i + 1], mode, written_[i]);
      written_[i + 1] = 1;
      ++i;
    } else {
      layers_[i]->forward(in, acts_[i], mode);
    }
  }
  return acts_.back();
}

void Net::backward(const Tensor& dlogits, const GradObserver& observer) {
  if (last_input_ == nullptr) throw ShapeError("backward called before forward");
  if (dlogits.shape() != acts_.back().shape())
    throw ShapeError("dlogits " + dlogits.shape().str() + " does not match the output " + acts_.back().shape().str());
  const Tensor* dy = &dlogits;
  for (size_t k = layers_.size(); k-- > 0;) {
    // An activation taken over by the layer before it is back-propagated by that layer's
    // backward_fused, unless an observer wants the activation's own ∂L/∂x.
    const bool fused = !observer && k > 0 && fuses_next_[k - 1];
    if (fused) --k;
    // An unwritten input is a fused conv's y, and layer k its ReLU: the ReLU's own output has the
    // same signs (set_keep_preactivations).
    const Tensor& x = k == 0 ? *last_input_ : written_[k - 1] ? acts_[k - 1] : acts_[k];
    const bool want_dx = k > 0 || observer;
    Tensor* dx = dy == &grad_a_ ? &grad_b_ : &grad_a_;
    dx->resize(x.shape());
    if (fused)
      backward_fused_pair(k, x, *dy, want_dx ? dx : nullptr);
    else
      layers_[k]->backward(x, acts_[k], *dy, want_dx ? dx : nullptr);
    if (!want_dx) break;
    if (observer) observer(k, *dx);
    dy = dx;
  }
}

// Layer k and the activation k + 1 it took over: one backward pass, then the activation adds its
// slope gradient from the sums the pass left (a PReLU's Eq. 2-3).
void Net::backward_fused_pair(size_t k, const Tensor& x, const Tensor& dz, Tensor* dx) {
  const Rectifier f = *layers_[k + 1]->fusable_rectifier();
  const Tensor& y = written_[k] ? acts_[k] : acts_[k + 1];  // a ReLU's: the sign of y, or of max(0, y)
  layers_[k]->backward_fused(x, y, f, dz, dx, slope_sums_.data());
  if (f.learned()) layers_[k + 1]->add_slope_sums(slope_sums_.data());
}

void Net::zero_grad() { grads_.zero(); }

Param* Net::find_param(const std::string& name) {
  for (auto& p : registry_.all())
    if (p->name == name) return p.get();
  return nullptr;
}

size_t Net::memory_bytes() const {
  size_t floats = values_.size() + grads_.size() + momentum_.size() + grad_a_.size() + grad_b_.size() +
                  scratch_.capacity();
  for (auto& a : acts_) floats += a.size();
  return floats * sizeof(float);
}

}  // namespace delve
