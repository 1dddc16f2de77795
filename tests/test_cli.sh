#!/usr/bin/env bash
# End-to-end checks of the jess CLI as a user runs it: help, generate, plot, solve, merge, errors,
# and that the HDF5 files are readable by h5py. Usage: test_cli.sh PATH/TO/jess
set -uo pipefail
JESS=${1:?usage: test_cli.sh PATH/TO/jess}
PY=/usr/bin/python3
DIR=$(mktemp -d /tmp/jess_cli_XXXXXX)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
trap 'rm -rf "$DIR"' EXIT
pass=0
fail=0
ok() { echo "ok   - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL - $1"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@" >"$DIR/out" 2>&1; then ok "$name"; else bad "$name"; cat "$DIR/out"; fi; }
# expect_error NAME EXIT_CODE NEEDLE CMD...: the command fails with that code and says NEEDLE.
expect_error() {
  local name=$1 code=$2 needle=$3; shift 3
  "$@" >"$DIR/out" 2>&1
  local rc=$?
  if [[ $rc -eq $code ]] && grep -q -- "$needle" "$DIR/out"; then ok "$name"; else bad "$name (rc=$rc)"; cat "$DIR/out"; fi
}

check "jess --help lists the pde command" bash -c "'$JESS' --help | grep -q 'pde'"
check "jess pde generate --help lists config keys" bash -c "'$JESS' pde generate --help | grep -q 'nu_min'"
check "generate kdv" "$JESS" pde generate --out "$DIR/kdv.h5" --seed 3 n_train=6 n_valid=2 n_test=2 nx=64 nt=20 nt_total=30 T=10 substeps=4
check "same seed, same bytes" bash -c "'$JESS' pde generate --out '$DIR/kdv2.h5' --seed 3 n_train=6 n_valid=2 n_test=2 nx=64 nt=20 nt_total=30 T=10 substeps=4 && cmp '$DIR/kdv.h5' '$DIR/kdv2.h5'"
check "h5py reads the reference layout" "$PY" - "$DIR/kdv.h5" <<'PYEOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert set(f.keys()) == {"train", "valid", "test"}, list(f.keys())
g = f["train"]
u = g["pde_20-64"][:]
assert u.shape == (6, 20, 64) and u.dtype == np.float64 and np.isfinite(u).all()
for k, shape in {"x": (6, 64), "t": (6, 20), "dx": (6,), "dt": (6,), "amplitudes": (6, 10)}.items():
    assert g[k].shape == shape, (k, g[k].shape)
assert np.allclose(g["dx"][:], g["L"][:] / 64)
assert np.allclose(np.diff(g["t"][:], axis=1), g["dt"][:][:, None])
assert f.attrs["equation"] == "kdv" and int(f.attrs["seed"]) == 3
assert "nx: 64" in f.attrs["config"]
PYEOF
check "plot writes a PNG" bash -c "'$JESS' pde plot '$DIR/kdv.h5' --count 2 --out '$DIR/k.png' && file '$DIR/k.png' | grep -q PNG"
shards() {
  for i in 0 1; do
    "$JESS" pde generate --out "$DIR/p$i.h5" --seed 3 n_train=6 n_valid=2 n_test=2 nx=64 nt=20 nt_total=30 T=10 \
      substeps=4 shard_count=2 shard_index=$i || return 1
  done
  "$JESS" pde merge --out "$DIR/m.h5" "$DIR/p1.h5" "$DIR/p0.h5"
}
check "shards merge" shards
check "merged equals unsharded" "$PY" - "$DIR/kdv.h5" "$DIR/m.h5" <<'PYEOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
for s in ("train", "valid", "test"):
    for k in a[s]:
        assert np.array_equal(a[s][k][:], b[s][k][:]), (s, k)
PYEOF
check "solve a user initial condition (npy in, npy and h5 out)" bash -c "
  '$PY' -c \"import numpy as np; x=np.arange(128)*2*np.pi/128; np.save('$DIR/u0.npy', (np.sin(x)+0.5*np.cos(2*x)).astype(np.float32))\" &&
  '$JESS' pde solve '$DIR/u0.npy' --out '$DIR/sol.npy' equation=heat L=6.283185307179586 T=1 nu=0.5 nt=5 &&
  '$JESS' pde solve '$DIR/u0.npy' --out '$DIR/sol.h5' equation=burgers L=6.283185307179586 T=1 nu=0.2 nt=5"
check "heat solution from the CLI is the exact one" "$PY" - "$DIR/sol.npy" <<'PYEOF'
import sys, numpy as np
u = np.load(sys.argv[1])
x = np.arange(128) * 2 * np.pi / 128
for j, t in enumerate(np.linspace(0, 1, 5)):
    exact = np.exp(-0.5 * t) * np.sin(x) + 0.5 * np.exp(-2.0 * t) * np.cos(2 * x)
    assert np.abs(u[0, j] - exact).max() < 1e-6, (t, np.abs(u[0, j] - exact).max())
PYEOF
expect_error "unknown key is named" 2 "unknown config key 'nxx'" "$JESS" pde generate --out "$DIR/x.h5" nxx=64
expect_error "bad value is named" 2 "'nu_min' = 'abc'" "$JESS" pde generate --out "$DIR/x.h5" equation=burgers nu_min=abc
expect_error "odd grid is refused" 2 "must be even" "$JESS" pde generate --out "$DIR/x.h5" nx=63
expect_error "negative viscosity is refused" 2 "'nu' = '-0.1'" "$JESS" pde solve "$DIR/u0.npy" --out "$DIR/x.npy" equation=burgers nu=-0.1
"$PY" -c "import numpy as np; a=np.zeros(64); a[3]=np.nan; np.save('$DIR/nan.npy', a)"
expect_error "NaN initial condition is refused" 1 "contains NaN" "$JESS" pde solve "$DIR/nan.npy" --out "$DIR/x.npy" equation=kdv L=20
expect_error "blow-up is reported, no file left" 1 "blew up\|non-finite" "$JESS" pde generate --out "$DIR/blow.h5" n_train=4 n_valid=0 n_test=0 nx=64 amplitude=300 substeps=1 T=5 nt=5 nt_total=10
check "no file after a failed run" bash -c "! ls '$DIR' | grep -q blow"
printf 'nx: 64\nequation: [kdv\n' >"$DIR/bad.yaml"
expect_error "broken YAML is reported" 2 "invalid YAML" "$JESS" pde generate --config "$DIR/bad.yaml" --out "$DIR/x.h5"
printf 'nx: 32\nequation: ks\nn_train: 2\nn_valid: 0\nn_test: 0\nnt: 5\nnt_total: 9\nT: 4\n' >"$DIR/ok.yaml"
check "YAML config then key=value override" bash -c "'$JESS' pde generate --config '$DIR/ok.yaml' --print-config nx=48 | grep -q 'nx: 48' && '$JESS' pde generate --config '$DIR/ok.yaml' --print-config | grep -q 'equation: ks'"

check "augment --show writes a PNG" bash -c "'$JESS' pde augment '$DIR/kdv.h5' --show --index 1 crop_t=16 crop_x=32 --out '$DIR/aug.png' && file '$DIR/aug.png' | grep -q PNG"
"$JESS" pde generate --out "$DIR/ks.h5" equation=ks n_train=2 n_valid=0 n_test=0 nx=64 nt=20 nt_total=30 T=10 substeps=4 >/dev/null
expect_error "a generator that is not a symmetry is refused" 2 "not a symmetry of ks" "$JESS" pde augment "$DIR/ks.h5" --show scaling=0.1 --out "$DIR/x.png"

"$PY" -c "import numpy as np; rng=np.random.default_rng(0); z=rng.standard_normal((300, 16)).astype(np.float32); z[:, 8:] = 0; np.save('$DIR/z.npy', z)"
check "eval rankme: rank-8 data has numerical rank 8, RankMe close to 8" bash -c "
  '$JESS' eval rankme '$DIR/z.npy' --json > '$DIR/r.json' && '$PY' -c \"import json; r=json.load(open('$DIR/r.json')); assert r['numerical_rank']==8 and 7.0 < r['rankme'] <= 8.0, r\""
head -c 100 "$DIR/z.npy" >"$DIR/trunc.npy"
expect_error "a truncated .npy is reported" 1 "truncated" "$JESS" eval rankme "$DIR/trunc.npy"

"$PY" - "$DIR" <<'PYEOF'
import sys, numpy as np
d = sys.argv[1]; rng = np.random.default_rng(1)
def make(n):
    y = rng.integers(0, 3, n); x = rng.standard_normal((n, 6)) + 4 * np.eye(6)[:3][y]
    return x.astype(np.float32), y
for s, n in (("tr", 600), ("te", 300)):
    x, y = make(n); np.save(f"{d}/x{s}.npy", x); np.save(f"{d}/y{s}.npy", y)
    np.save(f"{d}/r{s}.npy", x @ np.arange(1.0, 7.0) + 0.5)
PYEOF
check "eval probe classifies separated clusters" bash -c "
  '$JESS' eval probe --train '$DIR/xtr.npy' '$DIR/ytr.npy' --test '$DIR/xte.npy' '$DIR/yte.npy' --seeds 2 --json > '$DIR/p.json' &&
  '$PY' -c \"import json; r=json.load(open('$DIR/p.json')); assert r['top1']['mean'] > 0.97, r\""
check "eval probe --task regress recovers a linear target" bash -c "
  '$JESS' eval probe --task regress --train '$DIR/xtr.npy' '$DIR/rtr.npy' --test '$DIR/xte.npy' '$DIR/rte.npy' --json > '$DIR/q.json' &&
  '$PY' -c \"import json; r=json.load(open('$DIR/q.json')); assert r['r2'] > 0.999, r\""
check "eval knn" bash -c "'$JESS' eval knn --train '$DIR/xtr.npy' '$DIR/ytr.npy' --test '$DIR/xte.npy' '$DIR/yte.npy' --k 5,20 | grep -q 'k=20'"
check "eval guillotine writes a plot" bash -c "'$JESS' eval guillotine --labels '$DIR/ytr.npy' '$DIR/yte.npy' --layer a='$DIR/xtr.npy','$DIR/xte.npy' --layer b='$DIR/xtr.npy','$DIR/xte.npy' --plot '$DIR/g.png' && file '$DIR/g.png' | grep -q PNG"
check "eval select picks the higher RankMe and warns across methods" bash -c "
  '$JESS' eval select a:'$DIR/z.npy' b:'$DIR/xtr.npy' 2>'$DIR/warn' | head -1 | grep -q 'z.npy' && grep -q warning '$DIR/warn'"
expect_error "mismatched probe inputs are refused" 1 "labels" "$JESS" eval probe --train "$DIR/xtr.npy" "$DIR/yte.npy" --test "$DIR/xte.npy" "$DIR/yte.npy"

# ---- SSL pretraining, exact resume after a kill, checkpoints read by Python, embed, regress
check "generate a small burgers set" "$JESS" pde generate --out "$DIR/b.h5" --seed 1 equation=burgers method=cole_hopf n_train=48 n_valid=8 n_test=24 nx=64 nt=40 nt_total=60 solve_nx=128
TINY="batch=8 augment.crop_t=16 augment.crop_x=32 encoder.width=4 projector=16-16 train.epochs=2 train.checkpoint_every=4 monitor=8"
check "pretrain runs and writes checkpoint, metrics and plots" bash -c "
  '$JESS' pde pretrain '$DIR/b.h5' --out '$DIR/full' $TINY > '$DIR/p.out' 2>&1 &&
  test -s '$DIR/full/checkpoint.pt' && test -s '$DIR/full/epochs.csv' && grep -q rankme '$DIR/full/epochs.csv' &&
  file '$DIR/full/training_loss.png' | grep -q PNG"
check "a killed run resumes to the same weights (checked in Python with torch.load)" bash -c "
  JESS_TEST_KILL_AT_STEP=9 '$JESS' pde pretrain '$DIR/b.h5' --out '$DIR/killed' $TINY > /dev/null 2>&1; test \$? -eq 137 &&
  '$JESS' pde pretrain '$DIR/b.h5' --out '$DIR/killed' $TINY | grep -q resumed &&
  '$PY' - '$DIR/full/checkpoint.pt' '$DIR/killed/checkpoint.pt' <<'PYEOF'
import sys, torch
a, b = (torch.load(p) for p in sys.argv[1:3])
assert a['global_step'] == b['global_step'] == 12, (a['global_step'], b['global_step'])
ma, mb = a['model'], b['model']
assert set(ma) == set(mb) and 'encoder.stage1.0.weight' in ma and 'projector.block2.0.weight' in ma
for k in ma:
    assert torch.equal(ma[k], mb[k]), k
assert 'data: ' in a['config'] and a['extra']['input_stats'].numel() == 6
PYEOF"
expect_error "resuming with another configuration is refused" 2 "different configuration" "$JESS" pde pretrain "$DIR/b.h5" --out "$DIR/full" $TINY batch=12
expect_error "a crop larger than the data is refused" 1 "do not fit" "$JESS" pde pretrain "$DIR/b.h5" --out "$DIR/x" batch=8 augment.crop_t=64
expect_error "a missing dataset is a configuration error" 2 "does not exist" "$JESS" pde pretrain "$DIR/none.h5" --out "$DIR/x"
check "embed writes representations that jess eval reads" bash -c "
  '$JESS' pde embed '$DIR/full/checkpoint.pt' '$DIR/b.h5' --split test --out '$DIR/z.npy' | grep -q '24 x 16' &&
  '$JESS' eval rankme '$DIR/z.npy' --json | grep -q rankme"
check "embed's start view is the encoder on the first crop_t frames at the full width, averaged over 8 periodic shifts (recomputed in PyTorch)" bash -c "
  '$JESS' pde embed '$DIR/full/checkpoint.pt' '$DIR/b.h5' --split test --out '$DIR/zs.npy' > /dev/null &&
  '$PY' - '$DIR/full/checkpoint.pt' '$DIR/b.h5' '$DIR/zs.npy' <<'PYEOF'
import sys, h5py, numpy as np, torch, torch.nn.functional as F
c = torch.load(sys.argv[1]); m = c['model']; s = c['extra']['input_stats'].double()
u = torch.from_numpy(h5py.File(sys.argv[2], 'r')['test']['pde_40-64'][:].astype(np.float32))
x = ((u[:, :16, :].double() - s[0]) / s[1]).float().unsqueeze(1)           # first 16 frames, all 64 points
x = torch.cat([x, torch.zeros_like(x), torch.zeros_like(x)], 1)            # grid channels off: zeros
bn = lambda h, p: F.batch_norm(h, m[p + '.running_mean'], m[p + '.running_var'], m[p + '.weight'], m[p + '.bias'], False, 0.0, 1e-5)
def encode(h):
    for st in ('stage1', 'stage2', 'stage3'):
        p = 'encoder.' + st
        h = F.relu(bn(F.conv2d(h, m[p + '.0.weight'], stride=2, padding=1), p + '.1'))
        y = F.relu(bn(F.conv2d(h, m[p + '.3.conv1.weight'], padding=1), p + '.3.bn1'))
        h = F.relu(h + bn(F.conv2d(y, m[p + '.3.conv2.weight'], padding=1), p + '.3.bn2'))
    return h.mean((2, 3))
z = np.load(sys.argv[3]); ref = sum(encode(x.roll(8 * k, 3)) for k in range(8)).numpy() / 8
one = encode(x).numpy()
assert np.abs(one - ref).max() > 1e-3 * np.abs(ref).max()                   # the average is not one view
assert z.shape == ref.shape == (24, 16), (z.shape, ref.shape)
assert np.abs(z - ref).max() < 1e-4 * np.abs(ref).max(), np.abs(z - ref).max()
PYEOF"
check "regress prints every baseline row" bash -c "
  '$JESS' pde regress '$DIR/b.h5' -c '$DIR/full/checkpoint.pt' --out '$DIR/reg' labelled=40 seeds=1 supervised_epochs=2 supervised_batch=8 crops=1 > '$DIR/r.out' 2>&1 &&
  grep -q 'supervised (end to end)' '$DIR/r.out' && grep -q 'head refit' '$DIR/r.out' && grep -q 'SSL repr' '$DIR/r.out' &&
  grep -q 'random-init' '$DIR/r.out' && grep -q 'constant' '$DIR/r.out' && test -s '$DIR/reg/regression.json'"
check "the paper's ResNet-18 encoder trains and embeds to 512-d" bash -c "
  '$JESS' pde pretrain '$DIR/b.h5' --out '$DIR/r18' batch=8 augment.crop_t=16 augment.crop_x=32 encoder.arch=resnet18 projector=32-32 train.epochs=1 monitor=0 > /dev/null 2>&1 &&
  '$JESS' pde embed '$DIR/r18/checkpoint.pt' '$DIR/b.h5' --split test --limit 5 --out '$DIR/z18.npy' | grep -q '5 x 512'"
check "guillotine probes every encoder block and projector layer" bash -c "
  '$JESS' pde guillotine '$DIR/full/checkpoint.pt' '$DIR/b.h5' labelled=40 crops=1 --json --plot '$DIR/gu.png' > '$DIR/gu.json' &&
  '$PY' -c \"import json; r=json.load(open('$DIR/gu.json')); n=[l['layer'] for l in r['layers']]; assert n==['stage1','stage2','stage3','projector1','projector2'], n\" &&
  file '$DIR/gu.png' | grep -q PNG"
check "quickstart runs end to end at a tiny scale (small --n and --labelled adapt the batch sizes)" bash -c "
  '$JESS' quickstart --out '$DIR/qs' --equations burgers --n 64 --epochs 1 --seeds 1 --labelled 32 --supervised-epochs 1 --timestep-epochs 0 > '$DIR/qs.out' 2>&1 &&
  grep -q 'SSL repr. + linear head' '$DIR/qs/table.md' && grep -q 'supervised, head refit' '$DIR/qs/table.md' && test -s '$DIR/qs/results.json'"
# ---- neural time-stepping: baseline, SSL-conditioned, oracle; the metric recomputed in Python; resume
STEP="time_history=8 time_future=8 width=8 n_test=6 n_valid=4 batch=8 train.epochs=2 train.lr_milestones=1"
check "pretrain an encoder on 8-step views for time-stepping" "$JESS" pde pretrain "$DIR/b.h5" --out "$DIR/enc8" batch=8 augment.crop_t=8 augment.crop_x=32 encoder.width=4 projector=16-16 train.epochs=1 monitor=0
check "timestep compares none, ssl and coefficient and writes its plots" bash -c "
  '$JESS' pde timestep '$DIR/b.h5' --out '$DIR/ts' --conditions none,ssl,coefficient --encoder '$DIR/enc8/checkpoint.pt' $STEP save_rollout=true > '$DIR/ts.out' 2>&1 &&
  grep -q 'baseline (no conditioning)' '$DIR/ts.out' && grep -q 'SSL repr. conditioning' '$DIR/ts.out' && grep -q 'true coefficient' '$DIR/ts.out' &&
  file '$DIR/ts/error_vs_time.png' | grep -q PNG && file '$DIR/ts/ssl_seed0/trajectory.png' | grep -q PNG &&
  grep -q rollout_valid '$DIR/ts/none_seed0/epochs.csv'"
check "the rollout error recomputed in Python from rollout.npy and the test split" "$PY" - "$DIR/b.h5" "$DIR/ts/ssl_seed0" <<'PYEOF'
import sys, json, numpy as np, h5py
f = h5py.File(sys.argv[1], 'r'); u = f['test']['pde_40-64'][:6].astype(np.float64)
run = sys.argv[2]; r = json.load(open(run + '/rollout.json')); p = np.load(run + '/rollout.npy').astype(np.float64)
assert p.shape == (6, 24, 64), p.shape            # rolled out from [8, 16): 3 blocks of 8 steps
truth = u[:, 16:40]
per_traj = ((p - truth) ** 2).mean(-1) / (truth ** 2).mean(-1)
assert abs(per_traj.sum(1).mean() - r['rollout_error']) < 1e-5 * r['rollout_error'], (per_traj.sum(1).mean(), r)
assert np.allclose(per_traj.mean(0), r['per_step'], rtol=1e-5) and r['first_step'] == 16
assert np.allclose(per_traj.sum(1), r['per_trajectory'], rtol=1e-5) and abs(np.median(per_traj.sum(1)) - r['median']) < 1e-5 * r['median']
assert r['ci95'][0] <= r['rollout_error'] <= r['ci95'][1]
PYEOF
check "a killed timestep run resumes to the same weights" bash -c "
  '$JESS' pde timestep '$DIR/b.h5' --out '$DIR/tsa' condition=coefficient $STEP > /dev/null 2>&1 &&
  JESS_TEST_KILL_AT_STEP=7 '$JESS' pde timestep '$DIR/b.h5' --out '$DIR/tsb' condition=coefficient $STEP > /dev/null 2>&1; test \$? -eq 137 &&
  '$JESS' pde timestep '$DIR/b.h5' --out '$DIR/tsb' condition=coefficient $STEP > /dev/null 2>&1 &&
  '$PY' -c \"
import torch
a, b = (torch.load(d + '/coefficient_seed0/checkpoint.pt') for d in ('$DIR/tsa', '$DIR/tsb'))
assert a['global_step'] == b['global_step'] == 12 and all(torch.equal(a['model'][k], b['model'][k]) for k in a['model'])
assert 'inject7.map.weight' in a['model']
\" && cmp '$DIR/tsa/timestep.json' '$DIR/tsb/timestep.json'"
expect_error "ssl conditioning needs an encoder" 2 "needs 'encoder'" "$JESS" pde timestep "$DIR/b.h5" --out "$DIR/x" condition=ssl $STEP
check "pretrain a time-as-channels encoder (resnet1d) on 16-step views" "$JESS" pde pretrain "$DIR/b.h5" --out "$DIR/r1d" $TINY encoder.arch=resnet1d train.epochs=1 monitor=0
expect_error "a time-as-channels encoder of longer views than the window is refused" 2 "augment.crop_t=8" "$JESS" pde timestep "$DIR/b.h5" --out "$DIR/x" condition=ssl encoder="$DIR/r1d/checkpoint.pt" $STEP
expect_error "a window longer than the trajectories is refused" 2 "exceeds" "$JESS" pde timestep "$DIR/b.h5" --out "$DIR/x" $STEP time_history=30 time_future=20
expect_error "regress refuses log_nu on KdV" 2 "no viscosity" "$JESS" pde regress "$DIR/kdv.h5" target=log_nu supervised=false labelled=8 crop_t=8 crop_x=32

# ---- vision
check "vision augment --show writes a PNG grid of Fashion-MNIST views" bash -c "'$JESS' vision augment --show --count 2 --views 2 local_crops=1 --out '$DIR/views.png' && file '$DIR/views.png' | grep -q PNG"
expect_error "vision augment refuses images past the split" 2 "exceeds the 10000 images" "$JESS" vision augment --show --split test --index 9999 --count 2 --out "$DIR/x.png"
expect_error "vision augment names a bad augmentation key" 2 "view1.flip" "$JESS" vision augment --show view1.flip=2 --out "$DIR/x.png"

VTINY="n_train=128 batch=32 width=2 projector=16-16 predictor=8 n_bank=128 n_monitor=64 train.epochs=1 train.warmup_epochs=0"
check "jess train (image SSL) logs k-NN, probe and RankMe, and resumes" bash -c "
  '$JESS' train method=simclr $VTINY --out '$DIR/v' > /dev/null 2>&1 && grep -q 'knn_top1,probe_top1,online_probe_top1,rankme' '$DIR/v/epochs.csv' &&
  '$JESS' train method=simclr $VTINY --out '$DIR/v' | grep -q 'resumed.*k-NN top-1'"
check "byol trains the student through its loss and keeps the EMA teacher in the checkpoint" bash -c "
  '$JESS' train method=byol $VTINY train.weight_decay=0 --out '$DIR/vb' > /dev/null 2>&1 &&
  '$PY' -c \"
import torch
m = torch.load('$DIR/vb/checkpoint.pt')['model']
assert 'teacher_backbone.conv1.weight' in m and 'predictor.0.weight' in m and 'probe.weight' in m
# Without weight decay only the BYOL loss's gradient moves the student's backbone (the probe is
# detached): the EMA teacher then lags it (~4e-5 relative after 4 steps). A teacher equal to the
# student up to rounding (~4e-8) means the loss trained nothing.
t, s = m['teacher_backbone.conv1.weight'], m['backbone.conv1.weight']
assert ((t - s).abs().max() / s.abs().max()).item() > 1e-6
\""
check "every configs/fmnist method config (recipes and equal-budget) is valid" bash -c "
  for f in '$ROOT'/configs/fmnist/*.yaml '$ROOT'/configs/fmnist/equal_budget/*.yaml; do
    '$JESS' train --config \$f --print-config | grep -q \"method: \$(basename \$f .yaml)\" || exit 1; done"
check "jess train without --config trains each method with its built-in Fashion-MNIST recipe (equal to the file)" bash -c "
  for f in '$ROOT'/configs/fmnist/*.yaml; do m=\$(basename \$f .yaml)
    cmp <('$JESS' train --config \$f --print-config seed=3) <('$JESS' train --print-config method=\$m seed=3) || exit 1; done
  '$JESS' train --print-config method=supervised | grep -q 'optimizer: lars' &&
  '$JESS' train --print-config method=vicreg | grep -q 'backbone: resnet_small' &&
  '$JESS' train --print-config method=vicreg data=/elsewhere/rendered | grep -q 'backbone: resnet18_cifar'"
check "vision eval probes every layer, deterministically, and writes eval.json and a Guillotine plot" bash -c "
  '$JESS' vision eval '$DIR/v' --n-train 300 --n-test 200 --plot '$DIR/g.png' > '$DIR/e1.txt' &&
  cp '$DIR/v/eval.json' '$DIR/e1.json' && '$JESS' vision eval '$DIR/v' --n-train 300 --n-test 200 > /dev/null &&
  cmp '$DIR/e1.json' '$DIR/v/eval.json' && file '$DIR/g.png' | grep -q PNG &&
  '$PY' -c \"
import json
r = json.load(open('$DIR/v/eval.json'))
names = [l['layer'] for l in r['layers']]
assert names == ['stem', 'layer1', 'layer2', 'layer3', 'projector1', 'projector2'], names  # SimCLR's recipe: resnet_small
rep = [l for l in r['layers'] if l['representation']]
assert len(rep) == 1 and rep[0]['layer'] == 'layer3' and rep[0]['dim'] == 8  # 4 x width 2
assert r['n_train'] == 300 and r['n_test'] == 200
for l in r['layers']:
    assert 0 <= l['linear_top1'] <= 1 and 0 <= l['knn_top1'] <= 1 and 1 <= l['rankme'] <= l['dim'] + 1e-6, l
    assert l['linear_top1'] > 0.2  # 10 classes: chance is 0.1
\""
check "vision eval of a random initialisation (its --json array plots back), and select judges RankMe against accuracy" bash -c "
  printf 'width: 2\\nprojector: 16-16\\n' > '$DIR/ri.yaml' &&
  '$JESS' vision eval --random-init '$DIR/ri.yaml' --n-train 300 --n-test 200 --json '$DIR/ri.json' > /dev/null &&
  '$JESS' vision eval '$DIR/ri.json' '$DIR/v/eval.json' --plot '$DIR/g2.png' | grep -q 'g2.png' && file '$DIR/g2.png' | grep -q PNG &&
  '$JESS' vision eval '$DIR/vb' --representation-only --n-train 300 --n-test 200 > /dev/null &&
  '$JESS' eval select --json '$DIR/v' '$DIR/vb' --plot '$DIR/sel.png' > '$DIR/sel.json' 2> /dev/null && file '$DIR/sel.png' | grep -q PNG &&
  '$JESS' eval select '$DIR/v' '$DIR/vb' --plot '$DIR/sel.svg' | tail -1 | grep -q 'wrote .*sel.svg' && grep -q '<svg' '$DIR/sel.svg' &&
  ! '$JESS' eval select '$DIR/z.npy' '$DIR/xtr.npy' --plot '$DIR/none.png' 2> '$DIR/selerr' && grep -q 'needs accuracies' '$DIR/selerr' &&
  '$PY' -c \"
import json
s = json.load(open('$DIR/sel.json'))
runs = s['runs']
assert runs[0]['rankme'] >= runs[1]['rankme'] and s['summary']['selected'] == runs[0]['run']
best = max(r['linear_top1'] for r in runs)
assert abs(s['summary']['linear_lost_points'] - 100 * (best - runs[0]['linear_top1'])) < 1e-9
assert abs(abs(s['summary']['spearman_rankme_linear']) - 1) < 1e-12  # two runs: +-1
ri = json.load(open('$DIR/ri.json'))
assert ri[0]['source'].startswith('random init') and len(ri[0]['layers']) == 7
\""
check "eval curves plots a metric of several runs" bash -c "'$JESS' eval curves '$DIR/v' '$DIR/vb' --metric knn_top1 --out '$DIR/c.png' | grep -q '2 runs' && file '$DIR/c.png' | grep -q PNG"
expect_error "eval curves names the available columns" 1 "knn_top1" "$JESS" eval curves "$DIR/v" --metric nope --out "$DIR/c.png"
expect_error "vision eval refuses a checkpoint of another command" 1 "not a checkpoint of jess train" "$JESS" vision eval "$DIR/full/checkpoint.pt"
expect_error "jess train validates the criterion's keys" 2 "temperature" "$JESS" train method=simclr loss=temperature=-1 --out "$DIR/x"

# ---- cells (DTAE)
CELLS="$ROOT/data/cells"
check "cells info reads the HSMM R data" bash -c "'$JESS' cells info '$CELLS/HSMMSingleCell' | grep -q '271 cells x 47192 features'"
check "cells synthetic writes the tree and its labels" bash -c "
  '$JESS' cells synthetic --out '$DIR/tree.npy' synthetic.n_branch=3 synthetic.branch_length=50 synthetic.n_dim=7 > /dev/null &&
  '$PY' -c \"
import numpy as np, csv
x = np.load('$DIR/tree.npy'); assert x.shape == (150, 7) and x.min() == 0 and x.max() == 1
rows = list(csv.DictReader(open('$DIR/tree_cells.csv'))); assert len(rows) == 150 and rows[149]['branch'] == '2'
\""
CT="synthetic.n_branch=3 synthetic.branch_length=100 synthetic.n_dim=10 tree.clusters=8 dtae.pretrain_epochs=4 dtae.finetune_steps=4 dtae.batch=64"
check "cells dtae on a synthetic tree writes embeddings, plots and metrics computed like numpy's" bash -c "
  '$JESS' cells dtae synthetic --color-by branch --out '$DIR/dt' $CT > '$DIR/dt.out' &&
  for f in dtae.png dtae.svg dtae.csv dtae.npy pca.png ae.png metrics.md metrics.json finetune_loss.png; do test -s '$DIR/dt/'\$f || exit 1; done &&
  '$PY' -c \"
import json, numpy as np
m = json.load(open('$DIR/dt/metrics.json'))
assert [e['method'] for e in m['embeddings']] == ['dtae', 'ae', 'pca'] and m['clusters'] == 8 and m['cells'] == 300
x = np.load('$DIR/dt/preprocessed.npy'); e = np.load('$DIR/dt/pca.npy')
# PCA: the first two principal components of the centred data (up to sign)
xc = x - x.mean(0); u, s, vt = np.linalg.svd(xc, full_matrices=False)
assert np.allclose(np.abs(e), np.abs(xc @ vt[:2].T), atol=1e-8)
# k-NN preservation (k = 15) recomputed from the two matrices
def knn(a):
    d = ((a[:, None, :] - a[None, :, :]) ** 2).sum(-1); np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind='stable')[:, :15]
h, l = knn(x), knn(e)
pres = np.mean([len(set(h[i]) & set(l[i])) / 15 for i in range(len(x))])
got = [r for r in m['embeddings'] if r['method'] == 'pca'][0]['knn_preservation']
assert abs(pres - got) < 1e-6, (pres, got)
\""
check "cells dtae writes its tree and weights, and restarting from them (tree.load, dtae.pretrained_weights) reproduces the run" bash -c "
  '$JESS' cells dtae synthetic --out '$DIR/dt_re' $CT tree.load='$DIR/dt/tree' dtae.pretrained_weights='$DIR/dt/weights_pretrained.npy' > /dev/null &&
  '$PY' -c \"
import json, numpy as np
a = json.load(open('$DIR/dt/metrics.json'))['embeddings']; b = json.load(open('$DIR/dt_re/metrics.json'))['embeddings']
assert a == [dict(r, seconds=s['seconds']) for r, s in zip(b, a)], (a, b)
for f in ('dtae.npy', 'weights_final.npy', 'tree/pairs.npy', 'tree/hops.npy', 'tree/triplets.npy'):
    assert (np.load('$DIR/dt/' + f) == np.load('$DIR/dt_re/' + f)).all(), f
x = np.load('$DIR/dt/preprocessed.npy'); c = np.load('$DIR/dt/tree/kmeans_centroids.npy')
assert (((x[:, None] - c[None]) ** 2).sum(-1).argmin(1) == np.load('$DIR/dt/tree/labels.npy')).all()
\""
check "cells dtae reads the monocle lung data and colours by time" bash -c "
  '$JESS' cells dtae '$CELLS/monocle' --config '$ROOT/configs/cells/lung.yaml' --color-by time --out '$DIR/lung' dtae.pretrain_epochs=2 dtae.finetune_steps=2 |
  grep -q '185 cells'"
expect_error "cells dtae lists the annotations when --color-by is unknown" 1 "available" "$JESS" cells dtae synthetic --color-by nope --out "$DIR/x" $CT
expect_error "cells dtae refuses an unknown baseline" 2 "baselines" "$JESS" cells dtae synthetic --out "$DIR/x" baselines=pca,magic
expect_error "cells dtae explains an unreadable source" 1 "nothing.csv" "$JESS" cells dtae "$DIR/nothing.csv" --out "$DIR/x"

# ---- pde: 2-D Navier-Stokes smoke (equation=ns2d)
NS="equation=ns2d n_train=3 n_valid=1 n_test=1 n=16 steps=12 skip=2 batch=2"
check "ns2d generate writes PDEArena's layout, seeded, readable by h5py" bash -c "
  '$JESS' pde generate --out '$DIR/ns.h5' --seed 4 $NS > /dev/null && '$JESS' pde generate --out '$DIR/ns1.h5' --seed 4 $NS > /dev/null &&
  cmp '$DIR/ns.h5' '$DIR/ns1.h5' && '$JESS' pde generate --out '$DIR/ns2.h5' --seed 4 $NS batch=3 > /dev/null && '$PY' -c \"
import h5py, numpy as np
f = h5py.File('$DIR/ns.h5', 'r')
for k in ('u', 'vx', 'vy', 'buo_y'):  # a trajectory does not depend on the batch it was simulated in
    assert np.array_equal(f['train'][k][:], h5py.File('$DIR/ns2.h5', 'r')['train'][k][:]), k
g = f['train']
assert g['u'].shape == g['vx'].shape == g['vy'].shape == (3, 10, 16, 16) and g['u'].dtype == np.float32
assert g['buo_y'].shape == (3,) and ((0.2 <= g['buo_y'][:]) & (g['buo_y'][:] <= 0.5)).all()
assert np.allclose(g['dx'][:], 2.0) and np.allclose(np.diff(g['t'][0]), 1.5) and f['test']['u'].shape[0] == 1
u = g['u'][:]
assert (u >= 0).all() and np.isfinite(u).all() and np.abs(g['vy'][:]).max() > 1e-3
\""
check "ns2d shards merge into the unsharded file (same bytes)" bash -c "
  '$JESS' pde generate --out '$DIR/ns_s0.h5' --seed 4 $NS shard_count=2 shard_index=0 > /dev/null &&
  '$JESS' pde generate --out '$DIR/ns_s1.h5' --seed 4 $NS shard_count=2 shard_index=1 > /dev/null &&
  '$JESS' pde merge --out '$DIR/ns_m.h5' '$DIR/ns_s1.h5' '$DIR/ns_s0.h5' > /dev/null && cmp '$DIR/ns.h5' '$DIR/ns_m.h5'"
check "ns2d plot draws smoke and vorticity frames" bash -c "'$JESS' pde plot '$DIR/ns.h5' --out '$DIR/ns.png' && head -c 8 '$DIR/ns.png' | grep -q PNG"
expect_error "ns2d: an odd grid is refused" 2 "must be even" "$JESS" pde generate --out "$DIR/nsx.h5" equation=ns2d n=15
expect_error "ns2d: an unstable explicit diffusion is refused, no file" 2 "unstable" "$JESS" pde generate --out "$DIR/nsx.h5" equation=ns2d n=16 nu=5
check "ns2d: no file after refused runs" bash -c "! ls '$DIR' | grep -q nsx"
NSS="pool=2 augment.crop_t=6 augment.crop=6 augment.boost=0.2 augment.quad_boost=0.2 augment.rotation=0.1 batch=4 encoder.width=8 projector=32-32 train.epochs=2 monitor=4"
check "ns2d pretrain (symmetry views, RankMe per epoch), regress (all rows + the law's variance) and embed" bash -c "
  '$JESS' pde generate --out '$DIR/nss.h5' equation=ns2d n_train=12 n_valid=4 n_test=6 n=16 steps=20 skip=4 batch=6 > /dev/null &&
  '$JESS' pde pretrain '$DIR/nss.h5' --out '$DIR/nss_pt' $NSS > /dev/null && grep -q rankme '$DIR/nss_pt/epochs.csv' &&
  '$JESS' pde regress '$DIR/nss.h5' --checkpoint '$DIR/nss_pt/checkpoint.pt' --out '$DIR/nss_rg' labelled=12 seeds=1 \
    supervised_epochs=2 supervised_batch=4 encoder.width=8 > '$DIR/nss_rg.txt' &&
  grep -q 'SSL repr. + MLP head' '$DIR/nss_rg.txt' && grep -q 'supervised, head refit' '$DIR/nss_rg.txt' &&
  grep -q '0.00750' '$DIR/nss_rg.txt' &&
  '$JESS' pde embed '$DIR/nss_pt/checkpoint.pt' '$DIR/nss.h5' --split test --out '$DIR/nss.npy' > /dev/null && '$PY' -c \"
import json, numpy as np
z = np.load('$DIR/nss.npy'); assert z.shape == (6, 32) and np.isfinite(z).all(), z.shape
r = json.load(open('$DIR/nss_rg/regression.json')); assert r['metric'] == 'MSE' and len(r['rows']) == 8, r
\""
check "ns2d timestep: solvers without / with the SSL window's representation / with b, rolled out after that window" bash -c "
  '$JESS' pde timestep '$DIR/nss.h5' --conditions none,ssl,coefficient --encoder '$DIR/nss_pt/checkpoint.pt' --out '$DIR/nss_ts' \
    train.epochs=1 width=8 blocks=1 batch=4 > /dev/null && '$PY' -c \"
import json
r = json.load(open('$DIR/nss_ts/timestep.json'))
assert [x['condition'] for x in r['rows']] == ['none', 'ssl', 'coefficient'], r
assert r['predicted_steps'] == 16 - 6 and all(x['mean'] > 0 for x in r['rows']), r
o = json.load(open('$DIR/nss_ts/ssl_seed0/rollout.json')); assert o['first_step'] == 6, o
\""
check "configs/pde/ns2d_paper.yaml is a valid ns2d pretraining configuration" bash -c "
  '$JESS' pde pretrain '$DIR/nss.h5' --config '$ROOT/configs/pde/ns2d_paper.yaml' --print-config | grep -q 'arch: resnet18'"
expect_error "ns2d pretrain refuses a 1-D encoder" 2 "2-D encoder" "$JESS" pde pretrain "$DIR/nss.h5" --out "$DIR/x" encoder.arch=resnet1d
expect_error "ns2d pretrain refuses windows longer than the trajectories" 2 "augment.crop_t" "$JESS" pde pretrain "$DIR/nss.h5" --out "$DIR/x" augment.crop_t=40
expect_error "ns2d regress refuses a 1-D checkpoint" 1 "not an ns2d pretraining checkpoint" "$JESS" pde regress "$DIR/nss.h5" --checkpoint "$DIR/full/checkpoint.pt" --out "$DIR/x"

# ---- render: 3DIEBench-style datasets, contact sheets, robustness sets
RD="classes=chair,car objects_per_class=2 views_per_object=3 image_size=32 val_fraction=0.5"
check "render dataset writes 3DIEBench's layout and the packed file" "$JESS" render dataset --out "$DIR/ie" $RD
check "a 3DIEBench loader reads jess's folder: images, latents, relative quaternions equal dataset.h5's" "$PY" - "$DIR/ie" <<'PYEOF'
import sys, pathlib, numpy as np, h5py
from PIL import Image
from scipy.spatial.transform import Rotation as R
root = pathlib.Path(sys.argv[1])
samples, labels = np.load(root / "train_images.npy"), np.load(root / "train_labels.npy")
assert len(samples) == len(labels) == 2 and labels.dtype == np.int64
f = h5py.File(root / "dataset.h5", "r")
objects = [o.decode() if isinstance(o, bytes) else o for o in f["objects"][:]]
V = int(f.attrs["views"])
for s, l in zip(samples, labels):
    # As SIE's Dataset3DIEBench: dataset_root / samples[i][1:] / f"image_{v}.jpg" and latent_{v}.npy
    d = root / s[1:]
    o = objects.index(s[1:])
    assert int(f["labels"][o]) == l
    a1 = np.load(d / "latent_0.npy")[:3].astype(np.float32); a2 = np.load(d / "latent_2.npy")[:3].astype(np.float32)
    q = (R.from_euler("xyz", a1).inv() * R.from_euler("xyz", a2)).as_quat()
    qf = (R.from_quat(f["quaternions"][o * V + 0]).inv() * R.from_quat(f["quaternions"][o * V + 2])).as_quat()
    assert np.allclose(q, qf, atol=1e-5) or np.allclose(q, -qf, atol=1e-5), (q, qf)
    assert np.allclose(np.load(d / "latent_1.npy"), f["factors"][o * V + 1][:7])
    img = np.asarray(Image.open(d / "image_1.jpg").convert("RGB")).astype(float)
    assert img.shape == (32, 32, 3)
    assert np.abs(img - f["images"][o * V + 1]).mean() < 8  # JPEG at quality 95, 4:2:0 chroma, 32^2 (measured 2.7-4.4)
PYEOF
check "render show writes a contact sheet" bash -c "'$JESS' render show --out '$DIR/sheet.png' image_size=32 classes=mug,lamp && head -c 8 '$DIR/sheet.png' | grep -q PNG"
check "render factors writes canonical + one-factor-at-a-time sets" bash -c "
  '$JESS' render factors --out '$DIR/f.h5' classes=mug,chair objects_per_class=2 image_size=32 pose=90 position=0.2 size=0.5 background=checker light=0.3 intensity=0.5 &&
  '$PY' -c \"
import h5py, numpy as np
f = h5py.File('$DIR/f.h5', 'r')
assert f['images'].shape == (36, 32, 32, 3), f['images'].shape
assert list(f['set'][:10]) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 0]
names = [n.decode() if isinstance(n, bytes) else n for n in f['set_names'][:]]
assert names == ['canonical', 'pose_x', 'pose_y', 'pose_z', 'position', 'size', 'background', 'light', 'intensity'], names
\""
check "render export writes a procedural object as a mesh" bash -c "'$JESS' render export --class guitar --out '$DIR/g.obj' | grep -q triangles && grep -q '^f ' '$DIR/g.obj'"
check "render dataset reads a folder of user meshes per class" bash -c "
  mkdir -p '$DIR/meshes/guitars' && cp '$DIR/g.obj' '$DIR/meshes/guitars/' &&
  '$JESS' render dataset --out '$DIR/mine' objects='$DIR/meshes' objects_per_class=1 views_per_object=2 image_size=32 val_fraction=0 layout=folder &&
  test -f '$DIR/mine/guitars/g/image_1.jpg'"
check "render shards merge into the unsharded dataset" bash -c "
  '$JESS' render dataset --out '$DIR/s0' $RD shard_count=2 shard_index=0 > /dev/null &&
  '$JESS' render dataset --out '$DIR/s1' $RD shard_count=2 shard_index=1 > /dev/null &&
  '$JESS' render merge --out '$DIR/merged' '$DIR/s1' '$DIR/s0' > /dev/null && cmp '$DIR/ie/dataset.h5' '$DIR/merged/dataset.h5'"
expect_error "render dataset lists the classes when one is unknown" 2 "airplane" "$JESS" render dataset --out "$DIR/rx" classes=unicorn
expect_error "render dataset refuses to overwrite a dataset" 2 "refusing to overwrite" "$JESS" render dataset --out "$DIR/ie" $RD
# ---- equivariance: SIE and baselines on the rendered pairs, the 3DIEBench metrics
EQ="width=2 batch=2 mlp=16-16 train.epochs=2 n_monitor=2"
check "equivariance train (sie) logs the online evaluator; eval writes every metric, plots and JSON readable by Python" bash -c "
  '$JESS' equivariance train data='$DIR/ie' --out '$DIR/sie' $EQ > '$DIR/sie_train.txt' && grep -q 'val_rotation_r2_equi' '$DIR/sie_train.txt' &&
  '$JESS' equivariance eval '$DIR/sie' --epochs 2 --pairs 2 --plots '$DIR/sie_plots' > '$DIR/sie_eval.txt' && grep -q 'MRR' '$DIR/sie_eval.txt' &&
  head -c 8 '$DIR/sie_plots/retrieval.png' | grep -q PNG && head -c 8 '$DIR/sie_plots/rotation_prediction.png' | grep -q PNG &&
  '$PY' -c \"
import json
r = json.load(open('$DIR/sie/equivariance_eval.json'))
assert r['method'] == 'sie' and r['views'] == 3 and len(r['classification']) == 6, r
assert {c['part'] for c in r['classification']} == {'full', 'inv', 'equi'}
m = r['retrieval']
assert 0 < m['mrr'] <= 1 and m['h1'] <= m['h2'] <= m['h5'] == 1 and 0 <= m['pre'] <= 1, m
\""
check "equivariance train: a baseline trains on the same pairs and eval reports retrieval as n/a" bash -c "
  '$JESS' equivariance train data='$DIR/ie' --out '$DIR/simclr_eq' method=simclr_augself $EQ > /dev/null &&
  '$JESS' equivariance eval '$DIR/simclr_eq' --epochs 2 --pairs 2 --no-mlp > '$DIR/simclr_eq.txt' && grep -q 'retrieval: n/a' '$DIR/simclr_eq.txt'"
"$PY" - "$DIR/norot" <<'PYEOF'
import sys, pathlib, numpy as np
from PIL import Image
root = pathlib.Path(sys.argv[1])
for split in ("train", "val"):
    d = root / "c0" / split
    d.mkdir(parents=True, exist_ok=True)
    for v in range(3):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(d / f"image_{v}.png")
        np.save(d / f"latent_{v}.npy", np.array([0.1, 0.2]))  # no rotation latents
    np.save(root / f"{split}_images.npy", np.array([f"/c0/{split}"]))
    np.save(root / f"{split}_labels.npy", np.array([0], np.int64))
PYEOF
check "jess --nproc 2 equivariance train (sie) follows one process with the whole batch" bash -c "
  '$JESS' --threads 1 equivariance train data='$DIR/ie' --out '$DIR/sie1' $EQ train.log_every=1 > /dev/null 2>&1 &&
  '$JESS' --nproc 2 equivariance train data='$DIR/ie' --out '$DIR/sie2' $EQ train.log_every=1 > /dev/null 2>&1 &&
  $PY -c \"
import csv
a = [float(r['loss']) for r in csv.DictReader(open('$DIR/sie1/steps.csv'))]
b = [float(r['loss']) for r in csv.DictReader(open('$DIR/sie2/steps.csv'))]
assert len(a) == len(b) > 0 and all(abs(x - y) <= 1e-5 * abs(x) for x, y in zip(a, b)), (a, b)
\""
expect_error "equivariance train explains a dataset without rotation latents" 2 "rot x, y, z" "$JESS" equivariance train data="$DIR/norot" --out "$DIR/x" $EQ
expect_error "equivariance eval refuses a checkpoint of another command" 1 "not a checkpoint of jess equivariance train" "$JESS" equivariance eval "$DIR/v"
expect_error "equivariance train names an unknown method" 2 "sie_rot_color" "$JESS" equivariance train data="$DIR/ie" --out "$DIR/x" method=sie3
# ---- robustness: one factor at a time on Fashion-MNIST's 2-D factors
RB="--n-test 40 --n-probe 200 rotation=90,45 translation=3 scale=0.5 background=1 brightness=0.3 contrast=0.5 gamma=2"
check "robustness eval: accuracy per level equals a recomputation from the saved predictions; plots and JSON" bash -c "
  '$JESS' robustness eval '$DIR/v' $RB --out '$DIR/rb' --json '$DIR/rb.json' --plots '$DIR/rbp' > '$DIR/rb.txt' &&
  grep -q 'rotation' '$DIR/rb.txt' && head -c 8 '$DIR/rbp/robustness_scale.png' | grep -q PNG &&
  '$PY' -c \"
import json, numpy as np
p, y, g = (np.load('$DIR/rb/' + f) for f in ('0_predictions.npy', 'labels.npy', 'groups.npy'))
names = list(np.load('$DIR/rb/group_names.npy'))
rows = json.load(open('$DIR/rb.json'))[0]['rows']
assert len(rows) == len(names) == 9 and names[0] == 'canonical' and names[1] == 'rotation:90', names
for k, r in enumerate(rows):
    m = g == k
    assert m.sum() == r['n'] == 40
    acc = (p[m] == y[m]).mean()
    assert abs(acc - r['top1']) < 1e-12, (k, acc, r['top1'])
    assert abs(r['drop'] - (rows[0]['top1'] - acc)) < 1e-12
\""
check "robustness export, then eval --embeddings of features computed outside jess (raw pixels)" bash -c "
  '$JESS' robustness export --out '$DIR/rbx' $RB > /dev/null &&
  '$PY' -c \"
import numpy as np
t, p = np.load('$DIR/rbx/test_images.npy'), np.load('$DIR/rbx/probe_images.npy')
assert t.shape == (360, 1, 40, 40) and p.shape == (200, 1, 40, 40) and t.dtype == np.uint8
assert (np.load('$DIR/rbx/groups.npy') == np.repeat(np.arange(9), 40)).all()
np.save('$DIR/rbx/test.npy', t.reshape(360, -1) / 255.0); np.save('$DIR/rbx/probe.npy', p.reshape(200, -1) / 255.0)
np.save('$DIR/rbx/short.npy', t.reshape(360, -1)[:359] / 255.0)
\" &&
  '$JESS' robustness eval --embeddings '$DIR/rbx' $RB --json '$DIR/rbe.json' > /dev/null &&
  '$PY' -c \"
import json
r = json.load(open('$DIR/rbe.json'))[0]['rows']
assert len(r) == 9 and r[0]['top1'] > 0.4, r[0]  # raw pixels classify canonical Fashion-MNIST well above chance
\""
mkdir -p "$DIR/rbs" && cp "$DIR/rbx/probe.npy" "$DIR/rbs/probe.npy" && cp "$DIR/rbx/short.npy" "$DIR/rbs/test.npy"
expect_error "robustness eval: an embedding file whose row count differs from the set's is named" 2 "has 359 rows" "$JESS" robustness eval --embeddings "$DIR/rbs" $RB
check "supervised baseline on canvases with half the instances rotated; robustness eval answers with its own head" bash -c "
  '$JESS' train method=supervised $VTINY variation.canvas=40 variation.factor=rotation variation.fraction=0.5 --out '$DIR/sup' > '$DIR/sup_train.txt' 2>&1 &&
  grep -q 'augment' '$DIR/sup/steps.csv' && '$JESS' train --print-config method=supervised variation.canvas=40 > '$DIR/supc.txt' &&
  grep -q 'size: 40' '$DIR/supc.txt' &&
  '$JESS' robustness eval '$DIR/sup' $RB > '$DIR/sup.txt' && grep -q '^supervised' '$DIR/sup.txt'"
expect_error "jess train: a variation factor without a canvas is refused" 2 "variation.canvas" "$JESS" train method=supervised variation.factor=rotation --print-config
check "robustness on rendered factor sets: export, features from outside, eval per pose axis and light intensity" bash -c "
  '$JESS' render factors --out '$DIR/rt.h5' classes=mug,chair objects_per_class=2 image_size=16 pose=90 position=0.2 size=0.5 background=checker light=0.3 intensity=0.5 > /dev/null &&
  '$JESS' render factors --out '$DIR/rp.h5' classes=mug,chair objects_per_class=3 first_object=0 image_size=16 pose=90 position=0.2 size=0.5 background=checker light=0.3 intensity=0.5 > /dev/null &&
  '$JESS' robustness export --data '$DIR/rt.h5' --probe '$DIR/rp.h5' --out '$DIR/rrx' > /dev/null &&
  '$PY' -c \"
import numpy as np
t, p = np.load('$DIR/rrx/test_images.npy'), np.load('$DIR/rrx/probe_images.npy')
assert t.shape == (36, 3, 16, 16) and p.shape == (6, 3, 16, 16), (t.shape, p.shape)
np.save('$DIR/rrx/test.npy', t.reshape(len(t), -1) / 255.0); np.save('$DIR/rrx/probe.npy', p.reshape(len(p), -1) / 255.0)
\" &&
  '$JESS' robustness eval --data '$DIR/rt.h5' --probe '$DIR/rp.h5' --embeddings '$DIR/rrx' > '$DIR/rr.txt' &&
  grep -q 'pose_z' '$DIR/rr.txt' && grep -q 'intensity' '$DIR/rr.txt'"
check "jess train on a rendered dataset (RGB views, method=supervised), then robustness eval on rendered factor sets" bash -c "
  '$JESS' train data='$DIR/ie' method=supervised width=2 batch=4 n_bank=4 n_monitor=4 train.epochs=1 train.warmup_epochs=0 --out '$DIR/rsup' > /dev/null 2>&1 &&
  '$JESS' robustness eval '$DIR/rsup' --data '$DIR/rt.h5' --probe '$DIR/rp.h5' --json '$DIR/rsup.json' > /dev/null &&
  '$PY' -c \"
import json
r = json.load(open('$DIR/rsup.json'))[0]
assert r['model'].startswith('supervised') and r['rows'][0]['factor'] == 'canonical' and r['rows'][0]['n'] == 4, r['rows'][0]
\""
check "jess train on a factor-set file: half the objects also shown rotated about z, the others canonical only" bash -c "
  '$JESS' render factors --out '$DIR/tf.h5' classes=mug,chair objects_per_class=4 first_object=0 image_size=16 pose=90,180 pose_axes=z position= size= background= light= intensity= > /dev/null &&
  '$JESS' train data='$DIR/tf.h5' method=supervised width=2 batch=4 n_bank=8 n_monitor=8 train.epochs=1 train.warmup_epochs=0 variation.factor=pose_z variation.fraction=0.5 --out '$DIR/tfr' > /dev/null 2>&1 &&
  test -f '$DIR/tfr/checkpoint.pt'"
expect_error "jess train: a variation factor the factor-set file lacks is named" 2 "holds no images of factor 'size'" "$JESS" train data="$DIR/tf.h5" method=supervised batch=4 variation.factor=size --out "$DIR/x"
expect_error "robustness eval of a rendered set needs the probe file" 2 "needs --probe" "$JESS" robustness eval --data "$DIR/rt.h5" --embeddings "$DIR/rrx"
expect_error "robustness eval names an unknown factor" 2 "unknown factor 'pose'" "$JESS" robustness eval "$DIR/v" --factors pose $RB
expect_error "robustness eval names a bad level" 2 "level 'x'" "$JESS" robustness eval "$DIR/v" $RB scale=x
expect_error "robustness eval refuses a checkpoint without a probe (a PDE run)" 1 "not a checkpoint of jess train" "$JESS" robustness eval "$DIR/full" $RB
expect_error "robustness eval: an SIE run takes RGB images, not Fashion-MNIST" 2 "takes RGB images" "$JESS" robustness eval "$DIR/sie" $RB
check "robustness eval probes an SIE run on rendered factor sets" bash -c "
  '$JESS' robustness eval '$DIR/sie' --data '$DIR/rt.h5' --probe '$DIR/rp.h5' > '$DIR/rsie.txt' && grep -q '^sie' '$DIR/rsie.txt'"
expect_error "render dataset refuses a zero size" 2 "scale_min" "$JESS" render dataset --out "$DIR/rx" factors.scale_min=0
check "a failed render leaves no partial dataset" bash -c "! ls '$DIR' | grep -q '^rx'"

# ---- data-parallel (docs/distributed.md): two local ranks on loopback ------------------------------
"$JESS" pde generate --out "$DIR/dp.h5" --seed 3 n_train=16 n_valid=4 n_test=4 nx=64 nt=20 nt_total=30 T=10 substeps=4 > /dev/null 2>&1
DP="batch=8 train.epochs=2 train.log_every=1 train.checkpoint_every=2 encoder.width=4 projector=16-16"
check "jess --nproc 2 pde pretrain follows one process with the whole batch (loss at every step)" bash -c "
  '$JESS' --threads 1 pde pretrain '$DIR/dp.h5' --out '$DIR/dp1' $DP > /dev/null 2>&1 &&
  '$JESS' --nproc 2 pde pretrain '$DIR/dp.h5' --out '$DIR/dp2' $DP > /dev/null 2>&1 &&
  $PY -c \"
import csv
a = [float(r['loss']) for r in csv.DictReader(open('$DIR/dp1/steps.csv'))]
b = [float(r['loss']) for r in csv.DictReader(open('$DIR/dp2/steps.csv'))]
assert len(a) == len(b) == 4, (a, b)
assert all(abs(x - y) <= 1e-5 * abs(x) for x, y in zip(a, b)), (a, b)
\""
check "a rank killed mid-run stops the other with an error naming it" bash -c "
  JESS_TEST_KILL_AT_STEP=3 JESS_TEST_KILL_RANK=1 JESS_DIST_TIMEOUT=20 '$JESS' --nproc 2 pde pretrain '$DIR/dp.h5' --out '$DIR/dpk' $DP > '$DIR/dpk.log' 2>&1;
  [[ \$? -eq 137 ]] && grep -q 'rank 1 exited with status 137' '$DIR/dpk.log' && grep -q 'Rank 1 has stopped' '$DIR/dpk.log'"
check "the killed run resumes into the uninterrupted run's weights and losses" bash -c "
  '$JESS' --nproc 2 pde pretrain '$DIR/dp.h5' --out '$DIR/dpk' $DP > /dev/null 2>&1 &&
  cmp <(cut -d, -f1-4 '$DIR/dpk/steps.csv') <(cut -d, -f1-4 '$DIR/dp2/steps.csv') &&
  $PY -c \"
import torch
a, b = torch.load('$DIR/dpk/checkpoint.pt')['model'], torch.load('$DIR/dp2/checkpoint.pt')['model']
assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
\""
check "a run killed in one process resumes in two processes (the same global batch)" bash -c "
  JESS_TEST_KILL_AT_STEP=2 '$JESS' --threads 1 pde pretrain '$DIR/dp.h5' --out '$DIR/dpr' $DP > /dev/null 2>&1;
  '$JESS' --nproc 2 pde pretrain '$DIR/dp.h5' --out '$DIR/dpr' $DP > /dev/null 2>&1 &&
  $PY -c \"
import csv
a = [float(r['loss']) for r in csv.DictReader(open('$DIR/dp1/steps.csv'))]
b = [float(r['loss']) for r in csv.DictReader(open('$DIR/dpr/steps.csv'))]
assert len(a) == len(b) == 4 and all(abs(x - y) <= 1e-5 * abs(x) for x, y in zip(a, b)), (a, b)
\""
check "a hung rank stops the other within JESS_DIST_TIMEOUT, naming it" bash -c "
  port=\$($PY -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])');
  export WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=\$port JESS_DIST_TIMEOUT=5 JESS_THREADS=1;
  RANK=1 '$JESS' pde pretrain '$DIR/dp.h5' --out '$DIR/dph' $DP train.epochs=500 > /dev/null 2>&1 & p1=\$!;
  RANK=0 '$JESS' pde pretrain '$DIR/dp.h5' --out '$DIR/dph' $DP train.epochs=500 > '$DIR/dph.log' 2>&1 & p0=\$!;
  sleep 4; kill -STOP \$p1; wait \$p0; rc=\$?; kill -9 \$p1;
  [[ \$rc -ne 0 ]] && grep -q 'Rank 1 has stopped' '$DIR/dph.log'"
check "a NaN in the training data is a clear error naming the trajectory, and no run is written" bash -c "
  cp '$DIR/dp.h5' '$DIR/nan.h5' &&
  $PY -c \"
import h5py
f = h5py.File('$DIR/nan.h5', 'a')
name = [k for k in f['train'] if k.startswith('pde_')][0]
d = f['train'][name]; d[5, 3, 7] = float('nan'); f.close()
\" &&
  ! '$JESS' pde pretrain '$DIR/nan.h5' --out '$DIR/nanrun' $DP > '$DIR/nan.log' 2>&1 &&
  grep -q 'trajectory 5 holds a non-finite value (nan) at time step 3, point 7' '$DIR/nan.log' && ! test -f '$DIR/nanrun/checkpoint.pt'"
check "a NaN in embeddings from outside is a clear error naming the row and column (rankme, probes)" bash -c "
  '$PY' -c \"import numpy as np; z = np.random.default_rng(0).random((100, 8)); z[17, 3] = np.nan; np.save('$DIR/zn.npy', z); np.save('$DIR/zl.npy', np.arange(100) % 5)\" &&
  ! '$JESS' eval rankme '$DIR/zn.npy' > '$DIR/zn.log' 2>&1 && grep -q 'NaN or Inf (first at row 17, column 3)' '$DIR/zn.log' &&
  ! '$JESS' eval probe --train '$DIR/zn.npy' '$DIR/zl.npy' --test '$DIR/zn.npy' '$DIR/zl.npy' > '$DIR/zn.log' 2>&1 &&
  grep -q 'training features contain NaN or Inf (first at row 17, column 3)' '$DIR/zn.log'"
# Faults on disk: a file-size limit (ulimit -f, as a full disk) and a read-only folder while writing data,
# checkpoints and arrays: a clear error, the previous file intact, no temporary file left, and the run resumes.
check "a file-size limit while writing data is a clear error; the previous file is intact, no temporary left" bash -c "
  mkdir -p '$DIR/fsz' && cp '$DIR/kdv.h5' '$DIR/fsz/k.h5' && before=\$(md5sum < '$DIR/fsz/k.h5') &&
  ! (ulimit -f 40; '$JESS' pde generate --out '$DIR/fsz/k.h5' n_train=64 nx=128 nt=40 nt_total=60 T=10 substeps=4) > '$DIR/fsz.log' 2>&1 &&
  grep -q 'disk full, or a file-size limit' '$DIR/fsz.log' && [[ \$(md5sum < '$DIR/fsz/k.h5') == \$before ]] &&
  [[ -z \$(ls '$DIR/fsz' | grep tmp) ]] &&
  ! (ulimit -f 8; '$JESS' pde solve '$DIR/u0.npy' --out '$DIR/fsz/s.npy' equation=heat L=20 nt=400) > '$DIR/fsz2.log' 2>&1 &&
  grep -q \"writing '$DIR/fsz/s.npy' failed\" '$DIR/fsz2.log' && [[ -z \$(ls '$DIR/fsz' | grep -v '^k.h5\$') ]]"
check "a file-size limit while writing a checkpoint: clear error, last checkpoint intact, the run resumes" bash -c "
  '$JESS' pde pretrain '$DIR/dp.h5' --out '$DIR/fsr' $DP > /dev/null 2>&1 && ck='$DIR/fsr/checkpoint.pt' &&
  before=\$(md5sum < \$ck) && lim=\$(( \$(stat -c %s \$ck) / 2048 )) &&
  ! (ulimit -f \$lim; '$JESS' pde pretrain '$DIR/dp.h5' --out '$DIR/fsr' $DP train.epochs=4) > '$DIR/fsr.log' 2>&1 &&
  grep -q 'File too large' '$DIR/fsr.log' && [[ \$(md5sum < \$ck) == \$before ]] && [[ -z \$(ls '$DIR/fsr' | grep tmp) ]] &&
  '$JESS' pde pretrain '$DIR/dp.h5' --out '$DIR/fsr' $DP train.epochs=4 > /dev/null 2>&1 &&
  [[ \$(grep -c '\"kind\": \"epoch\"' '$DIR/fsr/metrics.jsonl') == 4 ]]"
expect_error "an output file that is a folder is a clear error" 1 "cannot write '$DIR/fsz': Is a directory" \
  "$JESS" pde generate --out "$DIR/fsz" n_train=2 n_valid=1 n_test=1 nx=64 nt=20 nt_total=30 T=10 substeps=4
expect_error "a run folder that is a file is a clear error" 1 "Not a directory" \
  "$JESS" pde pretrain "$DIR/dp.h5" --out "$DIR/fsz/k.h5" $DP
# A read-only folder needs a bind mount in a private mount namespace (root here; CI runs as root too).
if unshare -m true 2> /dev/null; then
  check "a read-only output folder is a clear error for data, runs, arrays and plots, and nothing changes" bash -c "
    mkdir -p '$DIR/ro' && cp '$DIR/kdv.h5' '$DIR/ro/k.h5' && unshare -m bash -c \"
      mount --bind '$DIR/ro' '$DIR/ro' && mount -o remount,bind,ro '$DIR/ro' || exit 9
      '$JESS' pde generate --out '$DIR/ro/k.h5' n_train=4 nx=64 > '$DIR/ro1.log' 2>&1 && exit 1
      grep -q 'Read-only file system' '$DIR/ro1.log' || exit 1
      '$JESS' pde pretrain '$DIR/dp.h5' --out '$DIR/ro/run' $DP > '$DIR/ro2.log' 2>&1 && exit 2
      grep -q 'Read-only file system' '$DIR/ro2.log' || exit 2
      '$JESS' pde solve '$DIR/u0.npy' --out '$DIR/ro/s.npy' equation=heat L=20 > '$DIR/ro3.log' 2>&1 && exit 3
      grep -q 'Read-only file system' '$DIR/ro3.log' || exit 3
      '$JESS' pde plot '$DIR/kdv.h5' --out '$DIR/ro/p.png' > '$DIR/ro4.log' 2>&1 && exit 4
      grep -q 'cannot write plot' '$DIR/ro4.log' || exit 4
      exit 0\" && cmp '$DIR/kdv.h5' '$DIR/ro/k.h5' && [[ \$(ls '$DIR/ro') == k.h5 ]]"
else
  echo "skip - read-only folder (unshare -m is not permitted here)"
fi
expect_error "a command that does not run data-parallel refuses several processes" 1 "does not run data-parallel" \
  "$JESS" --nproc 2 pde generate --out "$DIR/dpx.h5" n_train=2
expect_error "a global batch that does not split evenly is refused" 1 "must be a multiple of the number of processes" \
  "$JESS" --nproc 2 pde pretrain "$DIR/dp.h5" --out "$DIR/dpo" batch=7 train.epochs=1 encoder.width=4 projector=16-16
check "a port in use is a clear error at start-up" bash -c "
  $PY -c 'import socket, sys, time; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)' > '$DIR/port' &
  sleep 1; port=\$(cat '$DIR/port');
  MASTER_PORT=\$port JESS_DIST_TIMEOUT=5 '$JESS' --nproc 2 pde pretrain '$DIR/dp.h5' --out '$DIR/dpp' $DP > '$DIR/dpp.log' 2>&1; rc=\$?;
  kill %1; [[ \$rc -ne 0 ]] && grep -q 'is the port already in use' '$DIR/dpp.log'"

check "kill -9 at 3 random moments, resumed each time: the uninterrupted run's weights and logs (scripts/soak.sh)" \
  "$ROOT/scripts/soak.sh" 3 "$JESS"

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
