"""delve's nets, data and checkpoints in PyTorch: the one place the Python tools share them,
one module per concept (rng, config, nets, data, train, checkpoint).

What is delve's, and where it comes from (so the twin follows the C++ rather than a memory of it):
- configs: the defaults are read from kDefaults in experiments/run/config.cpp at run time, and a
  config is merged over them key by key (resolve_config); run directories' config.json and the
  "config" of a checkpoint's metadata are resolved already;
- nets: experiments/run/model_builder.cpp (family plain/plain14/22/30: per stage `convs` x (3x3
  conv pad 1, activation), then a 2x2/2 max-pool; hidden fc + activation (+ dropout); the
  classifier fc; family layers: the listed layers). Names and shapes are delve's: conv1.weight
  [d, c, k, k], fc1.weight [out, in] over the C x H x W flatten order, prelu<k>.weight [C] or [1],
  where k counts every activation (relu3 has no parameter, prelu3 has);
- initialisation: layers/init.cpp and Net::init (layers/net.cpp), drawn here with delve's own RNG
  (core/rng.cpp, ported below), so a seed gives delve's initial weights;
- data: data/idx.cpp (IDX, plain or gzipped), data/normalizer.cpp (centred zero padding to pad_to;
  mean_image, channel or none, fitted on the training images), data/subset.cpp (the class-balanced
  train_subset), data/batcher.cpp and data/augment.cpp (the epoch shuffle and the crops and flips,
  functions of (seed, epoch, batch));
- checkpoints: core/safetensors (8-byte little-endian header length, JSON header, raw F32).

Needs Debian's python3-torch (run with /usr/bin/python3).
"""
from .checkpoint import load_checkpoint, read_safetensors
from .config import REPO, delve_defaults, load_config_file, parse_set, resolve_config
from .data import FASHION_MNIST_DIR, DelveData, Normalizer, load_split, read_idx, training_subset
from .errors import CheckpointError, ConfigError, DataError, TwinError
from .nets import build_model, expand_layers, init_delve, init_std, rectifier_gain_at
from .rng import DelveRng, derive_seed, seed_mix, shuffle_in_place
from .train import Schedule, evaluate, f32, sgd_step, train_step

__all__ = [
    "load_checkpoint", "read_safetensors", "REPO", "delve_defaults", "load_config_file",
    "parse_set", "resolve_config", "FASHION_MNIST_DIR", "DelveData", "Normalizer", "load_split",
    "read_idx", "training_subset", "CheckpointError", "ConfigError", "DataError", "TwinError",
    "build_model", "expand_layers", "init_delve", "init_std", "rectifier_gain_at", "DelveRng",
    "derive_seed", "seed_mix", "shuffle_in_place", "Schedule", "evaluate", "f32", "sgd_step",
    "train_step"
]
