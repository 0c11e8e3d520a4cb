#!/usr/bin/env bash
# Data-parallel scaling on this machine: images/s of `delve run` with P = 1 and P = 2 ranks, each
# rank with cores/P BLAS threads (P × threads = cores), and the time per step spent in the
# gradient allreduce. Prints one line per P and the allreduce message size.
# Usage: experiments/bench/bench_mpi.sh [CONFIG] [ITERATIONS]   (a build with -DDELVE_MPI=ON)
# The config's default is plain30 on synthetic 32×32 images, batch 128 (experiments/bench/bench_mpi.json).
set -euo pipefail
cd "$(dirname "$0")/../.."
config=${1:-experiments/bench/bench_mpi.json}
iterations=${2:-20}
cores=$(nproc)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mpirun=(mpirun --allow-run-as-root --oversubscribe --bind-to none)

# The mean of a numeric field over the train events of a log, after the first `skip` (warm-up).
field_mean() {  # field log skip
  grep '"event":"train"' "$2" | tail -n +$(($3 + 1)) |
    sed -E "s/.*\"$1\":([-0-9.e+]+).*/\1/" | awk '{ s += $1; n++ } END { printf "%.1f", s / n }'
}
summary_field() { sed -nE "s/.*\"$1\": ([-0-9.e+]+).*/\1/p" "$2"; }

printf "%-3s %-8s %-10s %-14s %-14s %s\n" P threads images/s step_ms allreduce_ms allreduce_share
for p in 1 2; do
  threads=$((cores / p > 0 ? cores / p : 1))
  dir="$out/p$p"
  "${mpirun[@]}" -np "$p" build/delve run "$config" --quiet --out "$dir" \
    --set train.iterations="$iterations" --set train.threads="$threads" >/dev/null
  ips=$(field_mean images_per_s "$dir/log.jsonl" 2)
  batch=$(sed -nE 's/.*"batch": ([0-9]+).*/\1/p' "$dir/config.json" | head -1)
  step_ms=$(awk -v b="$batch" -v i="$ips" 'BEGIN { printf "%.1f", 1000 * b / i }')
  allreduce_ms=$(awk -v s="$(summary_field allreduce_seconds "$dir/summary.json")" -v n="$iterations" \
                 'BEGIN { printf "%.2f", 1000 * s / n }')
  share=$(awk -v a="$allreduce_ms" -v s="$step_ms" 'BEGIN { printf "%.1f%%", 100 * a / s }')
  printf "%-3s %-8s %-10s %-14s %-14s %s\n" "$p" "$threads" "$ips" "$step_ms" "$allreduce_ms" "$share"
done
params=$(summary_field parameters "$out/p1/summary.json")
echo "allreduce message: $params floats = $(awk -v p="$params" 'BEGIN { printf "%.2f", 4 * p / 1e6 }') MB per step"
