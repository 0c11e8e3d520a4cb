// The defaults of the optional parts of the layer contract (layers/layer.h).
#include "layers/layer.h"

#include <stdexcept>

namespace delve {

// The Net calls these only for a layer that fuses_activation() and an activation with a learned
// fusable_rectifier(); reaching them is a bug in the caller.
void Layer::forward_fused(const Tensor&, Tensor&, const Rectifier&, Tensor&, Mode, bool) {
  throw std::logic_error(name_ + ": " + kind() + " does not fuse an activation");
}

void Layer::backward_fused(const Tensor&, const Tensor&, const Rectifier&, const Tensor&, Tensor*, double*) {
  throw std::logic_error(name_ + ": " + kind() + " does not fuse an activation");
}

void Layer::add_slope_sums(const double*) {
  throw std::logic_error(name_ + ": " + kind() + " has no slope");
}

}  // namespace delve
