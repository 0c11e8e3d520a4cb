// The defaults of the optional parts of the layer contract (layers/layer.h).
#include "layers/layer.h"

#include <stdexcept>

namespace delve {

// The Net calls these only for a layer that fuses_relu(); reaching them is a bug in the caller.
void Layer::forward_relu(const Tensor&, Tensor&, Tensor&, Mode) {
  throw std::logic_error(name_ + ": " + kind() + " does not fuse a ReLU");
}

void Layer::backward_relu(const Tensor&, const Tensor&, const Tensor&, Tensor*) {
  throw std::logic_error(name_ + ": " + kind() + " does not fuse a ReLU");
}

}  // namespace delve
