// The float64 reference step (tests/reference_step.h): each layer's forward and backward as direct
// loops over N × C × H × W blobs, the loss, and the SGD update. Nothing here calls delve's layers.
#include "tests/reference_step.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace delve::test::reference {

namespace {

const std::vector<double>& param(const Values& p, const std::string& name) {
  auto it = p.find(name);
  if (it == p.end()) throw std::runtime_error("reference: no parameter " + name);
  return it->second;
}

// The zeroed gradients and term magnitudes of "<name>.weight" and "<name>.bias".
struct Grads {
  std::vector<double>&dw, &mw, &db, &mb;
};
Grads zeroed_grads(Step& st, const std::string& name, size_t weights, size_t biases) {
  Grads g{st.grad[name + ".weight"], st.magnitude[name + ".weight"], st.grad[name + ".bias"], st.magnitude[name + ".bias"]};
  g.dw.assign(weights, 0.0), g.mw.assign(weights, 0.0), g.db.assign(biases, 0.0), g.mb.assign(biases, 0.0);
  return g;
}

// y = w ⋆ x + b, 3×3, stride 1, zero padding 1; w [out, c, 3, 3].
Blob conv_forward(const Blob& x, const std::vector<double>& w, const std::vector<double>& b, int out) {
  Blob y(x.n, out, x.h, x.w);
  for (int i = 0; i < x.n; ++i)
    for (int o = 0; o < out; ++o)
      for (int r = 0; r < x.h; ++r)
        for (int q = 0; q < x.w; ++q) {
          double s = b[o];
          for (int c = 0; c < x.c; ++c)
            for (int kr = 0; kr < 3; ++kr)
              for (int kq = 0; kq < 3; ++kq) {
                const int ir = r + kr - 1, iq = q + kq - 1;
                if (ir >= 0 && ir < x.h && iq >= 0 && iq < x.w) s += w[((size_t(o) * x.c + c) * 3 + kr) * 3 + kq] * x.at(i, c, ir, iq);
              }
          y.at(i, o, r, q) = s;
        }
  return y;
}

// ∂L/∂w, ∂L/∂b (with their term magnitudes) and ∂L/∂x of conv_forward.
Blob conv_backward(const Blob& x, const Blob& dy, const std::vector<double>& w, Step& st, const std::string& name) {
  auto [dw, mw, db, mb] = zeroed_grads(st, name, w.size(), size_t(dy.c));
  Blob dx(x.n, x.c, x.h, x.w);
  for (int i = 0; i < x.n; ++i)
    for (int o = 0; o < dy.c; ++o)
      for (int r = 0; r < x.h; ++r)
        for (int q = 0; q < x.w; ++q) {
          const double g = dy.at(i, o, r, q);
          db[o] += g;
          mb[o] += std::abs(g);
          for (int c = 0; c < x.c; ++c)
            for (int kr = 0; kr < 3; ++kr)
              for (int kq = 0; kq < 3; ++kq) {
                const int ir = r + kr - 1, iq = q + kq - 1;
                if (ir < 0 || ir >= x.h || iq < 0 || iq >= x.w) continue;
                const size_t k = ((size_t(o) * x.c + c) * 3 + kr) * 3 + kq;
                dw[k] += g * x.at(i, c, ir, iq);
                mw[k] += std::abs(g * x.at(i, c, ir, iq));
                dx.at(i, c, ir, iq) += w[k] * g;
              }
        }
  return dx;
}

// f(x) = x for x > 0, a_c·x otherwise (a = 0: ReLU; one a for all channels when shared).
double slope_of(const std::vector<double>& a, int c) { return a.size() == 1 ? a[0] : a[size_t(c)]; }

// Which inputs of an activation count as positive: x > 0, except at a kink (Eq. 1's derivative
// jumps from a to 1 at 0) where the float32 side decided otherwise and |x| ≤ margin: there the sign
// is rounding noise, and the reference follows the float32 side's branch (counted in `st`).
std::vector<char> positive(const Blob& x, const std::vector<char>* theirs, double margin, Step& st) {
  std::vector<char> pos(x.v.size());
  for (size_t k = 0; k < x.v.size(); ++k) {
    pos[k] = x.v[k] > 0;
    if (!theirs || (*theirs)[k] == pos[k]) continue;
    if (std::abs(x.v[k]) <= margin) ++st.kinks_followed, pos[k] = (*theirs)[k];
    else ++st.kinks_refused;
  }
  return pos;
}

Blob act_forward(const Blob& x, const std::vector<double>& a, const std::vector<char>& pos) {
  Blob y = x;
  for (int i = 0; i < x.n; ++i)
    for (int c = 0; c < x.c; ++c)
      for (size_t k = (size_t(i) * x.c + c) * x.h * x.w, e = k + size_t(x.h) * x.w; k < e; ++k)
        if (!pos[k]) y.v[k] = slope_of(a, c) * x.v[k];
  return y;
}

// ∂L/∂x = dy·(1 or a); ∂L/∂a_c = Σ dy·x over the non-positive x (He et al. Eq. 2-3) when `name` is not empty.
Blob act_backward(const Blob& x, const Blob& dy, const std::vector<double>& a, const std::vector<char>& pos, Step& st,
                  const std::string& name) {
  std::vector<double> da(a.size(), 0.0), ma(a.size(), 0.0);
  Blob dx = dy;
  for (int i = 0; i < x.n; ++i)
    for (int c = 0; c < x.c; ++c)
      for (size_t k = (size_t(i) * x.c + c) * x.h * x.w, e = k + size_t(x.h) * x.w; k < e; ++k) {
        if (pos[k]) continue;
        dx.v[k] = slope_of(a, c) * dy.v[k];
        da[a.size() == 1 ? 0 : size_t(c)] += dy.v[k] * x.v[k];
        ma[a.size() == 1 ? 0 : size_t(c)] += std::abs(dy.v[k] * x.v[k]);
      }
  if (!name.empty()) {
    st.grad[name + ".weight"] = da;
    st.magnitude[name + ".weight"] = ma;
  }
  return dx;
}

// 2×2 max-pool, stride 2; `winner` gets the flat index of each window's first maximum, or the
// float32 side's winner where it is within `margin` of the maximum (a near-tie, another kink).
Blob pool_forward(const Blob& x, std::vector<size_t>& winner, const std::vector<size_t>* theirs, double margin,
                  Step& st) {
  Blob y(x.n, x.c, x.h / 2, x.w / 2);
  winner.assign(y.v.size(), 0);
  for (int i = 0; i < x.n; ++i)
    for (int c = 0; c < x.c; ++c)
      for (int r = 0; r < y.h; ++r)
        for (int q = 0; q < y.w; ++q) {
          size_t best = ((size_t(i) * x.c + c) * x.h + 2 * r) * x.w + 2 * q;
          for (int kr = 0; kr < 2; ++kr)
            for (int kq = 0; kq < 2; ++kq) {
              const size_t k = ((size_t(i) * x.c + c) * x.h + 2 * r + kr) * x.w + 2 * q + kq;
              if (x.v[k] > x.v[best]) best = k;
            }
          const size_t o = ((size_t(i) * y.c + c) * y.h + r) * y.w + q;
          if (theirs && (*theirs)[o] != best) {
            if (x.v[best] - x.v[(*theirs)[o]] <= margin) ++st.kinks_followed, best = (*theirs)[o];
            else ++st.kinks_refused;
          }
          y.v[o] = x.v[best];
          winner[o] = best;
        }
  return y;
}

// y[n, o] = b[o] + Σ_f w[o, f]·x[n, f], f over the C·H·W features of image n.
Blob linear_forward(const Blob& x, const std::vector<double>& w, const std::vector<double>& b, int out) {
  const size_t F = size_t(x.c) * x.h * x.w;
  Blob y(x.n, out, 1, 1);
  for (int i = 0; i < x.n; ++i)
    for (int o = 0; o < out; ++o) {
      double s = b[o];
      for (size_t f = 0; f < F; ++f) s += w[o * F + f] * x.v[i * F + f];
      y.at(i, o, 0, 0) = s;
    }
  return y;
}

Blob linear_backward(const Blob& x, const Blob& dy, const std::vector<double>& w, Step& st, const std::string& name) {
  const size_t F = size_t(x.c) * x.h * x.w;
  auto [dw, mw, db, mb] = zeroed_grads(st, name, w.size(), size_t(dy.c));
  Blob dx(x.n, x.c, x.h, x.w);
  for (int i = 0; i < x.n; ++i)
    for (int o = 0; o < dy.c; ++o) {
      const double g = dy.at(i, o, 0, 0);
      db[o] += g;
      mb[o] += std::abs(g);
      for (size_t f = 0; f < F; ++f) {
        dw[o * F + f] += g * x.v[i * F + f];
        mw[o * F + f] += std::abs(g * x.v[i * F + f]);
        dx.v[i * F + f] += w[o * F + f] * g;
      }
    }
  return dx;
}

// Softmax cross-entropy averaged over the batch: returns the loss, sets dlogits = (p - onehot)/N.
double softmax_xent(const Blob& logits, const std::vector<int>& labels, Blob& dlogits) {
  dlogits = Blob(logits.n, logits.c, 1, 1);
  double loss = 0;
  for (int i = 0; i < logits.n; ++i) {
    double mx = logits.at(i, 0, 0, 0), sum = 0;
    for (int k = 1; k < logits.c; ++k) mx = std::max(mx, logits.at(i, k, 0, 0));
    for (int k = 0; k < logits.c; ++k) sum += std::exp(logits.at(i, k, 0, 0) - mx);
    loss += std::log(sum) - (logits.at(i, labels[size_t(i)], 0, 0) - mx);
    for (int k = 0; k < logits.c; ++k)
      dlogits.at(i, k, 0, 0) = (std::exp(logits.at(i, k, 0, 0) - mx) / sum - (k == labels[size_t(i)])) / logits.n;
  }
  return loss / logits.n;
}

bool is_activation(Kind k) { return k == Kind::Relu || k == Kind::PreluShared || k == Kind::PreluWise; }

struct Pass {
  std::vector<Blob> in;                     // in[l]: the input of layer l
  std::vector<std::vector<char>> positive;  // activations: which inputs took the identity branch
  std::vector<std::vector<size_t>> winner;  // max-pools: each window's winner
};

double max_abs(const Blob& b) {
  double m = 0;
  for (double e : b.v) m = std::max(m, std::abs(e));
  return m;
}

const std::vector<double>& slope_param(const LayerSpec& l, const Values& w) {
  static const std::vector<double> relu_slope{0.0};
  return l.kind == Kind::Relu ? relu_slope : param(w, l.name + ".weight");
}

// The forward pass; returns the logits.
Blob forward(const std::vector<LayerSpec>& net, const Values& w, const Blob& x, const std::vector<Blob>& masks,
             const Kinks* kinks, Pass& pass, Step& st) {
  pass.positive.assign(net.size(), {});
  pass.winner.assign(net.size(), {});
  Blob h = x;
  size_t drop = 0;
  for (size_t l = 0; l < net.size(); ++l) {
    const LayerSpec& s = net[l];
    pass.in.push_back(h);
    const double margin = kinks ? kinks->margin * max_abs(h) : 0.0;
    if (s.kind == Kind::Conv3x3) h = conv_forward(h, param(w, s.name + ".weight"), param(w, s.name + ".bias"), s.out);
    if (is_activation(s.kind)) {
      pass.positive[l] = positive(h, kinks ? &kinks->positive.at(l) : nullptr, margin, st);
      h = act_forward(h, slope_param(s, w), pass.positive[l]);
    }
    if (s.kind == Kind::MaxPool2) h = pool_forward(h, pass.winner[l], kinks ? &kinks->winner.at(l) : nullptr, margin, st);
    if (s.kind == Kind::Linear) h = linear_forward(h, param(w, s.name + ".weight"), param(w, s.name + ".bias"), s.out);
    if (s.kind == Kind::Dropout)
      for (size_t k = 0; k < h.v.size(); ++k) h.v[k] *= masks.at(drop).v[k];
    drop += s.kind == Kind::Dropout;
  }
  return h;
}

// The backward pass from ∂L/∂logits, filling st.grad and st.magnitude.
void backward(const std::vector<LayerSpec>& net, const Values& w, const std::vector<Blob>& masks, const Pass& pass,
              Blob g, Step& st) {
  size_t drop = masks.size();
  for (size_t l = net.size(); l-- > 0;) {
    const LayerSpec& s = net[l];
    const Blob& x = pass.in[l];
    if (s.kind == Kind::Conv3x3) g = conv_backward(x, g, param(w, s.name + ".weight"), st, s.name);
    if (is_activation(s.kind))
      g = act_backward(x, g, slope_param(s, w), pass.positive[l], st, s.kind == Kind::Relu ? "" : s.name);
    if (s.kind == Kind::MaxPool2) {
      Blob dx(x.n, x.c, x.h, x.w);
      for (size_t k = 0; k < g.v.size(); ++k) dx.v[pass.winner[l][k]] += g.v[k];
      g = dx;
    }
    if (s.kind == Kind::Linear) g = linear_backward(x, g, param(w, s.name + ".weight"), st, s.name);
    if (s.kind == Kind::Dropout) {
      --drop;
      for (size_t k = 0; k < g.v.size(); ++k) g.v[k] *= masks.at(drop).v[k];
    }
  }
}

}  // namespace

Step sgd_step(const std::vector<LayerSpec>& net, const Values& w, const Values& v, const Blob& x,
              const std::vector<int>& labels, const std::vector<Blob>& masks, const Kinks* kinks, const Sgd& sgd) {
  Step st;
  Pass pass;
  const Blob logits = forward(net, w, x, masks, kinks, pass, st);
  Blob g;
  st.loss = softmax_xent(logits, labels, g);
  backward(net, w, masks, pass, g, st);
  // Caffe's SGD; weight decay on conv and fc weights only (§2.1: none on a; none on biases).
  for (auto& [name, grad] : st.grad) {
    bool decays = false;
    for (const LayerSpec& s : net)
      decays |= (s.kind == Kind::Conv3x3 || s.kind == Kind::Linear) && name == s.name + ".weight";
    const std::vector<double>& wv = param(w, name);
    const std::vector<double>& vv = param(v, name);
    std::vector<double>& u = st.update[name];
    u.resize(grad.size());
    for (size_t k = 0; k < grad.size(); ++k)
      u[k] = sgd.momentum * vv[k] + sgd.lr * (grad[k] + (decays ? sgd.weight_decay * wv[k] : 0.0));
  }
  return st;
}

}  // namespace delve::test::reference
