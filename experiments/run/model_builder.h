// Builds a Net from a ModelSpec: the plain families of the paper's experiments, or a layer list.
//
// plain nets (no batch norm, no shortcuts): per stage `convs` × (3×3 conv, stride 1, pad 1 →
// activation), then 2×2 max-pool stride 2; then the hidden fc layers (→ activation → dropout),
// then the classifier fc. Presets:
//   plain14  conv 32 · pool · 4×conv 64 · pool · 6×conv 128 · pool · fc 256 · fc 256 · fc   (Table 1)
//   plain22  6×conv 32 · pool · 6×conv 64 · pool · 7×conv 128 · pool · fc 256 · fc 256 · fc (Fig. 2)
//   plain30  9×conv 16 · pool · 9×conv 32 · pool · 9×conv 64 · pool · fc 256 · fc 256 · fc  (Fig. 3)
// Names follow PyTorch: conv1..convK, fc1..fcM, prelu1.. (one per activation, in order), pool1..
#pragma once
#include "experiments/run/config.h"
#include "layers/net.h"

namespace delve {

// The stages and fc widths of a preset family; `spec` unchanged for "plain" and "layers".
ModelSpec expand_family(const ModelSpec& spec);
// Adds the layers for `spec` to `net` (not built yet); `classes` is the classifier's width.
void add_model_layers(Net& net, const ModelSpec& spec, int classes);

}  // namespace delve
