// Softmax cross-entropy, averaged over the batch. Not a Layer: the loss stays outside the Net.
//
// Shapes (N batch, K classes):
//   logits, dlogits, probabilities   K × N   (Shape{N, K, 1, 1}: an fc activation, channel-major)
//   labels                           N       int32 in [0, K)
// loss = (1/N) Σ_n [ log Σ_k exp(z_kn) - z_{label_n, n} ], computed after subtracting each column's
// maximum (exact in exact arithmetic, no overflow in float); ∂loss/∂z = (p - onehot(label)) / N.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace delve {

struct SoftmaxCrossEntropy {
  // Mean loss over the batch; if errors is given, sets it to the number of columns whose argmax
  // (first maximum on ties) differs from the label. Keeps the probabilities and labels for backward.
  float forward(const Tensor& logits, const int32_t* labels, int* errors = nullptr);
  // dlogits (resized to the logits' shape) = (p - onehot) / N, for the last forward.
  void backward(Tensor& dlogits) const;

  const Tensor& probabilities() const { return probs_; }

 private:
  Tensor probs_;                // K × N
  std::vector<int32_t> labels_; // N
  std::vector<float> col_max_;  // N, per-column maximum (reused between calls)
  std::vector<double> col_sum_; // N, per-column Σ exp(z - max)
};

}  // namespace delve
