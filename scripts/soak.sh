#!/usr/bin/env bash
# Kill -9 soak (issue 20): trains a small PDE VICReg run, kills it with SIGKILL at KILLS random moments
# (during steps, checkpoint writes, log writes: wherever it happens to be), resumes it each time with the
# same command, and checks that the final weights and the logged losses equal an uninterrupted run's,
# that no temporary or truncated file is left with a checkpoint's name, and that the resumed run removes
# the temporaries a kill left.
#   scripts/soak.sh [KILLS=20] [JESS=build/jess]
set -uo pipefail
kills=${1:-20}
jess=${2:-build/jess}
py=/usr/bin/python3
dir=$(mktemp -d /tmp/jess_soak_XXXXXX)
trap 'rm -rf "$dir"' EXIT
export JESS_PROGRESS=0 JESS_QUIET_BLAS=1
"$jess" pde generate --out "$dir/d.h5" --seed 5 n_train=64 n_valid=4 n_test=4 nx=64 nt=20 nt_total=30 T=10 substeps=4 > /dev/null 2>&1 \
  || { echo "soak: generation failed"; exit 1; }
run=(pde pretrain "$dir/d.h5" batch=8 train.epochs=6 train.log_every=1 train.checkpoint_every=3 encoder.width=4 projector=16-16)
"$jess" --threads 1 "${run[@]}" --out "$dir/full" > /dev/null 2>&1 || { echo "soak: the uninterrupted run failed"; exit 1; }
done_kills=0
for ((k = 0; k < kills; ++k)); do
  "$jess" --threads 1 "${run[@]}" --out "$dir/soak" > "$dir/soak.log" 2>&1 &
  pid=$!
  sleep "$($py -c "import random; random.seed($k); print(round(random.uniform(0.6, 2.5), 2))")"
  if kill -9 "$pid" 2> /dev/null; then done_kills=$((done_kills + 1)); fi
  wait "$pid" 2> /dev/null
  # Whatever the moment, only complete files carry a final name (a write the kill interrupted may leave
  # its NAME.tmp.PID, which the next run removes).
  if ls -A "$dir/soak" 2> /dev/null | grep -v -E '^(checkpoint\.pt|metrics\.jsonl|steps\.csv|epochs\.csv|training_.*\.png|\.jess\.lock|.*\.tmp\.[0-9]+)$' | grep -q .; then
    echo "soak: unexpected files after kill $k: $(ls "$dir/soak")"; exit 1
  fi
done
# Finish (resumes from the last checkpoint, whichever kill left it).
"$jess" --threads 1 "${run[@]}" --out "$dir/soak" > "$dir/soak.log" 2>&1 || { echo "soak: the final resume failed"; cat "$dir/soak.log"; exit 1; }
if ls -A "$dir/soak" | grep -q -E '\.tmp\.[0-9]+$'; then echo "soak: temporaries left after the final run: $(ls -A "$dir/soak")"; exit 1; fi
$py - "$dir" <<'PY' || exit 1
import csv, sys, torch
d = sys.argv[1]
rows = lambda p: [(r['global_step'], r['loss']) for r in csv.DictReader(open(p))]
a, b = rows(d + '/full/steps.csv'), rows(d + '/soak/steps.csv')
assert a == b, f"logged losses differ: {[(x, y) for x, y in zip(a, b) if x != y][:3]} (lengths {len(a)}, {len(b)})"
ea, eb = rows(d + '/full/epochs.csv'), rows(d + '/soak/epochs.csv')
assert ea == eb, "epoch rows differ"
ma, mb = torch.load(d + '/full/checkpoint.pt')['model'], torch.load(d + '/soak/checkpoint.pt')['model']
assert ma.keys() == mb.keys() and all(torch.equal(ma[k], mb[k]) for k in ma), "weights differ"
PY
echo "soak: $done_kills kill -9 of $kills landed mid-run; every resume ended with the uninterrupted run's weights and logs"
