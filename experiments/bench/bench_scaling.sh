#!/usr/bin/env bash
# Scaling of delve's cost: training and inference images/s against batch size
# (16 to 256) and against depth (plain14, plain22, plain30), as Markdown.
# Every point is one `delve bench` process (median of --steps timed steps after a warm-up); on a
# shared machine compare rows of one table, not numbers from different runs.
# Usage: experiments/bench/bench_scaling.sh [path/to/delve] [threads]
set -euo pipefail
delve=${1:-"$(dirname "$0")/../../build/delve"}
threads=${2:-2}
row() {  # net batch
  "$delve" bench "$1" --batch "$2" --threads "$threads" --warmup 1 --steps 3 --json |
    /usr/bin/python3 -c 'import json, sys; d = json.load(sys.stdin)
print("| %s | %d | %.1f | %.1f | %.1f | %.0f |" % (d["model"], d["batch"], d["train_images_per_s"],
      d["infer_images_per_s"], d["train_gflops"], d["peak_rss_mib"]))'
}
echo "threads $threads"
echo
echo "| net | batch | train img/s | infer img/s | train GFLOP/s | peak RSS MiB |"
echo "|---|---|---|---|---|---|"
for net in plain14 plain22 plain30; do
  for batch in 16 32 64 128 256; do row "$net" "$batch"; done
done
