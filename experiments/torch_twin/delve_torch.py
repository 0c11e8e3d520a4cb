"""delve's nets, data and checkpoints in PyTorch: the one place the Python tools share them.

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
import gzip
import json
import math
import os
import re
import struct

import torch
import torch.nn as nn

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"  # data/idx.h, kFashionMnistDefaultDir
MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


class TwinError(Exception):
    """A bad input (file, config, value): the scripts print it on one line and exit with `code`,
    delve's exit codes (core/error.h)."""
    code = 1


class ConfigError(TwinError):
    code = 3


class DataError(TwinError):
    code = 4


class CheckpointError(TwinError):
    code = 5


# ---------------------------------------------------------------------------------------------
# delve's RNG (core/rng.cpp: xoshiro256** seeded through splitmix64) and seeds (data/seed_mix.h,
# experiments/run/session.cpp).

def _mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def seed_mix(seed, *rest):
    h = _mix64((seed + GOLDEN) & MASK64)
    for r in rest:
        h = _mix64(h ^ ((r + GOLDEN) & MASK64))
    return h


class DelveRng:
    def __init__(self, seed):
        x, self.s = seed & MASK64, []
        for _ in range(4):
            x = (x + GOLDEN) & MASK64
            self.s.append(_mix64(x))
        self.spare = None

    def next_u64(self):
        s0, s1, s2, s3 = self.s
        rot = ((s1 * 5) & MASK64)
        result = ((((rot << 7) | (rot >> 57)) & MASK64) * 9) & MASK64
        t = (s1 << 17) & MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 45) | (s3 >> 19)) & MASK64
        self.s = [s0, s1, s2, s3]
        return result

    def uniform(self):
        return (self.next_u64() >> 11) * 2.0 ** -53

    def uniformf(self):  # [0, 1) with 24 bits, as Rng::uniformf
        return (self.next_u64() >> 40) * (1.0 / 16777216.0)

    def below(self, n):  # Lemire's method with rejection, as Rng::below
        if n == 0:
            return 0
        m = self.next_u64() * n
        if (m & MASK64) < n:
            threshold = ((1 << 64) - n) % n
            while (m & MASK64) < threshold:
                m = self.next_u64() * n
        return m >> 64

    def normal(self):  # Box-Muller, both values used in turn
        if self.spare is not None:
            v, self.spare = self.spare, None
            return v
        u1 = self.uniform()
        while u1 <= 0.0:
            u1 = self.uniform()
        u2 = self.uniform()
        r, theta = math.sqrt(-2.0 * math.log(u1)), 2.0 * math.pi * u2
        self.spare = r * math.sin(theta)
        return r * math.cos(theta)


def derive_seed(seed, purpose):  # session.cpp: 1 init, 2 dropout
    return DelveRng(seed ^ ((GOLDEN * (purpose + 1)) & MASK64)).next_u64()


def shuffle_in_place(order, rng):  # the Fisher-Yates of data/subset.cpp and data/batcher.cpp
    for i in range(len(order), 1, -1):
        j = rng.below(i)
        order[i - 1], order[j] = order[j], order[i - 1]


# ---------------------------------------------------------------------------------------------
# Configs.

def delve_defaults():
    """kDefaults of experiments/run/config.cpp, the defaults and schema of every config."""
    path = os.path.join(REPO, "experiments", "run", "config.cpp")
    with open(path) as f:
        m = re.search(r'kDefaults = R"json\((.*?)\)json"', f.read(), re.S)
    if not m:
        raise ConfigError(f"{path}: no kDefaults found")
    return json.loads(m.group(1))


def _merge(into, user, path):
    for key, value in user.items():
        where = f"{path}.{key}" if path else key
        if key not in into:
            raise ConfigError(f'unknown key "{where}"')
        if isinstance(into[key], dict) and isinstance(value, dict) and where != "sweep":
            _merge(into[key], value, where)
        else:
            into[key] = value


def parse_set(assignment):
    """--set a.b=value as delve reads it: JSON, else a bare word is a string."""
    key, eq, text = assignment.partition("=")
    if not eq or not key:
        raise ConfigError(f"--set {assignment}: expected key.path=value")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        if text[:1] in '[{"-0123456789':
            raise ConfigError(f"--set {assignment}: not valid JSON")
        value = text
    return key, value


def resolve_config(user, sets=()):
    """A config (a file's JSON, resolved or not) merged over delve's defaults, then the --set
    overrides; a swept key set by --set is pinned (its axis removed), as in delve run."""
    cfg = delve_defaults()
    _merge(cfg, user, "")
    for assignment in sets:
        key, value = parse_set(assignment)
        node, parts = cfg, key.split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ConfigError(f'--set {assignment}: unknown key "{key}"')
            node = node[p]
        if parts[-1] not in node:
            raise ConfigError(f'--set {assignment}: unknown key "{key}"')
        node[parts[-1]] = value
        cfg["sweep"].pop(key, None)
    if cfg["sweep"]:
        raise ConfigError("the config sweeps " + ", ".join(cfg["sweep"]) + ": pin each with --set KEY=VALUE")
    return cfg


def load_config_file(path, sets=()):
    try:
        with open(path) as f:
            return resolve_config(json.load(f), sets)
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: {e}")


# ---------------------------------------------------------------------------------------------
# Nets.

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
    from collections import OrderedDict
    return nn.Sequential(OrderedDict(mods))


def weight_layers(net):
    return [(name, m) for name, m in net.named_children() if isinstance(m, (nn.Conv2d, nn.Linear))]


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


def f32(v):
    """A value as delve holds it: its configs' learning rates, momentum and decay are floats."""
    return struct.unpack("<f", struct.pack("<f", v))[0]


def sgd_step(net, velocity, lr, momentum, weight_decay):
    """optim/sgd.cpp, Caffe's form in float32: v = μ·v + lr·(dw + λ·decay_mult·w); w -= v."""
    lr, momentum, weight_decay = f32(lr), f32(momentum), f32(weight_decay)
    children = dict(net.named_children())
    with torch.no_grad():
        for name, p in net.named_parameters():
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            module = children[name.split(".")[0]]
            if name.endswith(".weight") and isinstance(module, (nn.Conv2d, nn.Linear)):  # decay_mult 1
                g = g + weight_decay * p
            v = velocity.setdefault(name, torch.zeros_like(p))
            v.mul_(momentum).add_(g, alpha=lr)
            p.sub_(v)


def train_step(net, x, labels):
    """Forward in training mode, the batch's mean cross-entropy and backward (the gradients are
    set, not accumulated); returns the loss and the number of images whose first maximal logit is
    not the label, as layers/softmax_xent.cpp counts them."""
    net.train()
    for p in net.parameters():
        p.grad = None
    logits = net(x)
    loss = nn.functional.cross_entropy(logits, labels)
    if torch.isfinite(loss):
        loss.backward()
    return float(loss), int((logits.argmax(1) != labels).sum())


class Schedule:
    """optim/schedule.cpp: the learning rate by epoch (constant, step, multistep, plateau)."""

    def __init__(self, optim):
        self.spec, self.lr, self.best, self.bad = optim["schedule"], f32(optim["lr"]), 1e300, 0
        self.base = self.lr
        if self.spec["kind"] not in ("constant", "step", "multistep", "plateau"):
            raise ConfigError(f'unknown optim.schedule.kind "{self.spec["kind"]}"')

    def on_epoch_end(self, epoch, error):
        s, after = self.spec, epoch + 1  # the epoch about to start
        if s["kind"] == "step":
            self.lr = f32(self.base * f32(s["gamma"]) ** (after // s["every"]))
        elif s["kind"] == "multistep":
            self.lr = f32(self.base * f32(s["gamma"]) ** sum(1 for m in s["milestones"] if m <= after))
        elif s["kind"] == "plateau":
            if error < self.best * (1.0 - f32(s["threshold"])):
                self.best, self.bad = error, 0
            else:
                self.bad += 1
                if self.bad > s["patience"]:
                    self.lr = max(f32(s["min_lr"]), f32(self.lr * f32(s["factor"])))
                    self.bad, self.best = 0, min(self.best, error)


# ---------------------------------------------------------------------------------------------
# Data.

def read_idx(path, dims):
    """One IDX file (data/idx.cpp): big-endian magic 0x000008NN, NN uint32 sizes, the bytes."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise DataError(f"{path}: {e}")
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    magic = struct.unpack(">I", raw[:4])[0] if len(raw) >= 4 else None
    if magic != 0x800 | dims:
        raise DataError(f"{path}: not an IDX file of {dims} dimension(s)")
    sizes = struct.unpack(f">{dims}I", raw[4:4 + 4 * dims])
    data = torch.frombuffer(bytearray(raw[4 + 4 * dims:]), dtype=torch.uint8)
    if data.numel() != math.prod(sizes):
        raise DataError(f"{path}: holds {data.numel()} bytes, the header promises {math.prod(sizes)}")
    return data.reshape(sizes)


def _idx_file(directory, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(directory, name)):
            return os.path.join(directory, name)
    raise DataError(f"{directory}: no {stem} or {stem}.gz (Debian package dataset-fashion-mnist)")


def load_split(data, split):
    """(images uint8 [N, 1, 28, 28], labels int64 [N]) of Fashion-MNIST or MNIST."""
    if data["source"] not in ("fashion-mnist", "mnist"):
        raise DataError(f'data.source "{data["source"]}": the PyTorch twin reads only fashion-mnist and mnist')
    directory = data["path"] or FASHION_MNIST_DIR
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(_idx_file(directory, f"{prefix}-images-idx3-ubyte"), 3)
    labels = read_idx(_idx_file(directory, f"{prefix}-labels-idx1-ubyte"), 1).long()
    if len(images) != len(labels):
        raise DataError(f"{directory}: {len(images)} {split} images but {len(labels)} labels")
    return images.unsqueeze(1), labels


def training_subset(labels, n, seed, classes=10):
    """data/subset.cpp: all images (n = 0), else a seeded class-balanced n, in index order."""
    order = list(range(len(labels)))
    if n == 0:
        return order
    shuffle_in_place(order, DelveRng(seed_mix(seed, 1)))  # kSubsetChoice
    quota = [n // classes + (1 if k < n % classes else 0) for k in range(classes)]
    chosen, lab = [], labels.tolist()
    for i in order:
        if quota[lab[i]] > 0:
            quota[lab[i]] -= 1
            chosen.append(i)
    if any(quota):
        raise DataError(f"data.train_subset {n}: too few images of some class")
    return sorted(chosen)


class Normalizer:
    """data/normalizer.cpp: y = x·scale[c] + offset[c,i,j] on a centred pad_to canvas, the
    statistics taken once over the training images' canvases (padding included)."""

    def __init__(self, train_images, data):
        n, c, h, w = train_images.shape
        self.p = p = data["pad_to"]
        if p < h or p < w:
            raise DataError(f"data.pad_to {p} is smaller than the {h}x{w} images")
        self.top, self.left, self.h, self.w = (p - h) // 2, (p - w) // 2, h, w
        self.scale = torch.full((c, 1, 1), 1.0 / 255.0, dtype=torch.float32)
        self.offset = torch.zeros(c, p, p, dtype=torch.float32)
        method = data["normalize"]
        if method == "mean_image":
            mean = train_images.sum(0, dtype=torch.int64).double() / n  # exact integer sums
            self.offset[:, self.top:self.top + h, self.left:self.left + w] = (-mean / 255.0).float()
        elif method == "channel":
            x = train_images.to(torch.int64)
            count = n * p * p
            mean = x.sum((0, 2, 3)).double() / count
            var = ((x * x).sum((0, 2, 3)).double() / count - mean * mean).clamp(min=0)
            std = var.sqrt()
            std = torch.where(std < 1e-6, torch.ones_like(std), std)
            self.scale = (1.0 / std).float().reshape(c, 1, 1)
            self.offset = (-mean / std).float().reshape(c, 1, 1).expand(c, p, p).clone()
        elif method != "none":
            raise DataError(f'data.normalize "{method}" is not mean_image, channel or none')

    def apply(self, images):
        """uint8 [N, C, H, W] -> float32 [N, C, P, P]: offset + x·scale, as Normalizer::apply."""
        out = self.offset.expand(len(images), *self.offset.shape).clone()
        region = out[:, :, self.top:self.top + self.h, self.left:self.left + self.w]
        region += images.float() * self.scale
        return out


class DelveData:
    """The training images delve trains on and the test images it evaluates, normalised as delve."""

    def __init__(self, config):
        data = config["data"]
        train_x, train_y = load_split(data, "train")
        self.order = training_subset(train_y, data["train_subset"], config["seed"])
        subset = torch.tensor(self.order)
        self.normalizer = Normalizer(train_x[subset], data)
        self.train_x, self.train_y = train_x, train_y  # bytes, normalised batch by batch as delve
        test_x, test_y = load_split(data, "test")
        keep = config["train"]["eval_subset"] or len(test_y)  # session.cpp: the first N
        self.test_x, self.test_y = test_x[:keep], test_y[:keep]
        self.seed, self.crop_pad, self.flip = config["seed"], data["crop_pad"], data["flip"]
        self.batch = config["train"]["batch"]
        self.per_epoch = len(self.order) // self.batch
        self._epoch, self._perm = None, None

    def train_batch(self, epoch, index):
        """Batch `index` of `epoch` (data/batcher.cpp): the epoch's shuffle of the training
        images, then each image's crop and flip drawn from the batch's own stream."""
        if self._epoch != epoch:
            self._perm = list(self.order)
            shuffle_in_place(self._perm, DelveRng(seed_mix(self.seed, 2, epoch)))  # kEpochShuffle
            self._epoch = epoch
        ids = torch.tensor(self._perm[index * self.batch:(index + 1) * self.batch])
        x = self.normalizer.apply(self.train_x[ids])
        if self.crop_pad or self.flip:
            x = self._augment(x, DelveRng(seed_mix(self.seed, 3, epoch, index)))  # kAugmentation
        return x, self.train_y[ids]

    def _augment(self, x, rng):
        """data/augment.cpp: a P x P window of the canvas zero-padded by crop_pad (zeros after
        normalisation), at (dy, dx), then mirrored left-right."""
        c, p = self.crop_pad, x.shape[-1]
        padded = nn.functional.pad(x, (c, c, c, c)) if c else x
        out = torch.empty_like(x)
        for j in range(len(x)):
            dy = rng.below(2 * c + 1) if c else 0
            dx = rng.below(2 * c + 1) if c else 0
            flip = self.flip and (rng.next_u64() >> 63) != 0
            window = padded[j, :, dy:dy + p, dx:dx + p]
            out[j] = window.flip(-1) if flip else window
        return out


# ---------------------------------------------------------------------------------------------
# Checkpoints.

def read_safetensors(path):
    """(tensors by name, metadata) of a safetensors file: u64 LE header length, JSON, raw data."""
    dtypes = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32}
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise CheckpointError(f"{path}: {e}")
    if len(raw) < 8:
        raise CheckpointError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
    n = struct.unpack("<Q", raw[:8])[0]
    try:
        header = json.loads(raw[8:8 + n])
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{path}: not a safetensors file (no JSON header)")
    meta, tensors, data = header.pop("__metadata__", {}), {}, raw[8 + n:]
    for name, info in header.items():
        begin, end = info["data_offsets"]
        if info["dtype"] not in dtypes or end > len(data):
            raise CheckpointError(f"{path}: tensor {name}: dtype {info['dtype']} or offsets beyond the file")
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtypes[info["dtype"]])
        tensors[name] = t.reshape(info["shape"])
    return tensors, meta


def load_checkpoint(path):
    """(config, weights) of a delve checkpoint (experiments/run/checkpoint.cpp): the resolved
    config from the metadata, the parameters without their momentum.* buffers."""
    tensors, meta = read_safetensors(path)
    if meta.get("format") != "delve-checkpoint" or "config" not in meta:
        raise CheckpointError(f'{path}: not a delve checkpoint (metadata "format" is not "delve-checkpoint")')
    weights = {k: v for k, v in tensors.items() if not k.startswith("momentum.")}
    return json.loads(meta["config"]), weights


def evaluate(net, normalizer, images, labels, batch=500):
    """Test loss and error as experiments/run/evaluate.cpp: mean cross-entropy, and the fraction
    whose first maximal logit is not the label; also every image's logits."""
    net.eval()
    loss, logits = 0.0, []
    with torch.no_grad():
        for i in range(0, len(labels), batch):
            z = net(normalizer.apply(images[i:i + batch]))
            loss += float(nn.functional.cross_entropy(z, labels[i:i + batch], reduction="sum"))
            logits.append(z)
    logits = torch.cat(logits)
    return loss / len(labels), float((logits.argmax(1) != labels).double().mean()), logits
