#!/usr/bin/python3
"""Real training throughput: `delve run` on Fashion-MNIST against a PyTorch loop on the same data.

    /usr/bin/python3 experiments/bench/train_throughput.py [--nets plain22,plain30,plain30-prelu]
        [--rounds 3] [--warmup 25] [--steps 100] [--batch 128] [--threads 2]

Unlike compare_pytorch.py (synthetic batches, the step alone), both sides here train as a user
would: delve's whole `run` (loading and normalising the data on its prefetch thread, the progress
line, train events, and the `layers` statistics), and in PyTorch (experiments/torch_twin) the same
net from delve's initial weights on the same batches, normalised in the loop, with torch.optim.SGD
(momentum and weight decay from the paper configs; for a constant rate the same trajectory as
delve's Caffe form) at torch.set_num_threads(THREADS). Each side's images/s is
STEPS x batch / the wall time from the end of step WARMUP to the end of step WARMUP + STEPS; delve's
from the `time` of its train events (log_every = WARMUP, so one falls at each end).

The cost of delve's per-layer statistics: delve runs three times per round, with train.layers_every
0, the paper configs' value L (experiments/paper/fig3_plain30.json) and 1 (every step). The window
holds the same final-step statistics in all three; L adds STEPS/L events, 1 adds STEPS. Printed:
the measured slow-down at L, and the one implied by the cost of one event (from layers_every 1)
taken once every L steps, which stays meaningful when STEPS < L.

Rounds alternate delve (0, L, 1) and PyTorch per net, so a machine's load hits all alike; ratios
are taken within a round, then the median. Measure on a quiet machine: with other processes on the
cores, PyTorch's spinning OpenMP threads slow it down many times over.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "torch_twin"))
import delve_torch as dt  # noqa: E402

NETS = {"plain22": ("plain22", "relu"), "plain30": ("plain30", "relu"), "plain30-prelu": ("plain30", "prelu"),
        "plain14": ("plain14", "relu")}


def paper_train_settings():
    with open(os.path.join(dt.REPO, "experiments", "paper", "fig3_plain30.json")) as f:
        paper = json.load(f)
    return paper["train"]["layers_every"], paper["optim"]


def config_for(net, args, layers_every):
    family, activation = NETS[net]
    _, optim = paper_train_settings()
    return {"name": f"throughput-{net}", "seed": 1, "data": {"source": "fashion-mnist"},
            "model": {"family": family, "activation": activation},
            "init": {"kind": "kaiming", "mode": "fan_out"},
            "optim": {"lr": 0.001, "momentum": optim["momentum"], "weight_decay": optim["weight_decay"]},
            "train": {"iterations": args.warmup + args.steps, "batch": args.batch, "log_every": args.warmup,
                      "layers_every": layers_every, "eval_every": 0, "eval_subset": 100,
                      "threads": args.threads}}


def delve_images_per_s(args, net, layers_every, tmp):
    path = os.path.join(tmp, f"{net}-{layers_every}.json")
    with open(path, "w") as f:
        json.dump(config_for(net, args, layers_every), f)
    out = os.path.join(tmp, f"run-{net}-{layers_every}")
    subprocess.run([args.delve, "run", path, "--out", out, "--force", "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)
    times = {}
    with open(os.path.join(out, "log.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            if e["event"] == "train":
                times[e["iteration"]] = e["time"]
    return args.steps * args.batch / (times[args.warmup + args.steps] - times[args.warmup])


def torch_worker(args):
    """In a child process: the PyTorch loop, one JSON line with its images/s."""
    import torch
    torch.set_num_threads(args.threads)
    config = dt.resolve_config(config_for(args.net, args, 0))
    data = dt.DelveData(config)
    net = dt.build_model(config, 1, config["data"]["pad_to"], 10)
    dt.init_delve(net, config)
    o = config["optim"]
    decayed = [p for n, p in net.named_parameters() if n.startswith(("conv", "fc")) and n.endswith(".weight")]
    others = [p for n, p in net.named_parameters() if not any(p is q for q in decayed)]
    opt = torch.optim.SGD([{"params": decayed, "weight_decay": o["weight_decay"]},
                           {"params": others, "weight_decay": 0.0}], lr=o["lr"], momentum=o["momentum"])
    start = None
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            start = time.perf_counter()
        epoch, index = divmod(i, data.per_epoch)
        x, labels = data.train_batch(epoch, index)
        dt.train_step(net, x, labels)
        opt.step()
    print(json.dumps({"images_per_s": args.steps * args.batch / (time.perf_counter() - start)}))


def torch_images_per_s(args, net):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--net", net] + [
        f"--{k}={getattr(args, k)}" for k in ("warmup", "steps", "batch", "threads")]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["images_per_s"]


def measure(args, net, tmp, every):
    rounds = []
    for r in range(args.rounds):
        row = {f"delve_L{e}": delve_images_per_s(args, net, e, tmp) for e in (0, every, 1)}
        row["torch"] = torch_images_per_s(args, net)
        rounds.append(row)
        print(f"{net:14s} round {r + 1}: img/s  delve layers_every 0 {row['delve_L0']:6.1f}  "
              f"{every} {row[f'delve_L{every}']:6.1f}  1 {row['delve_L1']:6.1f}  PyTorch {row['torch']:6.1f}",
              flush=True)
    return rounds


def report(net, rounds, every):
    def med(f):
        return statistics.median(f(r) for r in rounds)
    # The window's time T = steps·batch / (img/s). Measured: T_L / T_0 - 1. Implied: layers_every 1
    # adds one event per step, (T_1 - T_0) / steps each; once every L steps that is
    # (T_1 / T_0 - 1) / L of the step time.
    measured = med(lambda r: r["delve_L0"] / r[f"delve_L{every}"] - 1)
    implied = med(lambda r: (r["delve_L0"] / r["delve_L1"] - 1) / every)
    print(f"{net:14s} delve {med(lambda r: r[f'delve_L{every}']):6.1f} img/s (layers_every {every}), "
          f"{med(lambda r: r['delve_L0']):6.1f} (0); PyTorch {med(lambda r: r['torch']):6.1f}; "
          f"delve / PyTorch {med(lambda r: r[f'delve_L{every}'] / r['torch']):.2f}x "
          f"(layers_every 0: {med(lambda r: r['delve_L0'] / r['torch']):.2f}x); statistics at layers_every "
          f"{every}: {100 * measured:+.1f}% of step time measured, {100 * implied:+.1f}% implied by one event's cost")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nets", default="plain22,plain30,plain30-prelu", help="comma-separated: " + ", ".join(NETS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=25, help="steps before the timed window (delve's log_every)")
    p.add_argument("--steps", type=int, default=100, help="timed steps")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--delve", default=os.path.join(dt.REPO, "build", "delve"))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--net", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return torch_worker(args)
    nets = args.nets.split(",")
    bad = [n for n in nets if n not in NETS]
    if bad or args.warmup < 1 or args.steps < 1 or args.rounds < 1:
        sys.exit(f"train_throughput: error: unknown net {bad[0]!r} (known: {', '.join(NETS)})" if bad else
                 "train_throughput: error: --warmup, --steps and --rounds must be at least 1")
    every, _ = paper_train_settings()
    print(f"Fashion-MNIST, batch {args.batch}, {args.threads} threads, {args.rounds} rounds of {args.steps} timed "
          f"steps after {args.warmup}; order per round: delve layers_every 0, {every}, 1, then PyTorch\n")
    results = []
    with tempfile.TemporaryDirectory(prefix="delve-throughput-") as tmp:
        for net in nets:
            results.append((net, measure(args, net, tmp, every)))
    print("\nmedians over rounds of the per-round figures")
    for net, rounds in results:
        report(net, rounds, every)


if __name__ == "__main__":
    main()
