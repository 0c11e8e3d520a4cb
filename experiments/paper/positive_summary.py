#!/usr/bin/env python3
"""The derivation's assumption, P(y>0) = 1/2 per layer (Eq. 8 and 13 take f'(y) to be 0 or 1 with
equal chance), checked on trained runs: per layer and per channel, at initialisation and at the end.

For each run directory it runs `delve probe` on the run's checkpoint twice, with --init (the same net
as its seed initialised it) and without (the trained weights), unless RUN/probe_init.json and
RUN/probe_trained.json are there already, then prints per activation kind and layer:
  - P(y>0) at initialisation and at the end: the mean over runs (seeds) and its range;
  - the spread over channels: the 10th and 90th percentile of the channels' P(y>0), all runs pooled;
  - dead channels (y <= 0 on every probed image) and channels never rectified (always y > 0);
and, per kind, the depth trend: P(y>0) of the first and the last third of the conv layers.
The classifier (its activation "none") is left out: nothing rectifies it.

  experiments/paper/positive_summary.py runs/table2_plain14/*/ --json positive.json --svg positive.svg

Needs Python 3's standard library and a built delve (--delve, default build/delve).
"""
import argparse
import json
import os
import subprocess
import sys

COLOURS = {"relu": "#c0392b", "prelu_shared": "#1f5fbf", "prelu": "#27ae60"}


def probe(delve, run, init, batches):
    out = os.path.join(run, "probe_init.json" if init else "probe_trained.json")
    if not os.path.isfile(out):
        checkpoint = os.path.join(run, "checkpoint.safetensors")
        if not os.path.isfile(checkpoint):
            sys.exit(f"positive_summary: {run}: no checkpoint.safetensors")
        cmd = [delve, "probe", checkpoint, "--batches", str(batches), "--json", out] + (["--init"] if init else [])
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            sys.exit(f"positive_summary: {' '.join(cmd)} failed: {done.stderr.strip()}")
    with open(out) as f:
        return json.load(f)["members"][0]["layers"]


def percentile(values, q):
    v = sorted(values)
    if not v:
        return float("nan")
    pos = q * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def layer_rows(runs_layers):
    """runs_layers: for each run, its probe's layer list. One row per rectified layer."""
    rows = []
    for index, first in enumerate(runs_layers[0]):
        if first["activation"] == "none":
            continue
        per_run = [layers[index] for layers in runs_layers]
        channels = [p for l in per_run for p in l["positive_per_channel"]]
        means = [l["positive_fraction"] for l in per_run]
        rows.append({
            "layer": first["layer"], "depth": first["depth"], "channels": len(first["positive_per_channel"]),
            "mean": sum(means) / len(means), "min": min(means), "max": max(means),
            "p10": percentile(channels, 0.1), "p90": percentile(channels, 0.9),
            "dead": sum(l["dead_channels"] for l in per_run),
            "always_positive": sum(l["always_positive_channels"] for l in per_run),
        })
    return rows


def depth_trend(rows):
    convs = [r for r in rows if r["layer"].startswith("conv")]
    third = max(1, len(convs) // 3)
    mean = lambda rs: sum(r["mean"] for r in rs) / len(rs)
    return {"first_third": mean(convs[:third]), "last_third": mean(convs[-third:]), "convs_per_third": third}


def activation_kind(run, layers):
    """The run's model.activation from its config.json: the probe names a channel-shared PReLU
    layer "prelu" like a channel-wise one, and the two must not be pooled."""
    config = os.path.join(run, "config.json")
    if os.path.isfile(config):
        with open(config) as f:
            kind = json.load(f).get("model", {}).get("activation")
        if kind:
            return kind
    return next(l["activation"] for l in layers if l["activation"] != "none")


def summarise(delve, runs, batches):
    kinds = {}
    for run in runs:
        init, trained = probe(delve, run, True, batches), probe(delve, run, False, batches)
        kind = activation_kind(run, trained)
        kinds.setdefault(kind, {"runs": [], "init": [], "trained": []})
        kinds[kind]["runs"].append(run)
        kinds[kind]["init"].append(init)
        kinds[kind]["trained"].append(trained)
    out = {}
    for kind, k in kinds.items():
        init, trained = layer_rows(k["init"]), layer_rows(k["trained"])
        out[kind] = {"runs": k["runs"], "init": init, "trained": trained,
                     "trend_init": depth_trend(init), "trend_trained": depth_trend(trained)}
    return out


def print_tables(summary):
    for kind, s in summary.items():
        print(f"\n{kind}: {len(s['runs'])} runs")
        print("| layer | channels | P(y>0) init: mean (range over runs) | channels p10-p90 | "
              "P(y>0) end: mean (range) | channels p10-p90 | dead at end | never rectified at end |")
        print("|---|---|---|---|---|---|---|---|")
        for a, b in zip(s["init"], s["trained"]):
            total = b["channels"] * len(s["runs"])
            print(f"| {a['layer']} | {a['channels']} | {a['mean']:.3f} ({a['min']:.3f}-{a['max']:.3f}) | "
                  f"{a['p10']:.2f}-{a['p90']:.2f} | {b['mean']:.3f} ({b['min']:.3f}-{b['max']:.3f}) | "
                  f"{b['p10']:.2f}-{b['p90']:.2f} | {b['dead']}/{total} | {b['always_positive']}/{total} |")
        ti, tt = s["trend_init"], s["trend_trained"]
        print(f"first / last {ti['convs_per_third']} convs: P(y>0) {ti['first_third']:.3f} / {ti['last_third']:.3f} "
              f"at initialisation, {tt['first_third']:.3f} / {tt['last_third']:.3f} at the end")


def svg(summary, path):
    """P(y>0) against depth: a panel per kind; init dashed, end solid; the channels' p10-p90 shaded."""
    W, H, left, top, gap = 320, 200, 50, 50, 50
    kinds = list(summary)
    width, height = left + len(kinds) * (W + gap), top + H + 50
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="13">P(y&gt;0) per layer: at initialisation (dashed) and at the end '
           '(solid); shaded: the channels\' 10th-90th percentile</text>']
    for i, kind in enumerate(kinds):
        x0, y0 = left + i * (W + gap), top
        s = summary[kind]
        depth = max(r["depth"] for r in s["init"])
        fx = lambda d: x0 + (d - 1) / max(1, depth - 1) * W
        fy = lambda p: y0 + H - p * H
        colour = COLOURS.get(kind, "#555")
        out.append(f'<rect x="{x0}" y="{y0}" width="{W}" height="{H}" fill="none" stroke="#999"/>')
        out.append(f'<line x1="{x0}" y1="{fy(0.5):.1f}" x2="{x0 + W}" y2="{fy(0.5):.1f}" stroke="#bbb" stroke-dasharray="2,3"/>')
        out.append(f'<text x="{x0}" y="{y0 - 8}" font-size="12">{kind} ({len(s["runs"])} runs)</text>')
        for p in (0, 0.5, 1):
            out.append(f'<text x="{x0 - 4}" y="{fy(p) + 4:.1f}" text-anchor="end" fill="#555">{p:g}</text>')
        out.append(f'<text x="{x0 + W}" y="{y0 + H + 14}" text-anchor="end" fill="#555">depth {depth}</text>')
        for rows, dash, opacity in ((s["init"], ' stroke-dasharray="5,3"', 0.12), (s["trained"], "", 0.22)):
            band = [f"{fx(r['depth']):.1f},{fy(r['p90']):.1f}" for r in rows] + \
                   [f"{fx(r['depth']):.1f},{fy(r['p10']):.1f}" for r in reversed(rows)]
            out.append(f'<polygon points="{" ".join(band)}" fill="{colour}" opacity="{opacity}"/>')
            line = " ".join(f"{fx(r['depth']):.1f},{fy(r['mean']):.1f}" for r in rows)
            out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.6"{dash}/>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run directories, each with its checkpoint.safetensors")
    ap.add_argument("--delve", default="build/delve", help="the delve binary (default build/delve)")
    ap.add_argument("--batches", type=int, default=4, help="probe batches per net (default 4)")
    ap.add_argument("--json", help="write the summary here")
    ap.add_argument("--svg", help="draw P(y>0) against depth here")
    a = ap.parse_args()
    if not os.access(a.delve, os.X_OK):
        sys.exit(f"positive_summary: {a.delve}: not an executable; run ./build.sh first or give --delve")
    for run in a.runs:
        if not os.path.isdir(run):
            sys.exit(f"positive_summary: {run}: not a directory")
    summary = summarise(a.delve, a.runs, a.batches)
    print_tables(summary)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)
    if a.svg:
        svg(summary, a.svg)


if __name__ == "__main__":
    main()
