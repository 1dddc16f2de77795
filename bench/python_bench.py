#!/usr/bin/env python3
"""jess from Python (the `jess` package, issue 21): a plain PyTorch VICReg loop on jess's symmetry views
against the same loop on the Python PyTorch view pipeline of `bench/run.sh train`, and `jess pde
pretrain` itself; then the cost of one call into the extension.

All three training rows run the same model, loss, optimiser, batch and thread count (ResNet1d-32 on
128 x 128 KdV views as 130 channels, projector 512-512-512, VICReg 25/25/1 in PyTorch, AdamW 3e-4 /
1e-6); only the views' source differs:
  jess pde pretrain            C++ loop, views made by jess's loader between steps (prefetch 0 on the CPU)
  Python loop + jess views     jess.pde.ViewDataset (the same loader, same default) feeding a Python loop
  Python loop + Python views   bench/pde_train_bench.py's Dataset + DataLoader (torch ops per sample)

Each row runs in a fresh interpreter, the rows interleaved --repeat times (median per row, and the
median of the per-round ratios: this VM's run-to-run noise is +-15 %). The Python-views loop runs as a
plain PyTorch user has it (jess not imported, glibc's default allocator) and, as a second row, with the
glibc thresholds that `import jess` sets (so the table shows what the allocator buys and what the views
buy).

Usage: bench/run.sh python [--n 1024] [--epochs 3] [--batch 64] [--threads 2] [--repeat 3]
"""
import ctypes, json, os, statistics, subprocess, sys, time, timeit

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "build", "python"))
from pde_train_bench import PEER_KEYS, ResNet1d, jess as jess_pretrain, parse_args, peer, projector, vicreg  # noqa: E402

ROWS = ["jess", "python_jess_views", "python_views", "python_views_tuned"]


def python_loop_on_jess_views(path, epochs, batch, threads):
    import jess
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    data = jess.pde.load_split(path, "train")
    mean, std = data["u"].mean().item(), data["u"].std().item()
    ldx, ldt = data["dx"].log().mean().item(), data["dt"].log().mean().item()
    views = jess.pde.ViewDataset(path, batch_size=batch, seed=0, epochs=epochs, crop_t=128, crop_x=128)

    def encoder_input(v, dx, dt):  # the peer's layout: standardised view rows + (log dx, log dt) rows
        b, _, cx = v.shape
        c = torch.stack([(dx.log() - ldx) / 0.05, (dt.log() - ldt) / 0.05], 1).float()
        return torch.cat([(v - mean) / std, c[:, :, None].expand(b, 2, cx)], 1)

    enc, proj = ResNet1d(128 + 2), projector(128)
    params = list(enc.parameters()) + list(proj.parameters())
    opt = torch.optim.AdamW([{"params": [p for p in params if p.dim() > 1], "weight_decay": 1e-6},
                             {"params": [p for p in params if p.dim() <= 1], "weight_decay": 0}], lr=3e-4)
    rates, shares = [], []
    it = iter(views)
    for epoch in range(epochs):
        t_data = t_all = 0.0
        n = 0
        for _ in range(views.steps_per_epoch):
            a = time.perf_counter()
            bt = next(it)
            b = time.perf_counter()
            loss = vicreg(proj(enc(encoder_input(bt["view1"], bt["dx1"], bt["dt1"]))),
                          proj(enc(encoder_input(bt["view2"], bt["dx2"], bt["dt2"]))))
            opt.zero_grad()
            loss.backward()
            opt.step()
            c = time.perf_counter()
            t_data += b - a
            t_all += c - a
            n += batch
        if epoch > 0 or epochs == 1:
            rates.append(n / t_all)
            shares.append(t_data / t_all)
    return statistics.median(rates), statistics.median(shares)


def call_overhead():
    """Microseconds per call: a binding that does almost nothing, and a C++ criterion on a tiny batch
    against the same formula in PyTorch (their difference is what crossing into C++ costs)."""
    import jess
    z1, z2, eye = torch.randn(8, 4), torch.randn(8, 4), torch.eye(2)
    criterion = jess.ssl.loss("vicreg")
    raw = jess._jess.Criterion("vicreg", [])
    rows = []
    for name, fn in [("jess._jess.loss_names() (a list of the registry's names back)", jess._jess.loss_names),
                     ("jess._jess.numerical_rank(torch.eye(2)) (tensor in, checks, LAPACK)", lambda: jess._jess.numerical_rank(eye)),
                     ("jess._jess.Criterion('vicreg') on 8 x 4", lambda: raw(z1, z2)),
                     ("jess.ssl.loss('vicreg') on 8 x 4 (Python wrapper)", lambda: criterion(z1, z2)),
                     ("the same VICReg in PyTorch on 8 x 4", lambda: vicreg(z1, z2))]:
        n = 2000
        best = min(timeit.repeat(fn, number=n, repeat=5)) / n * 1e6
        rows.append((name, best))
    return rows


def run_row(row, a):
    """One row in this (fresh) interpreter: (samples/s, data share)."""
    if row == "jess":
        return jess_pretrain(a.data, a.epochs, a.batch, a.threads)
    if row == "python_jess_views":
        return python_loop_on_jess_views(a.data, a.epochs, a.batch, a.threads)
    if row == "python_views_tuned":  # the thresholds `import jess` sets (src/jess/core/runtime.cpp)
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 64 << 20)   # M_MMAP_THRESHOLD
        libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD
    assert "jess" not in sys.modules, "the Python-views rows run without the jess package"
    return peer(a.data, a.epochs, a.batch, a.threads)


def main():
    a = parse_args(__doc__)
    if a.row:
        print(json.dumps(run_row(a.row, a)))
        return
    results = {r: [] for r in ROWS}
    for k in range(a.repeat):
        for r in ROWS:
            cmd = [sys.executable, os.path.abspath(__file__), "--row", r, "--n", str(a.n), "--epochs", str(a.epochs),
                   "--batch", str(a.batch), "--threads", str(a.threads), "--data", a.data]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            results[r].append(tuple(json.loads(out)))
            print(f"[bench] round {k + 1}/{a.repeat} {r}: {results[r][-1][0]:.0f} samples/s", file=sys.stderr)
    med = {r: statistics.median(x[0] for x in v) for r, v in results.items()}
    share = {r: statistics.median(x[1] for x in v) for r, v in results.items()}

    def ratio(r, base):  # median over rounds of the same round's ratio
        return statistics.median(x[0] / y[0] for x, y in zip(results[r], results[base]))

    core = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    print(f"VICReg on KdV views, batch {a.batch} (two 128x128 views each), ResNet1d-32 + 512-512-512, AdamW 3e-4; "
          f"{a.threads} threads, OPENBLAS_CORETYPE={core}, torch {torch.__version__}; "
          f"{a.repeat} interleaved rounds, each row in a fresh interpreter (medians)\n")
    print("| training loop | samples/s | data share of a step | vs Python views | vs Python views + thresholds | vs jess pde pretrain |")
    print("|---|---|---|---|---|---|")
    names = {"jess": f"jess pde pretrain ({PEER_KEYS[0]} ...)",
             "python_jess_views": "Python loop + jess.pde.ViewDataset (import jess: glibc thresholds)",
             "python_views": "Python loop + Python views (Dataset + DataLoader), plain PyTorch",
             "python_views_tuned": "the same Python-views loop + the glibc thresholds jess sets"}
    what = {"jess": "(views made between steps)", "python_jess_views": "(in next(ViewDataset))", "python_views": "",
            "python_views_tuned": ""}
    for r in ROWS:
        print(f"| {names[r]} | {med[r]:.0f} | {100 * share[r]:.1f} % {what[r]} | {ratio(r, 'python_views'):.2f}x | "
              f"{ratio(r, 'python_views_tuned'):.2f}x | {ratio(r, 'jess'):.2f}x |")
    print("\n| call | microseconds per call (best of 5 x 2000) |")
    print("|---|---|")
    for name, us in call_overhead():
        print(f"| {name} | {us:.1f} |")


if __name__ == "__main__":
    main()
