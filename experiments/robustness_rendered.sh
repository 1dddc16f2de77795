#!/usr/bin/env bash
# The robustness experiments on rendered objects (issue 17; Ibrahim et al., experiments 1 and 2) at CPU
# scale: 14 procedural classes at 32 x 32, 100 training objects per class (canonical + the pose_z levels),
# 30 held-out test objects per class under every factor, a probe set of 30 other objects per class.
#   experiments/robustness_rendered.sh OUT_DIR [SEEDS]
# (1) out of the box: supervised, VICReg and SimCLR trained on canonical images only (p = 0), evaluated
#     under every factor; (2) training with variation: the supervised model shown pose_z (rotation about
#     the vertical axis) for p of the objects, p in FRACTIONS (%), evaluated under pose_z.
# Environment: JESS (binary), JOBS (parallel runs, default 1), FRACTIONS (default "25 100"),
# SSL_METHODS (default "vicreg simclr"; one seed each unless SSL_SEEDS), EPOCHS (default 60).
set -euo pipefail
out=$1; seeds=${2:-3}
jess=${JESS:-build/jess}
njobs=${JOBS:-1}
fractions=${FRACTIONS:-"25 100"}
ssl_methods=${SSL_METHODS:-"vicreg simclr"}
ssl_seeds=${SSL_SEEDS:-1}
epochs=${EPOCHS:-60}
mkdir -p "$out"
none="position= size= background= light= intensity="
[[ -f $out/train.h5 ]] || "$jess" render factors --out "$out/train.h5" first_object=0 objects_per_class=100 image_size=32 pose_axes=z $none
[[ -f $out/probe.h5 ]] || "$jess" render factors --out "$out/probe.h5" first_object=500 objects_per_class=30 image_size=32 pose= $none
[[ -f $out/test.h5 ]] || "$jess" render factors --out "$out/test.h5" objects_per_class=30 image_size=32
train="data=$out/train.h5 width=8 batch=128 train.epochs=$epochs variation.factor=pose_z"
# The supervised baseline's recipe measured on Fashion-MNIST (docs/robustness.md): AdamW, light views.
supervised="train.optimizer=adamw base_lr=0.001 augment.view1.blur=0 augment.view2.blur=0 augment.view2.solarize=0 augment.view1.scale_min=0.5 augment.view2.scale_min=0.5"
one() {  # one DIR FACTORS METHOD KEYS...
  local dir=$1 f=$2 m=$3; shift 3
  [[ -f $dir/robustness.json ]] && return
  local keys=""
  [[ $m == supervised ]] && keys=$supervised
  "$jess" train --out "$dir" $train method=$m $keys "$@" > "$dir.log" 2>&1 || { echo "failed: $dir (see $dir.log)" >&2; return; }
  "$jess" robustness eval "$dir" --data "$out/test.h5" --probe "$out/probe.h5" ${f:+--factors $f} \
    --json "$dir/robustness.json" > "$dir.eval" 2>> "$dir.log" || echo "failed: eval of $dir (see $dir.log)" >&2
}
run() {
  while (( $(jobs -rp | wc -l) >= njobs )); do wait -n; done
  mkdir -p "$(dirname "$1")"
  one "$@" &
}
for ((k = 0; k < seeds; k++)); do run "$out/supervised/p0/seed$k" "" supervised --seed $k variation.fraction=0; done
for m in $ssl_methods; do
  for ((k = 0; k < ssl_seeds; k++)); do run "$out/$m/p0/seed$k" "" "$m" --seed $k variation.fraction=0; done
done
for p in $fractions; do
  for ((k = 0; k < seeds; k++)); do
    run "$out/supervised/p$p/seed$k" pose_z supervised --seed $k variation.fraction=$(echo "$p / 100" | bc -l)
  done
done
wait
/usr/bin/python3 - "$out" "$(dirname "$0")" <<'PY'
import json, math, pathlib, statistics as st, sys
out = pathlib.Path(sys.argv[1])
sys.path.insert(0, sys.argv[2])
from svgplot import bar_plot, line_plot
from robustness_stats import ci, half, load
print("### Out of the box (trained on canonical images only): top-1 % per factor, mean over its levels\n")
rows = {}
for m in sorted(p.name for p in out.iterdir() if (p / "p0").is_dir()):
    for r in load(out / m / "p0"):
        acc = {}
        for x in r["rows"]: acc.setdefault(x["factor"], []).append(100 * x["top1"])
        rows.setdefault(m, []).append({f: st.mean(v) for f, v in acc.items()})
factors = list(rows[next(iter(rows))][0]) if rows else []
print("| method (seeds) | " + " | ".join(factors) + " |\n|---|" + "---|" * len(factors))
for m, rs in rows.items():
    print(f"| {m} ({len(rs)}) | " + " | ".join(ci([r[f] for r in rs]) for f in factors) + " |")
bar_plot(out / "out_of_the_box.svg", "Rendered objects, trained on canonical images: top-1 % per factor (chance 7 %)",
         "top-1 % (mean over the factor's levels)", factors,
         {f"{m} ({len(rs)} seed{'s' if len(rs) > 1 else ''})": [(st.mean(r[f] for r in rs), half([r[f] for r in rs])) for f in factors]
          for m, rs in rows.items()})
print("\n### Training with pose_z shown for p % of the objects (supervised): top-1 % under pose_z\n")
print("| p | pose_z, mean over 15-180° | canonical | drop (canonical - pose_z, per seed) |\n|---|---|---|---|")
pts, can_pts, ticks = [], [], []
for i, d in enumerate(sorted((out / "supervised").iterdir(), key=lambda p: int(p.name[1:]))):
    rs = load(d)
    pz = [st.mean(100 * x["top1"] for x in r["rows"] if x["factor"] == "pose_z") for r in rs]
    can = [100 * r["rows"][0]["top1"] for r in rs]
    print(f"| {d.name[1:]} % | {ci(pz)} | {ci(can)} | {ci([c - z for c, z in zip(can, pz)])} |")
    ticks.append(f"{d.name[1:]} %")
    if pz: pts.append((i, st.mean(pz), half(pz)))
    if can: can_pts.append((i, st.mean(can), half(can)))
line_plot(out / "fraction_pose_z.svg", "Rendered objects: supervised, pose_z shown for p % of the training objects",
          "p: % of training objects shown rotated about the vertical axis", "top-1 %",
          {"under pose_z (15-180°)": pts, "canonical": can_pts}, ticks, hline=(100 / 14, "chance"))
PY
