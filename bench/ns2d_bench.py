#!/usr/bin/env python3
"""2-D Navier-Stokes smoke generation (PDEArena's conditioned data): `jess pde generate equation=ns2d`
against a batched NumPy/SciPy implementation of the same scheme, in the same run.

The peer is the scheme of src/jess/pde/ns2d.h written with NumPy and SciPy: a MAC grid, semi-Lagrangian
advection with an Euler backtrace (scipy.ndimage.map_coordinates, order 1, on the whole batch at once:
the batch index is one more coordinate), the other velocity component at a face by its 4-face mean,
buoyancy at the horizontal faces, explicit diffusion, and the exact Neumann projection by
scipy.fft.dctn / idctn (type 2) in float64; initial smoke |noise| by phiflow's recipe with numpy.fft.
Both sides simulate `--steps` steps of `--n` x `--n` cells and keep the last steps - skip frames.

Usage: bench/run.sh ns2d [--trajectories 32] [--n 128] [--steps 64] [--batch 16] [--threads T]
Prints one Markdown table (trajectories/s, wall, peak memory of the peer's batch).
"""
import argparse, os, subprocess, tempfile, time

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JESS = os.path.join(ROOT, "build", "jess")


def noise(n, L, scale, smoothness, rng):
    k = np.fft.fftfreq(n) * n / L
    kappa = (k[:, None] ** 2 + k[None, :] ** 2) * scale ** 2
    amp = np.where(kappa > 0.1, np.maximum(kappa, 1e-12) ** -smoothness, 0.0)
    r = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    f = np.real(np.fft.ifft2(r * amp))
    f = f / f.std()
    return f - f.mean()


class Peer:
    def __init__(self, B, n, L, dtype):
        self.B, self.n, self.dx, self.dtype = B, n, L / n, dtype
        dx = self.dx
        j, i = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        self.bi = np.broadcast_to(np.arange(B)[:, None, None], (B, n, n)).astype(dtype)
        self.bu = np.broadcast_to(np.arange(B)[:, None, None], (B, n, n + 1)).astype(dtype)
        self.bv = np.broadcast_to(np.arange(B)[:, None, None], (B, n + 1, n)).astype(dtype)
        self.xc, self.yc = (i + 0.5) * dx, (j + 0.5) * dx                       # cell centres
        ju, iu = np.meshgrid(np.arange(n), np.arange(n + 1), indexing="ij")
        self.xu, self.yu = iu * dx, (ju + 0.5) * dx                             # vx faces
        jv, iv = np.meshgrid(np.arange(n + 1), np.arange(n), indexing="ij")
        self.xv, self.yv = (iv + 0.5) * dx, jv * dx                             # vy faces
        lam = (2 * np.cos(np.pi * np.arange(n) / n) - 2) / dx ** 2
        self.lam = lam[:, None] + lam[None, :]
        self.lam[0, 0] = 1.0

    def sample(self, f, x0, y0, X, Y, bidx, mode):
        coords = np.stack([bidx, (Y - y0) / self.dx, (X - x0) / self.dx])
        return ndimage.map_coordinates(f, coords, order=1, mode=mode, cval=0.0, prefilter=False)

    def step(self, s, vx, vy, b, dt, nu):
        n, dx = self.n, self.dx
        uc, vc = (vx[:, :, :-1] + vx[:, :, 1:]) / 2, (vy[:, :-1] + vy[:, 1:]) / 2
        s = self.sample(s, 0.5 * dx, 0.5 * dx, self.xc - dt * uc, self.yc - dt * vc, self.bi, "nearest")
        sp = np.concatenate([s[:, :1], s, s[:, -1:]], axis=1)
        s_faces = (sp[:, :-1] + sp[:, 1:]) / 2
        vyp = np.pad(vy, ((0, 0), (0, 0), (1, 1)))
        v_at_u = (vyp[:, :-1, :-1] + vyp[:, :-1, 1:] + vyp[:, 1:, :-1] + vyp[:, 1:, 1:]) / 4
        vxp = np.pad(vx, ((0, 0), (1, 1), (0, 0)))
        u_at_v = (vxp[:, :-1, :-1] + vxp[:, :-1, 1:] + vxp[:, 1:, :-1] + vxp[:, 1:, 1:]) / 4
        nvx = self.sample(vx, 0.0, 0.5 * dx, self.xu - dt * vx, self.yu - dt * v_at_u, self.bu, "constant")
        nvy = self.sample(vy, 0.5 * dx, 0.0, self.xv - dt * u_at_v, self.yv - dt * vy, self.bv, "constant")
        nvx[:, :, 0] = nvx[:, :, -1] = 0
        nvy = nvy + dt * b[:, None, None] * s_faces
        nvy[:, 0] = nvy[:, -1] = 0
        for f in (nvx, nvy):  # explicit diffusion, zeros outside
            p = np.pad(f, ((0, 0), (1, 1), (1, 1)))
            f += nu * dt * (p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:] - 4 * f) / dx ** 2
        nvx[:, :, 0] = nvx[:, :, -1] = 0
        nvy[:, 0] = nvy[:, -1] = 0
        div = (nvx[:, :, 1:] - nvx[:, :, :-1] + nvy[:, 1:] - nvy[:, :-1]).astype(np.float64) / dx
        div -= div.mean(axis=(1, 2), keepdims=True)
        c = sfft.dctn(div, type=2, axes=(1, 2)) / self.lam
        c[:, 0, 0] = 0
        p = sfft.idctn(c, type=2, axes=(1, 2)).astype(self.dtype)
        nvx[:, :, 1:-1] -= (p[:, :, 1:] - p[:, :, :-1]) / dx
        nvy[:, 1:-1] -= (p[:, 1:] - p[:, :-1]) / dx
        return s, nvx, nvy


def peer_run(a):
    dtype = np.float32
    rng = np.random.default_rng(0)
    done, t0 = 0, time.perf_counter()
    frames = a.steps - a.skip
    while done < a.trajectories:
        B = min(a.batch, a.trajectories - done)
        P = Peer(B, a.n, 32.0, dtype)
        s = np.stack([np.abs(noise(a.n, 32.0, 11, 6, rng)) for _ in range(B)]).astype(dtype)
        vx, vy = np.zeros((B, a.n, a.n + 1), dtype), np.zeros((B, a.n + 1, a.n), dtype)
        b = rng.uniform(0.2, 0.5, B).astype(dtype)
        out = np.empty((3, B, frames, a.n, a.n), np.float32)
        for k in range(1, a.steps + 1):
            s, vx, vy = P.step(s, vx, vy, b, 1.5, 0.01)
            if k > a.skip:
                out[0, :, k - a.skip - 1], out[1, :, k - a.skip - 1], out[2, :, k - a.skip - 1] = s, vx[:, :, :-1], vy[:, :-1]
        assert np.isfinite(out).all()
        done += B
    return done / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trajectories", type=int, default=32)
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--skip", type=int, default=8)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    out = os.path.join(tempfile.mkdtemp(prefix="jess_ns2d_bench_"), "ns.h5")
    t0 = time.perf_counter()
    subprocess.run([JESS, "--threads", str(a.threads), "pde", "generate", "--out", out, "equation=ns2d", f"n_train={a.trajectories}",
                    "n_valid=0", "n_test=0", f"n={a.n}", f"steps={a.steps}", f"skip={a.skip}", f"batch={a.batch}"],
                   check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, JESS_PROGRESS="0"))
    jess_rate = a.trajectories / (time.perf_counter() - t0)
    peer_rate = peer_run(a)
    print(f"2-D Navier-Stokes smoke, {a.trajectories} trajectories of {a.steps} steps on {a.n}x{a.n} (batch {a.batch}, "
          f"{a.threads} threads, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')})\n")
    print("| implementation | trajectories/s | speed-up |\n|---|---|---|")
    print(f"| jess (C++ LibTorch + FFTW DCT), whole command incl. HDF5 | {jess_rate:.2f} | {jess_rate / peer_rate:.2f}x |")
    print(f"| NumPy/SciPy peer (map_coordinates, dctn), batched | {peer_rate:.2f} | 1.00x |")
    print(f"\nPDEArena's 6,656 training trajectories: jess {6656 / jess_rate / 60:.1f} min, peer {6656 / peer_rate / 60:.1f} min.")


if __name__ == "__main__":
    main()
