#!/usr/bin/env bash
# RankMe as a label-free model selector (Garrido et al. 2023): a sweep of VICReg's covariance weight
# (nu; 7 values around the default 1) on Fashion-MNIST at the configs/fmnist/equal_budget budget; each run is judged
# by `jess vision eval --representation-only` and `jess eval select` reports the Spearman correlation
# between RankMe and probe accuracy and the accuracy lost by choosing the run with the highest RankMe
# instead of the best one by labels, and plots accuracy against RankMe.  experiments/fmnist_rankme.sh OUT_DIR [SEED]
# The full-data recipe instead (7 runs of ~17 min on 2 cores):
#   CONFIG=configs/fmnist/vicreg.yaml EVAL_TRAIN=0 EVAL_TEST=0 experiments/fmnist_rankme.sh OUT_DIR
set -euo pipefail
out=$1; seed=${2:-0}
jess=${JESS:-build/jess}
values=${VALUES:-"0.01 0.04 0.1 0.25 0.5 1 4"}
config=${CONFIG:-configs/fmnist/equal_budget/vicreg.yaml}
mkdir -p "$out"
runs=()
for nu in $values; do
  run="$out/cov_$nu"
  if [[ ! -f "$run/eval.json" ]]; then
    "$jess" train --config "$config" --out "$run" --seed "$seed" "loss=covariance=$nu" > "$run.log" 2>&1
    "$jess" vision eval "$run" --representation-only --n-train "${EVAL_TRAIN:-5000}" --n-test "${EVAL_TEST:-5000}" \
      --seed "$seed" >> "$run.log" 2>&1
  fi
  echo "nu = $nu: $(grep -E 'representation' "$run.log" | tail -1)" >&2
  runs+=("$run")
done
"$jess" eval select "${runs[@]}" --plot "$out/rankme_selection.png" | tee "$out/select.txt"
"$jess" eval select --json "${runs[@]}" > "$out/select.json"
"$jess" eval curves "${runs[@]}" --metric rankme --out "$out/rankme_curves.png" --title "VICReg covariance-weight sweep: RankMe per epoch" >&2
