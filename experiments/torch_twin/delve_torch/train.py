"""delve's training recipe: SGD in Caffe's form (optim/sgd.cpp), the step, the schedules
(optim/schedule.cpp) and the evaluation (experiments/run/evaluate.cpp)."""
import struct

import torch
import torch.nn as nn

from .errors import ConfigError


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
