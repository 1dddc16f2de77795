#!/usr/bin/env bash
# Every image SSL method at the same CPU budget on Fashion-MNIST (configs/fmnist/equal_budget/*.yaml), each judged
# offline by `jess vision eval` (linear probe and k-NN on the frozen representation, RankMe, and the
# Guillotine sweep over every layer), against the untrained encoder. Writes OUT/table.md (Markdown),
# OUT/curves.png (k-NN accuracy per epoch) and OUT/guillotine.png (accuracy against depth).
#   experiments/fmnist_methods.sh OUT_DIR [SEED] [key=value ...]   (extra keys go to every run)
# Environment: JESS (default build/jess), EVAL_TRAIN / EVAL_TEST labelled train / test images of the
# probes (default 5000 / 5000, as in docs/vision.md), METHODS (default: every config).
set -euo pipefail
out=$1; seed=${2:-0}; shift 2 || shift $#
jess=${JESS:-build/jess}
ntr=${EVAL_TRAIN:-5000}; nte=${EVAL_TEST:-5000}
methods=${METHODS:-$(ls configs/fmnist/equal_budget/*.yaml | xargs -n1 basename | sed 's/\.yaml$//' | tr '\n' ' ')}
mkdir -p "$out"
for m in $methods; do
  if [[ ! -f "$out/$m/eval.json" ]]; then
    start=$(date +%s)
    "$jess" train --config "configs/fmnist/equal_budget/$m.yaml" --out "$out/$m" --seed "$seed" "$@" > "$out/$m.log" 2>&1 ||
      { echo "$m failed (see $out/$m.log)"; continue; }
    echo $(( $(date +%s) - start )) > "$out/$m/train_seconds"
    "$jess" vision eval "$out/$m" --n-train "$ntr" --n-test "$nte" --seed "$seed" >> "$out/$m.log" 2>&1
  fi
  echo "$m done: $(tail -1 "$out/$m.log")" >&2
done
[[ -f "$out/random_init.json" ]] ||
  "$jess" vision eval --random-init configs/fmnist/equal_budget/vicreg.yaml --n-train "$ntr" --n-test "$nte" --seed "$seed" \
    --json "$out/random_init.json" > "$out/random_init.log" 2>&1

rep='.layers[] | select(.representation)'
{
  echo "Fashion-MNIST, $(jq -r '.[0].n_train' "$out/random_init.json") labelled training / $(jq -r '.[0].n_test' "$out/random_init.json") test images for the probes, seed $seed"
  echo
  echo "| method | linear probe top-1 % | k-NN top-1 % | online probe top-1 % | RankMe | projector output linear % | train minutes |"
  echo "|---|---|---|---|---|---|---|"
  jq -r ".[0] | ($rep) as \$r | \"| random init | \\(\$r.linear_top1*1000|round/10) | \\(\$r.knn_top1*1000|round/10) | - | \\(\$r.rankme*10|round/10) | \\(.layers[-1].linear_top1*1000|round/10) | 0 |\"" "$out/random_init.json"
  for m in $methods; do
    [[ -f "$out/$m/eval.json" ]] || continue
    online=$(tail -1 "$out/$m/epochs.csv" | awk -F, 'NR==1{print}' )
    head=$(head -1 "$out/$m/epochs.csv")
    col=$(echo "$head" | tr ',' '\n' | grep -n '^online_probe_top1$' | cut -d: -f1)
    probe=$(echo "$online" | cut -d, -f"$col" | awk '{printf "%.1f", 100*$1}')
    mins=$(awk '{printf "%.1f", $1/60}' "$out/$m/train_seconds" 2>/dev/null || echo "?")
    jq -r "($rep) as \$r | \"| $m | \\(\$r.linear_top1*1000|round/10) | \\(\$r.knn_top1*1000|round/10) | $probe | \\(\$r.rankme*10|round/10) | \\(.layers[-1].linear_top1*1000|round/10) | $mins |\"" "$out/$m/eval.json"
  done
} > "$out/table.md"
runs=(); for m in $methods; do [[ -d "$out/$m" ]] && runs+=("$out/$m"); done
"$jess" eval curves "${runs[@]}" --metric knn_top1 --out "$out/curves.png" --title "Fashion-MNIST: online k-NN top-1 per epoch" >&2
"$jess" eval curves "${runs[@]}" --metric rankme --out "$out/rankme_curves.png" --title "Fashion-MNIST: RankMe per epoch" >&2
evals=(); for m in $methods; do [[ -f "$out/$m/eval.json" ]] && evals+=("$out/$m/eval.json"); done
"$jess" vision eval "${evals[@]}" --no-knn --plot "$out/guillotine.png" > /dev/null
cat "$out/table.md"
