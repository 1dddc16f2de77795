#!/usr/bin/python3
"""Speed / accuracy benchmark of jess's PDE generator against Python peers.

For each equation (KdV, KS, Burgers) on the same grid (nx=256, 140 saved steps)
and the same initial conditions (read back from jess's HDF5 file):

  * jess (C++)            build/jess pde generate, N trajectories, wall clock
  * jess, matched step    the same, with NumPy's substeps (apples to apples)
  * NumPy ETDRK4          bench/pde_peers.solve_etdrk4_batched, whole batch
  * Radau reference       bench/pde_peers.solve_radau, a few trajectories

Accuracy: relative L2 error over the saved (140, 256) trajectory against a
truth = jess at nx=512 with a much larger `substeps`, subsampled [:, :, ::2];
mean over the first --n-acc trajectories.  The truth is cross-checked against
an independent NumPy ETDRK4 run at nx=512 (footnote).

Progress goes to stderr; stdout gets one Markdown table (plus footnotes).
Run:  bench/run.sh pde [--quick] [--equations kdv,ks,burgers] [--n 1024] ...
Only Debian's /usr/bin/python3 is supported (numpy/scipy/h5py from apt).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pde_peers as P  # noqa: E402

import numpy as np  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# NumPy ETDRK4 steps per output interval: the smallest values whose mean
# time-stepping error on the default initial conditions is about 7e-5 or below
# (see bench/README.md; measured with `pde_peers.py --scan EQ`).
DEFAULT_SUBSTEPS = {"kdv": 11, "ks": 28, "burgers": 2}
# Truth: steps per output interval at nx=512 (mean error of the truth itself
# is ~1e-10 (kdv), ~1e-8 (ks), ~1e-12 (burgers, ETDRK4 path)).
DEFAULT_TRUTH_SUBSTEPS = {"kdv": 128, "ks": 256, "burgers": 64}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def parse_per_eq(text, default, cast=int):
    """'kdv=12,ks=28' or '12' (all equations) -> dict."""
    out = dict(default)
    if not text:
        return out
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if "=" in item:
            k, v = item.split("=", 1)
            if k not in P.EQUATIONS:
                raise SystemExit(f"unknown equation {k!r} in {text!r}")
            out[k] = cast(v)
        else:
            out = {k: cast(item) for k in out}
    return out


# --------------------------------------------------------------------------
# Environment record
# --------------------------------------------------------------------------

def blas_alternative():
    try:
        r = subprocess.run(["update-alternatives", "--query", "libblas.so.3-x86_64-linux-gnu"],
                           capture_output=True, text=True, timeout=10)
        for line in r.stdout.splitlines():
            if line.startswith("Value:"):
                return line.split(":", 1)[1].strip()
        return "(no Value line)"
    except Exception as e:  # noqa: BLE001
        return f"(update-alternatives failed: {e})"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


# --------------------------------------------------------------------------
# jess
# --------------------------------------------------------------------------

class JessError(RuntimeError):
    pass


def jess_binary(path):
    p = path if os.path.isabs(path) else os.path.join(REPO, path)
    if not os.path.isfile(p) or not os.access(p, os.X_OK):
        raise JessError(
            f"jess binary not found (or not executable) at {p}.\n"
            f"  Build it:  cmake --build {os.path.join(REPO, 'build')}   "
            f"(first-time setup: see bench/README.md), or pass --jess PATH.")
    return p


def run_jess(binary, out, eq, n, seed, threads, overrides, env):
    """Run `jess pde generate`; returns (wall seconds, stderr+stdout text)."""
    # --threads is an option of the top-level command, so it goes before `pde`.
    cmd = [binary, "--threads", str(threads), "pde", "generate", "--out", out,
           "--seed", str(seed), f"equation={eq}", f"n_train={n}", "n_valid=0", "n_test=0",
           *overrides]
    log("  $ " + " ".join(cmd))
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    except OSError as e:
        raise JessError(f"could not run {binary}: {e}") from e
    wall = time.perf_counter() - t0
    text = (r.stdout or "") + (r.stderr or "")
    if r.returncode != 0 or not os.path.isfile(out):
        raise JessError(f"jess failed (exit {r.returncode}):\n  {' '.join(cmd)}\n{text}")
    for line in text.strip().splitlines():
        log("    | " + line)
    return wall, text


def read_jess(path, n=None):
    """Read trajectories and labels of the train split of a jess file."""
    import h5py

    with h5py.File(path, "r") as f:
        g = f["train"]
        names = [k for k in g.keys() if k.startswith("pde_")]
        if len(names) != 1:
            raise JessError(f"{path}: expected one train/pde_* dataset, found {names}")
        sl = slice(None) if n is None else slice(0, n)
        d = {"u": g[names[0]][sl], "name": names[0]}
        for k in ("x", "t", "dx", "dt", "L", "T", "amplitudes", "phases", "wavenumbers", "nu"):
            if k in g:
                d[k] = g[k][sl]
        attrs = dict(f.attrs)
    if "nt_total" not in attrs:
        raise JessError(f"{path}: root attribute nt_total missing")
    d["nt_total"] = int(attrs["nt_total"])

    def s(v):
        return v.decode() if isinstance(v, bytes) else str(v)

    d["solver"] = s(attrs.get("solver", "?"))
    d["substeps"] = attrs.get("substeps", None)
    d["attrs"] = {k: s(v) if isinstance(v, (bytes, str)) else v for k, v in attrs.items()}
    return d


def jess_rate(text):
    m = re.search(r"in ([0-9.]+)\s*s\b.*?\(([0-9.]+) traj/s\)", text)
    return (float(m.group(1)), float(m.group(2))) if m else None


def labels_match(a, b, n):
    keys = ["L", "T", "amplitudes", "phases", "wavenumbers"] + (["nu"] if "nu" in a else [])
    bad = [k for k in keys if k in a and k in b
           and not np.allclose(a[k][:n], b[k][:n], rtol=1e-14, atol=0)]
    return bad


# --------------------------------------------------------------------------
# One equation
# --------------------------------------------------------------------------

def bench_equation(eq, args, jess, jess_env, tmp):
    nx, nt = args.nx, 140
    S = args.substeps[eq]
    Kt = args.truth_substeps[eq]
    # Burgers is ~20x cheaper per trajectory: a larger set keeps jess's fixed ~0.9 s process start-up
    # (LibTorch loading) from dominating its wall-clock rate.
    N = args.burgers_n if eq == "burgers" else args.n
    n_np = min(args.numpy_n or N, N)
    n_rad = min(args.radau_n, N)
    n_acc = min(max(args.n_acc, n_rad), N)
    rows, notes = [], []
    extra = list(args.jess_arg)
    res = {"equation": eq, "N": N, "substeps": S, "truth_substeps": Kt}

    # 1. jess, default settings ------------------------------------------------
    log(f"[{eq}] jess: {N} trajectories, nx={nx}")
    f_main = os.path.join(tmp, f"{eq}_main.h5")
    wall, text = run_jess(jess, f_main, eq, N, args.seed, args.threads,
                          [f"nx={nx}"] + extra, jess_env)
    D = read_jess(f_main)
    nt_total = D["nt_total"]
    B_file, nt_file, nx_file = D["u"].shape
    if (B_file, nt_file, nx_file) != (N, nt, nx):
        raise JessError(f"{f_main}: {D['name']} has shape {D['u'].shape}, expected {(N, nt, nx)}")
    L, T = D["L"], D["T"]
    A, phi, ell = D["amplitudes"], D["phases"], D["wavenumbers"]
    nu = D["nu"] if eq == "burgers" else None
    # sanity of the grid conventions we rely on
    x = P.grid(L, nx)
    if "x" in D and not np.allclose(D["x"], x, rtol=0, atol=1e-12 * np.max(L)):
        notes.append("file x differs from j*L/nx")
    t_expect = np.stack([np.linspace(0.0, Tb, nt_total)[-nt:] for Tb in T])
    if "t" in D and not np.allclose(D["t"], t_expect, rtol=1e-13, atol=0):
        notes.append("file t differs from linspace(0,T,nt_total)[-nt:]")
    rate = jess_rate(text)
    jess_solver = f"{D['solver']}"
    res["jess"] = {"wall_s": wall, "traj_s": N / wall, "self_reported": rate,
                   "substeps": None if D["substeps"] is None else int(D["substeps"]),
                   "solver": jess_solver}
    u_jess = D["u"][:n_acc].copy()
    del D

    # 2. truth: jess at nx=512 with many substeps ------------------------------
    log(f"[{eq}] truth: jess nx={2*nx} substeps={Kt}, {n_acc} trajectories")
    f_truth = os.path.join(tmp, f"{eq}_truth.h5")
    truth_over = [f"nx={2*nx}", f"substeps={Kt}"] + extra
    _, ttext = run_jess(jess, f_truth, eq, n_acc, args.seed, args.threads, truth_over, jess_env)
    Dt = read_jess(f_truth)
    bad = labels_match(Dt, {"L": L, "T": T, "amplitudes": A, "phases": phi,
                            "wavenumbers": ell, **({"nu": nu} if nu is not None else {})}, n_acc)
    if bad:
        raise JessError(f"truth run (nx={2*nx}, n_train={n_acc}) drew different initial-condition "
                        f"parameters than the main run for {bad}: same seed must give the same "
                        f"first trajectories")
    if Dt["u"].shape != (n_acc, nt, 2 * nx):
        raise JessError(f"truth file has shape {Dt['u'].shape}")
    truth = Dt["u"][:, :, ::2]
    truth_solver = Dt["solver"]
    del Dt

    def err(u, n):
        e = P.rel_l2(u[:n], truth[:n])
        return float(e.mean()), float(e.max())

    res["jess"]["err"] = err(u_jess, n_acc)

    # 2b. spatial floor: jess at nx (same step as truth) vs truth
    floor = None
    if not args.no_floor:
        log(f"[{eq}] floor: jess nx={nx} substeps={Kt}, {n_acc} trajectories")
        f_floor = os.path.join(tmp, f"{eq}_floor.h5")
        run_jess(jess, f_floor, eq, n_acc, args.seed, args.threads,
                 [f"nx={nx}", f"substeps={Kt}"] + extra, jess_env)
        floor = err(read_jess(f_floor)["u"], n_acc)
        res["floor_err"] = floor

    # 3. jess with the NumPy peer's step --------------------------------------
    if not args.no_matched:
        log(f"[{eq}] jess matched: substeps={S}")
        f_m = os.path.join(tmp, f"{eq}_matched.h5")
        over = [f"nx={nx}", f"substeps={S}"]
        if eq == "burgers":
            over += ["method=etdrk4", f"solve_nx={nx}"]
        wall_m, text_m = run_jess(jess, f_m, eq, N, args.seed, args.threads, over + extra, jess_env)
        Dm = read_jess(f_m, n_acc)
        res["jess_matched"] = {"wall_s": wall_m, "traj_s": N / wall_m,
                               "self_reported": jess_rate(text_m), "err": err(Dm["u"], n_acc),
                               "solver": Dm["solver"]}
        del Dm

    # 4. NumPy ETDRK4, whole batch ----------------------------------------------
    log(f"[{eq}] NumPy ETDRK4: {n_np} trajectories, substeps={S} (load {loadavg()})")
    u0 = P.initial_condition(x[:n_np], L[:n_np], A[:n_np], phi[:n_np], ell[:n_np])
    t0 = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):
        u_np = P.solve_etdrk4_batched(eq, u0, L[:n_np], T[:n_np], nt_total, nt, S,
                                      nu=None if nu is None else nu[:n_np],
                                      chunk=args.numpy_chunk or None)
    wall_np = time.perf_counter() - t0
    n_bad = int((~np.isfinite(u_np).all(axis=(1, 2))).sum())
    res["numpy"] = {"n": n_np, "wall_s": wall_np, "traj_s": n_np / wall_np, "non_finite": n_bad,
                    "err": err(u_np, min(n_acc, n_np)),
                    "vs_jess_default": float(P.rel_l2(u_np[:n_acc], u_jess[:n_acc]).mean())}
    del u_np, u0

    # 5. Radau reference, one at a time -----------------------------------------
    res["radau"] = None
    if n_rad > 0:
        log(f"[{eq}] Radau: {n_rad} trajectories (load {loadavg()})")
        u0 = P.initial_condition(x[:n_rad], L[:n_rad], A[:n_rad], phi[:n_rad], ell[:n_rad])
        t0 = time.perf_counter()
        u_r = P.solve_radau(eq, u0, L[:n_rad], T[:n_rad], nt_total, nt,
                            nu=None if nu is None else nu[:n_rad])
        wall_r = time.perf_counter() - t0
        res["radau"] = {"n": n_rad, "wall_s": wall_r, "traj_s": n_rad / wall_r,
                        "err": err(u_r, n_rad)}
        del u_r

    # 6. independent NumPy truth ------------------------------------------------
    n_nt = min(args.numpy_truth_n, n_acc)
    if n_nt > 0:
        log(f"[{eq}] NumPy truth: nx={2*nx} substeps={Kt}, {n_nt} trajectories")
        x2 = P.grid(L[:n_nt], 2 * nx)
        u0 = P.initial_condition(x2, L[:n_nt], A[:n_nt], phi[:n_nt], ell[:n_nt])
        t0 = time.perf_counter()
        u_nt = P.solve_etdrk4_batched(eq, u0, L[:n_nt], T[:n_nt], nt_total, nt, Kt,
                                      nu=None if nu is None else nu[:n_nt])[:, :, ::2]
        d = P.rel_l2(u_nt, truth[:n_nt])
        res["truth_check"] = {"n": n_nt, "mean": float(d.mean()), "max": float(d.max()),
                              "wall_s": time.perf_counter() - t0}

    # ---- rows -----------------------------------------------------------------
    r_rad = res["radau"]["traj_s"] if res["radau"] else None
    r_np = res["numpy"]["traj_s"]

    def row(impl, rate_, e, note):
        return {"eq": eq, "impl": impl, "traj_s": rate_,
                "vs_radau": rate_ / r_rad if r_rad else None, "vs_numpy": rate_ / r_np,
                "err": e, "notes": note}

    j = res["jess"]
    jsub = f"substeps={j['substeps']}" if j["substeps"] else "substeps=auto"
    solver_short = short_solver(jess_solver)
    note = f"{solver_short}, {jsub} (default tolerance), N={N}, --threads {args.threads}"
    if j["self_reported"]:
        note += f"; self-reported {j['self_reported'][1]:.3g} traj/s"
    rows.append(row("jess (C++), defaults", j["traj_s"], j["err"], note))
    if "jess_matched" in res:
        m = res["jess_matched"]
        note = f"ETDRK4 substeps={S} (= NumPy's), N={N}"
        if eq == "burgers":
            note += f", method=etdrk4 solve_nx={nx}"
        if m["self_reported"]:
            note += f"; self-reported {m['self_reported'][1]:.3g} traj/s"
        rows.append(row("jess (C++), NumPy's step", m["traj_s"], m["err"], note))
    nres = res["numpy"]
    rows.append(row("NumPy ETDRK4 (batched)", nres["traj_s"], nres["err"],
                    f"substeps={S}, batch={n_np}"
                    + (f" in blocks of {args.numpy_chunk}" if args.numpy_chunk else "")
                    + ", numpy.fft (1 thread)"
                    + (f"; {nres['non_finite']} trajectories blew up (step too large)"
                       if nres["non_finite"] else "")))
    if res["radau"]:
        rr = res["radau"]
        rows.append(row("SciPy Radau (reference)", rr["traj_s"], rr["err"],
                        f"MOL, rtol=atol=1e-9, {rr['n']} traj one at a time; "
                        f"error over {rr['n']} traj"))
    foot = [f"{eq}: truth = jess nx={2*nx}, substeps={Kt} ({short_solver(truth_solver)}), "
            f"subsampled ::2; errors are means over the first {n_acc} trajectories "
            f"(max in JSON); nt_total={nt_total}"]
    if floor:
        foot.append(f"{eq}: spatial floor (jess nx={nx} with substeps={Kt}, as the truth, vs truth): "
                    f"mean {floor[0]:.2e}, max {floor[1]:.2e}")
    if "truth_check" in res:
        tc = res["truth_check"]
        foot.append(f"{eq}: truth cross-check, NumPy ETDRK4 nx={2*nx} substeps={Kt} vs jess truth "
                    f"on {tc['n']} traj: rel L2 mean {tc['mean']:.2e}, max {tc['max']:.2e}")
    foot.append(f"{eq}: NumPy ETDRK4 vs jess defaults (first {n_acc}): "
                f"rel L2 {res['numpy']['vs_jess_default']:.2e}")
    foot += [f"{eq}: {n}" for n in notes]
    res["rows"] = rows
    return rows, foot, res


# --------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------

def short_solver(text):
    t = text.lower()
    m = re.search(r"on (\d+) points", t)
    grid_ = f" on {m.group(1)} points" if m else ""
    if "cole" in t:
        return "Cole-Hopf" + grid_
    if "etdrk4" in t:
        return "ETDRK4" + grid_
    return text[:40]


def fmt_rate(v):
    return "–" if v is None else (f"{v:.3g}" if v < 1000 else f"{v:.0f}")


def fmt_x(v):
    return "–" if v is None else (f"{v:.3g}×" if v < 1000 else f"{v:.0f}×")


def fmt_err(e):
    return "–" if e is None else f"{e[0]:.2e}"


def print_table(header_lines, rows, foot):
    out = []
    out += header_lines
    out.append("")
    out.append("| equation | implementation | traj/s | speed-up vs Radau | "
               "speed-up vs NumPy-ETDRK4 | rel L2 error vs truth | notes |")
    out.append("|---|---|---:|---:|---:|---:|---|")
    for r in rows:
        out.append(f"| {r['eq']} | {r['impl']} | {fmt_rate(r['traj_s'])} | {fmt_x(r['vs_radau'])} | "
                   f"{fmt_x(r['vs_numpy'])} | {fmt_err(r['err'])} | {r['notes']} |")
    if foot:
        out.append("")
        out += [f"- {f}" for f in foot]
    print("\n".join(out), flush=True)


def main(argv=None):
    P.ensure_env()
    ap = argparse.ArgumentParser(description="jess PDE generator vs Python peers (one table)")
    ap.add_argument("--equations", default="kdv,ks,burgers")
    ap.add_argument("--n", type=int, default=None, help="trajectories for jess (default 1024)")
    ap.add_argument("--numpy-n", type=int, default=None,
                    help="trajectories for the NumPy ETDRK4 batch (default: --n)")
    ap.add_argument("--radau-n", type=int, default=None, help="Radau trajectories (default 2)")
    ap.add_argument("--n-acc", type=int, default=None,
                    help="trajectories for the error (default 4)")
    ap.add_argument("--numpy-truth-n", type=int, default=None,
                    help="trajectories for the independent NumPy truth (default 2)")
    ap.add_argument("--substeps", default="",
                    help="NumPy ETDRK4 steps per output interval: 'kdv=11,ks=28,burgers=2' or one "
                         f"number for all (default {DEFAULT_SUBSTEPS})")
    ap.add_argument("--truth-substeps", default="",
                    help=f"truth steps per output interval at nx=512 (default "
                         f"{DEFAULT_TRUTH_SUBSTEPS})")
    ap.add_argument("--numpy-chunk", type=int, default=0,
                    help="NumPy ETDRK4: solve blocks of this many trajectories one after "
                         "another (0: the whole batch per step, the default)")
    ap.add_argument("--nx", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--burgers-n", type=int, default=None, help="trajectories for Burgers (default 4096)")
    ap.add_argument("--threads", type=int, default=2, help="jess --threads")
    ap.add_argument("--jess", default="build/jess", help="path of the jess binary")
    ap.add_argument("--jess-arg", action="append", default=[], metavar="KEY=VALUE",
                    help="extra key=value override for every jess run (repeatable)")
    ap.add_argument("--no-matched", action="store_true",
                    help="skip the jess run at the NumPy peer's step")
    ap.add_argument("--no-floor", action="store_true",
                    help="skip the jess nx=256 run at the truth's step (spatial floor)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: n=32, radau-n=1, n-acc=2, numpy-truth-n=1, truth substeps/4")
    ap.add_argument("--json", default=None, help="also write all results to this JSON file")
    ap.add_argument("--keep", default=None, help="keep jess's HDF5 files in this directory")
    args = ap.parse_args(argv)

    q = args.quick
    args.n = args.n if args.n is not None else (32 if q else 1024)
    args.burgers_n = args.burgers_n if args.burgers_n is not None else (32 if q else max(args.n, 4096))
    args.radau_n = args.radau_n if args.radau_n is not None else (1 if q else 2)
    args.n_acc = args.n_acc if args.n_acc is not None else (2 if q else 4)
    args.numpy_truth_n = (args.numpy_truth_n if args.numpy_truth_n is not None else (1 if q else 2))
    args.substeps = parse_per_eq(args.substeps, DEFAULT_SUBSTEPS)
    ts = dict(DEFAULT_TRUTH_SUBSTEPS)
    if q:
        ts = {k: max(8, v // 4) for k, v in ts.items()}
    args.truth_substeps = parse_per_eq(args.truth_substeps, ts)
    eqs = [e.strip() for e in args.equations.split(",") if e.strip()]
    for e in eqs:
        if e not in P.EQUATIONS:
            ap.error(f"unknown equation {e!r}; choose from {','.join(P.EQUATIONS)}")
    if args.n < 1 or args.nx % 2:
        ap.error("--n must be >= 1 and --nx even")

    try:
        jess = jess_binary(args.jess)
    except JessError as e:
        log(f"error: {e}")
        return 2
    jess_env = P.original_env()  # the C++ side sets its own threads / malloc tunables
    try:
        jv = subprocess.run([jess, "--version"], capture_output=True, text=True,
                            timeout=30).stdout.strip()
    except Exception:  # noqa: BLE001
        jv = "?"

    import scipy

    header = [
        f"# jess PDE generator benchmark — {_dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        "",
        f"- host: {platform.node()}, {cpu_model()}, {os.cpu_count()} CPUs; load at start {loadavg()}",
        f"- OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
        f"BLAS alternative: {blas_alternative()}",
        f"- threads: Python peers OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')} "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')} (numpy.fft and "
        f"elementwise ops are single-threaded); jess --threads {args.threads}",
        f"- GLIBC_TUNABLES (Python peers)={os.environ.get('GLIBC_TUNABLES', '(unset)')}; "
        f"jess gets the caller's environment (GLIBC_TUNABLES="
        f"{jess_env.get('GLIBC_TUNABLES', '(unset)')}) and sets its own",
        f"- {jv} ({jess}); python {platform.python_version()} ({sys.executable}), "
        f"numpy {np.__version__}, scipy {scipy.__version__}",
        f"- grid nx={args.nx}, 140 saved steps; seed {args.seed}; N={args.n} (Burgers: {args.burgers_n})"
        + (" (--quick)" if q else ""),
    ]
    log("\n".join(header))

    tmp = args.keep or tempfile.mkdtemp(prefix="jess_pde_bench_")
    os.makedirs(tmp, exist_ok=True)
    rows, foot, results = [], [], []
    status = 0
    try:
        for eq in eqs:
            try:
                r, f, res = bench_equation(eq, args, jess, jess_env, tmp)
            except JessError as e:
                log(f"error [{eq}]: {e}")
                foot.append(f"{eq}: FAILED — {str(e).splitlines()[0]}")
                status = 1
                continue
            rows += r
            foot += f
            results.append(res)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    header[2] += f"; load at end {loadavg()}"
    print_table(header, rows, foot)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"header": header, "results": results}, fh, indent=1, default=str)
    return status


if __name__ == "__main__":
    sys.exit(main())
