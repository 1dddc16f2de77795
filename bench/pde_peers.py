#!/usr/bin/python3
"""Python peers for the jess PDE-generator benchmark.

Two solvers for three periodic 1-D equations on [0, L):

    KdV      u_t + u u_x + u_xxx = 0
    KS       u_t + u u_x + u_xx + u_xxxx = 0
    Burgers  u_t + u u_x = nu u_xx            (nu per trajectory)

* ``solve_radau``: the reference generators' method -- method of lines with
  pseudo-spectral (FFT, not dealiased) derivatives integrated by
  ``scipy.integrate.solve_ivp(method='Radau', rtol=1e-9, atol=1e-9)``, one
  trajectory at a time.
* ``solve_etdrk4_batched``: Kassam & Trefethen's ETDRK4 in rfft space with
  2/3-rule dealiasing, the whole batch advanced per step with NumPy array
  operations (per-trajectory L, T, nu -> per-trajectory coefficient arrays).

Run ``/usr/bin/python3 bench/pde_peers.py --selftest`` for a correctness check
(travelling KdV soliton with both solvers, fourth-order convergence of ETDRK4).
Use only Debian's /usr/bin/python3 (numpy, scipy, h5py come from apt).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from malloc_env import glibc_tunables  # noqa: E402 (bench/ is on sys.path: the scripts run from it)
import numpy as np

EQUATIONS = ("kdv", "ks", "burgers")

# Environment the Python peers are benchmarked under (glibc reads GLIBC_TUNABLES
# at process start, OpenBLAS/OpenMP read the thread counts when loaded, so these
# must be in place before the interpreter starts: see ensure_env()).
PEER_ENV = {
    "OMP_NUM_THREADS": "2",
    "OPENBLAS_NUM_THREADS": "2",
    "GLIBC_TUNABLES": glibc_tunables(),
}
_REEXEC_MARK = "JESS_BENCH_REEXEC"


def ensure_env(extra_save: bool = True) -> None:
    """Re-exec the current script once with PEER_ENV set, if it is not already.

    The original values are kept in JESS_BENCH_ORIG_<NAME> (empty string =
    unset) so that child processes (e.g. the C++ binary) can be given the
    caller's untouched environment.  OPENBLAS_CORETYPE is never modified.
    """
    if all(os.environ.get(k) == v for k, v in PEER_ENV.items()):
        return
    if os.environ.get(_REEXEC_MARK):
        # Should not happen (we set everything); avoid an exec loop regardless.
        return
    env = dict(os.environ)
    if extra_save:
        for k in PEER_ENV:
            env["JESS_BENCH_ORIG_" + k] = os.environ.get(k, "")
    env.update(PEER_ENV)
    env[_REEXEC_MARK] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def original_env() -> dict:
    """The environment as it was before ensure_env() re-executed us."""
    env = dict(os.environ)
    for k in PEER_ENV:
        key = "JESS_BENCH_ORIG_" + k
        if key in env:
            if env[key] == "":
                env.pop(k, None)
            else:
                env[k] = env[key]
            env.pop(key)
    env.pop(_REEXEC_MARK, None)
    return env


# --------------------------------------------------------------------------
# Initial conditions and grids
# --------------------------------------------------------------------------

def grid(L, nx: int) -> np.ndarray:
    """x[b, j] = j * L[b] / nx, shape (B, nx)."""
    L = np.atleast_1d(np.asarray(L, dtype=np.float64))
    return L[:, None] * (np.arange(nx, dtype=np.float64) / nx)[None, :]


def initial_condition(x, L, A, phi, ell) -> np.ndarray:
    """u0[b, j] = sum_k A[b,k] sin(2 pi ell[b,k] x[b,j] / L[b] + phi[b,k]).

    x: (B, nx) (or (nx,), broadcast); L: (B,); A, phi, ell: (B, K).
    Returns (B, nx) float64.
    """
    L = np.atleast_1d(np.asarray(L, dtype=np.float64))
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    phi = np.atleast_2d(np.asarray(phi, dtype=np.float64))
    ell = np.atleast_2d(np.asarray(ell, dtype=np.float64))
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = np.broadcast_to(x, (A.shape[0], x.shape[0]))
    # (B, K, nx) phase argument; K is small (<= ~20) so this is cheap.
    arg = (2.0 * np.pi * ell / L[:, None])[:, :, None] * x[:, None, :] + phi[:, :, None]
    return np.einsum("bk,bkj->bj", A, np.sin(arg))


def wavenumbers(L, nx: int) -> np.ndarray:
    """Angular rfft wavenumbers k[b, m] = 2 pi m / L[b], shape (B, nx//2+1)."""
    L = np.atleast_1d(np.asarray(L, dtype=np.float64))
    return (2.0 * np.pi / L)[:, None] * np.arange(nx // 2 + 1, dtype=np.float64)[None, :]


def _per_traj(v, B, name):
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 0:
        v = np.full(B, float(v))
    if v.shape != (B,):
        raise ValueError(f"{name} must be a scalar or have shape ({B},), got {v.shape}")
    return v


def _check_eq(eq, nu, B):
    if eq not in EQUATIONS:
        raise ValueError(f"unknown equation {eq!r}; expected one of {EQUATIONS}")
    if eq == "burgers":
        if nu is None:
            raise ValueError("burgers needs nu")
        return _per_traj(nu, B, "nu")
    return None


# --------------------------------------------------------------------------
# Reference: method of lines + Radau, one trajectory at a time
# --------------------------------------------------------------------------

def _mol_rhs(eq, nx, L, nu):
    """Right-hand side du/dt for one trajectory (pseudo-spectral, no dealiasing)."""
    k = 2.0 * np.pi / L * np.arange(nx // 2 + 1)
    ik = 1j * k
    fft, ifft = np.fft.rfft, np.fft.irfft
    if eq == "kdv":
        d3 = ik ** 3

        def rhs(t, u):
            uh = fft(u)
            return -u * ifft(ik * uh, nx) - ifft(d3 * uh, nx)
    elif eq == "ks":
        lin = -(-(k ** 2) + k ** 4)  # -(u_xx + u_xxxx) in Fourier: k^2 - k^4

        def rhs(t, u):
            uh = fft(u)
            return -u * ifft(ik * uh, nx) + ifft(lin * uh, nx)
    else:
        d2 = -nu * k ** 2

        def rhs(t, u):
            uh = fft(u)
            return -u * ifft(ik * uh, nx) + ifft(d2 * uh, nx)
    return rhs


def solve_radau(eq, u0, L, T, nt_total, nt_keep, nu=None, rtol=1e-9, atol=1e-9):
    """Reference method: MOL + scipy Radau, one trajectory at a time.

    Output times t_full = linspace(0, T[b], nt_total); the last nt_keep rows are
    returned, shape (B, nt_keep, nx).
    """
    from scipy.integrate import solve_ivp

    u0 = np.atleast_2d(np.asarray(u0, dtype=np.float64))
    B, nx = u0.shape
    L = _per_traj(L, B, "L")
    T = _per_traj(T, B, "T")
    nu = _check_eq(eq, nu, B)
    out = np.empty((B, nt_keep, nx))
    for b in range(B):
        rhs = _mol_rhs(eq, nx, L[b], None if nu is None else nu[b])
        t_full = np.linspace(0.0, T[b], nt_total)
        sol = solve_ivp(rhs, (0.0, T[b]), u0[b], method="Radau", t_eval=t_full,
                        rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(f"Radau failed on trajectory {b}: {sol.message}")
        out[b] = sol.y[:, -nt_keep:].T
    return out


# --------------------------------------------------------------------------
# Batched ETDRK4 (Kassam & Trefethen 2005), rfft space, 2/3 dealiasing
# --------------------------------------------------------------------------

def linear_symbol(eq, k, nu=None) -> np.ndarray:
    """Fourier symbol Lk of the linear part, v_t = Lk v + N(v). k: (B, nk)."""
    if eq == "kdv":
        return (1j * k ** 3).astype(np.complex128)  # -u_xxx -> -(ik)^3 = i k^3
    if eq == "ks":
        return (k ** 2 - k ** 4).astype(np.complex128)
    if eq == "burgers":
        return (-np.asarray(nu)[:, None] * k ** 2).astype(np.complex128)
    raise ValueError(eq)


def etdrk4_coefficients(z, h, M=32, chunk=64):
    """ETDRK4 coefficients from z = h*Lk (B, nk) complex and h (B,).

    Returns dict E=exp(z), E2=exp(z/2) and Q, f1, f2, f3 (already multiplied by
    h).  The phi-functions are evaluated as the mean over M points on a circle
    of radius 1 centred on each z (complex mean -- for KdV z is purely
    imaginary, so taking .real as in the KS-only original would be wrong).
    """
    r = np.exp(2j * np.pi * (np.arange(M) + 0.5) / M)  # full circle, radius 1
    B = z.shape[0]
    Q = np.empty_like(z)
    f1 = np.empty_like(z)
    f2 = np.empty_like(z)
    f3 = np.empty_like(z)
    for s in range(0, B, chunk):
        zz = z[s:s + chunk, :, None] + r            # (b, nk, M)
        ez = np.exp(zz)
        ez2 = np.exp(zz / 2)
        z3 = zz ** 3
        hh = h[s:s + chunk, None]
        Q[s:s + chunk] = hh * np.mean((ez2 - 1.0) / zz, axis=-1)
        f1[s:s + chunk] = hh * np.mean((-4.0 - zz + ez * (4.0 - 3.0 * zz + zz ** 2)) / z3, axis=-1)
        f2[s:s + chunk] = hh * np.mean((2.0 + zz + ez * (-2.0 + zz)) / z3, axis=-1)
        f3[s:s + chunk] = hh * np.mean((-4.0 - 3.0 * zz - zz ** 2 + ez * (4.0 - zz)) / z3, axis=-1)
    return dict(E=np.exp(z), E2=np.exp(z / 2), Q=Q, f1=f1, f2=f2, f3=f3)


def dealias_mask(nx: int) -> np.ndarray:
    """2/3 rule on rfft indices: keep m <= nx/3 (so |k_index| > nx/3 are zeroed)."""
    m = np.arange(nx // 2 + 1)
    return (m <= nx / 3.0).astype(np.float64)


def solve_etdrk4_batched(eq, u0, L, T, nt_total, nt_keep, substeps, nu=None, M=32,
                         chunk=None):
    """Batched ETDRK4, Fourier pseudo-spectral (rfft), 2/3 dealiasing.

    Trajectory b uses step h_b = (T_b / (nt_total - 1)) / substeps; every
    trajectory takes `substeps` steps per output interval.  Nonlinear term
    N(v) = -0.5 i k rfft(irfft(v)^2), dealiased.  Returns (B, nt_keep, nx).

    chunk=None advances the whole batch per step; chunk=c solves blocks of c
    trajectories one after another (same results up to rounding; smaller working set).
    """
    fft, ifft = np.fft.rfft, np.fft.irfft
    u0 = np.atleast_2d(np.asarray(u0, dtype=np.float64))
    B, nx = u0.shape
    L = _per_traj(L, B, "L")
    T = _per_traj(T, B, "T")
    nu = _check_eq(eq, nu, B)
    if chunk and chunk < B:
        return np.concatenate([
            solve_etdrk4_batched(eq, u0[s:s + chunk], L[s:s + chunk], T[s:s + chunk],
                                 nt_total, nt_keep, substeps,
                                 nu=None if nu is None else nu[s:s + chunk], M=M)
            for s in range(0, B, chunk)])
    substeps = int(substeps)
    if substeps < 1 or nt_total < 2 or not 1 <= nt_keep <= nt_total:
        raise ValueError("need substeps >= 1, nt_total >= 2, 1 <= nt_keep <= nt_total")

    k = wavenumbers(L, nx)                          # (B, nk)
    h = T / (nt_total - 1) / substeps               # (B,)
    c = etdrk4_coefficients(h[:, None] * linear_symbol(eq, k, nu), h, M=M)
    E, E2, Q, f1, f3 = c["E"], c["E2"], c["Q"], c["f1"], c["f3"]
    f2x2 = 2.0 * c["f2"]
    del c
    # irfft with norm="forward" skips numpy's 1/nx scaling pass, so
    # irfft(v, norm="forward") = nx * u; the 1/nx^2 of u^2 goes into g.
    g = (-0.5j / nx ** 2) * k * dealias_mask(nx)[None, :]   # (B, nk)

    def nonlin(v):
        u = ifft(v, nx, axis=-1, norm="forward")
        np.multiply(u, u, out=u)
        w = fft(u, axis=-1)
        np.multiply(w, g, out=w)
        return w

    out = np.empty((B, nt_keep, nx))
    first_kept = nt_total - nt_keep
    v = fft(u0, axis=-1)
    if first_kept == 0:
        out[:, 0] = ifft(v, nx, axis=-1)
    tmp = np.empty_like(v)
    for n in range(1, nt_total):
        for _ in range(substeps):
            Nv = nonlin(v)
            Ev2 = E2 * v
            a = Q * Nv
            a += Ev2
            Na = nonlin(a)
            b = Q * Na
            b += Ev2
            Nb = nonlin(b)
            # c = E2*a + Q*(2 Nb - Nv)
            np.multiply(Nb, 2.0, out=tmp)
            tmp -= Nv
            tmp *= Q
            cc = E2 * a
            cc += tmp
            Nc = nonlin(cc)
            # v = E v + f1 Nv + 2 f2 (Na + Nb) + f3 Nc
            v *= E
            Nv *= f1
            v += Nv
            Na += Nb
            Na *= f2x2
            v += Na
            Nc *= f3
            v += Nc
        if n >= first_kept:
            out[:, n - first_kept] = ifft(v, nx, axis=-1)
    return out


# --------------------------------------------------------------------------
# Helpers shared with the benchmark driver
# --------------------------------------------------------------------------

def rel_l2(u, ref) -> np.ndarray:
    """Per-trajectory ||u - ref|| / ||ref|| over all saved times and points."""
    u = np.asarray(u)
    ref = np.asarray(ref)
    ax = tuple(range(1, u.ndim))
    return np.sqrt(np.sum((u - ref) ** 2, axis=ax) / np.sum(ref ** 2, axis=ax))


def default_params(eq, B, seed=0):
    """Initial-condition / domain parameters of the default generator settings.

    (For standalone experiments; the driver reads the real ones from jess's file.)
    Returns dict(L, T, A, phi, ell, nu, nt_total).
    """
    # One generator per quantity, so the first n trajectories do not depend on B.
    rL, rT, rA, rp, rl, rn = (np.random.default_rng(s)
                              for s in np.random.SeedSequence(seed).spawn(6))
    if eq in ("kdv", "ks"):
        K = 10
        L0, nt_total = (128.0, 250) if eq == "kdv" else (64.0, 500)
        L = L0 * rL.uniform(0.9, 1.1, B)
        T = 100.0 * rT.uniform(0.9, 1.1, B)
        A = rA.uniform(-0.5, 0.5, (B, K))
        phi = rp.uniform(0.0, 2.0 * np.pi, (B, K))
        ell = rl.integers(1, 3, (B, K))
        nu = None
    elif eq == "burgers":
        K = 20
        L = np.full(B, 2.0 * np.pi)
        T = np.full(B, 900.0)
        nt_total = 180
        A = rA.uniform(-0.5, 0.5, (B, K)) / 50.0
        phi = rp.uniform(0.0, 2.0 * np.pi, (B, K))
        ell = rl.integers(1, 7, (B, K))
        nu = rn.uniform(0.001, 0.007, B)
    else:
        raise ValueError(eq)
    return dict(L=L, T=T, A=A, phi=phi, ell=ell, nu=nu, nt_total=nt_total)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def _soliton(x, t, c, x0, L):
    d = np.mod(x - c * t - x0 + L / 2, L) - L / 2
    return 3.0 * c / np.cosh(np.sqrt(c) / 2.0 * d) ** 2


def selftest(verbose=True) -> bool:
    ok = True
    # (a) travelling KdV soliton, both solvers.  At nx=256 on L=200 the 2/3 rule
    # keeps |k| <= 2.67, which truncates the soliton's spectrum at ~1e-4 relative
    # (ETDRK4 is dealiased, the Radau reference is not), hence also nx=512 for
    # ETDRK4 (Radau at nx=512 takes minutes: its finite-difference Jacobian).
    L, c, x0, T, nt = 200.0, 0.5, 50.0, 20.0, 5
    print(f"(a) KdV soliton u = 3c sech^2(sqrt(c)/2 (x - c t - x0)), c={c}, L={L}, "
          f"T={T} (travels {c*T:g}), 5 saved times:")
    for nx, solver, kw, tol in ((256, "etdrk4", dict(substeps=200), 3e-4),
                                (512, "etdrk4", dict(substeps=200), 1e-6),
                                (256, "radau", {}, 1e-4)):
        x = grid(L, nx)
        u0 = _soliton(x, 0.0, c, x0, L)
        exact = np.stack([_soliton(x[0], ti, c, x0, L) for ti in np.linspace(0, T, nt)])[None]
        t0 = time.perf_counter()
        if solver == "etdrk4":
            u = solve_etdrk4_batched("kdv", u0, L, T, nt, nt, **kw)
            what = f"ETDRK4 h={T/(nt-1)/kw['substeps']:g}"
        else:
            u = solve_radau("kdv", u0, L, T, nt, nt)
            what = "Radau rtol=atol=1e-9"
        e = rel_l2(u, exact)[0]
        flag = "ok" if e < tol else f"FAIL (tol {tol:g})"
        print(f"    nx={nx:3d} {what:22s} rel L2 error {e:.2e}  "
              f"[{time.perf_counter()-t0:.2f} s]  {flag}")
        ok &= bool(e < tol)

    # (b) fourth order of ETDRK4: error vs a fine run, halving the step
    p = default_params("kdv", 2, seed=1)
    xg = grid(p["L"], nx)
    u0 = initial_condition(xg, p["L"], p["A"], p["phi"], p["ell"])
    Tb, ntb = 10.0, 11
    ref = solve_etdrk4_batched("kdv", u0, p["L"], Tb, ntb, ntb, substeps=160)
    errs = []
    for s in (5, 10, 20):
        u = solve_etdrk4_batched("kdv", u0, p["L"], Tb, ntb, ntb, substeps=s)
        errs.append(float(np.mean(rel_l2(u, ref))))
    r1, r2 = errs[0] / errs[1], errs[1] / errs[2]
    print("(b) ETDRK4 order, KdV random IC, h = 0.2, 0.1, 0.05: errors "
          + ", ".join(f"{e:.2e}" for e in errs) + f"; ratios {r1:.1f}, {r2:.1f} (expect ~16)")
    if not (10.0 < r2 < 24.0):
        print("    FAIL: convergence ratio not ~16")
        ok = False
    print("selftest", "PASSED" if ok else "FAILED")
    return ok


def _cli(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--selftest", action="store_true", help="run the correctness checks")
    ap.add_argument("--scan", metavar="EQ", help="error / throughput vs substeps for EQ "
                    "(default generator settings, nx=256, against a NumPy nx=512 fine run)")
    ap.add_argument("--substeps", default="2,4,8", help="comma list for --scan")
    ap.add_argument("--batch", type=int, default=256, help="batch size for --scan timing")
    ap.add_argument("--n-err", type=int, default=4, help="trajectories for --scan error")
    ap.add_argument("--truth-substeps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    ensure_env()
    if args.selftest:
        return 0 if selftest() else 1
    if args.scan:
        return scan(args.scan, [int(s) for s in args.substeps.split(",")], args.batch,
                    args.n_err, args.truth_substeps, args.seed)
    ap.print_help()
    return 0


def scan(eq, substeps_list, batch, n_err, truth_substeps, seed):
    nx, nt_keep = 256, 140
    p = default_params(eq, max(batch, n_err), seed=seed)
    nt_total = p["nt_total"]
    if truth_substeps is None:
        truth_substeps = 8 * max(substeps_list)

    def sub(d, n):
        return {k: (None if v is None or np.ndim(v) == 0 else v[:n]) for k, v in d.items()}

    def run(n, nxx, s):
        q = sub(p, n)
        x = grid(q["L"], nxx)
        u0 = initial_condition(x, q["L"], q["A"], q["phi"], q["ell"])
        return solve_etdrk4_batched(eq, u0, q["L"], q["T"], nt_total, nt_keep, s, nu=q["nu"])

    t0 = time.perf_counter()
    truth = run(n_err, 2 * nx, truth_substeps)[:, :, ::2]
    print(f"{eq}: truth = NumPy ETDRK4 nx=512 substeps={truth_substeps}, {n_err} trajectories "
          f"({time.perf_counter()-t0:.1f} s)", flush=True)
    tr2 = run(n_err, 2 * nx, truth_substeps // 2)[:, :, ::2]
    print(f"  truth vs truth(substeps/2): {np.mean(rel_l2(tr2, truth)):.2e}", flush=True)
    fine256 = run(n_err, nx, truth_substeps)
    floor = rel_l2(fine256, truth)
    print(f"  spatial floor (nx=256 at substeps={truth_substeps} vs truth): mean {floor.mean():.2e} "
          f"median {np.median(floor):.2e} max {floor.max():.2e}", flush=True)
    for s in substeps_list:
        u = run(n_err, nx, s)
        e = rel_l2(u, truth)
        et = rel_l2(u, fine256)
        msg = (f"  substeps={s:4d}  rel L2 vs truth: mean {e.mean():.2e} median {np.median(e):.2e}"
               f" | time-stepping only (vs nx=256 fine): mean {et.mean():.2e}")
        if batch > 0:
            t0 = time.perf_counter()
            with np.errstate(over="ignore", invalid="ignore"):
                ub = run(batch, nx, s)
            dt = time.perf_counter() - t0
            msg += f" | batch {batch}: {dt:.1f} s -> {batch/dt:.1f} traj/s"
            n_bad = int((~np.isfinite(ub).all(axis=(1, 2))).sum())
            if n_bad:
                msg += f" ({n_bad} trajectories blew up)"
            del ub
        print(msg, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_cli())
