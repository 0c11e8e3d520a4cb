"""delve's data: IDX files (data/idx.cpp), the training subset (data/subset.cpp), the
normaliser (data/normalizer.cpp) and the batches (data/batcher.cpp, data/augment.cpp)."""
import gzip
import os
import math
import struct

import torch
import torch.nn as nn

from .errors import DataError
from .rng import DelveRng, seed_mix, shuffle_in_place

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"  # data/idx.h, kFashionMnistDefaultDir


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
