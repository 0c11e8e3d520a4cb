// A float64 recomputation of one SGD step of a small sequential net, written plainly (direct loops
// in double over N × C × H × W arrays, PyTorch's layout) and sharing no code with layers/ or optim/:
// forward, softmax cross-entropy averaged over the batch, backward, then Caffe's momentum SGD
//   v = μ·v + lr·(g + λ·decay·w),  w -= v        (decay 1 for weights, 0 for biases and PReLU slopes)
// Beside every parameter gradient it sums the magnitudes of the terms it adds (Σ|∂L/∂y·x| and the
// like): the scale against which a float32 sum of the same terms is rounded (tests/test_reference_step.cpp).
//
// Shapes: Blob is N × C × H × W, element (n, c, y, x) at ((n·C + c)·H + y)·W + x; an fc activation
// has H = W = 1 and its features in PyTorch's flattening order (c, y, x).
#pragma once
#include <map>
#include <string>
#include <vector>

namespace delve::test::reference {

enum class Kind { Conv3x3, Relu, PreluShared, PreluWise, MaxPool2, Linear, Dropout };

struct LayerSpec {
  Kind kind;
  std::string name;  // the parameter prefix: "<name>.weight", "<name>.bias"
  int out = 0;       // conv: output channels; linear: output features
  float p = 0.f;     // dropout: the drop probability (the reference reads the masks instead)
};

struct Blob {
  int n = 0, c = 0, h = 1, w = 1;
  std::vector<double> v;
  Blob() = default;
  Blob(int n_, int c_, int h_, int w_) : n(n_), c(c_), h(h_), w(w_), v(size_t(n_) * c_ * h_ * w_, 0.0) {}
  double& at(int i, int ch, int y, int x) { return v[((size_t(i) * c + ch) * h + y) * w + x]; }
  double at(int i, int ch, int y, int x) const { return v[((size_t(i) * c + ch) * h + y) * w + x]; }
};

using Values = std::map<std::string, std::vector<double>>;  // by parameter name

struct Step {
  Values grad;       // ∂L/∂θ
  Values magnitude;  // Σ |terms| of each gradient element
  Values update;     // v after the step, = w_before - w_after
  double loss = 0;
  int kinks_followed = 0;  // branches taken from the float32 side (Kinks)
  int kinks_refused = 0;   // float32 branches that were no near-tie: a wrong forward pass
};

// The float32 side's decisions at the kinks of the step, per layer index (empty elsewhere). At an
// activation's input within rounding of 0, or a max-pool window whose two largest inputs are within
// rounding of each other, exact and float32 arithmetic may take different branches, and the
// gradient jumps there (Eq. 1's derivative is a or 1; the winner gets all of ∂L/∂y): that is no
// rounding error of either side, so the reference follows the float32 branch where its own input is
// within margin · (the layer's largest |input|) of the kink, and counts any other disagreement.
struct Kinks {
  std::vector<std::vector<char>> positive;  // activation l: 1 where its input was > 0 (N × C × H × W order)
  std::vector<std::vector<size_t>> winner;  // max-pool l: each window's winner, a flat index into its input
  double margin = 0;
};

struct Sgd {
  double lr, momentum, weight_decay;
};

// One step from parameters `w` and momentum `v` (both by name) on images x with labels; `masks`
// holds each dropout layer's multipliers (0 or 1/(1-p)) as an N × C × H × W blob, in layer order;
// `kinks` (may be null) the float32 side's branches.
Step sgd_step(const std::vector<LayerSpec>& net, const Values& w, const Values& v, const Blob& x,
              const std::vector<int>& labels, const std::vector<Blob>& masks, const Kinks* kinks, const Sgd& sgd);

}  // namespace delve::test::reference
