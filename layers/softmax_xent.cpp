// Softmax cross-entropy forward and backward.
// Shapes: logits and probabilities K × N, row k (one class) holds N contiguous values, so every
// pass below walks rows and keeps one running value per column.
#include "layers/softmax_xent.h"

#include <cmath>

#include "core/error.h"

namespace delve {

float SoftmaxCrossEntropy::forward(const Tensor& logits, const int32_t* labels, int* errors) {
  const Shape& s = logits.shape();
  if (s.h != 1 || s.w != 1 || s.c < 1 || s.n < 1)
    throw ShapeError("softmax cross-entropy: logits must be K x N (Shape{N, K, 1, 1}), got " + s.str());
  const int K = s.c, N = s.n;
  probs_.resize(s);
  labels_.assign(labels, labels + N);
  col_max_.resize(N);
  col_sum_.resize(N);
  for (int n = 0; n < N; ++n) {
    if (labels[n] < 0 || labels[n] >= K)
      throw DataError("label " + std::to_string(labels[n]) + " of batch item " + std::to_string(n) +
                      " is out of range for " + std::to_string(K) + " classes");
  }
  const float* z = logits.data();
  float* p = probs_.data();
  // Column maxima and argmax errors (first maximum wins).
  std::vector<float>& mx = col_max_;
  for (int n = 0; n < N; ++n) mx[n] = z[n];
  for (int k = 1; k < K; ++k)
    for (int n = 0; n < N; ++n)
      if (z[size_t(k) * N + n] > mx[n]) mx[n] = z[size_t(k) * N + n];
  if (errors) {
    int wrong = 0;
    for (int n = 0; n < N; ++n) {
      int arg = 0;
      while (arg < K - 1 && z[size_t(arg) * N + n] != mx[n]) ++arg;  // first k at the maximum (NaN: K-1)
      wrong += arg != labels[n];
    }
    *errors = wrong;
  }
  // p = exp(z - max) / Σ exp(z - max)
  std::vector<double>& sum = col_sum_;
  for (int n = 0; n < N; ++n) sum[n] = 0.0;
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n) {
      const float e = std::exp(z[size_t(k) * N + n] - mx[n]);
      p[size_t(k) * N + n] = e;
      sum[n] += e;
    }
  double loss = 0.0;
  for (int n = 0; n < N; ++n) {
    // -log p_label = log Σ exp(z - max) - (z_label - max)
    loss += std::log(sum[n]) - (double(z[size_t(labels[n]) * N + n]) - mx[n]);
  }
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n) p[size_t(k) * N + n] = float(p[size_t(k) * N + n] / sum[n]);
  return float(loss / N);
}

void SoftmaxCrossEntropy::backward(Tensor& dlogits) const {
  const Shape& s = probs_.shape();
  dlogits.resize(s);
  const int N = s.n;
  const float inv_n = 1.f / float(N);
  const float* p = probs_.data();
  float* d = dlogits.data();
  for (size_t i = 0; i < s.count(); ++i) d[i] = p[i] * inv_n;
  for (int n = 0; n < N; ++n) d[size_t(labels_[n]) * N + n] -= inv_n;
}

}  // namespace delve
