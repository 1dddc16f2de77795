#!/usr/bin/env python3
"""Views per second of the PDE view maker: jess (C++) against two plain-Python peers, same data,
same generators (KdV: space shift, Galilean boost, scaling; Strang splitting, 2 steps; random crop
128x128), batches of 256 trajectories of 140x256. Also the share of one training step of a compact
encoder that the view maker costs (measured by jess in the same run).

Peers (written here from the method's description, not copied from any reference code):
  per-sample : one trajectory at a time, each factor of the group element applied in turn to the
               whole array with torch FFT shifts (as the reference augmentation code does)
  batched    : the same sequence of factor applications on the whole batch in Python PyTorch
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import h5py
import numpy as np
import torch


def load(path, n):
    f = h5py.File(path, "r")
    g = f["train"]
    key = [k for k in g if k.startswith("pde_")][0]
    u = torch.from_numpy(g[key][:n]).double()
    dx = torch.from_numpy(g["dx"][:n]).double()
    dt = torch.from_numpy(g["dt"][:n]).double()
    return u, dx, dt


def sample_factors(rng, strength=(0.5, 0.4, 0.1), steps=2):
    """Strang splitting of exp(e1 X_shift + e2 X_galilean + e3 X_scaling) into 4*3 factors."""
    eps = [rng.uniform(-s, s) for s in strength]
    names = ["x_shift", "galilean", "scaling"]
    out = []
    for _ in range(steps):
        for k in reversed(range(3)):
            out.append((names[k], eps[k] / (2 * steps)))
        for k in range(3):
            out.append((names[k], eps[k] / (2 * steps)))
    return out


def fourier_shift(u, shift_x, L):
    """u(x - shift) on the last axis, shift broadcast over leading axes."""
    n = u.shape[-1]
    k = torch.fft.rfftfreq(n, d=1.0 / n).to(u.dtype)  # 0..n/2
    phase = torch.exp(-2j * math.pi * k * (shift_x / L)[..., None])
    return torch.fft.irfft(torch.fft.rfft(u, dim=-1) * phase, n=n, dim=-1)


def apply_factor(u, dx, dt, name, e):
    """One generator applied to full arrays u (..., nt, nx) with per-trajectory dx, dt (...)."""
    nt, nx = u.shape[-2], u.shape[-1]
    L = dx * nx
    if name == "x_shift":
        return fourier_shift(u, (e * L)[..., None], L[..., None]), dx, dt
    if name == "galilean":
        t = torch.arange(nt, dtype=u.dtype) * dt[..., None]  # (..., nt)
        return fourier_shift(u, e * t, L[..., None]) + e, dx, dt
    if name == "scaling":  # (e^e x, e^3e t, e^-2e u): the grid is rescaled, values multiplied
        return u * math.exp(-2 * e), dx * math.exp(e), dt * math.exp(3 * e)
    raise ValueError(name)


def per_sample(u, dx, dt, seed, crop=(128, 128)):
    rng = np.random.default_rng(seed)
    views = []
    for b in range(u.shape[0]):
        for _ in range(2):
            v, vdx, vdt = u[b], dx[b], dt[b]
            for name, e in sample_factors(rng):
                v, vdx, vdt = apply_factor(v, vdx, vdt, name, e)
            t0 = rng.integers(0, v.shape[0] - crop[0] + 1)
            x0 = rng.integers(0, v.shape[1] - crop[1] + 1)
            views.append(v[t0:t0 + crop[0], x0:x0 + crop[1]].float())
    return torch.stack(views)


def batched(u, dx, dt, seed, crop=(128, 128), chunk=16):
    """Whole-batch tensor ops, in chunks of `chunk` trajectories (2x faster than one 70 MiB batch)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(0, u.shape[0], chunk):
        out.append(batched_chunk(u[i:i + chunk], dx[i:i + chunk], dt[i:i + chunk], rng, crop))
    return torch.cat(out)


def batched_chunk(u, dx, dt, rng, crop):
    B = u.shape[0]
    out = []
    for _ in range(2):
        elems = [sample_factors(rng) for _ in range(B)]
        v, vdx, vdt = u, dx.clone(), dt.clone()
        for f in range(len(elems[0])):
            name = elems[0][f][0]
            e = torch.tensor([el[f][1] for el in elems], dtype=u.dtype)
            if name == "x_shift":
                L = vdx * v.shape[-1]
                v = fourier_shift(v, (e * L)[:, None], L[:, None])
            elif name == "galilean":
                L = vdx * v.shape[-1]
                t = torch.arange(v.shape[1], dtype=u.dtype)[None, :] * vdt[:, None]
                v = fourier_shift(v, e[:, None] * t, L[:, None]) + e[:, None, None]
            else:
                v = v * torch.exp(-2 * e)[:, None, None]
                vdx, vdt = vdx * torch.exp(e), vdt * torch.exp(3 * e)
        t0 = torch.from_numpy(rng.integers(0, v.shape[1] - crop[0] + 1, size=B))
        x0 = torch.from_numpy(rng.integers(0, v.shape[2] - crop[1] + 1, size=B))
        ti = (t0[:, None] + torch.arange(crop[0]))[:, :, None].expand(B, crop[0], v.shape[2])
        v = torch.gather(v, 1, ti)
        xi = (x0[:, None] + torch.arange(crop[1]))[:, None, :].expand(B, crop[0], crop[1])
        out.append(torch.gather(v, 2, xi).float())
    return torch.cat(out)


def timed(fn, reps):
    fn()  # warm-up
    ts = []
    for r in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return sum(ts) / len(ts)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="KdV HDF5 with >= batch train trajectories")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--per-sample-n", type=int, default=32, help="trajectories timed for the per-sample peer")
    ap.add_argument("--jess-bench", default="build/jess_bench_views")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    u, dx, dt = load(a.data, a.batch)
    res = subprocess.run([a.jess_bench, "--h5", a.data, "--batch", str(a.batch), "--reps", str(a.reps),
                          "--threads", str(a.threads)], capture_output=True, text=True, check=True)
    j = json.loads(res.stdout.strip().splitlines()[-1])
    n = min(a.per_sample_n, a.batch)
    t_ps = timed(lambda: per_sample(u[:n], dx[:n], dt[:n], 0), 1)
    t_b = timed(lambda: batched(u, dx, dt, 0), a.reps)
    vps_ps = 2 * n / t_ps
    vps_b = 2 * a.batch / t_b
    vps_j = j["views_per_s"]
    print(f"# PDE views benchmark ({time.strftime('%Y-%m-%d')}): KdV {u.shape[1]}x{u.shape[2]} -> 128x128 views, "
          f"x_shift+galilean+scaling, Strang 2 steps; batch {a.batch}; threads {a.threads}; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print("| implementation | views/s | jess speed-up |")
    print("|---|---|---|")
    print(f"| Python per-sample (torch FFT, one trajectory at a time) | {vps_ps:.0f} | {vps_j / vps_ps:.1f}x |")
    print(f"| Python PyTorch batched | {vps_b:.0f} | {vps_j / vps_b:.1f}x |")
    print(f"| jess (C++) | {vps_j:.0f} | 1.0x |")
    print(f"\njess view maker for a batch of {j['step_batch']} pairs: {2 * j['step_batch'] / vps_j:.3f} s; one training "
          f"step of the compact encoder on it: {j['train_step_s']:.3f} s -> views cost "
          f"{100 * j['view_share_of_step']:.1f}% of a step (made in a background thread, so hidden).")


if __name__ == "__main__":
    main()
