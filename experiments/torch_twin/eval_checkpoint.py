#!/usr/bin/python3
"""Evaluates a delve checkpoint in PyTorch and checks it against delve's own evaluation.

    /usr/bin/python3 experiments/torch_twin/eval_checkpoint.py RUN_DIR_OR_CHECKPOINT [--eval-subset N]

Rebuilds the net from the config in the checkpoint's metadata (delve_torch.build_model), loads the
tensors by name into it (strictly: a missing, extra or misshapen tensor is an error), evaluates it
on the test split normalised as delve does (the statistics of the run's training images), and runs
`delve eval` on the same checkpoint and images. Prints both test errors and losses and exits 1 if
the errors differ by more than 0.1 point (2 on a bad input).

Why 0.1 point is a fair bound: both sides compute the same function in float32, in different orders
(delve's Winograd convolutions and its own GEMM kernels, PyTorch's oneDNN), so their logits differ
by rounding, about 1e-6 relative per layer. A prediction changes only for an image whose two largest
logits are closer than that, and such near-ties are rare. The script counts the images whose
prediction rounding decides: those whose two largest float32 logits are within 1e-3 of the largest
logit's magnitude (a hundred times float32 rounding through 30 layers) are evaluated again in float64,
and it counts those whose prediction changes; every other image's ranking is beyond rounding. 0.1 point is 10 of 10,000 test images; any real mismatch (a transposed
weight, a wrong name or flatten order, another normalisation or padding) moves a trained net's
error by whole points. If the float32/float64 count itself exceeds the bound, the script says so.
"""
import argparse
import os
import re
import subprocess
import sys

# OpenMP's spinning threads, on a machine whose cores other processes share, made PyTorch's forward
# pass 15 times slower here; passive waiting costs nothing on a quiet machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import delve_torch as dt  # noqa: E402

BOUND = 0.001  # 0.1 point, see above


def checkpoint_path(arg):
    path = os.path.join(arg, "checkpoint.safetensors") if os.path.isdir(arg) else arg
    if not os.path.isfile(path):
        raise dt.CheckpointError(f"{arg}: no checkpoint.safetensors (give a run directory or a checkpoint)")
    return path


def delve_eval(delve, path, subset):
    """delve's test loss and error of the checkpoint, from `delve eval`'s one line."""
    cmd = [delve, "eval", path, "--set", f"train.eval_subset={subset}"]
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise dt.TwinError(f"{' '.join(cmd)} failed: {getattr(e, 'stderr', '') or e}")
    m = re.search(r"(\d+) images\s+loss (\S+)\s+error (\S+)%", out)
    if not m:
        raise dt.TwinError(f"cannot read delve eval's output: {out.strip()}")
    return int(m.group(1)), float(m.group(2)), float(m.group(3)) / 100


def torch_eval(path, subset):
    config, weights = dt.load_checkpoint(path)
    config["train"]["eval_subset"] = subset
    data = dt.DelveData(config)
    net = dt.build_model(config, data.test_x.shape[1], config["data"]["pad_to"], int(data.train_y.max()) + 1)
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in weights.items()}
    if expected != found:
        raise dt.CheckpointError(f"{path}: tensors differ from the net's: checkpoint only "
                           f"{sorted(set(found.items()) - set(expected.items()))}, net only "
                           f"{sorted(set(expected.items()) - set(found.items()))}")
    net.load_state_dict(weights)
    loss, error, logits = dt.evaluate(net, data.normalizer, data.test_x, data.test_y)
    return len(data.test_y), loss, error, rounding_decided(net, data, logits)


def rounding_decided(net, data, logits):
    """The near-ties (top-2 gap within 1e-3 of the top logit's size) whose prediction changes in
    float64, where the float32 canvases are evaluated again."""
    top2 = logits.topk(2, dim=1).values
    near = ((top2[:, 0] - top2[:, 1]) <= 1e-3 * top2[:, 0].abs().clamp(min=1.0)).nonzero().flatten()
    if len(near) == 0:
        return 0
    with torch.no_grad():
        z64 = net.double()(data.normalizer.apply(data.test_x[near]).double())
    return int((z64.argmax(1) != logits[near].argmax(1)).sum())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run directory or its checkpoint.safetensors")
    p.add_argument("--eval-subset", type=int, default=0, help="the first N test images (0: all), as delve eval")
    p.add_argument("--delve", default=os.path.join(dt.REPO, "build", "delve"))
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    try:
        path = checkpoint_path(args.run)
        n, t_loss, t_error, rounding_flips = torch_eval(path, args.eval_subset)
        n_delve, d_loss, d_error = delve_eval(args.delve, path, args.eval_subset)
    except dt.TwinError as e:
        print(f"eval_checkpoint: error: {e}", file=sys.stderr)
        sys.exit(getattr(e, "code", 1))
    if n != n_delve:
        sys.exit(f"eval_checkpoint: error: PyTorch evaluated {n} images, delve {n_delve}")
    print(f"{path}: {n} test images")
    print(f"  delve    test loss {d_loss:.4f}  error {100 * d_error:.2f}%  ({round(d_error * n)} wrong)")
    print(f"  PyTorch  test loss {t_loss:.4f}  error {100 * t_error:.2f}%  ({round(t_error * n)} wrong)")
    diff = abs(d_error - t_error)
    print(f"  difference {100 * diff:.2f} points (bound {100 * BOUND:.1f}); images whose PyTorch prediction "
          f"float32 and float64 rounding decide: {rounding_flips}")
    if rounding_flips > BOUND * n:
        print("  note: more near-ties than the bound allows; the bound is too tight for this net")
    if diff > BOUND:
        sys.exit(1)


if __name__ == "__main__":
    main()
