#!/usr/bin/env bash
# Draws the pictures and tables of the paper's experiments from finished runs, into a results folder,
# and copies each run's summary.json beside them (a few KiB each).
# Usage: experiments/paper/paper_figures.sh [RUNS [OUT]]     (defaults: runs/ and experiments/paper/results/)
# RUNS holds the run directories written by
#   build/delve run experiments/paper/fig3_plain30.json     -> RUNS/fig3_plain30/kind-{xavier,kaiming}
#   (and fig3_plain30_nodropout.json, fig3_plain30_lr0001.json the same way; table1_plain14_dropout
#   holds Table 1 with the paper's dropout at lr 0.01: --set model.dropout=0.5 --set optim.lr=0.01)
#   build/delve run experiments/paper/fig3_plain30_paper.json --only ... -> RUNS/fig3_plain30_paper/init-*_seed-*
#   (and fig3_plain30_gentle.json, fig2_plain22_paper.json the same way)
#   build/delve run experiments/paper/fig2_plain22.json     -> RUNS/fig2_plain22/...
#   build/delve run experiments/paper/table1_plain14.json   -> RUNS/table1_plain14/activation-{prelu_shared,prelu}
#   (and table1_plain14_paper.json the same way)
#   build/delve run experiments/paper/table2_plain14.json   -> RUNS/table2_plain14/activation-*_seed-*
#   (and table2_plain14_paper.json the same way)
# Experiments that have not been run are skipped with a note.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-runs}
out=${2:-experiments/paper/results}
delve=${DELVE:-build/delve}
[ -x "$delve" ] || { echo "paper_figures.sh: $delve not found; run ./build.sh first" >&2; exit 2; }
mkdir -p "$out"

have() {
  if [ -d "$runs/$1" ]; then return 0; fi
  echo "paper_figures.sh: $runs/$1 not found; skipping $1" >&2
  return 1
}
summaries() {  # copies RUNS/EXP/*/summary.json to OUT/EXP/<member>.summary.json
  mkdir -p "$out/$1"
  for s in "$runs/$1"/*/summary.json; do
    if [ -f "$s" ]; then cp "$s" "$out/$1/$(basename "$(dirname "$s")").summary.json"; fi
  done
}

# Figure 3 in three recipes: the paper's (lr 0.01, dropout 0.5), without dropout, and at lr 0.001.
layer_figures() {  # NAME: the input gradient per layer (first and last event), its heat map, P(y>0)
  "$delve" plot "$runs/$1" --what layers --metric grad_input_std -o "$out/${1}_gradients.svg" --title "$1"
  "$delve" plot "$runs/$1" --what heatmap --metric grad_input_std -o "$out/${1}_gradients_heatmap.svg" \
    --title "gradient std"
  "$delve" plot "$runs/$1" --what heatmap -o "$out/${1}_positive.svg" --title "P(y>0)"
}
for fig3 in fig3_plain30 fig3_plain30_nodropout fig3_plain30_lr0001; do
  have $fig3 || continue
  summaries $fig3
  "$delve" plot "$runs/$fig3" -o "$out/$fig3.svg" --title "Figure 3, plain30: $fig3"
  layer_figures $fig3
done
# Figures 3 and 2 at the paper's recipe with seeds (fig3_plain30_paper.json at lr 0.01,
# fig3_plain30_gentle.json at lr 0.001, fig2_plain22_paper.json; run with --only on the members the
# README names): the test error on 3,000 images every quarter epoch as in the paper's figures, then
# both splits, and the gradients per layer.
seeded_figure() {  # NAME TITLE
  have "$1" || return 0
  summaries "$1"
  "$delve" plot "$runs/$1" --split test -o "$out/$1.svg" --title "$2 ($1)"
  "$delve" plot "$runs/$1" -o "$out/${1}_curves.svg" --title "$1"
  layer_figures "$1"
}
seeded_figure fig3_plain30_paper "Figure 3, plain30"
seeded_figure fig3_plain30_gentle "Figure 3, plain30"
seeded_figure fig2_plain22_paper "Figure 2, plain22"
if have table1_plain14_dropout; then  # the paper's dropout at lr 0.01: stopped once it had collapsed
  summaries table1_plain14_dropout
  "$delve" plot "$runs/table1_plain14_dropout" --what heatmap -o "$out/table1_plain14_dropout_positive.svg" \
    --title "P(y>0), lr 0.01, dropout 0.5"
fi
if have fig2_plain22; then
  summaries fig2_plain22
  "$delve" plot "$runs/fig2_plain22" -o "$out/fig2_plain22.svg" --title "Figure 2: plain22 (19 conv + 3 fc), ReLU"
  "$delve" plot "$runs/fig2_plain22" --what heatmap -o "$out/fig2_positive.svg" --title "P(y>0)"
fi
table1_figures() {  # NAME PREFIX TITLE: delve slopes beside the paper, the slopes by depth and over training
  have "$1" || return 0
  summaries "$1"
  "$delve" slopes "$runs/$1" > "$out/${2}_slopes.md"
  "$delve" plot "$runs/$1" --what slopes -o "$out/${2}_slopes.svg" \
    --title "Table 1: learned PReLU slopes, plain14 on Fashion-MNIST ($3)"
  "$delve" plot "$runs/$1" --what heatmap --metric slope_mean -o "$out/${2}_slopes_heatmap.svg" --title "slope a"
  "$delve" plot "$runs/$1" --what history --metric slope_mean --layers 1,4,7,11,12,13 \
    -o "$out/${2}_slopes_history.svg" --title "slope a"
  "$delve" plot "$runs/$1" --what heatmap -o "$out/${2}_positive.svg" --title "P(y>0)"
  "$delve" plot "$runs/$1" -o "$out/$1.svg" --title "plain14, PReLU ($3)"
}
table1_figures table1_plain14 table1 "lr 0.001, 2 epochs"
table1_figures table1_plain14_paper table1_plain14_paper "the paper's recipe, 20 epochs"
table2_figures() {  # NAME TITLE [MORE_RUNS...]: the error curves of ReLU against PReLU, and P(y>0)
  have "$1" || return 0
  summaries "$1"
  local name=$1 title=$2
  shift 2
  local members=("$runs/$name" "$@")
  "$delve" plot "${members[@]}" -o "$out/$name.svg" --title "Table 2, plain14 ($title)"
  "$delve" plot "${members[@]}" --what heatmap -o "$out/${name}_positive.svg" --title "P(y>0)"
}
# Table 1's short runs are the earlier Table 2's PReLU members with seed 1 (the same config), so they join in.
seed1_prelu=()
[ -d "$runs/table1_plain14" ] && seed1_prelu=("$runs/table1_plain14")
table2_figures table2_plain14 "lr 0.001, 2 epochs" "${seed1_prelu[@]}"
table2_figures table2_plain14_paper "the paper's recipe, 10 epochs"
echo "paper_figures.sh: wrote $out" >&2
