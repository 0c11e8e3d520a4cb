#include "layers/param.h"

#include "core/error.h"

namespace delve {

size_t Param::count() const {
  size_t n = 1;
  for (int d : dims) n *= size_t(d);
  return n;
}

int Param::fan_in() const {
  if (dims.size() < 2) return dims.empty() ? 1 : dims[0];
  int receptive = 1;
  for (size_t i = 2; i < dims.size(); ++i) receptive *= dims[i];
  return dims[1] * receptive;
}

int Param::fan_out() const {
  if (dims.empty()) return 1;
  int receptive = 1;
  for (size_t i = 2; i < dims.size(); ++i) receptive *= dims[i];
  return dims[0] * receptive;
}

Param* ParamRegistry::declare(const std::string& name, std::vector<int> dims, ParamRole role, float fill,
                              float lr_mult, float decay_mult) {
  for (auto& p : params_)
    if (p->name == name) throw ShapeError("parameter '" + name + "' declared twice (duplicate layer name?)");
  for (int d : dims)
    if (d <= 0) throw ShapeError("parameter '" + name + "' has a non-positive dimension");
  auto p = std::make_unique<Param>();
  p->name = name;
  p->dims = std::move(dims);
  p->role = role;
  p->fill = fill;
  p->lr_mult = lr_mult;
  p->decay_mult = decay_mult;
  params_.push_back(std::move(p));
  return params_.back().get();
}

size_t ParamRegistry::total_count() const {
  size_t n = 0;
  for (auto& p : params_) n += p->count();
  return n;
}

}  // namespace delve
