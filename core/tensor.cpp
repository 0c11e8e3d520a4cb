#include "core/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"

namespace delve {

std::string Shape::str() const {
  return std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

void Tensor::AlignedFree::operator()(float* p) const { std::free(p); }

Tensor Tensor::view(float* data, Shape s) {
  Tensor t;
  t.data_ = data;
  t.shape_ = s;
  t.capacity_ = s.count();
  return t;
}

void Tensor::resize(Shape s) {
  if (s.n < 0 || s.c < 0 || s.h < 0 || s.w < 0) throw ShapeError("negative tensor shape " + s.str());
  size_t need = s.count();
  if (need > capacity_) {
    if (data_ != nullptr && !owns()) throw ShapeError("cannot grow a tensor view to " + s.str());
    size_t bytes = ((need * sizeof(float) + 63) / 64) * 64;
    float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    owned_.reset(p);
    data_ = p;
    capacity_ = need;
  }
  shape_ = s;
}

void Tensor::zero() {
  if (size()) std::memset(data_, 0, size() * sizeof(float));
}

void Tensor::fill(float v) { std::fill(data_, data_ + size(), v); }

void Tensor::copy_from(const Tensor& other) {
  resize(other.shape());
  if (size()) std::memcpy(data_, other.data(), size() * sizeof(float));
}

}  // namespace delve
