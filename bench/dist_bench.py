#!/usr/bin/env python3
"""Data-parallel training throughput on this machine (docs/distributed.md): jess as 2 processes x 1 thread
(`jess --nproc 2`, c10d/Gloo on loopback) against 1 process x 2 threads, for PDE VICReg pretraining
(KdV) and Fashion-MNIST SimCLR (configs/fmnist/equal_budget/simclr.yaml); the communication share of a step (time
waiting in collectives, from jess's comm_ms/comm_mb step metrics) beside what a Gloo all-reduce on the
loopback link takes per MB; and a Python PyTorch DDP peer of the same SimCLR model and global batch
(torch.distributed + Gloo, DistributedDataParallel, the gathered NT-Xent of the reference code's
FullGatherLayer, DistributedSampler + torchvision transforms). PyTorch 1.13's SyncBatchNorm runs on GPUs
only, so the peer's BatchNorm is per rank: the like-for-like jess row is `--no-sync-bn`.

On 2 cores the scaling efficiency cannot exceed 1: two processes share the cores that one process
with 2 threads uses; the table says what data parallelism costs here, not what it gains on more cores.

Usage: bench/run.sh dist [--n 2560] [--epochs 2] [--batch 256] [--width 8] [--pde-n 512] [--pde-epochs 2]
                         [--repeat 3] [--skip-pde] [--skip-peer]
Prints one Markdown table.
"""
import argparse, os, socket, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vision_train_bench as vb  # noqa: E402  (the SimCLR peer model, augmentations, LARS, config reader)

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

JESS = vb.JESS
ROOT = vb.ROOT


def steps_rows(out):
    lines = [l for l in open(os.path.join(out, "steps.csv")).read().split("\n") if l]
    head = lines[0].split(",")
    rows = [dict(zip(head, l.split(","))) for l in lines[1:]]
    return rows


def summarise(rows):
    """Medians over the windows after the first epoch, without each epoch's first window (it holds the
    previous epoch's evaluation and checkpoint)."""
    keep, seen = [], set()
    for r in rows:
        e = int(r["epoch"])
        first = e not in seen
        seen.add(e)
        if e > 0 and not first:
            keep.append(r)
    keep = keep or rows[1:] or rows
    rate = statistics.median(float(r["samples_per_s"]) for r in keep)
    comm = statistics.median(float(r["comm_ms"]) for r in keep) if "comm_ms" in keep[0] else None
    mb = statistics.median(float(r["comm_mb"]) for r in keep) if "comm_mb" in keep[0] else None
    return rate, comm, mb


def run_jess(args, out, env_extra=None):
    env = dict(os.environ, JESS_PROGRESS="0", JESS_QUIET_BLAS="1", **(env_extra or {}))
    subprocess.run([JESS] + args + ["--out", out], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return summarise(steps_rows(out))


# ------------------------------------------------------------------ the Python DDP peer (SimCLR)

class FullGather(torch.autograd.Function):
    """All-gather whose backward all-reduces the gradient and keeps this rank's rows."""

    @staticmethod
    def forward(ctx, x):
        out = [torch.zeros_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(out, x.contiguous())
        return torch.cat(out)

    @staticmethod
    def backward(ctx, g):
        g = g.contiguous()
        dist.all_reduce(g)
        n = g.shape[0] // dist.get_world_size()
        r = dist.get_rank()
        return g[r * n:(r + 1) * n]


class Both(nn.Module):  # DDP hooks the module's forward: one call for both views
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x1, x2):
        f1, f2 = self.m.backbone(x1), self.m.backbone(x2)
        return self.m.projector(f1), self.m.projector(f2), self.m.probe(f1.detach())


def ddp_rank(rank, world, port, c, images, labels, log_every, q):
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(int(c["seed"]))
    f = images.float() / 255
    mean, std = f.mean().item(), f.std().item()
    ds = vb.TwoViews(images, labels, vb.view_transform(c["augment"]["view1"], mean, std),
                     vb.view_transform(c["augment"]["view2"], mean, std))
    batch = int(c["batch"])
    sampler = torch.utils.data.distributed.DistributedSampler(ds, num_replicas=world, rank=rank, shuffle=True, drop_last=True)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch // world, sampler=sampler, drop_last=True, num_workers=0)
    model = vb.SslModel(int(c["width"]), str(c["projector"]))
    t = c["train"]
    adapted, plain = [], []
    for name, p in model.named_parameters():
        (plain if p.dim() <= 1 or name.startswith("probe.") else adapted).append(p)
    lr = float(c["base_lr"]) * batch / 256
    opt = vb.LARS([dict(params=adapted, weight_decay=float(t["weight_decay"]), adapt=True),
                   dict(params=plain, weight_decay=0.0, adapt=False)], lr=lr, momentum=float(t["momentum"]), eta=float(t["lars_eta"]))
    ddp = nn.parallel.DistributedDataParallel(Both(model))
    temperature = c["loss_options"].get("temperature", 0.15)
    spe = len(ds) // batch
    rows, g, window_n = [], 0, 0
    window_t = time.perf_counter()
    for epoch in range(int(t["epochs"])):
        sampler.set_epoch(epoch)
        it = iter(loader)
        for step in range(spe):
            for group in opt.param_groups:
                group["lr"] = vb.learning_rate(t, lr, g, spe)
            x1, x2, y = next(it)
            z1, z2, logits = ddp(x1, x2)
            loss = vb.nt_xent(FullGather.apply(z1), FullGather.apply(z2), temperature) + F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            g += 1
            window_n += batch
            if g % log_every == 0 or step + 1 == spe:
                now = time.perf_counter()
                rows.append({"epoch": epoch, "samples_per_s": window_n / (now - window_t)})
                window_t, window_n = now, 0
    if rank == 0:
        q.put(rows)
    dist.destroy_process_group()


def ddp_peer(c, images, labels, log_every):
    port = free_port()
    q = mp.get_context("spawn").SimpleQueue()
    mp.spawn(ddp_rank, args=(2, port, c, images, labels, log_every, q), nprocs=2, join=True)
    rows = q.get()
    return summarise([{k: str(v) for k, v in r.items()} for r in rows])[0]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def loopback_ms_per_mb(mb=8, reps=20):
    """What the link allows: a 2-rank Gloo all-reduce of `mb` MB on loopback, ms per MB."""
    port = free_port()
    q = mp.get_context("spawn").SimpleQueue()
    mp.spawn(_allreduce_rank, args=(port, mb, reps, q), nprocs=2, join=True)
    return q.get()


def _allreduce_rank(rank, port, mb, reps, q):
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    t = torch.ones(int(mb * 1e6 / 4))
    dist.all_reduce(t)
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(reps):
        dist.all_reduce(t)
    ms = 1e3 * (time.perf_counter() - t0) / reps / mb
    if rank == 0:
        q.put(ms)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2560, help="Fashion-MNIST training images")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--log-every", type=int, default=2)
    ap.add_argument("--pde-n", type=int, default=1024, help="KdV training trajectories")
    ap.add_argument("--pde-epochs", type=int, default=3)
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--skip-pde", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds of the SimCLR runs and the peer")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="jess_dist_bench_")
    rows = []

    # PDE VICReg pretraining (the PDE defaults) on KdV.
    data = os.path.join(tmp, "kdv.h5")
    if a.skip_pde:
        return vision(a, tmp, rows)
    subprocess.run([JESS, "pde", "generate", "--out", data, "--seed", "1", f"n_train={a.pde_n}", "n_valid=32", "n_test=32"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, JESS_PROGRESS="0"))
    pde = ["pde", "pretrain", data, f"train.epochs={a.pde_epochs}", "train.log_every=2", "train.plots=false", "--restart"]
    one = run_jess(["--threads", "2"] + pde, os.path.join(tmp, "p1"))
    two = run_jess(["--nproc", "2"] + pde, os.path.join(tmp, "p2"))
    rows.append(("PDE VICReg (KdV)", "jess, 1 process x 2 threads", one, one[0]))
    rows.append(("PDE VICReg (KdV)", "jess --nproc 2 (1 thread each, SyncBatchNorm)", two, one[0]))
    vision(a, tmp, rows)


def vision(a, tmp, rows):
    # Fashion-MNIST SimCLR.
    c = vb.effective_config(argparse.Namespace(epochs=a.epochs, n=a.n, batch=a.batch, width=a.width, log_every=a.log_every), "simclr")
    vis = ["train", "--config", os.path.join(ROOT, "configs", "fmnist", "equal_budget", "simclr.yaml"), "--restart"] + \
        vb.jess_overrides(argparse.Namespace(epochs=a.epochs, n=a.n, batch=a.batch, width=a.width, log_every=a.log_every), "simclr")
    images = labels = None
    if not a.skip_peer:
        images, labels = vb.load_fashion_mnist(c["data"], a.n)
    # The four runs interleaved --repeat times: this VM's rates drift by +-15 % between minutes, more than
    # the margins compared, so each ratio is taken within a round and the median over rounds reported.
    rounds = []
    for k in range(a.repeat):
        v1 = run_jess(["--threads", "2"] + vis, os.path.join(tmp, "v1"))
        v2 = run_jess(["--nproc", "2"] + vis, os.path.join(tmp, "v2"))
        v3 = run_jess(["--nproc", "2", "--no-sync-bn"] + vis, os.path.join(tmp, "v3"))
        p = ddp_peer(c, images, labels, a.log_every) if images is not None else None
        rounds.append((v1, v2, v3, p))
        print(f"[bench] round {k + 1}/{a.repeat}: jess 1x2 {v1[0]:.0f}, --nproc 2 {v2[0]:.0f}, --no-sync-bn {v3[0]:.0f}"
              + (f", DDP peer {p:.0f} images/s" if p else ""), file=sys.stderr)

    def median_run(i):  # the run with the median rate (its comm figures with it)
        runs = sorted((r[i] for r in rounds), key=lambda x: x[0])
        return runs[len(runs) // 2]

    v1, v2, v3 = median_run(0), median_run(1), median_run(2)
    rows.append(("SimCLR (Fashion-MNIST)", "jess, 1 process x 2 threads", v1, v1[0]))
    rows.append(("SimCLR (Fashion-MNIST)", "jess --nproc 2 (SyncBatchNorm)", v2, v1[0]))
    rows.append(("SimCLR (Fashion-MNIST)", "jess --nproc 2 --no-sync-bn", v3, v1[0]))
    peer = statistics.median(r[3] for r in rounds) if images is not None else None
    link = loopback_ms_per_mb()

    core = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    print(f"Data-parallel throughput on {os.cpu_count()} cores (OPENBLAS_CORETYPE={core}, torch {torch.__version__}): "
          f"PDE VICReg on {a.pde_n} KdV trajectories (jess's defaults, {a.pde_epochs} epochs); SimCLR on {a.n} Fashion-MNIST "
          f"images (configs/fmnist/equal_budget/simclr.yaml, width {a.width}, batch {a.batch}, {a.epochs} epochs). Rates are medians "
          "over logging windows after the first epoch; communication is the time a rank waits in collectives per step.\n")
    print("| workload | run | samples/s | efficiency vs 1 x 2 threads | comm share of a step | MB per step | comm ms per MB |")
    print("|---|---|---|---|---|---|---|")
    for w, name, (rate, comm, mb), base in rows:
        batch = a.batch if "SimCLR" in w else 128  # jess pde pretrain's default batch
        if comm is not None:
            step_ms = 1e3 * batch / rate
            cs, mbs, per = f"{100 * comm / step_ms:.0f} % ({comm:.0f} of {step_ms:.0f} ms)", f"{mb:.2f}", f"{comm / mb:.1f}"
        else:
            cs = mbs = per = "-"
        print(f"| {w} | {name} | {rate:.0f} | {rate / base:.2f} | {cs} | {mbs} | {per} |")
    if peer is not None:
        print(f"| SimCLR (Fashion-MNIST) | Python DDP peer, 2 ranks x 1 thread (per-rank BatchNorm) | {peer:.0f} | {peer / v1[0]:.2f} | - | - | - |")
        ratios = [r[2][0] / r[3] for r in rounds]
        sync = [r[1][0] / r[3] for r in rounds]
        print(f"\njess --nproc 2 --no-sync-bn / the DDP peer (same model, batch, per-rank BatchNorm), median of "
              f"{a.repeat} rounds' ratios: **{statistics.median(ratios):.2f}x** (rounds: "
              f"{', '.join(f'{x:.2f}' for x in ratios)}); with SyncBatchNorm: {statistics.median(sync):.2f}x.")
    print(f"Loopback link: a 2-rank Gloo all-reduce of 8 MB takes {link:.2f} ms per MB (torch.distributed).")


if __name__ == "__main__":
    main()
