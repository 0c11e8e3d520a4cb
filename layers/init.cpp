// Weight initialisers (see layers/init.h for the names and their mapping to Caffe and PyTorch).
//
// Shapes: a conv weight is [d, c, k, k] (fan_in n = k²c, fan_out n̂ = k²d), an fc weight [out, in];
// Param::fan_in()/fan_out() compute the fans, this file only turns them into a distribution.
#include "layers/init.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <cstdio>

#include "core/error.h"

namespace delve {

namespace {
std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
const char* fan_name(InitSpec::Fan f) { return f == InitSpec::Fan::In ? "fan_in" : "fan_out"; }
}  // namespace

std::string InitSpec::str() const {
  switch (kind) {
    case Kind::Kaiming:
      return std::string("kaiming(") + fan_name(mode) + (a_from_net() ? ", a from the net)" : ", a=" + fmt(a) + ")");
    case Kind::Xavier: return std::string("xavier(") + fan_name(mode) + ")";
    case Kind::Glorot:
      return std::string("glorot(") + (distribution == Distribution::Uniform ? "uniform" : "normal") + ")";
    case Kind::Gaussian: return "gaussian(std=" + fmt(std) + ")";
  }
  return "unknown";
}

float kaiming_slope_for_gain(double gain) { return float(std::sqrt(std::max(0.0, 2.0 * gain - 1.0))); }

double init_std(const InitSpec& spec, int fan_in, int fan_out) {
  if (fan_in <= 0 || fan_out <= 0) throw ShapeError("init_std: fans must be positive");
  if (spec.a_from_net()) throw std::logic_error("init_std: kaiming's a is left to the net, which did not set it");
  const double n = spec.mode == InitSpec::Fan::In ? fan_in : fan_out;
  switch (spec.kind) {
    case InitSpec::Kind::Kaiming: {
      // He et al. Eq. 10 / Eq. 14: ½·n·Var[w] = 1; Eq. 15 (PReLU): ½·(1+a²)·n·Var[w] = 1.
      const double a = spec.a;
      return std::sqrt(2.0 / ((1.0 + a * a) * n));
    }
    case InitSpec::Kind::Xavier:
      // The "Xavier" of He et al. Figs. 2-3 (Caffe's filler): n·Var[w] = 1.
      return std::sqrt(1.0 / n);
    case InitSpec::Kind::Glorot:
      // Glorot & Bengio Eq. 16: Var[w] = 2 / (n_in + n_out), for either distribution.
      return std::sqrt(2.0 / (double(fan_in) + double(fan_out)));
    case InitSpec::Kind::Gaussian:
      return spec.std;
  }
  return 0.0;
}

void init_param(Param& p, const InitSpec& spec, Rng& rng) {
  const size_t n = p.count();
  if (p.w.data() == nullptr || p.w.size() < n)
    throw ShapeError("init_param: parameter '" + p.name + "' has no storage (Net not built?)");
  float* w = p.w.data();
  if (p.role != ParamRole::Weight) {  // biases start at 0, PReLU slopes at 0.25 (their fill)
    for (size_t i = 0; i < n; ++i) w[i] = p.fill;
    return;
  }
  const double std = init_std(spec, p.fan_in(), p.fan_out());
  if (spec.kind == InitSpec::Kind::Glorot && spec.distribution == InitSpec::Distribution::Uniform) {
    // Glorot & Bengio Eq. 16: U[-√6/√(n_in+n_out), +√6/√(n_in+n_out)], i.e. bound = √3·std.
    const double bound = std::sqrt(3.0) * std;
    for (size_t i = 0; i < n; ++i) w[i] = float(bound * (2.0 * rng.uniform() - 1.0));
    return;
  }
  for (size_t i = 0; i < n; ++i) w[i] = float(std * rng.normal());
}

}  // namespace delve
