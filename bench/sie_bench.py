#!/usr/bin/env python3
"""SIE training throughput: `jess equivariance train` vs the same model, loss, optimiser, batch and data in
Python PyTorch (Debian's python3-torch 1.13, the same thread count), in the same run.

Both sides read the same packed dataset (jess render dataset's dataset.h5; the peer through h5py into one
uint8 tensor, so its data path is a tensor index, the fastest a Python loop gets) and train on pairs of
two distinct views of each object, no augmentation: ResNet-18 (torchvision layout, 7x7 stride-2 stem +
max-pool, widths w-2w-4w-8w) -> representation y (8w); SIE: y_inv / y_equi halves, two projectors (the
configured sizes scaled by one half), hypernetwork Linear(4 -> d*d, no bias) predictor, loss
10 L_inv + 4.5 L_equi + 10 (v(Z1)/2 + v(Z2)/2 + v(Zhat)/2) + (c(Z1) + c(Z2)); online evaluator on detached
representations (linear classifiers on y and y_inv, MLP rotation regressors on concat(y1, y2) and on the
equivariant parts); inputs normalised per channel; g = scipy's (R1.inv() * R2).as_quat(); Adam lr 1e-3,
weight decay 1e-6 on weights (not on biases / norms, as jess).

Usage: bench/run.sh sie [--data DIR] [--objects 24] [--views 10] [--size 64] [--width 16]
                        [--batch 64] [--mlp 1024-1024-1024] [--epochs 3] [--threads T] [--log-every 4]
Prints one Markdown table: pairs/s and images/s (median over logging windows after the first epoch, each
epoch's first window left out on both sides: jess's holds the end-of-epoch validation and checkpoint).
"""
import argparse, math, os, statistics, subprocess, sys, tempfile, time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.spatial.transform import Rotation

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vision_train_bench import BasicBlock, Projector, kaiming, summarise  # noqa: E402  (same layouts as jess)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JESS = os.path.join(ROOT, "build", "jess")
BUFFERS = ("running_mean", "running_var", "num_batches_tracked", "input_mean", "input_std")


class ResNet18(nn.Module):
    """jess's ResNet18 (src/jess/nn/encoders.cpp): torchvision's layout with an ImageNet stem."""

    def __init__(self, cin, w):
        super().__init__()
        self.conv1 = kaiming(nn.Conv2d(cin, w, 7, 2, 3, bias=False))
        self.bn1 = nn.BatchNorm2d(w)
        cin = w
        for s, width in enumerate((w, 2 * w, 4 * w, 8 * w)):
            setattr(self, f"layer{s + 1}", nn.Sequential(BasicBlock(cin, width, 1 if s == 0 else 2), BasicBlock(width, width, 1)))
            cin = width
        self.output_dim = cin

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        h = self.layer4(self.layer3(self.layer2(self.layer1(h))))
        return h.mean((-2, -1))


def pair_regressor(d, k):
    return nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d), nn.ReLU(), nn.Linear(d, k))


class Hypernet(nn.Module):
    def __init__(self, d, k):
        super().__init__()
        self.hypernet = nn.Sequential(nn.Linear(k, d * d, bias=False))
        self.d = d

    def forward(self, z, g):
        w = self.hypernet(g).view(-1, self.d, self.d)
        return torch.bmm(z.unsqueeze(1), w.transpose(1, 2)).squeeze(1)


class Sie(nn.Module):
    def __init__(self, rep, sizes):
        super().__init__()
        self.inv = rep // 2
        half = [int(np.round(s * 0.5)) for s in sizes]
        self.projector_inv = Projector(self.inv, half)
        self.projector_equi = Projector(rep - self.inv, half)
        self.predictor = Hypernet(half[-1], 4)


class Model(nn.Module):
    def __init__(self, width, sizes, classes):
        super().__init__()
        self.backbone = ResNet18(3, width)
        rep = self.backbone.output_dim
        self.method = Sie(rep, sizes)
        self.classifier = nn.Linear(rep, classes)
        self.rotation = pair_regressor(2 * rep, 4)
        self.classifier_inv = nn.Linear(self.method.inv, classes)
        self.rotation_equi = pair_regressor(2 * (rep - self.method.inv), 4)
        self.register_buffer("input_mean", torch.full((1, 3, 1, 1), 0.5))
        self.register_buffer("input_std", torch.full((1, 3, 1, 1), 0.25))


def variance(z, eps=1e-4):
    return F.relu(1 - torch.sqrt(z.var(0) + eps)).mean()


def covariance(z):
    zc = z - z.mean(0)
    c = zc.T @ zc / (z.shape[0] - 1)
    return (c.pow(2).sum() - c.diagonal().pow(2).sum()) / z.shape[1]


def sie_loss(m, y1, y2, g):
    k = m.inv
    zi1, zi2 = m.projector_inv(y1[:, :k]), m.projector_inv(y2[:, :k])
    ze1, ze2 = m.projector_equi(y1[:, k:]), m.projector_equi(y2[:, k:])
    pred = m.predictor(ze1, g)
    z1, z2 = torch.cat([zi1, ze1], 1), torch.cat([zi2, ze2], 1)
    return (10 * F.mse_loss(zi1, zi2) + 10 * 0.45 * F.mse_loss(pred, ze2)
            + 10 * (variance(z1) / 2 + variance(z2) / 2 + variance(pred) / 2) + covariance(z1) + covariance(z2))


def evaluator_loss(model, y1, y2, labels, q):
    y1, y2 = y1.detach(), y2.detach()
    both, lab = torch.cat([y1, y2]), torch.cat([labels, labels])
    k = model.method.inv
    return (F.cross_entropy(model.classifier(both), lab) + F.mse_loss(model.rotation(torch.cat([y1, y2], 1)), q)
            + F.cross_entropy(model.classifier_inv(both[:, :k]), lab)
            + F.mse_loss(model.rotation_equi(torch.cat([y1[:, k:], y2[:, k:]], 1)), q))


def peer(a, path):
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    f = h5py.File(path, "r")
    V = int(f.attrs["views"])
    images = torch.from_numpy(f["images"][:]).permute(0, 3, 1, 2).contiguous()  # (objects * V, 3, S, S) uint8
    factors = f["factors"][:]
    split, labels_all = f["split"][:], f["labels"][:]
    classes = len(f["classes"][:])
    train = np.flatnonzero(split == 0)
    labels = torch.from_numpy(labels_all.astype(np.int64))
    sizes = [int(s) for s in a.mlp.split("-")]
    model = Model(a.width, sizes, classes)
    x = images[: min(len(images), 8 * a.batch)].float() / 255
    model.input_mean.copy_(x.mean((0, 2, 3), keepdim=True))
    model.input_std.copy_(x.std((0, 2, 3), keepdim=True))
    decay = [p for p in model.parameters() if p.dim() > 1]
    plain = [p for p in model.parameters() if p.dim() <= 1]
    opt = torch.optim.Adam([dict(params=decay, weight_decay=1e-6), dict(params=plain, weight_decay=0.0)], lr=1e-3)
    rng = np.random.default_rng(0)
    spe = len(train) // a.batch
    rows, g, window_n = [], 0, 0
    window_t = time.perf_counter()
    model.train()
    for epoch in range(a.epochs):
        order = rng.permutation(train)
        for step in range(spe):
            objs = order[step * a.batch:(step + 1) * a.batch]
            v1 = rng.integers(0, V, len(objs))
            v2 = rng.integers(0, V - 1, len(objs))
            v2 = v2 + (v2 >= v1)
            r1, r2 = objs * V + v1, objs * V + v2
            q = torch.from_numpy((Rotation.from_euler("xyz", factors[r1, :3]).inv()
                                  * Rotation.from_euler("xyz", factors[r2, :3])).as_quat().astype(np.float32))
            x1 = (images[r1].float() / 255 - model.input_mean) / model.input_std
            x2 = (images[r2].float() / 255 - model.input_mean) / model.input_std
            y1, y2 = model.backbone(x1), model.backbone(x2)
            loss = sie_loss(model.method, y1, y2, q)
            total = loss + evaluator_loss(model, y1, y2, labels[objs], q)
            if not math.isfinite(total.item()):
                raise RuntimeError("peer: the loss diverged")
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            g += 1
            window_n += len(objs)
            if g % a.log_every == 0 or step + 1 == spe:
                now = time.perf_counter()
                rows.append((epoch, window_n / (now - window_t), 0.0))
                window_t, window_n = now, 0
    n_params = sum(p.numel() for p in model.parameters())
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    return rows, n_params, shapes


def jess(a, data):
    out = tempfile.mkdtemp(prefix="jess_sie_bench_")
    cmd = [JESS, "--threads", str(a.threads), "equivariance", "train", "--out", out, "--restart", f"data={data}",
           f"width={a.width}", f"batch={a.batch}", f"mlp={a.mlp}", f"train.epochs={a.epochs}", "train.plots=false",
           f"train.log_every={a.log_every}", "n_monitor=64"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, JESS_PROGRESS="0"))
    lines = [l for l in open(os.path.join(out, "steps.csv")).read().split("\n") if l]
    head = lines[0].split(",")
    ie, ir = head.index("epoch"), head.index("samples_per_s")
    rows = [(int(r.split(",")[ie]), float(r.split(",")[ir]), 0.0) for r in lines[1:]]
    state = torch.load(os.path.join(out, "checkpoint.pt"))["model"]
    n_params = sum(v.numel() for k, v in state.items() if not k.endswith(BUFFERS))
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    return rows, n_params, shapes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="a rendered dataset folder with dataset.h5 (default: render one)")
    ap.add_argument("--objects", type=int, default=24, help="objects per class when rendering (all 14 classes)")
    ap.add_argument("--views", type=int, default=10)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--mlp", default="1024-1024-1024")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--log-every", type=int, default=4)
    a = ap.parse_args()
    if a.epochs < 2:
        ap.error("--epochs must be at least 2 (the first epoch is warm-up)")
    data = a.data
    if not data:
        data = os.path.join(tempfile.mkdtemp(prefix="jess_sie_data_"), "ie")
        subprocess.run([JESS, "render", "dataset", "--out", data, f"objects_per_class={a.objects}",
                        f"views_per_object={a.views}", f"image_size={a.size}", "layout=packed", "val_fraction=0.2"],
                       check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, JESS_PROGRESS="0"))
    h5 = os.path.join(data, "dataset.h5") if os.path.isdir(data) else data
    with h5py.File(h5, "r") as f:
        size, n_obj = int(f.attrs["image_size"]), int((f["split"][:] == 0).sum())
    jrows, jn, jshapes = jess(a, data)
    prows, pn, pshapes = peer(a, h5)
    jr, _, jk = summarise(jrows, a.batch)
    pr, _, pk = summarise(prows, a.batch)
    same = jshapes == pshapes
    core = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    print(f"SIE training ({n_obj} training objects of {h5}, {size}x{size}, {a.epochs} epochs, batch {a.batch} pairs): "
          f"ResNet-18 width {a.width} ({8 * a.width}-d), projectors {a.mlp} x 1/2, hypernetwork predictor, online "
          f"evaluator, Adam; {a.threads} threads, OPENBLAS_CORETYPE={core}, torch {torch.__version__}; parameters jess "
          f"{jn:,}, peer {pn:,} (state_dict names and shapes {'identical' if same else 'DIFFERENT'})\n")
    print("| implementation | pairs/s | images/s | speed-up |")
    print("|---|---|---|---|")
    print(f"| jess (C++ LibTorch, prefetching loader) | {jr:.1f} | {2 * jr:.1f} | {jr / pr:.2f}x |")
    print(f"| Python PyTorch peer (h5py tensor, scipy quaternions) | {pr:.1f} | {2 * pr:.1f} | 1.00x |")
    print(f"\nMedians over {jk} (jess) and {pk} (peer) logging windows of {a.log_every} steps (epochs 2-{a.epochs}).")
    if not same:
        diff = sorted(set(jshapes.items()) ^ set(pshapes.items()))
        print(f"- warning: state_dict entries differ: {diff[:6]}")


if __name__ == "__main__":
    main()
