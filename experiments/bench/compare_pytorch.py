#!/usr/bin/python3
# Side-by-side training speed of delve and PyTorch on the same nets, batch and thread count.
#
# Runs `delve bench` and the identical net in Debian's python3-torch (oneDNN kernels) alternately
# in one invocation, A B C A B C ..., so that a shared machine's load hits all of them alike, and
# prints per net the ratio delve/PyTorch for PyTorch's default (NCHW) and its best configuration
# here (channels_last). Each side runs in its own process: peak RSS is that process's, and no side
# inherits the other's threads or allocations.
#
# Nets (He et al. 2015, no batch norm; 3x3 conv stride 1 pad 1 + activation, 2x2 max-pool after
# each stage, fc 256 · fc 256 · fc 10; input 3×32×32): plain22, plain30, plain30 with channel-wise
# PReLU. Training step: forward, cross-entropy, backward, SGD momentum 0.9, weight decay 5e-4.
#
# Uses /usr/bin/python3 on purpose: Debian's python3-torch is installed for the system Python, and
# `python3` on PATH may be another build without it. Without torch it says so and exits 0.
#
# With --layers it times every layer's forward and backward on both sides instead (PyTorch's default
# layout; each module run and differentiated on its own, delve's `bench --layers`), and prints them
# side by side: where delve loses its time against PyTorch.
#
# Usage: experiments/bench/compare_pytorch.py [--rounds 3] [--batch 128] [--threads 2] [--nets plain22,...]
#        experiments/bench/compare_pytorch.py --layers --nets plain22
import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time

NETS = {  # name: (model.family, model.activation); the nets themselves are delve_torch.build_model's
    "plain14": ("plain14", "relu"),
    "plain22": ("plain22", "relu"),
    "plain30": ("plain30", "relu"),
    "plain30-prelu": ("plain30", "prelu"),
}
LAYOUTS = ["default", "channels_last"]


def torch_worker(args):
    """Runs in a child process: trains the net in PyTorch and prints one JSON line."""
    import torch
    import torch.nn as nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch_twin"))
    import delve_torch

    family, activation = NETS[args.net]
    config = delve_torch.resolve_config({"model": {"family": family, "activation": activation}})
    model = delve_torch.build_model(config, 3, 32, 10)
    for m in model.modules():  # kaiming, as delve bench: keeps 30 layers finite
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    x = torch.randn(args.batch, 3, 32, 32)
    labels = torch.randint(0, 10, (args.batch,))
    if args.layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    if args.layers:
        return torch_layer_times(args, model, x, labels, loss_fn)

    def step():
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(model(x), labels)
        loss.backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    train = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        train.append(time.perf_counter() - t0)
    infer = []
    with torch.no_grad():
        model(x)
        for _ in range(args.steps):
            t0 = time.perf_counter()
            model(x)
            infer.append(time.perf_counter() - t0)
    print(json.dumps({"train_images_per_s": args.batch / statistics.median(train),
                      "infer_images_per_s": args.batch / statistics.median(infer),
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


def torch_layer_times(args, model, x, labels, loss_fn):
    """Forward and backward time of each module on its own: the graph is cut between modules
    (detach), so each backward is one autograd.grad call for that module's input and parameters."""
    import torch
    import torch.nn as nn

    mods = [m for m in model if not isinstance(m, nn.Flatten)]

    def one_step():
        fwd, bwd, inputs, outputs = [0.0] * len(mods), [0.0] * len(mods), [], []
        h = x
        for i, m in enumerate(mods):
            if isinstance(m, nn.Linear) and h.dim() > 2:
                h = h.flatten(1)
            hin = h.detach().requires_grad_(i > 0)  # the data needs no gradient
            t0 = time.perf_counter()
            h = m(hin)
            fwd[i] = time.perf_counter() - t0
            inputs.append(hin)
            outputs.append(h)
        g = torch.autograd.grad(loss_fn(h, labels), h)[0]
        for i in reversed(range(len(mods))):
            wrt = ([inputs[i]] if i > 0 else []) + list(mods[i].parameters())
            t0 = time.perf_counter()
            grads = torch.autograd.grad(outputs[i], wrt, g)
            bwd[i] = time.perf_counter() - t0
            if i > 0:
                g = grads[0].reshape(outputs[i - 1].shape)  # fc1 saw its input flattened
        return fwd, bwd

    for _ in range(args.warmup):
        one_step()
    steps = [one_step() for _ in range(args.steps)]
    layers = []
    for i, m in enumerate(mods):
        layers.append({"kind": type(m).__name__.lower(),
                       "forward_ms": 1e3 * statistics.median(s[0][i] for s in steps),
                       "backward_ms": 1e3 * statistics.median(s[1][i] for s in steps)})
    print(json.dumps({"layers": layers}))


def compare_layers(args, net):
    """Per-layer forward + backward time, delve against PyTorch's default, alternating rounds."""
    family, _, activation = net.partition("-")
    delve_runs, torch_runs = [], []
    for r in range(args.rounds):
        cmd = [args.delve, "bench", family, "--batch", str(args.batch), "--threads", str(args.threads),
               "--warmup", str(args.warmup), "--steps", str(args.steps), "--layers", "--json"]
        if activation:
            cmd += ["--activation", activation]
        delve_runs.append(run_json(cmd)["layers"])
        torch_runs.append(run_json([sys.executable, os.path.abspath(__file__), "--worker", "--layers", "--net", net,
                                    "--layout", "default", "--batch", str(args.batch), "--threads",
                                    str(args.threads), "--warmup", str(args.warmup), "--steps",
                                    str(args.steps)])["layers"])
        print(f"{net}: round {r + 1} of {args.rounds} done", flush=True)
    names = [l["name"] for l in delve_runs[0]]
    if len(names) != len(torch_runs[0]):
        sys.exit(f"compare_pytorch: delve has {len(names)} layers, the PyTorch net {len(torch_runs[0])}")

    def med(runs, i, key):
        return statistics.median(run[i][key] for run in runs)

    print(f"\n{net}, batch {args.batch}, {args.threads} threads: ms per layer (median of {args.rounds} rounds); "
          "ratio = delve / PyTorch time, above 1 = delve slower")
    print(f"{'layer':8s} {'kind':10s} {'delve fwd':>9s} {'torch fwd':>9s} {'delve bwd':>9s} {'torch bwd':>9s} "
          f"{'ratio':>6s}")
    total_d = total_t = 0.0
    for i, name in enumerate(names):
        df, db = med(delve_runs, i, "forward_ms"), med(delve_runs, i, "backward_ms")
        tf, tb = med(torch_runs, i, "forward_ms"), med(torch_runs, i, "backward_ms")
        total_d += df + db
        total_t += tf + tb
        ratio = (df + db) / (tf + tb) if tf + tb > 0 else float("nan")
        print(f"{name:8s} {delve_runs[0][i]['kind']:10s} {df:9.2f} {tf:9.2f} {db:9.2f} {tb:9.2f} {ratio:5.2f}x")
    print(f"{'total':19s} {total_d:>39.1f} ms vs {total_t:.1f} ms: {total_d / total_t:.2f}x")


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_delve(args, net):
    family, _, activation = net.partition("-")
    cmd = [args.delve, "bench", family, "--batch", str(args.batch), "--threads", str(args.threads),
           "--warmup", str(args.warmup), "--steps", str(args.steps), "--json"]
    if activation:
        cmd += ["--activation", activation]
    return run_json(cmd)


def run_torch(args, net, layout):
    return run_json([sys.executable, os.path.abspath(__file__), "--worker", "--net", net, "--layout", layout,
                     "--batch", str(args.batch), "--threads", str(args.threads), "--warmup", str(args.warmup),
                     "--steps", str(args.steps)])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--nets", default="plain22,plain30,plain30-prelu", help="comma-separated: " + ", ".join(NETS))
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="A B C rounds per net (delve, torch, torch channels_last)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5, help="timed steps per run; each run reports its median")
    p.add_argument("--delve", default=os.path.join(here, "..", "..", "build", "delve"))
    p.add_argument("--json", help="also write every measurement to this file")
    p.add_argument("--layers", action="store_true",
                   help="per-layer forward and backward times, delve against PyTorch's default layout")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--net", help=argparse.SUPPRESS)
    p.add_argument("--layout", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return torch_worker(args)

    nets = args.nets.split(",")
    for n in nets:
        if n not in NETS:
            sys.exit(f"unknown net {n!r}; known: {', '.join(NETS)}")
    have_torch = importlib.util.find_spec("torch") is not None
    if args.layers:
        if not have_torch:
            print(f"compare_pytorch: PyTorch is not installed for {sys.executable} (apt-get install python3-torch); "
                  "nothing to compare per layer")
            return
        for net in nets:
            compare_layers(args, net)
        return
    if not have_torch:
        print(f"compare_pytorch: PyTorch is not installed for {sys.executable} (apt-get install python3-torch); "
              "skipping the comparison, delve alone:")
    print(f"batch {args.batch}, {args.threads} threads, {args.rounds} rounds of {args.steps} timed steps "
          f"(after {args.warmup} warm-up), order per round: delve, torch default, torch channels_last\n")
    records = []
    summary = []
    for net in nets:
        runs = {"delve": [], "default": [], "channels_last": []}
        for r in range(args.rounds):
            runs["delve"].append(run_delve(args, net))
            if have_torch:
                for layout in LAYOUTS:
                    runs[layout].append(run_torch(args, net, layout))
            line = "  ".join(f"{k} {v[-1]['train_images_per_s']:6.1f}" for k, v in runs.items() if v)
            print(f"{net:14s} round {r + 1}: train img/s  {line}", flush=True)
        records.append({"net": net, "runs": runs})
        med = {k: statistics.median(x["train_images_per_s"] for x in v) for k, v in runs.items() if v}
        inf = {k: statistics.median(x["infer_images_per_s"] for x in v) for k, v in runs.items() if v}
        rss = {k: max(x["peak_rss_mib"] for x in v) for k, v in runs.items() if v}
        ratios = {}
        if have_torch:  # ratio within each round (same load), then the median over rounds
            for layout in LAYOUTS:
                ratios[layout] = statistics.median(
                    d["train_images_per_s"] / t["train_images_per_s"] for d, t in zip(runs["delve"], runs[layout]))
        summary.append((net, med, inf, rss, ratios, runs["delve"][-1].get("train_gflops", 0)))

    print("\nmedian over rounds; ratio = delve / PyTorch, per round then median")
    print(f"{'net':14s} {'delve':>8s} {'torch':>8s} {'t. CL':>8s} {'÷torch':>7s} {'÷t.CL':>7s} "
          f"{'infer d/t/tCL':>20s} {'RSS MiB d/t/tCL':>18s}")
    for net, med, inf, rss, ratios, _ in summary:
        if have_torch:
            print(f"{net:14s} {med['delve']:8.1f} {med['default']:8.1f} {med['channels_last']:8.1f} "
                  f"{ratios['default']:6.2f}x {ratios['channels_last']:6.2f}x "
                  f"{inf['delve']:6.0f}/{inf['default']:5.0f}/{inf['channels_last']:5.0f} "
                  f"{rss['delve']:5.0f}/{rss['default']:5.0f}/{rss['channels_last']:5.0f}")
        else:
            print(f"{net:14s} {med['delve']:8.1f}        -        -       -       - "
                  f"{inf['delve']:6.0f}/    -/    - {rss['delve']:5.0f}/    -/    -")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
