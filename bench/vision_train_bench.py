#!/usr/bin/env python3
"""Image SSL training throughput (augmentation included): jess vs the same model, loss, optimiser and
augmentations in Python PyTorch (Debian's python3-torch 1.13 + python3-torchvision 0.14, the same
thread count), in the same run.

Both sides train VICReg or SimCLR on the first --n Fashion-MNIST training images with the settings of
configs/fmnist/<method>.yaml (the peer reads them from `jess train --print-config`, so the two cannot
drift apart). The recipes (2026-12-07): resnet_small at width 32 (the CIFAR 3x3 stem, three stages of
one BasicBlock, 32-64-128 channels; resnet18_cifar, two BasicBlocks in each of four stages, is also
mirrored), projector Linear-BN-ReLU blocks then a Linear without bias, an online linear probe on the
detached features of view 1 (cross-entropy), inputs normalised by the training images' mean/std;
VICReg 25/25/1 (eps 1e-4) or SimCLR NT-Xent (temperature 0.2); Adam 1e-3 (AdamW and jess's LARS also
mirrored; biases, norms and the probe without weight decay) with a per-step warm-up + cosine schedule,
lr = base_lr * batch / 256. Augmentations per view: RandomResizedCrop(28, scale 0.3-1), horizontal flip,
brightness/contrast jitter (p 0.8), Gaussian blur (3x3, sigma 0.1-2; p 1.0 / 0.1), solarisation
(p 0 / 0.2), optional pixel noise.

The peer is the standard Python recipe: a map-style Dataset over the uint8 Fashion-MNIST tensor whose
__getitem__ turns one image into a PIL image and applies torchvision.transforms (v1) twice, collated
by a DataLoader. jess makes the same views batched (one grid_sample for crop/flip/resize).

Usage: bench/run.sh vision [--methods vicreg,simclr] [--n 2560] [--epochs 3] [--batch 256] [--width W]
                           [--threads T] [--workers 0[,1]] [--log-every 4] [--repeat 3]
Prints one Markdown table: images/s (median over logging windows after the first epoch; each epoch's
first window is left out on both sides because jess's holds its end-of-epoch evaluation and
checkpoint) and the augmentation share of a step = (augmentation time of a batch) / (batch / rate).
"""
import argparse, gzip, math, os, statistics, subprocess, sys, tempfile, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

try:
    import torchvision
    import torchvision.transforms as T
    from PIL import Image
except ImportError as e:  # python3-torchvision may still be installing
    sys.exit(f"vision_train_bench: {e}; install Debian's python3-torchvision (apt) and retry")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JESS = os.path.join(ROOT, "build", "jess")
BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


# ------------------------------------------------------------------ configuration (from jess itself)

def jess_overrides(a, method):
    return [f"train.epochs={a.epochs}", f"n_train={a.n}", f"batch={a.batch}"] + ([f"width={a.width}"] if a.width else []) + [
            "train.plots=false", f"train.log_every={a.log_every}", f"n_bank={min(256, a.n)}", "n_monitor=256"]


def effective_config(a, method):
    """The configuration jess trains with (configs/fmnist/<method>.yaml + the bench's overrides)."""
    out = subprocess.run([JESS, "train", "--config", os.path.join(ROOT, "configs", "fmnist", method + ".yaml"),
                          "--print-config"] + jess_overrides(a, method), check=True, capture_output=True, text=True)
    c = yaml.safe_load(out.stdout)
    t = c["train"]
    # The peer implements exactly this recipe; refuse silently different ones.
    assert c["backbone"] in ("resnet18_cifar", "resnet_small"), c["backbone"]
    assert t["optimizer"] in ("lars", "adam", "adamw") and t["schedule"] == "warmup_cosine", (t["optimizer"], t["schedule"])
    assert float(t["clip_grad_norm"]) == 0, "the peer does not clip gradients"
    assert int(c["augment"]["local_crops"]) == 0, "the peer makes two views only"
    for v in ("view1", "view2"):
        assert float(c["augment"][v]["erase"]) == 0, "the peer has no random erasing"
    loss = {}
    for kv in str(c.get("loss") or "").split(","):
        if kv.strip():
            k, v = kv.split("=")
            loss[k.strip()] = float(v)
    c["loss_options"] = loss
    return c


# ------------------------------------------------------------------ data

def read_idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def load_fashion_mnist(directory, n):
    x = read_idx(os.path.join(directory, "train-images-idx3-ubyte.gz"), 16).reshape(-1, 28, 28)[:n]
    y = read_idx(os.path.join(directory, "train-labels-idx1-ubyte.gz"), 8)[:n]
    return torch.from_numpy(x.copy()), torch.from_numpy(y.astype(np.int64))


def view_transform(v, mean, std):
    """One view of jess's ViewAugment (src/jess/vision/augment.cpp) in torchvision.transforms (v1)."""
    size = int(v["size"])
    k = 2 * int(math.floor(0.05 * size + 0.5)) + 1  # jess: 2 * lround(0.05 S) + 1 (3 at 28 px)
    steps = [T.RandomResizedCrop(size, scale=(v["scale_min"], v["scale_max"]), ratio=(v["ratio_min"], v["ratio_max"]),
                                 interpolation=T.InterpolationMode.BILINEAR),
             T.RandomHorizontalFlip(p=v["flip"]),
             T.RandomApply([T.ColorJitter(brightness=v["brightness"], contrast=v["contrast"])], p=v["jitter"])]
    if k >= 3:
        steps.append(T.RandomApply([T.GaussianBlur(k, sigma=(v["sigma_min"], v["sigma_max"]))], p=v["blur"]))
    steps += [T.RandomSolarize(128, p=v["solarize"]),  # jess: x >= 0.5 -> 1 - x, i.e. pixels >= 128 on uint8
              T.ToTensor()]
    if float(v.get("noise", 0)) > 0:  # jess: additive Gaussian pixel noise, clipped to [0, 1]
        steps.append(T.Lambda(lambda x, s=float(v["noise"]): (x + s * torch.randn_like(x)).clamp(0, 1)))
    steps.append(T.Normalize((mean,), (std,)))
    return T.Compose(steps)


class TwoViews(torch.utils.data.Dataset):
    """Map-style dataset over the uint8 images, as torchvision.datasets.FashionMNIST: PIL image per item."""

    def __init__(self, images, labels, t1, t2):
        self.images, self.labels, self.t1, self.t2 = images, labels, t1, t2

    def __len__(self):
        return self.images.shape[0]

    def __getitem__(self, i):
        img = Image.fromarray(self.images[i].numpy(), mode="L")
        return self.t1(img), self.t2(img), int(self.labels[i])


# ------------------------------------------------------------------ model (src/jess/nn/encoders.cpp, vision/ssl.cpp)

def kaiming(conv):  # torchvision's ResNet init, as jess's init_conv
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    return conv


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = kaiming(nn.Conv2d(cin, cout, 3, stride, 1, bias=False))
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = kaiming(nn.Conv2d(cout, cout, 3, 1, 1, bias=False))
        self.bn2 = nn.BatchNorm2d(cout)
        self.down_conv = self.down_bn = None
        if stride != 1 or cin != cout:
            self.down_conv = kaiming(nn.Conv2d(cin, cout, 1, stride, bias=False))
            self.down_bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.down_conv is None else self.down_bn(self.down_conv(x))))


class ResNetCifar(nn.Module):
    """resnet18_cifar (4 stages of 2 BasicBlocks) or resnet_small (3 stages of 1)."""

    def __init__(self, cin, w, stages=4, blocks=2):
        super().__init__()
        self.conv1 = kaiming(nn.Conv2d(cin, w, 3, 1, 1, bias=False))  # CIFAR stem: 3x3 stride 1, no max-pool
        self.bn1 = nn.BatchNorm2d(w)
        cin = w
        self.layers = []
        for s, width in enumerate((w, 2 * w, 4 * w, 8 * w)[:stages]):
            layer = [BasicBlock(cin, width, 1 if s == 0 else 2)] + [BasicBlock(width, width, 1) for _ in range(blocks - 1)]
            setattr(self, f"layer{s + 1}", nn.Sequential(*layer))
            self.layers.append(getattr(self, f"layer{s + 1}"))
            cin = width
        self.output_dim = cin

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        for layer in self.layers:
            h = layer(h)
        return h.mean((-2, -1))


class Projector(nn.Module):
    def __init__(self, d, sizes):
        super().__init__()
        for i, s in enumerate(sizes):
            last = i == len(sizes) - 1
            block = [nn.Linear(d, s, bias=not last)] + ([] if last else [nn.BatchNorm1d(s), nn.ReLU()])
            setattr(self, f"block{i + 1}", nn.Sequential(*block))
            d = s
        self.n = len(sizes)

    def forward(self, x):
        for i in range(self.n):
            x = getattr(self, f"block{i + 1}")(x)
        return x


class SslModel(nn.Module):
    def __init__(self, width, projector, backbone="resnet18_cifar", classes=10):
        super().__init__()
        self.backbone = ResNetCifar(1, width, *((3, 1) if backbone == "resnet_small" else (4, 2)))
        self.projector = Projector(self.backbone.output_dim, [int(s) for s in projector.split("-")])
        self.probe = nn.Linear(self.backbone.output_dim, classes)


# ------------------------------------------------------------------ losses (src/jess/ssl/vicreg.cpp, infonce.cpp)

def vicreg(z1, z2, invariance=25.0, variance=25.0, covariance=1.0, epsilon=1e-4):
    inv = F.mse_loss(z1, z2)

    def std_term(z):
        return F.relu(1 - torch.sqrt(z.var(0) + epsilon)).mean()

    def cov_term(z):
        zc = z - z.mean(0)
        c = zc.T @ zc / (z.shape[0] - 1)
        return (c.pow(2).sum() - c.diagonal().pow(2).sum()) / z.shape[1]

    return invariance * inv + variance * (std_term(z1) + std_term(z2)) / 2 + covariance * (cov_term(z1) + cov_term(z2))


def nt_xent(z1, z2, temperature=0.15):
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.T / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(logits, target)


# ------------------------------------------------------------------ optimiser (src/jess/optim/lars.cpp, train/trainer.cpp)

class LARS(torch.optim.Optimizer):
    """jess's LARS (= the VICReg reference code's): g += wd p; g *= eta |p| / |g| in adapted groups; momentum."""

    def __init__(self, groups, lr, momentum, eta):
        super().__init__(groups, dict(lr=lr, momentum=momentum, eta=eta, weight_decay=0.0, adapt=True))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["adapt"]:
                    g = g.add(p, alpha=group["weight_decay"])
                    pn, gn = p.norm(), g.norm()
                    one = torch.ones_like(pn)
                    g = g.mul(torch.where(pn > 0, torch.where(gn > 0, group["eta"] * pn / gn, one), one))
                state = self.state[p]
                if "mu" not in state:
                    state["mu"] = g.clone()
                else:
                    state["mu"].mul_(group["momentum"]).add_(g)
                p.add_(state["mu"], alpha=-group["lr"])


def learning_rate(t, lr, g, spe):
    """jess's warmup_cosine (per step)."""
    total, warm = t["epochs"] * spe, float(t["warmup_epochs"]) * spe
    if g < warm:
        return lr * (g + 1) / warm
    progress = (g - warm) / (total - warm) if total > warm else 1.0
    floor = lr * float(t["final_lr_fraction"])
    return floor + (lr - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


# ------------------------------------------------------------------ the two sides

def peer(c, method, images, labels, threads, workers, log_every):
    torch.set_num_threads(threads)
    torch.manual_seed(int(c["seed"]))
    f = images.float() / 255
    mean, std = f.mean().item(), f.std().item()  # jess's input statistics (unbiased std over all pixels)
    ds = TwoViews(images, labels, view_transform(c["augment"]["view1"], mean, std), view_transform(c["augment"]["view2"], mean, std))
    batch = int(c["batch"])
    # num_workers=0: DataLoader worker processes would compete with the training threads for the same
    # cores (2 on the reference VM); the num_workers=1 row shows what overlapping buys there.
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, drop_last=True, num_workers=workers)
    model = SslModel(int(c["width"]), str(c["projector"]), str(c["backbone"]))
    t = c["train"]
    adapted, plain = [], []
    for name, p in model.named_parameters():  # jess: plain = dim <= 1 (biases, norms) or the probe
        (plain if p.dim() <= 1 or name.startswith("probe.") else adapted).append(p)
    lr = float(c["base_lr"]) * batch / 256
    wd = float(t["weight_decay"])
    if t["optimizer"] == "lars":
        opt = LARS([dict(params=adapted, weight_decay=wd, adapt=True), dict(params=plain, weight_decay=0.0, adapt=False)],
                   lr=lr, momentum=float(t["momentum"]), eta=float(t["lars_eta"]))
    else:  # jess: adam | adamw, decay on the adapted group only
        kind = torch.optim.AdamW if t["optimizer"] == "adamw" else torch.optim.Adam
        opt = kind([dict(params=adapted, weight_decay=wd), dict(params=plain, weight_decay=0.0)], lr=lr)
    criterion = (lambda a, b: vicreg(a, b, **c["loss_options"])) if method == "vicreg" else (lambda a, b: nt_xent(a, b, **c["loss_options"]))
    params = list(model.parameters())
    spe = len(ds) // batch
    rows, g, window_n = [], 0, 0
    window_t = time.perf_counter()
    model.train()
    for epoch in range(int(t["epochs"])):
        it = iter(loader)
        for step in range(spe):
            for group in opt.param_groups:
                group["lr"] = learning_rate(t, lr, g, spe)
            a = time.perf_counter()
            x1, x2, y = next(it)
            augment_ms = 1e3 * (time.perf_counter() - a)
            f1, f2 = model.backbone(x1), model.backbone(x2)
            loss = criterion(model.projector(f1), model.projector(f2))
            ce = F.cross_entropy(model.probe(f1.detach()), y)  # online probe, stop-gradient
            total = loss + ce
            if not math.isfinite(total.item()):  # jess checks the loss and the gradient norm every step
                raise RuntimeError("peer: the loss diverged")
            opt.zero_grad(set_to_none=True)
            total.backward()
            if not math.isfinite(float(nn.utils.clip_grad_norm_(params, float("inf")))):
                raise RuntimeError("peer: the gradient norm is not finite")
            opt.step()
            g += 1
            window_n += batch
            if g % log_every == 0 or step + 1 == spe:  # jess's logging windows
                now = time.perf_counter()
                rows.append((epoch, window_n / (now - window_t), augment_ms))
                window_t, window_n = now, 0
    n_params = sum(p.numel() for p in params)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    return rows, n_params, shapes, (mean, std)


def jess(c, a, method):
    out = tempfile.mkdtemp(prefix="jess_vision_bench_")
    cmd = [JESS, "--threads", str(a.threads), "train", "--config", os.path.join(ROOT, "configs", "fmnist", method + ".yaml"),
           "--out", out, "--restart"] + jess_overrides(a, method)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, JESS_PROGRESS="0"))
    lines = [l for l in open(os.path.join(out, "steps.csv")).read().split("\n") if l]
    head = lines[0].split(",")
    ie, ir = head.index("epoch"), head.index("samples_per_s")
    ia = head.index("augment_ms") if "augment_ms" in head else None  # absent in builds before augment_ms
    rows = []
    for l in lines[1:]:
        r = l.split(",")
        rows.append((int(r[ie]), float(r[ir]), float(r[ia]) if ia is not None else float("nan")))
    ck = torch.load(os.path.join(out, "checkpoint.pt"))
    state = ck["model"]
    n_params = sum(v.numel() for k, v in state.items() if not k.endswith(BUFFERS))
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    stats = tuple(ck["extra"]["input_stats"].tolist())
    return rows, n_params, shapes, stats


def summarise(rows, batch):
    """Median rate over the windows after the first epoch, without each epoch's first window (jess's holds
    the previous epoch's evaluation and checkpoint); the augmentation share from the medians."""
    keep, seen = [], set()
    for epoch, rate, aug in rows:
        first = epoch not in seen
        seen.add(epoch)
        if epoch > 0 and not first:
            keep.append((rate, aug))
    if not keep:  # too few steps per epoch for clean windows: use every window after the first epoch
        keep = [(r, m) for e, r, m in rows if e > 0] or [(r, m) for e, r, m in rows]
    rate = statistics.median(r for r, _ in keep)
    aug = statistics.median(m for _, m in keep)
    return rate, (aug / 1000) / (batch / rate), len(keep)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default="vicreg,simclr")
    ap.add_argument("--n", type=int, default=2560, help="training images (the first N of Fashion-MNIST)")
    ap.add_argument("--epochs", type=int, default=3, help="at least 2 (one warm-up epoch, then measured ones)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--width", type=int, default=0, help="first-stage channels (0: the recipe's)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--workers", default="0", help="peer DataLoader num_workers, comma-separated rows (e.g. 0,1)")
    ap.add_argument("--log-every", type=int, default=4, help="steps per logging window (both sides)")
    ap.add_argument("--repeat", type=int, default=3, help="alternating rounds of jess and the peer")
    a = ap.parse_args()
    methods = [m for m in a.methods.split(",") if m]
    for m in methods:
        if m not in ("vicreg", "simclr"):
            ap.error(f"method '{m}': the peer implements vicreg and simclr")
    if a.epochs < 2:
        ap.error("--epochs must be at least 2 (the first epoch is warm-up)")
    if a.n < a.batch:
        ap.error("--n must be at least --batch")
    workers = [int(w) for w in a.workers.split(",")]

    results, params, notes = [], {}, []
    ratios = {}
    for m in methods:
        c = effective_config(a, m)
        images, labels = load_fashion_mnist(c["data"], a.n)
        # jess and the peer alternate --repeat times: this VM's rates drift by +-15 % between minutes, so the
        # speed-up is the median of the rounds' own ratios and each rate the median over rounds.
        rounds = []
        for k in range(a.repeat):
            jrows, jn, jshapes, jstats = jess(c, a, m)
            jround = summarise(jrows, a.batch)
            pround = []
            for w in workers:
                prows, pn, pshapes, pstats = peer(c, m, images, labels, a.threads, w, a.log_every)
                pround.append(summarise(prows, a.batch))
            rounds.append((jround, pround))
            print(f"[bench] {m} round {k + 1}/{a.repeat}: jess {jround[0]:.0f}, peer {pround[0][0]:.0f} images/s",
                  file=sys.stderr)
        med = lambda xs: statistics.median(xs)  # noqa: E731
        jr, js, jk = med(r[0][0] for r in rounds), med(r[0][1] for r in rounds), rounds[0][0][2]
        peers = [(w, med(r[1][i][0] for r in rounds), med(r[1][i][1] for r in rounds), rounds[0][1][i][2])
                 for i, w in enumerate(workers)]
        ratios[m] = [r[0][0] / r[1][0][0] for r in rounds]
        params[m] = (jn, pn, jshapes == pshapes)
        if jshapes != pshapes:
            diff = sorted(set(jshapes.items()) ^ set(pshapes.items()))
            notes.append(f"{m}: state_dict entries differ: {diff[:6]}")
        if max(abs(x - y) for x, y in zip(jstats, pstats)) > 1e-5:
            notes.append(f"{m}: input mean/std differ: jess {jstats}, peer {pstats}")
        results.append((m, (jr, js, jk), peers))

    core = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    pj = sorted({(v[0], v[1]) for v in params.values()})
    same = all(v[2] for v in params.values())
    pc = "; ".join(f"jess {j:,}, peer {p:,}" for j, p in pj)
    print(f"Image SSL training on Fashion-MNIST (first {a.n} images, {a.epochs} epochs, batch {a.batch}, two 28x28 views each, "
          f"augmentation included): {c['backbone']} width {c['width']} + projector "
          f"{c['projector']} + online linear probe, {c['train']['optimizer']}, warm-up + cosine; jess channels_last="
          f"{str(c.get('channels_last', False)).lower()} (the peer: PyTorch's default NCHW layout); {a.threads} threads, "
          f"OPENBLAS_CORETYPE={core}, GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '(unset)')}, "
          f"torch {torch.__version__}, torchvision {torchvision.__version__}; parameters: {pc} "
          f"(state_dict names and shapes {'identical' if same else 'DIFFERENT'})\n")
    print("| method | implementation | images/s | augmentation share of a step | speed-up (jess / peer) |")
    print("|---|---|---|---|---|")
    for m, (jr, js, jk), peers in results:
        name = {"vicreg": "VICReg", "simclr": "SimCLR"}[m]
        share = "n/a (build/jess predates augment_ms)" if math.isnan(js) else f"{100 * js:.1f} %"
        print(f"| {name} | jess (C++ LibTorch, batched augmentation) | {jr:.0f} | {share} | "
              f"{statistics.median(ratios[m]):.2f}x |")
        for i, (w, pr, ps, pk) in enumerate(peers):
            sp = "1.00x" if i == 0 else f"jess: {jr / pr:.2f}x"
            print(f"| {name} | Python PyTorch peer (Dataset + torchvision.transforms, num_workers={w}) | {pr:.0f} | "
                  f"{100 * ps:.1f} % | {sp} |")
    print(f"\nMedians over {results[0][1][2]} logging windows of {a.log_every} steps per side (epochs 2-{a.epochs}, "
          f"each epoch's first window left out), then over {a.repeat} alternating rounds; the speed-up is the median of "
          "the rounds' ratios (" + "; ".join(f"{m}: " + ", ".join(f"{x:.2f}" for x in r) for m, r in ratios.items()) + ").")
    for n in notes:
        print(f"- warning: {n}")


if __name__ == "__main__":
    main()
