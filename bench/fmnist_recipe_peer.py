#!/usr/bin/env python3
"""The accuracy floor of issue 22: the simplest plain-PyTorch VICReg / SimCLR recipe on full Fashion-MNIST,
evaluated by exactly jess's protocol, so that jess's shipped recipes can be held against it.

The minimal recipe (what a researcher writes in an afternoon; no jess code or settings):
- network: a 3x3 stem of 32 channels and three stages of one BasicBlock (32, 64, 128 channels; strides 1, 2, 2),
  global average pooling -> a 128-d representation; projector Linear-BN-ReLU 512, 512, then Linear 512;
- views: RandomResizedCrop(28, scale 0.3-1), horizontal flip, brightness/contrast jitter 0.4 with p = 0.8,
  additive Gaussian noise (std 0.05, clipped), no blur, no solarisation; inputs standardised;
- loss: VICReg 25/25/1 or SimCLR NT-Xent at temperature 0.2;
- optimiser: Adam, lr 1e-3, weight decay 1e-6, constant rate; batch 256, --epochs epochs over all 60,000 images.

Evaluation: the frozen 128-d representation of the un-augmented train (60,000) and test (10,000) images is
written as .npy and judged by `jess eval probe` (L-BFGS logistic regression, weight decay chosen on a
validation split) and `jess eval knn` (k = 20, T = 0.07) — the protocol of
`jess vision eval RUN --n-train 0 --n-test 0 --representation-only`.

Usage: bench/run.sh recipe-peer [--method vicreg|simclr] [--epochs 4] [--seed 0] [--threads T] [--out DIR]
Prints the linear and k-NN top-1 and the wall time.
"""
import argparse, json, os, subprocess, sys, tempfile, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vision_train_bench import JESS, BasicBlock, Projector, kaiming, nt_xent, read_idx, vicreg  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"


def load(split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(DATA, f"{prefix}-images-idx3-ubyte.gz"), 16).reshape(-1, 1, 28, 28)
    y = read_idx(os.path.join(DATA, f"{prefix}-labels-idx1-ubyte.gz"), 8)
    return torch.from_numpy(x.copy()), torch.from_numpy(y.astype(np.int64))


class SmallResNet(nn.Module):
    def __init__(self, width=32):
        super().__init__()
        self.stem = nn.Sequential(kaiming(nn.Conv2d(1, width, 3, 1, 1, bias=False)), nn.BatchNorm2d(width), nn.ReLU())
        self.stages = nn.Sequential(BasicBlock(width, width, 1), BasicBlock(width, 2 * width, 2),
                                    BasicBlock(2 * width, 4 * width, 2))
        self.output_dim = 4 * width

    def forward(self, x):
        return self.stages(self.stem(x)).mean((-2, -1))


def views(x, generator):
    """One augmented view of a uint8 batch (B, 1, 28, 28) -> float in [0, 1], batched on tensors."""
    b = x.shape[0]
    x = x.float() / 255
    area = torch.empty(b).uniform_(0.3, 1.0, generator=generator)
    log_ratio = torch.empty(b).uniform_(np.log(3 / 4), np.log(4 / 3), generator=generator)
    w = torch.sqrt(area * torch.exp(log_ratio)).clamp(max=1.0)
    h = torch.sqrt(area / torch.exp(log_ratio)).clamp(max=1.0)
    cx = (torch.rand(b, generator=generator) * 2 - 1) * (1 - w)
    cy = (torch.rand(b, generator=generator) * 2 - 1) * (1 - h)
    flip = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = w * flip, cx, h, cy
    x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), align_corners=False,
                      padding_mode="border")
    jitter = (torch.rand(b, 1, 1, 1, generator=generator) < 0.8).float()
    bright = 1 + jitter * torch.empty(b, 1, 1, 1).uniform_(-0.4, 0.4, generator=generator)
    contrast = 1 + jitter * torch.empty(b, 1, 1, 1).uniform_(-0.4, 0.4, generator=generator)
    x = (x * bright).clamp(0, 1)
    m = x.mean((1, 2, 3), keepdim=True)
    x = ((x - m) * contrast + m).clamp(0, 1)
    return (x + 0.05 * torch.randn(x.shape, generator=generator)).clamp(0, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", choices=["vicreg", "simclr"], default="vicreg")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--n", type=int, default=0, help="training images (0: all 60,000; fewer for a smoke test)")
    ap.add_argument("--out", default="", help="folder for the embeddings and results (default: a temporary one)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    out = a.out or tempfile.mkdtemp(prefix="jess_recipe_peer_")
    os.makedirs(out, exist_ok=True)
    xtr, ytr = load("train")
    if a.n:
        xtr, ytr = xtr[:a.n], ytr[:a.n]
    xte, yte = load("test")
    mean, std = (xtr.float() / 255).mean().item(), (xtr.float() / 255).std().item()
    net = SmallResNet()
    proj = Projector(net.output_dim, [512, 512, 512])
    params = list(net.parameters()) + list(proj.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, weight_decay=1e-6)
    loss_fn = vicreg if a.method == "vicreg" else (lambda p, q: nt_xent(p, q, temperature=0.2))
    batch, n = 256, xtr.shape[0]
    start = time.perf_counter()
    for epoch in range(a.epochs):
        perm = torch.randperm(n, generator=gen)
        total, steps = 0.0, n // batch
        for s in range(steps):
            x = xtr[perm[s * batch:(s + 1) * batch]]
            v1, v2 = ((views(x, gen) - mean) / std), ((views(x, gen) - mean) / std)
            loss = loss_fn(proj(net(v1)), proj(net(v2)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
        print(f"epoch {epoch + 1}/{a.epochs}: loss {total / steps:.4f} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    train_s = time.perf_counter() - start
    net.eval()
    with torch.no_grad():
        for name, x, y in (("train", xtr, ytr), ("test", xte, yte)):
            f = torch.cat([net((x[i:i + 1000].float() / 255 - mean) / std) for i in range(0, x.shape[0], 1000)])
            np.save(os.path.join(out, f"{name}_features.npy"), f.numpy().astype(np.float32))
            np.save(os.path.join(out, f"{name}_labels.npy"), y.numpy())
    files = ["--train", os.path.join(out, "train_features.npy"), os.path.join(out, "train_labels.npy"),
             "--test", os.path.join(out, "test_features.npy"), os.path.join(out, "test_labels.npy")]
    probe = json.loads(subprocess.run([JESS, "eval", "probe", *files, "--seeds", "1", "--json"], check=True, capture_output=True, text=True).stdout)
    knn = json.loads(subprocess.run([JESS, "eval", "knn", *files, "--k", "20", "--json"], check=True, capture_output=True, text=True).stdout)
    result = dict(method=a.method, epochs=a.epochs, seed=a.seed, train_seconds=train_s, probe=probe, knn=knn)
    json.dump(result, open(os.path.join(out, "result.json"), "w"), indent=1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
