#!/usr/bin/python3
"""Writes tests/golden/tiny_net.safetensors, the fixture of tests/test_golden.cpp.

An independent implementation of one training step of a tiny net, in PyTorch and float64:
    conv1 (3x3, pad 1) - prelu1 (channel-wise) - pool1 (2x2/2) - conv2 (3x3, pad 1)
    - prelu2 (channel-shared) - flatten - fc1 - prelu3 (channel-wise) - fc2 - softmax cross-entropy
with delve's parameter names and shapes (conv weight [out, in, kh, kw], fc weight [out, in] over
PyTorch's flatten order of a C x H x W image, PReLU slopes [channels] or [1]), then one SGD step in
Caffe's form, as optim/sgd.cpp: v = mu*v + lr*lr_mult*(dw + lambda*decay_mult*w); w -= v, with
lr_mult 1 and decay_mult 0 on biases and slopes (as delve's layers declare them).

Every value is drawn in float32 (so delve holds it exactly) and computed in float64; results are
stored rounded to float32 (delve's safetensors are F32), which tests/test_golden.cpp allows for.

Regenerate (needs Debian's python3-torch; the test itself needs no Python):
    /usr/bin/python3 tests/golden/make_golden.py
"""
import json
import os
import struct

import torch
import torch.nn.functional as F

N, C, H, W, CLASSES = 5, 3, 7, 7, 3
LR, MOMENTUM, WEIGHT_DECAY = 0.05, 0.9, 0.01
# delve's layer list (experiments/run/model_builder.cpp, family "layers"); the names follow from it.
MODEL = [
    {"type": "conv", "out": 4, "kernel": 3, "pad": 1},
    {"type": "prelu"},
    {"type": "maxpool", "kernel": 2, "stride": 2},
    {"type": "conv", "out": 5, "kernel": 3, "pad": 1},
    {"type": "prelu_shared"},
    {"type": "linear", "out": 8},
    {"type": "prelu"},
    {"type": "linear", "out": CLASSES},
]


def f32(t):
    """A float32 draw promoted to float64: delve reads the same value exactly."""
    return t.float().double()


def parameters(gen):
    def normal(*shape, std):
        return f32(torch.randn(*shape, generator=gen, dtype=torch.float64) * std)

    def slopes(n):
        return f32(0.1 + 0.4 * torch.rand(n, generator=gen, dtype=torch.float64))

    fc1_in = 5 * (H // 2) * (W // 2)
    return {  # in delve's declaration order
        "conv1.weight": normal(4, C, 3, 3, std=(2.0 / (9 * C)) ** 0.5),
        "conv1.bias": normal(4, std=0.1),
        "prelu1.weight": slopes(4),
        "conv2.weight": normal(5, 4, 3, 3, std=(2.0 / 36) ** 0.5),
        "conv2.bias": normal(5, std=0.1),
        "prelu2.weight": slopes(1),
        "fc1.weight": normal(8, fc1_in, std=(2.0 / fc1_in) ** 0.5),
        "fc1.bias": normal(8, std=0.1),
        "prelu3.weight": slopes(8),
        "fc2.weight": normal(CLASSES, 8, std=(2.0 / 8) ** 0.5),
        "fc2.bias": normal(CLASSES, std=0.1),
    }


def forward(p, x):
    y = F.conv2d(x, p["conv1.weight"], p["conv1.bias"], padding=1)
    y = F.prelu(y, p["prelu1.weight"])
    y = F.max_pool2d(y, 2, 2)
    y = F.conv2d(y, p["conv2.weight"], p["conv2.bias"], padding=1)
    y = F.prelu(y, p["prelu2.weight"])
    y = torch.flatten(y, 1)  # (c, h, w) order per image
    y = F.linear(y, p["fc1.weight"], p["fc1.bias"])
    y = F.prelu(y, p["prelu3.weight"])
    return F.linear(y, p["fc2.weight"], p["fc2.bias"])


def sgd_step(p, v):
    """Caffe's form: no decay on biases and PReLU slopes (decay_mult 0), lr_mult 1 everywhere."""
    w1, v1 = {}, {}
    for name, w in p.items():
        decay = WEIGHT_DECAY if name.endswith(".weight") and not name.startswith("prelu") else 0.0
        v1[name] = MOMENTUM * v[name] + LR * (w.grad + decay * w.detach())
        w1[name] = w.detach() - v1[name]
    return w1, v1


def write_safetensors(path, tensors, metadata):
    """The safetensors layout (core/safetensors.h): u64 header length, JSON header, F32 data."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    gen = torch.Generator().manual_seed(20150206)
    p = {k: v.requires_grad_() for k, v in parameters(gen).items()}
    x = f32(torch.randn(N, C, H, W, generator=gen, dtype=torch.float64))
    labels = torch.randint(0, CLASSES, (N,), generator=gen)
    v0 = {k: f32(0.01 * torch.randn(w.shape, generator=gen, dtype=torch.float64)) for k, w in p.items()}
    logits = forward(p, x)
    loss = F.cross_entropy(logits, labels)  # mean over the batch
    loss.backward()
    w1, v1 = sgd_step(p, v0)
    out = {"input": x, "labels": labels.double(), "logits": logits, "loss": loss.reshape(1)}
    out.update(p)
    out.update({"momentum." + k: v for k, v in v0.items()})
    out.update({"grad." + k: w.grad for k, w in p.items()})
    out.update({"updated." + k: w for k, w in w1.items()})
    out.update({"updated_momentum." + k: v for k, v in v1.items()})
    metadata = {"format": "delve golden 1", "model": json.dumps(MODEL), "lr": repr(LR), "momentum": repr(MOMENTUM),
                "weight_decay": repr(WEIGHT_DECAY), "torch": torch.__version__}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_net.safetensors")
    write_safetensors(path, out, metadata)
    print(f"wrote {path}: loss {loss.item():.6f}, {len(out)} tensors")


if __name__ == "__main__":
    main()
