// Weight initialisers, named without ambiguity ("Xavier" means three things in the literature).
//
//   kaiming {mode: fan_in|fan_out, a}   N(0, 2/((1+a²)·n))   He et al. Eq. 10 (fan_in, n = k²c),
//                                                            Eq. 14 (fan_out, n̂ = k²d), Eq. 15 (a)
//                                       = Caffe "msra", PyTorch kaiming_normal_(a, mode, 'leaky_relu')
//   xavier  {mode: fan_in|fan_out}      N(0, 1/n)            the "Xavier" of He et al. Figs. 2-3:
//                                                            n·Var[w] = 1; Caffe's "xavier" filler
//                                                            (U(±√(3/n)), same variance)
//   glorot  {distribution: uniform|normal}  Var = 2/(n_in + n_out)   Glorot & Bengio Eq. 16;
//                                       = PyTorch xavier_uniform_/xavier_normal_ (gain 1)
//   gaussian {std}                      N(0, std²)           the fixed-std baseline (0.01 in VGG)
// Biases start at 0; PReLU slopes at their declared fill (0.25). Kaiming's a may be left to the net
// (a < 0): each weight layer then takes it from the activation next to it (Net::init, Eq. 15).
#pragma once
#include <string>

#include "core/rng.h"
#include "layers/param.h"

namespace delve {

struct InitSpec {
  enum class Kind { Kaiming, Xavier, Glorot, Gaussian };
  enum class Fan { In, Out };
  enum class Distribution { Normal, Uniform };
  Kind kind = Kind::Kaiming;
  Fan mode = Fan::In;
  float a = 0.f;      // kaiming: the initial PReLU slope (0 for ReLU); < 0: from the net (Net::init)
  Distribution distribution = Distribution::Normal;  // glorot only
  float std = 0.01f;  // gaussian only

  std::string str() const;  // "kaiming(fan_out, a=0.25)", "kaiming(fan_in, a from the net)"
  bool a_from_net() const { return kind == Kind::Kaiming && a < 0.f; }
};

// The a of Eq. 15 for an activation of rectifier gain g (layers/layer.h): ½(1+a²) = g, so
// a = √(2g - 1): ReLU's ½ gives 0, a PReLU's ½(1+a²) its own a, tanh's 1 gives 1 (Var[w] = 1/n).
float kaiming_slope_for_gain(double gain);

// The standard deviation the spec gives a weight with these fans.
double init_std(const InitSpec& spec, int fan_in, int fan_out);
// Fills p.w: weights by the spec, biases and slopes by p.fill.
void init_param(Param& p, const InitSpec& spec, Rng& rng);

}  // namespace delve
