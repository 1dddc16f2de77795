#!/usr/bin/python3
"""Accuracy floor of jess's PDE SSL pipeline: jess on its defaults against the minimal plain-PyTorch
peer (bench/pde_ssl_peer.py) on the same data and budget (issue 14), side by side in one table.

Data law: Burgers on [0, 2 pi), nx = 256, u0 = 20 sines (l in 1..6, A ~ U(-0.5, 0.5)),
nu ~ U(0.05, 0.35), 64 frames on t in [0, 63/32]; 4,000 train / 500 valid / 500 test trajectories.
Budget: 28 epochs of the 4,000 at batch 128 (~870 VICReg steps); 500 labelled, 500 test.

    bench/run.sh pde-accuracy [--seeds 3] [--epochs 28] [--no-peer] [--out runs/pde_accuracy]

jess runs `jess pde pretrain DATA train.epochs=E seed=S` (every other setting its default) and
`jess pde regress DATA -c CKPT... labelled=500 seeds=S` (its defaults: the start view, ridge probe,
supervised baseline); the peer runs once per seed. About 15 minutes per jess seed and 20 per peer
seed on the 2-core VM. Prints one Markdown table: nu relative error % (test), mean +- std over seeds.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATE = ["equation=burgers", "n_train=4000", "n_valid=500", "n_test=500", "nt=64", "nt_total=64",
            "T=1.96875", "nu_min=0.05", "nu_max=0.35", "similarity=1", "method=etdrk4"]
# (jess row name, the peer's row key)
ROWS = [("SSL repr. + linear head", "ssl"),
        ("supervised (end to end)", "supervised"),
        ("supervised, head refit by the probe", "supervised_ridge"),
        ("random-init encoder + linear head", "random"),
        ("constant (mean of labels)", "constant")]


def run(cmd, log):
    print("[pde-accuracy] " + " ".join(cmd), file=sys.stderr, flush=True)
    with open(log, "w") as f:
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT)


def fmt(values):
    if not values:
        return "-"
    m = statistics.mean(values)
    s = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{m:.2f} +- {s:.2f} (n={len(values)})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=28)
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "pde_accuracy"))
    ap.add_argument("--jess", default=os.path.join(ROOT, "build", "jess"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--no-jess", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    data = os.path.join(a.out, "burgers.h5")
    jess = [a.jess, "--threads", str(a.threads)]
    if not os.path.exists(data):
        run(jess + ["pde", "generate", "--out", data, "--seed", "11"] + GENERATE, data + ".log")
    results = {"jess": {}, "peer": {}}
    t0 = time.time()
    if not a.no_jess:
        ckpts = []
        for s in range(a.seeds):
            d = os.path.join(a.out, f"jess_ssl_seed{s}")
            run(jess + ["pde", "pretrain", data, "--out", d, f"train.epochs={a.epochs}", f"seed={s}"], d + ".log")
            ckpts.append(os.path.join(d, "checkpoint.pt"))
        reg = os.path.join(a.out, "jess_regress")
        run(jess + ["pde", "regress", data, "--out", reg, "-c"] + ckpts + ["labelled=500", f"seeds={a.seeds}"], reg + ".log")
        with open(os.path.join(reg, "regression.json")) as f:
            rep = json.load(f)
        for name, _ in ROWS:
            for r in rep["rows"]:
                if r["name"] == name:
                    results["jess"][name] = r["values"]
    t1 = time.time()
    if not a.no_peer:
        for s in range(a.seeds):
            out = os.path.join(a.out, f"peer_seed{s}.json")
            run(["/usr/bin/python3", os.path.join(ROOT, "bench", "pde_ssl_peer.py"), data, "--seed", str(s),
                 "--epochs", str(a.epochs), "--threads", str(a.threads), "--json", out], out + ".log")
            with open(out) as f:
                peer = json.load(f)
            for name, key in ROWS:
                if key in peer["rows"]:
                    results["peer"].setdefault(name, []).append(peer["rows"][key]["rel_err"])
    t2 = time.time()
    print(f"\nnu relative error % on the test split (mean +- std over seeds), {a.epochs} pretraining epochs, "
          f"jess {t1 - t0:.0f} s, peer {t2 - t1:.0f} s, {a.threads} threads, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}\n")
    print("| row | jess (defaults) | minimal PyTorch peer |\n|---|---|---|")
    for name, _ in ROWS:
        print(f"| {name} | {fmt(results['jess'].get(name))} | {fmt(results['peer'].get(name))} |")
    with open(os.path.join(a.out, "accuracy.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
