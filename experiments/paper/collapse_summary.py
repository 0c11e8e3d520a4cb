#!/usr/bin/env python3
"""The collapse study's table and picture, from a sweep's run directories (collapse_*.json).

For every member: whether it trained (training error of the log interval ending at --at, default
iteration 300, below 80%), the iteration from which its training error stayed at or above 80%
(died; a run stopped by a non-finite loss counts as diverged, never as trained), the first layer
whose units all died (P(y>0) below 1% in a `layers` event), the largest PReLU slope |a| seen, and three
early signs at the `layers` events of the first --until iterations: conv1's update ratio, the logits' scale (fc3's
response std) and P(y>0) of the deepest conv. Prints a markdown table per cell (the members'
config minus the seed), writes a JSON summary, and draws the early signs as one SVG.

  experiments/paper/collapse_summary.py runs/collapse_plain30 --json summary.json --svg early.svg

It reads the logs of experiments/torch_twin/train_twin.py too (one directory per member holding
its log.jsonl; they have no `layers` events, so no dead layers or early signs).
Needs only Python 3's standard library.
"""
import argparse
import json
import math
import os
import sys

CHANCE = 0.80  # a 10-way net at or above 80% training error has not learned (chance: 90%)
DEAD = 0.01    # a layer with fewer than 1% of its pre-activations positive has died


def read_log(path):
    events = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                sys.exit(f"collapse_summary: {path}:{n}: not a JSON line")
    return events


def member_outcome(events, at, until):
    start = next(e for e in events if e["event"] == "start")
    train = [e for e in events if e["event"] == "train"]
    layers = [e for e in events if e["event"] == "layers"]
    if not train:  # a member that has not logged yet (still starting, or stopped at once)
        print(f"collapse_summary: {start['name']}: no train events, left out", file=sys.stderr)
        return None
    at_error = next((e["error"] for e in train if e["iteration"] >= at), train[-1]["error"])
    died_from = None  # the first interval from which the error never again fell below CHANCE
    for e in train:
        if e["error"] >= CHANCE:
            died_from = e["iteration"] if died_from is None else died_from
        else:
            died_from = None
    if all(e["error"] >= CHANCE for e in train):
        died_from = "never below 80%"
    end = next((e for e in reversed(events) if e["event"] == "end"), None)
    diverged = end is not None and end.get("status") == "diverged"
    if diverged:  # a non-finite loss stopped the run: it did not train, whatever its last error was
        died_from = f"diverged at {end['iteration']}"
    first_dead = None
    for ev in layers:
        dead = [l for l in ev["layers"] if l["activation"] != "none" and l["positive_fraction"] < DEAD]
        if dead:
            first = min(dead, key=lambda l: l["depth"])
            first_dead = {"iteration": ev["iteration"], "layer": first["layer"], "depth": first["depth"],
                          "dead_layers": len(dead)}
            break
    cfg = start["config"]
    return {
        "name": start.get("name", start["config"]["name"] + f"/seed-{start['config']['seed']}").split("/")[-1],
        "seed": cfg["seed"],
        "cell": cell_of(cfg),
        "trained": at_error < CHANCE and not diverged,
        "error_at": at_error,
        "final_error": train[-1]["error"],
        "died_from": None if at_error < CHANCE and train[-1]["error"] < CHANCE and not diverged else died_from,
        "first_dead_layer": first_dead,
        "largest_slope": largest_slope(layers),
        "early": early_signs(layers, until),
    }


def largest_slope(layers):
    """The largest |a| of any PReLU over the run's `layers` events (None without PReLUs)."""
    seen = [max(abs(l["slope_min"]), abs(l["slope_max"])) for ev in layers for l in ev["layers"] if "slope_max" in l]
    return max(seen) if seen else None


def cell_of(cfg):
    m, i, o = cfg["model"], cfg["init"], cfg["optim"]
    return (f"{m['family']} {m['activation']}, {i['kind']} {i['mode']}, lr {o['lr']}, "
            f"dropout {m['dropout']}")


def early_signs(layers, until):
    """conv1's update ratio, the logits' std and the deepest conv's P(y>0) at the layers events
    up to iteration `until`."""
    out = {"iteration": [], "conv1_update_ratio": [], "logit_std": [], "deepest_conv_positive": []}
    for ev in layers:
        if ev["iteration"] > until:
            break
        by_name = {l["layer"]: l for l in ev["layers"]}
        convs = [l for l in ev["layers"] if l["layer"].startswith("conv")]
        out["iteration"].append(ev["iteration"])
        out["conv1_update_ratio"].append(by_name["conv1"]["update_ratio"])
        out["logit_std"].append(ev["layers"][-1]["response_std"])
        out["deepest_conv_positive"].append(max(convs, key=lambda l: l["depth"])["positive_fraction"])
    return out


def members(root):
    for name in sorted(os.listdir(root)):
        log = os.path.join(root, name, "log.jsonl")
        if os.path.isfile(log):
            yield log


def print_table(rows, at):
    cells = {}
    for r in rows:
        cells.setdefault(r["cell"], []).append(r)
    slopes = any(r["largest_slope"] is not None for r in rows)
    print(f"| cell | seeds | trained (error < 80% at iteration {at}) | error at the end | died from iteration | first dead layer (iteration) |"
          + (" largest PReLU \|a\| |" if slopes else ""))
    print("|---|---|---|---|---|---|" + ("---|" if slopes else ""))
    for cell, rs in cells.items():
        rs.sort(key=lambda r: r["seed"])
        trained = [r for r in rs if r["trained"]]
        died = ", ".join(f"s{r['seed']}: {r['died_from']}" for r in rs if r["died_from"] is not None) or "–"
        dead = ", ".join(f"s{r['seed']}: {r['first_dead_layer']['layer']} ({r['first_dead_layer']['iteration']})"
                         for r in rs if r["first_dead_layer"]) or "none"
        errs = ", ".join("diverged" if str(r["died_from"]).startswith("diverged") else f"{100 * r['error_at']:.0f}%"
                         for r in rs)
        largest = (" " + ", ".join(f"{r['largest_slope']:.3g}" for r in rs if r["largest_slope"] is not None) + " |"
                   if slopes else "")
        ends = ", ".join("–" if str(r["died_from"]).startswith("diverged") else f"{100 * r['final_error']:.0f}%" for r in rs)
        print(f"| {cell} | {len(rs)} | **{len(trained)}/{len(rs)}** ({errs}) | {ends} | {died} | {dead} |{largest}")


def svg_picture(rows, path):
    """Rows: the cells; columns: the three early signs against iteration; a line per seed, blue if
    it trained, red if it did not."""
    metrics = [("conv1_update_ratio", "conv1 update ratio |Δw|/|w|", True),
               ("logit_std", "logits' std (fc3 response)", True),
               ("deepest_conv_positive", "P(y>0), deepest conv", False)]
    cells = sorted({r["cell"] for r in rows})
    W, H, left, top, gap = 300, 150, 60, 70, 60
    width = left + len(metrics) * (W + gap)
    height = top + len(cells) * (H + gap) + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="13">The first {max_iteration(rows)} iterations: '
           '<tspan fill="#1f5fbf">trained</tspan> and <tspan fill="#c0392b">collapsed</tspan> seeds</text>']
    for ci, cell in enumerate(cells):
        for mi, (key, label, log) in enumerate(metrics):
            x0, y0 = left + mi * (W + gap), top + ci * (H + gap)
            series = [(r, r["early"]["iteration"], r["early"][key]) for r in rows if r["cell"] == cell]
            out += panel(series, x0, y0, W, H, log, label, cell if mi == 0 else "")
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def max_iteration(rows):
    return max((max(r["early"]["iteration"], default=0) for r in rows), default=0)


def panel(series, x0, y0, W, H, log, title, cell):
    vals = [v for _, _, vs in series for v in vs if v is not None and (v > 0 or not log)]
    xs = [x for _, its, _ in series for x in its]
    if not vals or not xs:
        return []
    lo, hi = min(vals), max(vals)
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    if hi - lo < 1e-12:
        hi = lo + 1
    xmax = max(xs)
    fy = lambda v: y0 + H - (((math.log10(v) if log else v) - lo) / (hi - lo)) * H
    fx = lambda x: x0 + x / xmax * W
    out = [f'<rect x="{x0}" y="{y0}" width="{W}" height="{H}" fill="none" stroke="#999"/>']
    if title:
        out.append(f'<text x="{x0}" y="{y0 - 8}" font-size="12">{title}</text>')
    if cell:
        out.append(f'<text x="{x0 - 50}" y="{y0 - 26}" font-size="12" font-weight="bold">{cell}</text>')
    for v, anchor in ((lo, y0 + H), (hi, y0 + 10)):
        text = f"{10 ** v:.2g}" if log else f"{v:.2f}"
        out.append(f'<text x="{x0 - 4}" y="{anchor}" text-anchor="end" fill="#555">{text}</text>')
    out.append(f'<text x="{x0 + W}" y="{y0 + H + 14}" text-anchor="end" fill="#555">iteration {xmax}</text>')
    for r, its, vs in series:
        pts = " ".join(f"{fx(x):.1f},{fy(v):.1f}" for x, v in zip(its, vs) if v is not None and (v > 0 or not log))
        colour = "#1f5fbf" if r["trained"] else "#c0392b"
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.3" opacity="0.8">'
                   f'<title>{r["name"]}</title></polyline>')
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep", help="a sweep's parent run directory")
    ap.add_argument("--at", type=int, default=300, help="the iteration at which a member counts as trained")
    ap.add_argument("--until", type=int, default=150, help="the early signs' last iteration")
    ap.add_argument("--json", help="write the per-member summary here")
    ap.add_argument("--svg", help="draw the early signs here")
    a = ap.parse_args()
    if not os.path.isdir(a.sweep):
        sys.exit(f"collapse_summary: {a.sweep}: not a directory")
    rows = [r for r in (member_outcome(read_log(log), a.at, a.until) for log in members(a.sweep)) if r]
    if not rows:
        sys.exit(f"collapse_summary: {a.sweep}: no run directories with a log.jsonl")
    print_table(rows, a.at)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    if a.svg:
        svg_picture(rows, a.svg)


if __name__ == "__main__":
    main()
