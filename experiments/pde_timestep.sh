#!/usr/bin/env bash
# Time-stepping with SSL conditioning (issue 6; Mialon et al. 2023 §5.2, Table 1's lower half) at CPU
# scale: for each equation, generate data (unless OUT/<eq>.h5 exists), pretrain one VICReg encoder per
# seed on views of time_history = 20 steps, then train the neural solver without conditioning, with the
# frozen SSL representation and with the true coefficient, per seed; prints each equation's table.
#   experiments/pde_timestep.sh OUT_DIR [SEEDS] [EQUATIONS] [key=value ...]   (extra keys go to timestep)
# e.g. experiments/pde_timestep.sh runs/timestep 3 "kdv ks burgers" train.epochs=10
set -euo pipefail
out=$1; seeds=${2:-3}; equations=${3:-"kdv ks burgers"}; shift 3 || shift $#
jess=${JESS:-build/jess}
n=${N:-1024}
mkdir -p "$out"
for eq in $equations; do
  data="$out/$eq.h5"
  if [[ ! -f $data ]]; then
    extra=""; [[ $eq == burgers ]] && extra="method=cole_hopf solve_nx=512"
    "$jess" pde generate --out "$data" equation=$eq n_train=$n n_valid=$((n / 4)) n_test=$((n / 2)) $extra
  fi
  encoders=""
  for ((k = 0; k < seeds; k++)); do
    "$jess" pde pretrain "$data" --out "$out/${eq}_ssl20_seed$k" seed=$k augment.crop_t=20 train.epochs=15
    encoders="$encoders${encoders:+,}$out/${eq}_ssl20_seed$k/checkpoint.pt"
  done
  "$jess" pde timestep "$data" --out "$out/${eq}_timestep" --conditions none,ssl,coefficient --seeds "$seeds" \
    --encoder "$encoders" width=64 windows_per_trajectory=4 train.epochs=10 train.lr_milestones=4,7,9 unrolling=1 n_test=256 "$@" \
    | tee "$out/${eq}_timestep.txt"
done
