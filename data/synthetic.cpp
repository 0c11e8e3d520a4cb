#include "data/synthetic.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/rng.h"
#include "data/seed_mix.h"

namespace delve {

namespace {

constexpr int kSide = 32;
constexpr double kPi = 3.14159265358979323846;

// One windowed grating: amplitude · exp(−r²/2σ²) · sin(2π/λ · (x cosθ + y sinθ) + φ).
struct Patch {
  double cx, cy, sigma, theta, wavelength, phase, amplitude;
  double at(int x, int y) const {
    const double dx = x - cx, dy = y - cy;
    const double window = std::exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
    const double along = dx * std::cos(theta) + dy * std::sin(theta);
    return amplitude * window * std::sin(2 * kPi / wavelength * along + phase);
  }
};

Patch random_patch(Rng& rng, double theta, double amplitude) {
  Patch p;
  p.cx = 8 + 16 * rng.uniform();
  p.cy = 8 + 16 * rng.uniform();
  p.sigma = 4 + 3 * rng.uniform();
  p.theta = theta;
  p.wavelength = 4 + 3 * rng.uniform();
  p.phase = 2 * kPi * rng.uniform();
  p.amplitude = amplitude;
  return p;
}

void draw_image(Rng& rng, int label, int classes, int channels, uint8_t* out) {
  const double theta = kPi * label / classes + 0.12 * rng.normal();
  const Patch signal = random_patch(rng, theta, 50 + 40 * rng.uniform());
  const Patch distractor = random_patch(rng, kPi * rng.uniform(), 15 + 20 * rng.uniform());
  const double background = 70 + 110 * rng.uniform();
  double gain[3];
  for (int c = 0; c < channels; ++c) gain[c] = 0.6 + 0.4 * rng.uniform();
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      const double pattern = signal.at(x, y) + distractor.at(x, y);
      for (int c = 0; c < channels; ++c) {
        const double v = background + gain[c] * pattern + 12 * rng.normal();
        out[(size_t(c) * kSide + y) * kSide + x] = uint8_t(std::clamp(std::lround(v), 0L, 255L));
      }
    }
}

Dataset make_split(const DataSpec& spec, int split_id, int count, const std::vector<std::string>& names) {
  Dataset ds;
  ds.name = "synthetic";
  ds.split = split_id == 0 ? "train" : "test";
  ds.c = spec.synthetic_channels;
  ds.h = ds.w = kSide;
  ds.class_names = names;
  ds.images.resize(size_t(count) * ds.image_bytes());
  ds.labels.resize(size_t(count));
  for (int i = 0; i < count; ++i) {
    Rng rng(seed_mix(spec.seed, kSyntheticImage, split_id, i));
    ds.labels[i] = i % spec.synthetic_classes;
    draw_image(rng, ds.labels[i], spec.synthetic_classes, ds.c, ds.images.data() + size_t(i) * ds.image_bytes());
  }
  return ds;
}

}  // namespace

DataSplits make_synthetic(const DataSpec& spec) {
  if (spec.synthetic_classes < 2 || spec.synthetic_classes > 1000)
    throw DataError("data.synthetic_classes must be 2..1000, not " + std::to_string(spec.synthetic_classes));
  if (spec.synthetic_channels != 1 && spec.synthetic_channels != 3)
    throw DataError("data.synthetic_channels must be 1 or 3, not " + std::to_string(spec.synthetic_channels));
  if (spec.synthetic_train < 1 || spec.synthetic_test < 0)
    throw DataError("data.synthetic_train must be >= 1 and data.synthetic_test >= 0");
  std::vector<std::string> names;
  for (int k = 0; k < spec.synthetic_classes; ++k) names.push_back("grating-" + std::to_string(k));
  return {make_split(spec, 0, spec.synthetic_train, names), make_split(spec, 1, spec.synthetic_test, names)};
}

}  // namespace delve
