#!/usr/bin/env bash
# The duality paper's embedding-dimension sweep (Garrido et al. 2023, "On the duality between
# contrastive and non-contrastive SSL"): VICReg (non-contrastive, dimension-contrastive), VICReg-ctr
# (its sample-contrastive twin) and SimCLR with projectors D-D-D for several D, at the configs/fmnist/equal_budget
# budget. The paper: with the right projector and hyperparameters the contrastive / non-contrastive gap
# shrinks; non-contrastive methods need a wide embedding. Writes OUT/table.md.
#   experiments/fmnist_duality.sh OUT_DIR [SEED]    (env DIMS, default "64 256 1024")
set -euo pipefail
out=$1; seed=${2:-0}
jess=${JESS:-build/jess}
dims=${DIMS:-"64 256 1024"}
methods=${METHODS:-"vicreg vicreg_ctr simclr"}
mkdir -p "$out"
for m in $methods; do
  for d in $dims; do
    run="$out/${m}_$d"
    if [[ ! -f "$run/eval.json" ]]; then
      "$jess" train --config "configs/fmnist/equal_budget/$m.yaml" --out "$run" --seed "$seed" "projector=$d-$d-$d" > "$run.log" 2>&1
      "$jess" vision eval "$run" --representation-only --n-train "${EVAL_TRAIN:-5000}" --n-test "${EVAL_TEST:-5000}" \
        --seed "$seed" >> "$run.log" 2>&1
    fi
    echo "$m D=$d: $(grep -E 'representation' "$run.log" | tail -1)" >&2
  done
done
rep='.layers[] | select(.representation)'
{
  echo "Linear probe / k-NN top-1 % of the representation by embedding dimension D (projector D-D-D), seed $seed"
  echo
  printf "| method |"; for d in $dims; do printf " D = %s |" "$d"; done; echo
  printf "|---|"; for d in $dims; do printf -- "---|"; done; echo
  for m in $methods; do
    printf "| %s |" "$m"
    for d in $dims; do
      jq -j "($rep) | \" \\(.linear_top1*1000|round/10) / \\(.knn_top1*1000|round/10) |\"" "$out/${m}_$d/eval.json"
    done
    echo
  done
} > "$out/table.md"
cat "$out/table.md"
