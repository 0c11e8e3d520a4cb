// A learnable parameter as the Net and the optimiser see it: a named view into the Net's arenas.
//
// Layers declare parameters in declare(); the Net then allocates ONE flat arena each for values,
// gradients and momentum and points every Param's w/dw/v at its slice (mlpack's network-owned
// parameters, llm.c's single buffer). Names and dims follow PyTorch ("conv3.weight" [out, in, kh, kw])
// so checkpoints load into PyTorch as they are.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace delve {

enum class ParamRole {
  Weight,  // drawn by the net's initialiser (layers/init.h)
  Bias,    // starts at `fill` (0)
  Slope    // PReLU coefficient: starts at `fill` (0.25, paper §2.1)
};

struct Param {
  std::string name;       // PyTorch name, e.g. "conv3.weight", "prelu3.weight"
  std::vector<int> dims;  // PyTorch shape
  ParamRole role = ParamRole::Weight;
  float fill = 0.f;       // initial value for Bias and Slope
  float lr_mult = 1.f;    // Caffe's per-parameter multipliers (optim/sgd.h)
  float decay_mult = 1.f;
  size_t offset = 0;      // into the Net's arenas
  Tensor w, dw, v;        // value, gradient (accumulated by backward), momentum

  size_t count() const;
  // PyTorch's convention: fan_in = dims[1]·k², fan_out = dims[0]·k², k² = prod(dims[2:]).
  // A conv weight [d, c, k, k] gives n = k²c (paper Eq. 10) and n̂ = k²d (Eq. 14).
  int fan_in() const;
  int fan_out() const;
};

class ParamRegistry {
 public:
  // Declares a parameter; its tensors become valid once the Net allocates the arenas.
  Param* declare(const std::string& name, std::vector<int> dims, ParamRole role, float fill = 0.f,
                 float lr_mult = 1.f, float decay_mult = 1.f);
  std::vector<std::unique_ptr<Param>>& all() { return params_; }
  const std::vector<std::unique_ptr<Param>>& all() const { return params_; }
  size_t total_count() const;

 private:
  std::vector<std::unique_ptr<Param>> params_;
};

}  // namespace delve
