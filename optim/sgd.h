// SGD with momentum and weight decay in Caffe's form, per parameter:
//   v = μ·v + lr·lr_mult·(dw + λ·decay_mult·w);   w -= v
// lr_mult/decay_mult come from the layer that declared the parameter (layers/param.h): biases and
// PReLU slopes have decay_mult 0 (the paper, §2.1: decay would push the slopes toward 0, i.e. ReLU).
#pragma once
#include <memory>
#include <vector>

#include "layers/param.h"

namespace delve {

struct SgdOptions {
  float momentum = 0.9f;       // μ
  float weight_decay = 5e-4f;  // λ
};

class Sgd {
 public:
  explicit Sgd(SgdOptions options = {}) : options_(options) {}
  void step(const std::vector<std::unique_ptr<Param>>& params, float lr) const;
  const SgdOptions& options() const { return options_; }

 private:
  SgdOptions options_;
};

}  // namespace delve
