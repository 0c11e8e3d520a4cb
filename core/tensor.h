// A float tensor with a 4-d shape, aligned storage, and non-owning views.
//
// Layout: delve stores activations CHANNEL-MAJOR, C × N × H × W: all N·H·W values of channel c
// are contiguous. A convolution over a whole batch is then one GEMM, W[d, k²c] · cols[k²c, N·H·W],
// with no transposes, and per-channel work (PReLU slopes, statistics) walks contiguous memory.
// A fully connected activation is the special case H = W = 1: a [features, N] matrix.
// Parameters are plain row-major arrays in PyTorch's order (conv [out, in, kh, kw], fc [out, in]).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace delve {

struct Shape {
  int n = 1, c = 1, h = 1, w = 1;  // N batch, C channels, H, W
  size_t count() const { return size_t(n) * c * h * w; }
  size_t per_channel() const { return size_t(n) * h * w; }  // N·H·W, one channel's block
  size_t per_image() const { return size_t(c) * h * w; }    // C·H·W, features of one image
  bool operator==(const Shape&) const = default;
  std::string str() const;  // "N×C×H×W" for messages
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape s) { resize(s); }
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;
  Tensor(const Tensor&) = delete;  // copies are explicit: copy_from()
  Tensor& operator=(const Tensor&) = delete;

  // A view over memory it does not own; resize() of a view may only shrink it.
  static Tensor view(float* data, Shape s);

  // Sets the shape; reallocates (zeroed, 64-byte aligned) only when the capacity is too small,
  // so that buffers sized once per batch shape stay put.
  void resize(Shape s);
  void zero();
  void fill(float v);
  void copy_from(const Tensor& other);  // resizes, then copies the values

  float* data() { return data_; }
  const float* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  size_t size() const { return shape_.count(); }
  bool owns() const { return owned_ != nullptr; }

  float* channel(int c) { return data_ + size_t(c) * shape_.per_channel(); }
  const float* channel(int c) const { return data_ + size_t(c) * shape_.per_channel(); }
  size_t offset(int n, int c, int h, int w) const {
    return ((size_t(c) * shape_.n + n) * shape_.h + h) * shape_.w + w;
  }
  float& at(int n, int c, int h, int w) { return data_[offset(n, c, h, w)]; }
  float at(int n, int c, int h, int w) const { return data_[offset(n, c, h, w)]; }
  float& operator[](size_t i) { return data_[i]; }
  float operator[](size_t i) const { return data_[i]; }

 private:
  struct AlignedFree {
    void operator()(float* p) const;
  };
  Shape shape_{0, 0, 0, 0};
  float* data_ = nullptr;
  size_t capacity_ = 0;
  std::unique_ptr<float, AlignedFree> owned_;
};

}  // namespace delve
