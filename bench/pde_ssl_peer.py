#!/usr/bin/python3
"""Minimal plain-PyTorch peer for jess's PDE SSL pipeline (issue 14): VICReg pretraining on Burgers
trajectories with Lie-point-symmetry views, then regression of the viscosity nu from frozen features.

Usage (Debian's python3 with python3-torch, numpy, h5py; nothing else):

    jess pde generate --out b.h5 --seed 11 equation=burgers n_train=4000 n_valid=500 n_test=500 \
        nt=64 nt_total=64 T=1.96875 nu_min=0.05 nu_max=0.35 similarity=1 method=etdrk4
    python3 bench/pde_ssl_peer.py b.h5 --seed 0 --epochs 28 --json peer.json
    python3 bench/pde_ssl_peer.py b.h5 --selftest          # check the exact views, then stop

Data: groups train/valid/test with pde_{nt}-{nx} (N, nt, nx), t, dt, dx, L, nu, amplitudes, phases,
wavenumbers; u0(x) = sum_k A_k sin(2 pi l_k x / L + phi_k); u_t + u u_x = nu u_xx, periodic.

Views (two per trajectory per step, 32 times x 128 points) are evaluated exactly by Cole-Hopf from the
stored initial condition: u = -2 nu psi_x / psi, psi(x, 0) = exp(-(1/(2 nu)) int_0^x u0), whose Fourier
modes decay as exp(-nu k^2 t); psi and psi_x at arbitrary points are one batched float64 matrix product
over the kept modes (modes below the FFT round-off floor are dropped). Where psi < 1e-9 of its
maximum (small nu: psi0 spans up to e^35), psi_x / psi would be round-off, so those points use the
real-space formula u = E_p[(x - y) / t] with p(y) ~ exp(E(y) - (x - y)^2 / (4 nu t)), E = log psi0 in
closed form, summed in log space (--selftest checks both routes against the stored data). A view with scale lam = e^-s,
boost e, origin (x0, t0) and view coordinates (xi_i = i dx, tau_j = j dt) is
    u_view(xi, tau) = e + lam u(x0 + lam (xi - e tau), t0 + lam^2 tau),
a composition of translations, scaling and a Galilean boost, so it solves the same equation.

Model: 2-D CNN over (t, x) (3 x [stride-2 conv3x3, BN, ReLU, BasicBlock], widths 32/64/128, global
average pool, 128-d), projector 512-512-512, VICReg 25/25/1 (Bardes et al. 2022), Adam 1e-3, 20 warm-up
steps then cosine decay to 0 (VICReg as in the paper: variance and covariance terms summed over
both branches). Evaluation: features of one fixed view per trajectory (frames 0..31 at
full width, eval mode) -> ridge on standardised features predicting log nu; lambda chosen on the last
100 of the labelled set after fitting the first ones, then refit on all; test relative error of nu
(%) and R^2 of log nu. Rows: ssl, random (same init, untrained), supervised (end to end + ridge head
refit on its frozen features), constant.
"""
import argparse
import copy
import json
import math
import time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

VIEW_T, VIEW_X = 32, 128


# ----------------------------------------------------------------------------------------------- data
def load_split(path, split, rows=None, frames=True):
    with h5py.File(path, "r") as f:
        g = f[split]
        n = g["nu"].shape[0] if rows is None else min(rows, g["nu"].shape[0])
        d = {k: g[k][:n] for k in ("nu", "amplitudes", "phases", "wavenumbers", "L", "dt", "dx", "t")}
        if frames:
            name = next(k for k in g.keys() if k.startswith("pde_"))
            d["u"] = torch.from_numpy(g[name].astype(np.float32)[:n])
    return d


def train_moments(path, chunk=500):
    """Mean and std of u over the whole train split (read in chunks, float64 accumulators)."""
    with h5py.File(path, "r") as f:
        ds = f["train"][next(k for k in f["train"].keys() if k.startswith("pde_"))]
        s = s2 = 0.0
        for i in range(0, ds.shape[0], chunk):
            a = ds[i:i + chunk]
            s, s2 = s + a.sum(), s2 + (a * a).sum()
        cnt = ds.size
    mean = s / cnt
    return mean, math.sqrt(s2 / cnt - mean * mean)


# ------------------------------------------------------------------------------ exact Cole-Hopf views
class ColeHopf:
    """psi-hat(0) of every trajectory on an n_fine grid, truncated at the FFT round-off floor."""

    def __init__(self, d, n_fine=1024, floor=1e-16):
        nu, A, phi, L = d["nu"], d["amplitudes"], d["phases"], d["L"]
        assert np.allclose(L, L[0]), "one domain length assumed"
        ell = d["wavenumbers"]
        kap = 2 * np.pi * ell / L[:, None]                                      # (N, K)
        # E = -(1/(2 nu)) int_0^x u0 = sum_k A_k cos(kap_k x + phi_k) / (2 nu kap_k) + const
        #   = Re sum_l c_l exp(2 pi i l x / L): closed form, also used by the real-space route
        c = np.zeros((len(nu), int(ell.max())), dtype=np.complex128)
        np.add.at(c, (np.arange(len(nu))[:, None], ell - 1), A / (2 * nu[:, None] * kap) * np.exp(1j * phi))
        self.c = torch.from_numpy(c)
        l = np.arange(1, c.shape[1] + 1)
        E = (c @ np.exp(2j * np.pi * l[:, None] * np.arange(n_fine)[None, :] / n_fine)).real  # (N, n_fine)
        self.exponent_range = E.max(1) - E.min(1)
        ph = np.fft.rfft(np.exp(E - E.max(1, keepdims=True)), axis=1) / n_fine  # psi0 scaled to max 1
        # keep modes up to the first one whose envelope (max over the next 8) falls below the floor
        mag = np.abs(ph)
        env = np.lib.stride_tricks.sliding_window_view(np.pad(mag, ((0, 0), (0, 8))), 9, axis=1)[:, :mag.shape[1]].max(-1)
        below = env < floor
        self.modes = np.where(below.any(1), below.argmax(1), mag.shape[1])      # kept modes per trajectory
        self.tail = np.array([mag[i, m:].max() if m < mag.shape[1] else np.inf for i, m in enumerate(self.modes)])
        M = int(self.modes.max())
        keep = np.arange(M) < self.modes[:, None]
        ph = ph[:, :M] * keep
        ph[:, 1:] *= 2                                                          # real psi: 2 Re sum_{k>0}
        self.ph, self.logenv = torch.from_numpy(ph), torch.from_numpy(np.where(keep, np.log(env[:, :M] + 1e-300), -np.inf))
        self.nu, self.L, self.floor, self.n_fine = torch.from_numpy(nu), torch.from_numpy(L), floor, n_fine
        self.range_t = torch.from_numpy(self.exponent_range)

    def kernel(self, n, x, t, chunk=1024):
        """u at scattered points by the real-space Cole-Hopf formula, stable in log space:
        u = -(1/t) sum_s s p(s), p ~ exp(E(x + s) - s^2 / (4 nu t)), trapezoid rule with spacing
        <= min(sqrt(2 nu t), 0.05) / 2 on a window outside of which p < e^-40 p(0). Used where psi is
        below round-off; points are grouped by nu t so that a group shares its nodes."""
        t = t.clamp_min(1e-12)
        nut = self.nu[n] * t
        key = torch.floor(2 * torch.log10(nut))
        out = torch.empty_like(x)
        l = torch.arange(1, self.c.shape[1] + 1, dtype=torch.float64) * (2 * math.pi / float(self.L[0]))
        for k in torch.unique(key):
            grp = (key == k).nonzero().squeeze(1)
            for sel in grp.split(chunk):
                nn_, tt, nt_ = n[sel], t[sel], nut[sel]
                D = torch.sqrt(4 * nt_ * (self.range_t[nn_] + 40)).max()
                h = torch.clamp(torch.sqrt(2 * nt_), max=0.05).min() / 2
                m = int(torch.ceil(D / h))
                s = torch.arange(-m, m + 1, dtype=torch.float64) * h                  # (S,) shared nodes
                ca = self.c[nn_] * torch.exp(1j * l * x[sel, None])                   # (P, l)
                E = ca.real @ torch.cos(l[:, None] * s) - ca.imag @ torch.sin(l[:, None] * s)
                p = torch.softmax(E - s ** 2 / (4 * nt_[:, None]), dim=1)
                out[sel] = -(p @ s) / tt
        return out

    def views(self, idx, x0, t0, lam, eps, dt, dx, nt=VIEW_T, nx=VIEW_X, chunk=64):
        """u_view (V, nt, nx) float64; idx (V,) trajectories, the rest (V,) float64 tensors. Views are
        sorted by the modes they need at their first time (mode k decays as exp(-nu k^2 t)) and done
        in chunks that keep only those."""
        nu, L, M = self.nu[idx], self.L[idx], self.ph.shape[1]
        k2 = (2 * math.pi * torch.arange(M, dtype=torch.float64) / L[:, None]) ** 2
        need = self.logenv[idx] - nu[:, None] * k2 * t0[:, None] > math.log(self.floor)
        Mv = (need * torch.arange(1, M + 1)).max(1).values
        order, out = torch.argsort(Mv), torch.empty(len(idx), nt, nx, dtype=torch.float64)
        for sel in order.split(chunk):
            out[sel] = self._views(idx[sel], x0[sel], t0[sel], lam[sel], eps[sel], dt, dx, nt, nx, int(Mv[sel].max()))
        return out

    def _views(self, idx, x0, t0, lam, eps, dt, dx, nt, nx, M):
        nu, L = self.nu[idx], self.L[idx]
        tau = torch.arange(nt, dtype=torch.float64) * dt
        xi = torch.arange(nx, dtype=torch.float64) * dx
        t = t0[:, None] + lam[:, None] ** 2 * tau                               # (V, nt) original times
        a = x0[:, None] - lam[:, None] * eps[:, None] * tau                     # (V, nt) row offsets
        kap = 2 * math.pi * torch.arange(M, dtype=torch.float64) / L[:, None]   # (V, M)
        C = self.ph[idx, None, :M] * torch.exp(-nu[:, None, None] * kap[:, None, :] ** 2 * t[:, :, None]
                                               + 1j * kap[:, None, :] * a[:, :, None])  # (V, nt, M)
        P, Q, kq = C.real, C.imag, kap[:, None, :]
        theta = kap[:, :, None] * (lam[:, None, None] * xi)                     # (V, M, nx)
        Ac = torch.bmm(torch.cat([P, kq * Q], 1), torch.cos(theta))
        Bs = torch.bmm(torch.cat([Q, kq * P], 1), torch.sin(theta))
        psi = Ac[:, :nt] - Bs[:, :nt]                                           # Re sum C e^{i theta}
        u = 2 * nu[:, None, None] * (Ac[:, nt:] + Bs[:, nt:]) / psi            # -2 nu psi_x / psi
        bad = psi < 1e-9                                  # psi_x / psi dominated by round-off: real-space route
        if bad.any():
            v, j, i = bad.nonzero(as_tuple=True)
            u[v, j, i] = self.kernel(idx[v], a[v, j] + lam[v] * xi[i], t[v, j])
        return eps[:, None, None] + lam[:, None, None] * u


def sample_views(ch, idx, g, s, t_first, t_last, dt, dx, gen):
    V = len(idx)
    U = lambda lo, hi: lo + (hi - lo) * torch.rand(V, generator=gen, dtype=torch.float64)
    lam = torch.exp(-U(-s, s))
    eps = U(-g, g)
    x0 = U(0, 1) * ch.L[idx]
    t0 = t_first + U(0, 1) * (t_last - t_first - lam ** 2 * (VIEW_T - 1) * dt)  # view stays in the data's time range
    return ch.views(idx, x0, t0, lam, eps, dt, dx)


def selftest(path):
    d = load_split(path, "test", rows=256)
    ch = ColeHopf(d)
    dt, dx, u = float(d["dt"][0]), float(d["dx"][0]), d["u"].double()
    N, nt, nx = u.shape
    print(f"Cole-Hopf: exponent range max {ch.exponent_range.max():.1f} (median {np.median(ch.exponent_range):.1f}), "
          f"kept modes max {ch.modes.max()} / {ch.n_fine // 2} (median {int(np.median(ch.modes))}), "
          f"largest dropped |psi_k| {ch.tail.max():.1e}")
    idx, z = torch.arange(N), torch.zeros(N, dtype=torch.float64)
    full = ch.views(idx, z, z + float(d["t"][0, 0]), z + 1, z, dt, dx, nt=nt, nx=nx)
    rel = ((full - u).norm(dim=(1, 2)) / u.norm(dim=(1, 2))).numpy()
    worst = int(rel.argmax())
    print(f"grid evaluation vs stored: relative L2 error mean {rel.mean():.2e}, max {rel.max():.2e} "
          f"(nu {d['nu'][worst]:.4f}); max abs error {(full - u).abs().max():.2e}")
    gen = torch.Generator().manual_seed(0)
    jt = torch.randint(0, nt - VIEW_T + 1, (N,), generator=gen)
    jx = torch.randint(0, nx, (N,), generator=gen)
    crop = ch.views(idx, jx.double() * dx, d["t"][0, 0] + jt.double() * dt, z + 1, z, dt, dx)
    ref = torch.stack([u[i, jt[i]:jt[i] + VIEW_T].roll(-int(jx[i]), 1)[:, :VIEW_X] for i in range(N)])
    crel = ((crop - ref).norm(dim=(1, 2)) / ref.norm(dim=(1, 2))).max().item()
    print(f"identity view with integer offsets vs crop of stored data: max relative L2 error {crel:.2e}")
    # transformed views must still solve u_t + u u_x = nu u_xx: residual by central differences on a
    # fine 3 x 256 stencil (dt 1e-4, dx 1e-3), relative to the size of u_t, without and with symmetries
    sub, res, h, k = torch.arange(0, N, max(1, N // 16)), {}, 1e-3, 1e-4
    rnd = lambda: torch.rand(len(sub), generator=gen, dtype=torch.float64)
    for name, g_, s_ in (("identity", 0.0, 0.0), ("boost 0.2, scale 0.1", 0.2, 0.1)):
        w = ch.views(sub, 6 * rnd(), 0.1 + rnd(), 0 * rnd() + math.exp(-s_), 0 * rnd() + g_, k, h, nt=3, nx=256)
        ut_, m = (w[:, 2, 1:-1] - w[:, 0, 1:-1]) / (2 * k), w[:, 1]
        ux, uxx = (m[:, 2:] - m[:, :-2]) / (2 * h), (m[:, 2:] - 2 * m[:, 1:-1] + m[:, :-2]) / h ** 2
        r = ut_ + m[:, 1:-1] * ux - ch.nu[sub, None] * uxx
        res[name] = (r.norm() / ut_.norm()).item()
    print("PDE residual of views / |u_t| (central differences): " + ", ".join(f"{k_} {v:.1e}" for k_, v in res.items()))
    ok = rel.max() < 1e-3 and crel < 1e-3 and max(res.values()) < 1e-3
    print("selftest", "PASSED" if ok else "FAILED")
    return {"grid_rel_mean": float(rel.mean()), "grid_rel_max": float(rel.max()), "crop_rel_max": crel,
            "modes_max": int(ch.modes.max()), "pde_residual": res, "exponent_range_max": float(ch.exponent_range.max()), "ok": bool(ok)}


# ------------------------------------------------------------------------------------------- model
def conv3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1, self.b1, self.c2, self.b2 = conv3(c, c), nn.BatchNorm2d(c), conv3(c, c), nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(x + self.b2(self.c2(F.relu(self.b1(self.c1(x))))))


class Encoder(nn.Module):
    def __init__(self, widths=(32, 64, 128)):
        super().__init__()
        layers, cin = [], 1
        for w in widths:
            layers += [conv3(cin, w, 2), nn.BatchNorm2d(w), nn.ReLU(inplace=True), BasicBlock(w)]
            cin = w
        self.net, self.dim = nn.Sequential(*layers), cin

    def forward(self, u):                              # u (B, T, X), standardised
        return self.net(u[:, None]).mean(dim=(2, 3))


def projector(d_in, d=512):
    return nn.Sequential(nn.Linear(d_in, d), nn.BatchNorm1d(d), nn.ReLU(inplace=True),
                         nn.Linear(d, d), nn.BatchNorm1d(d), nn.ReLU(inplace=True), nn.Linear(d, d))


def vicreg(z1, z2, w_inv=25.0, w_var=25.0, w_cov=1.0, eps=1e-4):
    inv = F.mse_loss(z1, z2)
    var = cov = 0.0
    for z in (z1, z2):
        z = z - z.mean(0)
        var = var + F.relu(1 - torch.sqrt(z.var(0) + eps)).mean()
        c = z.T @ z / (z.shape[0] - 1)
        cov = cov + (c.pow(2).sum() - c.diagonal().pow(2).sum()) / z.shape[1]
    return w_inv * inv + w_var * var + w_cov * cov


def schedule(opt, total, warmup=20):
    f = lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, total - warmup)))
    return torch.optim.lr_scheduler.LambdaLR(opt, f)


@torch.no_grad()
def features(enc, x, batch=250):
    enc.eval()
    return torch.cat([enc(x[i:i + batch]) for i in range(0, len(x), batch)]).double().numpy()


# -------------------------------------------------------------------------------------- evaluation
def ridge_fit(X, y, lam):
    mu, sd = X.mean(0), X.std(0) + 1e-8
    Z = (X - mu) / sd
    w = np.linalg.solve(Z.T @ Z + lam * np.eye(Z.shape[1]), Z.T @ (y - y.mean()))
    return lambda Xn: ((Xn - mu) / sd) @ w + y.mean()


def rel_err(pred_log, nu):
    return 100 * float(np.mean(np.abs(np.exp(pred_log) - nu) / nu))


def r2(pred, y):
    return 1 - float(((pred - y) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def probe(Xl, nul, Xt, nut, n_val=100):
    """Ridge on log nu: lambda by validation on the last n_val labelled, refit on all labelled."""
    y, yt, n_fit = np.log(nul), np.log(nut), len(nul) - n_val
    grid = np.logspace(-4, 4, 17)
    errs = [rel_err(ridge_fit(Xl[:n_fit], y[:n_fit], l)(Xl[n_fit:]), nul[n_fit:]) for l in grid]
    lam = float(grid[int(np.argmin(errs))])
    p = ridge_fit(Xl, y, lam)(Xt)
    return {"rel_err": rel_err(p, nut), "r2": r2(p, yt), "lambda": lam, "val_rel_err": float(min(errs))}


def supervised(args, enc, ul, nul, ut, nut, n_val=100):
    """Encoder + Linear trained end to end on standardised log nu; epoch chosen on n_val labelled."""
    n_fit = len(nul) - n_val
    y = torch.from_numpy(np.log(nul[:n_fit])).float()
    ym, ys = y.mean(), y.std()
    model = nn.Sequential(enc, nn.Linear(enc.dim, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(args.seed + 2)
    predict = lambda x: (torch.from_numpy(features(enc, x)).float() @ model[1].weight.T.detach()
                         + model[1].bias.detach()).squeeze(1).double().numpy() * ys.item() + ym.item()
    best, hist = (float("inf"), 0, None), []
    for ep in range(args.sup_epochs):
        model.train()
        for b in torch.randperm(n_fit, generator=gen).split(args.sup_batch):
            x = ul[b, :VIEW_T]
            if args.sup_crops:                         # a random 32 x 128 crop of the stored frames each
                jt = torch.randint(0, ul.shape[1] - VIEW_T + 1, (len(b),), generator=gen).tolist()
                jx = torch.randint(0, ul.shape[2], (len(b),), generator=gen).tolist()
                x = torch.stack([ul[i, a:a + VIEW_T].roll(-c, 1)[:, :VIEW_X] for i, a, c in zip(b.tolist(), jt, jx)])
            loss = F.mse_loss(model(x).squeeze(1), (y[b] - ym) / ys)
            opt.zero_grad()
            loss.backward()
            opt.step()
        v = rel_err(predict(ul[n_fit:, :VIEW_T]), nul[n_fit:])
        hist.append(v)
        if v < best[0]:
            best = (v, ep, copy.deepcopy(model.state_dict()))
    model.load_state_dict(best[2])
    p = predict(ut)
    return {"rel_err": rel_err(p, nut), "r2": r2(p, np.log(nut)), "epoch": best[1] + 1, "val_rel_err": best[0],
            "val_curve": hist}, enc


# -------------------------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data")
    for name, typ, default in (("--seed", int, 0), ("--epochs", int, 28), ("--batch", int, 128), ("--lr", float, 1e-3),
                               ("--labelled", int, 500), ("--galilean", float, 0.2), ("--scaling", float, 0.1),
                               ("--threads", int, 2), ("--sup-epochs", int, 100), ("--sup-batch", int, 50)):
        ap.add_argument(name, type=typ, default=default)
    ap.add_argument("--n-train", type=int, default=None, help="use only the first N train trajectories for SSL")
    ap.add_argument("--sup-crops", action="store_true", help="supervised: train on random 32x128 crops")
    ap.add_argument("--rows", default="ssl,random,supervised,constant")
    ap.add_argument("--json", default=None)
    ap.add_argument("--selftest", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.selftest:
        res = selftest(args.data)
        if args.json:
            json.dump({"selftest": res}, open(args.json, "w"), indent=1)
        return

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    rows, times, out = args.rows.split(","), {}, {"args": vars(args)}
    t = time.time()
    mean, std = train_moments(args.data)
    tr = load_split(args.data, "train", rows=args.n_train, frames=False)
    lab, te = load_split(args.data, "train", rows=args.labelled), load_split(args.data, "test")
    norm = lambda u: (u - mean) / std
    ul, ut = norm(lab["u"]), norm(te["u"][:, :VIEW_T])
    nul, nut = lab["nu"], te["nu"]
    out["u_mean"], out["u_std"] = mean, std
    times["load"] = time.time() - t
    print(f"train u mean {mean:.3e} std {std:.4f}; {len(tr['nu'])} SSL trajectories, {len(nul)} labelled, "
          f"{len(nut)} test")

    make_encoder = lambda: (torch.manual_seed(args.seed), Encoder())[1]  # same init for every row
    out["encoder_params"] = sum(p.numel() for p in make_encoder().parameters())
    print(f"encoder parameters: {out['encoder_params']}")
    res, ev = {}, lambda enc: probe(features(enc, ul[:, :VIEW_T]), nul, features(enc, ut), nut)

    if "ssl" in rows:
        t = time.time()
        ch = ColeHopf(tr)
        enc, proj = make_encoder(), projector(128)
        opt = torch.optim.Adam(list(enc.parameters()) + list(proj.parameters()), lr=args.lr)
        N, B = len(tr["nu"]), args.batch
        steps = args.epochs * (N // B)
        sched = schedule(opt, steps)
        dt, dx, t_first, t_last = float(tr["dt"][0]), float(tr["dx"][0]), float(tr["t"][0, 0]), float(tr["t"][0, -1])
        gen = torch.Generator().manual_seed(args.seed + 1)
        view_time, losses = 0.0, []
        for ep in range(args.epochs):
            enc.train()
            proj.train()
            perm, el = torch.randperm(N, generator=gen), []
            for s in range(N // B):
                idx = perm[s * B:(s + 1) * B]
                tv = time.time()
                v = sample_views(ch, torch.cat([idx, idx]), args.galilean, args.scaling, t_first, t_last, dt, dx, gen)
                v = norm(v).float()
                view_time += time.time() - tv
                loss = vicreg(proj(enc(v[:B])), proj(enc(v[B:])))
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                el.append(loss.item())
            losses.append(float(np.mean(el)))
            print(f"  epoch {ep + 1}/{args.epochs}: VICReg loss {losses[-1]:.3f} ({time.time() - t:.0f}s)", flush=True)
        times["ssl_pretrain"] = time.time() - t
        out.update(ssl_steps=steps, ssl_losses=losses, view_s_per_batch=view_time / max(1, steps),
                   view_modes_max=int(ch.modes.max()))
        print(f"  {steps} steps; Cole-Hopf views: {out['view_s_per_batch']:.3f} s per batch of 2x{B}")
        t = time.time()
        res["ssl"] = ev(enc)
        times["ssl_probe"] = time.time() - t
    if "random" in rows:
        t = time.time()
        res["random"] = ev(make_encoder())
        times["random_probe"] = time.time() - t
    if "supervised" in rows:
        t = time.time()
        res["supervised"], enc = supervised(args, make_encoder(), ul, nul, ut, nut)
        times["supervised"] = time.time() - t
        res["supervised_ridge"] = ev(enc)
    if "constant" in rows:
        m = np.log(nul).mean()
        res["constant"] = {"rel_err": rel_err(np.full(len(nut), m), nut), "r2": r2(np.full(len(nut), m), np.log(nut))}

    names = {"ssl": "SSL representation + ridge head", "random": "random-init encoder + ridge head",
             "supervised": "supervised, trained end to end", "supervised_ridge": "supervised, ridge head refit",
             "constant": "constant (mean log nu)"}
    print("\n| row | nu rel. error % (test) | R^2 (log nu) | detail |\n|---|---|---|---|")
    for k, r in res.items():
        det = f"lambda {r['lambda']:g}" if "lambda" in r else f"epoch {r['epoch']}" if "epoch" in r else ""
        print(f"| {names[k]} | {r['rel_err']:.2f} | {r['r2']:.3f} | {det} |")
    print("\nwall time: " + ", ".join(f"{k} {v:.1f}s" for k, v in times.items()))
    out.update(rows=res, times=times)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
