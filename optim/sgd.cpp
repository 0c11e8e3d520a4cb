#include "optim/sgd.h"

namespace delve {

void Sgd::step(const std::vector<std::unique_ptr<Param>>& params, float lr) const {
  const float mu = options_.momentum;
  for (auto& p : params) {
    const float rate = lr * p->lr_mult;
    const float decay = options_.weight_decay * p->decay_mult;
    float* w = p->w.data();
    const float* dw = p->dw.data();
    float* v = p->v.data();
    const size_t n = p->count();
    for (size_t i = 0; i < n; ++i) {
      v[i] = mu * v[i] + rate * (dw[i] + decay * w[i]);
      w[i] -= v[i];
    }
  }
}

}  // namespace delve
