#!/usr/bin/env bash
# Every image SSL method at the same CPU budget on Fashion-MNIST (configs/fmnist/*.yaml), then a
# Markdown table of the last epoch's test k-NN (k = 20) and online linear-probe accuracy and RankMe.
#   experiments/fmnist_methods.sh OUT_DIR [SEED] [key=value ...]   (extra keys go to every run)
set -euo pipefail
out=$1; seed=${2:-0}; shift 2 || shift $#
jess=${JESS:-build/jess}
mkdir -p "$out"
echo "| method | k-NN top-1 % | online probe top-1 % | RankMe | minutes |" > "$out/table.md"
echo "|---|---|---|---|---|" >> "$out/table.md"
for cfg in configs/fmnist/*.yaml; do
  m=$(basename "$cfg" .yaml)
  start=$(date +%s)
  "$jess" train --config "$cfg" --out "$out/$m" --seed "$seed" "$@" > "$out/$m.log" 2>&1 || { echo "$m failed (see $out/$m.log)"; continue; }
  secs=$(( $(date +%s) - start ))
  tail -1 "$out/$m/epochs.csv" | awk -F, -v m="$m" -v s="$secs" '{printf "| %s | %.1f | %.1f | %.1f | %.1f |\n", m, 100*$4, 100*$5, $6, s/60}' >> "$out/table.md"
done
cat "$out/table.md"
