// GradCheckOptions (tests/gradcheck.h) for a conv or linear layer: the lengths of its sums, and
// for Winograd F(2×2, 3×3) its own magnitudes (tests/conv_reference.h) in place of the default
// direct-summation ones.
#pragma once
#include <algorithm>

#include "tests/conv_reference.h"
#include "tests/gradcheck.h"

namespace delve::test {

// g: the layer as a convolution (a linear layer: a kernel covering the whole image, pad 0).
inline GradCheckOptions conv_gradcheck_options(const ConvCase& g, bool winograd) {
  GradCheckOptions o;
  const ConvDepths d = winograd ? winograd_depths(g) : direct_conv_depths(g);
  o.forward_depth = d.y;
  o.backward_depth = std::max({d.dx, d.dw, d.db});
  if (!winograd) return o;
  o.magnitudes = [g](LayerHarness& h, const Tensor& xa, const Tensor& dya) {
    const Param* w = h.reg.all()[0].get();
    const Param* b = h.reg.all().size() > 1 ? h.reg.all()[1].get() : nullptr;
    const ConvReference m = winograd_magnitudes(g, xa.data(), w->w.data(), b ? b->w.data() : nullptr, dya.data());
    GradMagnitudes out;
    for (size_t j = 0; j < dya.size(); ++j) out.loss += dya[j] * m.y.magnitude[j];
    out.analytic = m.dx.magnitude;
    out.analytic.insert(out.analytic.end(), m.dw.magnitude.begin(), m.dw.magnitude.end());
    if (b) out.analytic.insert(out.analytic.end(), m.db.magnitude.begin(), m.db.magnitude.end());
    return out;
  };
  return o;
}

}  // namespace delve::test
