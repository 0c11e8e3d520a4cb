"""delve's nets in PyTorch (experiments/run/model_builder.cpp) and their initialisation
(layers/init.cpp, Net::init in layers/net.cpp) drawn with delve's RNG."""
import math
from collections import OrderedDict

import torch
import torch.nn as nn

from .errors import ConfigError
from .rng import DelveRng, derive_seed


class Shape:
    def __init__(self, c, h, w):
        self.c, self.h, self.w, self.flat = c, h, w, False


def _activation(kind, init, shape, index):
    channels = shape.c if not shape.flat else shape.c * shape.h * shape.w
    if kind == "relu":
        return f"relu{index}", nn.ReLU()
    if kind == "tanh":
        return f"tanh{index}", nn.Tanh()
    if kind in ("prelu", "prelu_shared"):
        return f"prelu{index}", nn.PReLU(1 if kind == "prelu_shared" else channels, init=float(init))
    raise ConfigError(f'unknown activation "{kind}"')


def expand_layers(model):
    """The layer list of a model config: model_builder.cpp's presets written as family "layers"."""
    if model["family"] == "layers":
        return [{"type": l} if isinstance(l, str) else dict(l) for l in model["layers"]]
    presets = {"plain14": [[1, 32], [4, 64], [6, 128]], "plain22": [[6, 32], [6, 64], [7, 128]],
               "plain30": [[9, 16], [9, 32], [9, 64]]}
    if model["family"] in presets:
        stages, fc = presets[model["family"]], [256, 256]
    elif model["family"] == "plain":
        stages = [[s["convs"], s["width"]] if isinstance(s, dict) else s for s in model["stages"]]
        fc = model["fc"]
    else:
        raise ConfigError(f'unknown model.family "{model["family"]}"')
    act = {"type": model["activation"]}
    layers = []
    for convs, width in stages:
        layers += [{"type": "conv", "out": width, "kernel": 3, "stride": 1, "pad": 1}, act] * convs
        layers.append({"type": "maxpool", "kernel": 2, "stride": 2})
    for width in fc:
        layers += [{"type": "linear", "out": width}, act]
        if model["dropout"] > 0:
            layers.append({"type": "dropout", "p": model["dropout"]})
    return layers + [{"type": "linear", "out": None}]  # None: the classes


def build_model(config, channels, size, classes):
    """nn.Sequential whose state_dict names and shapes are delve's (model_builder.cpp)."""
    model, shape = config["model"], Shape(channels, size, size)
    count, mods = {"conv": 0, "fc": 0, "act": 0, "pool": 0, "drop": 0}, []
    for l in expand_layers(model):
        t = l["type"]
        if t == "conv":
            k = l.get("kernel", 3)
            s, p = l.get("stride", 1), l.get("pad", k // 2)
            count["conv"] += 1
            mods.append((f"conv{count['conv']}", nn.Conv2d(shape.c, l["out"], k, s, p, bias=l.get("bias", True))))
            shape = Shape(l["out"], (shape.h + 2 * p - k) // s + 1, (shape.w + 2 * p - k) // s + 1)
        elif t == "linear":
            if not shape.flat:
                mods.append((f"flatten{count['fc'] + 1}", nn.Flatten()))
            count["fc"] += 1
            out = classes if l["out"] is None else l["out"]
            mods.append((f"fc{count['fc']}", nn.Linear(shape.c * shape.h * shape.w, out, bias=l.get("bias", True))))
            shape = Shape(out, 1, 1)
            shape.flat = True
        elif t in ("relu", "tanh", "prelu", "prelu_shared"):
            count["act"] += 1
            mods.append(_activation(t, l.get("init", model["prelu_init"]), shape, count["act"]))
        elif t == "maxpool":
            k = l.get("kernel", 2)
            s = l.get("stride", k)
            count["pool"] += 1
            mods.append((f"pool{count['pool']}", nn.MaxPool2d(k, s)))
            shape = Shape(shape.c, (shape.h - k) // s + 1, (shape.w - k) // s + 1)
        elif t == "dropout":
            count["drop"] += 1
            mods.append((f"drop{count['drop']}", nn.Dropout(l["p"])))
        else:
            raise ConfigError(f'unknown layer type "{t}"')
    return nn.Sequential(OrderedDict(mods))


def _gain(m):
    """A module's rectifier gain ½(1+a²) (layers/layer.h), None for a non-activation."""
    if isinstance(m, nn.ReLU):
        return 0.5
    if isinstance(m, nn.Tanh):
        return 1.0
    if isinstance(m, nn.PReLU):
        return 0.5 * (1.0 + float((m.weight.double() ** 2).mean()))
    return None


def rectifier_gain_at(mods, k, before):
    """Net::rectifier_gain_at: the nearest activation on one side of module k, not past another
    weight layer; the other side's at the first or last weight layer; ReLU's ½ without any."""
    def nearest(back):
        js = range(k - 1, -1, -1) if back else range(k + 1, len(mods))
        for j in js:
            g = _gain(mods[j])
            if g is not None:
                return g
            if isinstance(mods[j], (nn.Conv2d, nn.Linear)):
                return None
        return None
    g = nearest(before)
    if g is None:
        g = nearest(not before)
    return 0.5 if g is None else g


def init_std(init, fan_in, fan_out, a):
    """layers/init.cpp, init_std: He et al. Eq. 10/14/15, Xavier n·Var = 1, Glorot Eq. 16, fixed."""
    n = fan_in if init["mode"] == "fan_in" else fan_out
    kind = init["kind"]
    if kind == "kaiming":
        return math.sqrt(2.0 / ((1.0 + a * a) * n))
    if kind == "xavier":
        return math.sqrt(1.0 / n)
    if kind == "glorot":
        return math.sqrt(2.0 / (fan_in + fan_out))
    if kind == "gaussian":
        return float(torch.tensor(init["std"], dtype=torch.float32))  # InitSpec::std is a float
    raise ConfigError(f'unknown init.kind "{kind}"')


def init_delve(net, config):
    """Net::init with delve's RNG: biases 0 and slopes at their fill (set by the constructors),
    then every weight in declaration order, N(0, std²) (or Glorot's uniform ±√3·std) drawn from
    Rng(derive_seed(seed, 1)), so a seed gives delve's own initial weights."""
    init, mods = config["init"], list(net.children())
    rng = DelveRng(derive_seed(config["seed"], 1))
    with torch.no_grad():
        for k, m in enumerate(mods):
            if not isinstance(m, (nn.Conv2d, nn.Linear)):
                continue
            if m.bias is not None:
                m.bias.zero_()
            w = m.weight
            receptive = w[0][0].numel() if w.dim() > 2 else 1
            fan_in, fan_out = w.shape[1] * receptive, w.shape[0] * receptive
            a = init["a"]
            if init["kind"] == "kaiming" and a < 0:  # from the net (Eq. 15, kaiming_slope_for_gain)
                a = math.sqrt(max(0.0, 2.0 * rectifier_gain_at(mods, k, init["mode"] == "fan_in") - 1.0))
            std = init_std(init, fan_in, fan_out, float(torch.tensor(a, dtype=torch.float32)))
            if init["kind"] == "glorot" and init["distribution"] == "uniform":
                bound = math.sqrt(3.0) * std
                values = [bound * (2.0 * rng.uniform() - 1.0) for _ in range(w.numel())]
            else:
                values = [std * rng.normal() for _ in range(w.numel())]
            w.copy_(torch.tensor(values, dtype=torch.float64).reshape(w.shape))
