#!/usr/bin/env python3
"""Writes a small JSON excerpt of a sweep's logs: the held-out error at every eval and the training
running error, per member, so a committed result can be re-plotted without the run directories.
Usage: experiments/paper/log_excerpt.py RUNS/EXPERIMENT OUT.json
When OUT.json exists, its members that RUNS/EXPERIMENT no longer holds are kept (a sweep run over
several sessions, whose earlier run directories are gone, keeps one excerpt of all its members);
a member in both is taken from RUNS/EXPERIMENT."""
import json, os, sys

def member_excerpt(log_path):
    test, train = [], []
    with open(log_path) as log:
        for line in log:
            r = json.loads(line)
            if r.get("event") == "eval" and r.get("split") == "test":
                test.append([r["iteration"], round(r["epoch"], 4), round(r["error"], 5)])
            elif r.get("event") == "train":
                train.append([r["iteration"], round(r["error"], 5), round(r["loss"], 5), r["lr"]])
    return {"test": test, "train": train}

def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    runs, out = sys.argv[1], sys.argv[2]
    members = sorted(m for m in os.listdir(runs) if os.path.isfile(os.path.join(runs, m, "log.jsonl")))
    if not members:
        sys.exit(f"log_excerpt.py: no */log.jsonl under {runs}")
    name = os.path.basename(os.path.normpath(runs))
    excerpts = {}
    if os.path.isfile(out):
        with open(out) as f:
            excerpts = json.load(f).get("runs", {})
    for m in members:
        excerpts[m] = member_excerpt(os.path.join(runs, m, "log.jsonl"))
    excerpt = {"what": f"log excerpt of {name}: held-out test error [iteration, epoch, error] and "
                       "training running error [iteration, error, loss, lr]",
               "runs": dict(sorted(excerpts.items()))}
    with open(out, "w") as f:
        json.dump(excerpt, f, separators=(",", ":"))

if __name__ == "__main__":
    main()
