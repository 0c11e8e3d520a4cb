#!/usr/bin/python3
"""Checks that the PyTorch twin starts where delve starts: the same initial weights and first batch.

    /usr/bin/python3 experiments/torch_twin/check_init.py CONFIG [--set key.path=value ...]

Runs `delve run CONFIG` for one step at learning rate 1e-30 into a temporary directory: the step
changes no weight whose magnitude exceeds 1e-20 (1e-30·|∂L/∂w| is far below half an ulp of such a
weight), so its checkpoint holds delve's initialisation. The twin then initialises the same net from
the same seed (delve_torch.init_delve, delve's RNG) and must give every such value bit for bit, and
the loss of the first batch (the seed's shuffle, crops and flips, normalised as delve) within
float32 rounding (1e-3, derived in the code) of delve's logged one (unless the net has dropout,
whose masks the twin draws from PyTorch's stream). Exits 1 on a difference.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see eval_checkpoint.py
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import delve_torch as dt  # noqa: E402


def delve_first_step(delve, config, sets, out):
    cmd = [delve, "run", config, "--out", out, "--quiet", "--set", "optim.lr=1e-30", "--set", "train.iterations=1",
           "--set", "train.eval_subset=100"] + [a for s in sets for a in ("--set", s)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "log.jsonl")) as f:
        loss = next(e["loss"] for e in map(json.loads, f) if e["event"] == "train")
    return dt.load_checkpoint(os.path.join(out, "checkpoint.safetensors")) + (loss,)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--delve", default=os.path.join(dt.REPO, "build", "delve"))
    args = p.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix="delve-check-init-") as tmp:
        config, weights, delve_loss = delve_first_step(args.delve, args.config, args.set, os.path.join(tmp, "run"))
    data = dt.DelveData(config)
    net = dt.build_model(config, 1, config["data"]["pad_to"], 10)
    dt.init_delve(net, config)
    differ = []
    for name, mine in net.state_dict().items():
        theirs = weights[name]
        kept = theirs.abs() > 1e-20
        if mine.shape != theirs.shape or not torch.equal(mine[kept], theirs[kept]):
            differ.append(name)
    x, labels = data.train_batch(0, 0)
    loss, _ = dt.train_step(net, x, labels)
    # Both sides sum in float32 in different orders. Each layer's sums of n <= 576 products round
    # within γ_n = n·2^-24 ≈ 3.4e-5 of their magnitudes, so 30 layers stay within about 1e-3 of the
    # logits' scale, and so does the loss; another batch or weight moves it by far more.
    # With dropout the masks come from another stream, and the losses are not comparable.
    dropout = any(isinstance(m, torch.nn.Dropout) for m in net.modules())
    loss_ok = dropout or abs(loss - delve_loss) <= 1e-3 * abs(delve_loss)
    print(f"{len(weights) - len(differ)} of {len(weights)} tensors equal to delve's initialisation"
          f"{': differ ' + ', '.join(differ) if differ else ''}; first batch loss delve {delve_loss:.7f}, "
          f"PyTorch {loss:.7f}{' (dropout: not compared)' if dropout else ''}")
    sys.exit(0 if not differ and loss_ok else 1)


if __name__ == "__main__":
    main()
