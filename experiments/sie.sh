#!/usr/bin/env bash
# SIE against its baselines on a rendered 3DIEBench-style set (issue 16; Garrido et al. 2023, Table 1)
# at CPU scale: renders the data (unless OUT/data exists), trains every method for the same budget with
# each seed, evaluates each run with `jess equivariance eval`, and prints one Markdown table of
# mean ± std over seeds: top-1 (linear head on the invariant / equivariant part / whole representation),
# rotation R^2 (MLP on pairs; reference definition with the scalar mean, and per dimension), colour R^2, MRR,
# H@1, H@5, PRE.
#   experiments/sie.sh OUT_DIR [SEEDS] [key=value ...]        (extra keys go to every training run)
# Environment: METHODS (default "sie vicreg simclr simclr_augself equimod"; an entry may add keys after a
# colon, e.g. "sie:canonical_sign=true" or "sie:hypernetwork=deep,predictor=mlp"), RENDER (render keys,
# default 14 classes x 100 objects x 50 views at 64^2), EVAL (eval flags, default "--epochs 50").
# e.g. experiments/sie.sh runs/sie 3 width=16 train.epochs=100
set -euo pipefail
out=$1; seeds=${2:-3}; shift 2 || shift $#
jess=${JESS:-build/jess}
methods=${METHODS:-"sie vicreg simclr simclr_augself equimod"}
render=${RENDER:-"objects_per_class=100 views_per_object=50 image_size=64 layout=packed"}
evalargs=${EVAL:-"--epochs 50"}
mkdir -p "$out"
[[ -d $out/data ]] || "$jess" render dataset --out "$out/data" $render
tags=""
for spec in $methods; do
  m=${spec%%:*}; keys=""; [[ $spec == *:* ]] && keys=${spec#*:}
  tag=$(echo "$spec" | tr ':,=' '_+-'); tags="$tags $tag"
  for ((k = 0; k < seeds; k++)); do
    run="$out/$tag/seed$k"
    if [[ ! -f $run/equivariance_eval.json ]]; then
      mkdir -p "$run"
      "$jess" equivariance train data="$out/data" --out "$run" method=$m --seed $k ${keys//,/ } "$@" > "$run.log" 2>&1
      "$jess" equivariance eval "$run" --seed $k $evalargs > "$run.eval.txt"
    fi
  done
  echo "done: $spec" >&2
done
/usr/bin/python3 - "$out" $tags <<'PY'
import json, sys, pathlib, statistics as st
out, methods = pathlib.Path(sys.argv[1]), sys.argv[2:]
def ms(v):
    v = [x for x in v if x is not None]
    if not v: return "n/a"
    return f"{st.mean(v):.3f} ± {st.stdev(v):.3f}" if len(v) > 1 else f"{v[0]:.3f}"
print("| method | top-1 % inv | top-1 % equi | top-1 % full | rotation R² (full) | rotation R² (equi) | rotation R² per dim (full) | colour R² | MRR | H@1 | H@5 | PRE |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for m in methods:
    rs = [json.load(open(p)) for p in sorted((out / m).glob("seed*/equivariance_eval.json"))]
    def top1(part): return [next((100 * c["top1"] for c in r["classification"] if c["part"] == part and c["head"] == "linear"), None) for r in rs]
    def r2(target, part, key="r2"): return [next((x[key] for x in r["regression"] if x["target"] == target and x["part"] == part), None) for r in rs]
    def ret(k): return [r["retrieval"][k] if r["retrieval"] else None for r in rs]
    print(f"| {m} ({len(rs)} seeds) | {ms(top1('inv'))} | {ms(top1('equi'))} | {ms(top1('full'))} | {ms(r2('rotation', 'full'))} | "
          f"{ms(r2('rotation', 'equi'))} | {ms(r2('rotation', 'full', 'r2_per_dim'))} | {ms(r2('color', 'full'))} | {ms(ret('mrr'))} | {ms(ret('h1'))} | {ms(ret('h5'))} | {ms(ret('pre'))} |")
PY
