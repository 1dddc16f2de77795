#!/usr/bin/env python3
"""Label-free and probe evaluation speed: jess against NumPy in the same run.

RankMe on Z (N x K float32): jess (float64 Gram matrix accumulated over row blocks + symmetric
eigenvalues) vs the SVD-based RankMe written with NumPy (np.linalg.svd(Z, compute_uv=False)), and the
floor: one float64 Z^T Z product in NumPy (the same OpenBLAS). k-NN (cosine, k=20/200, T=0.07): jess vs
the floor, one (Q x D) @ (D x N) float32 product. Times exclude process start-up and file reading by
NumPy; jess's time includes reading the .npy file.
"""
import argparse, json, os, subprocess, tempfile, time
import numpy as np


def timed(fn, reps=1):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); best = min(best, time.perf_counter() - t0)
    return best


def rankme_svd(z, eps=1e-7):
    s = np.linalg.svd(z, compute_uv=False).astype(np.float64)
    p = s / s.sum() + eps
    return float(np.exp(-(p * np.log(p)).sum()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jess", default="build/jess")
    ap.add_argument("--n", type=int, default=25600)
    ap.add_argument("--k", default="2048,8192", help="embedding widths for RankMe")
    ap.add_argument("--knn-bank", type=int, default=50000)
    ap.add_argument("--knn-queries", type=int, default=10000)
    ap.add_argument("--knn-dim", type=int, default=512)
    ap.add_argument("--skip-svd-above", type=int, default=8192, help="skip NumPy SVD for K above this")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="jess_eval_bench_")
    rng = np.random.default_rng(0)
    print(f"# jess eval benchmark ({time.strftime('%Y-%m-%d')}): OPENBLAS_CORETYPE="
          f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    print("| task | size | jess (s) | NumPy SVD (s) | floor (s) | jess vs SVD | jess / floor | check |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for k in [int(v) for v in a.k.split(",")]:
        # Embeddings with a decaying spectrum: Z = G diag(d), d_j = j^-0.5.
        z = (rng.standard_normal((a.n, k), dtype=np.float32) * (np.arange(1, k + 1, dtype=np.float32) ** -0.5))
        path = os.path.join(tmp, f"z{k}.npy"); np.save(path, z)
        out = subprocess.run([a.jess, "eval", "rankme", path, "--json"], capture_output=True, text=True, check=True)
        j = json.loads(out.stdout)
        z64 = z.astype(np.float64)
        t_floor = timed(lambda: z64.T @ z64)
        if k <= a.skip_svd_above:
            score = {}
            t_svd = timed(lambda: score.setdefault("v", rankme_svd(z)))
            check = f"RankMe {j['rankme']:.3f} vs {score['v']:.3f}"
            vs = f"{t_svd / j['seconds']:.1f}x"
        else:
            t_svd, check, vs = float("nan"), f"RankMe {j['rankme']:.3f}", "-"
        print(f"| RankMe | {a.n} x {k} | {j['seconds']:.2f} | {t_svd:.2f} | {t_floor:.2f} | {vs} | "
              f"{j['seconds'] / t_floor:.2f} | {check} |")
        del z, z64
        os.remove(path)
    # k-NN
    D, N, Q = a.knn_dim, a.knn_bank, a.knn_queries
    centers = rng.standard_normal((10, D)).astype(np.float32)
    ytr = rng.integers(0, 10, N); yte = rng.integers(0, 10, Q)
    xtr = centers[ytr] + 2 * rng.standard_normal((N, D), dtype=np.float32)
    xte = centers[yte] + 2 * rng.standard_normal((Q, D), dtype=np.float32)
    for name, arr in (("xtr", xtr), ("ytr", ytr), ("xte", xte), ("yte", yte)):
        np.save(os.path.join(tmp, name + ".npy"), arr)
    out = subprocess.run([a.jess, "eval", "knn", "--train", f"{tmp}/xtr.npy", f"{tmp}/ytr.npy", "--test",
                          f"{tmp}/xte.npy", f"{tmp}/yte.npy", "--k", "20", "--json"],
                         capture_output=True, text=True, check=True)
    j = json.loads(out.stdout)[0]
    t_floor = timed(lambda: xte @ xtr.T)
    print(f"| k-NN k=20 | {N} stored, {Q} queries, {D} dims | {j['seconds_all_k']:.2f} | - | {t_floor:.2f} | - | "
          f"{j['seconds_all_k'] / t_floor:.2f} | top-1 {100 * j['top1']:.1f}% |")


if __name__ == "__main__":
    main()
