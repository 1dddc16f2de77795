"""RankMe (label-free) and a linear probe of a torchvision model's features, with jess's kernels.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/rankme_torchvision.py
Reads Debian's Fashion-MNIST (dataset-fashion-mnist); the ResNet-18 is randomly initialised (no
downloads here): swap in your trained model.
"""
import gzip

import numpy as np
import torch
import torchvision

import jess

ROOT = "/usr/share/datasets/fashion-mnist/"


def idx(name, offset):
    with gzip.open(ROOT + name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


n = 2000
images = torch.from_numpy(idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)[:n].copy()).float() / 255
labels = torch.from_numpy(idx("train-labels-idx1-ubyte.gz", 8)[:n].astype(np.int64))
torch.manual_seed(0)
model = torchvision.models.resnet18(num_classes=10)
model.fc = torch.nn.Identity()
model.eval()
with torch.no_grad():
    features = torch.cat([model(images[i:i + 250].expand(-1, 3, -1, -1)) for i in range(0, n, 250)])
print(f"RankMe {jess.eval.rankme(features):.1f} of {features.shape[1]}, numerical rank {jess.eval.numerical_rank(features)}")
probe = jess.eval.linear_probe(features[:1500], labels[:1500], features[1500:], labels[1500:])
print(f"linear probe top-1 {100 * probe['top1']:.1f} % (weight decay {probe['weight_decay']:g})")
print("k-NN:", {k: round(100 * v["top1"], 1) for k, v in jess.eval.knn(features[:1500], labels[:1500], features[1500:], labels[1500:]).items()})
