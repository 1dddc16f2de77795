#!/usr/bin/env python3
"""Can a trivial statistic tell the rendered classes apart? Linear probes (multinomial logistic
regression, scikit-learn) on raw pixels, on colour histograms and on the mean colour of the images of
a `jess render dataset` packed file, trained on the train objects' views and tested on the val
objects' (unseen instances). Prints a Markdown table with chance level; the SSL results of the
equivariance work go next to it.

  experiments/render_trivial_probes.py DATASET_DIR_OR_H5 [--max-views N]
"""
import argparse
import os
import sys

import h5py
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


def load(path, max_views):
    f = h5py.File(os.path.join(path, "dataset.h5") if os.path.isdir(path) else path, "r")
    V = int(f.attrs["views"])
    labels, split = f["labels"][:], f["split"][:]
    take = min(V, max_views)
    rows = np.concatenate([np.arange(o * V, o * V + take) for o in range(len(labels))])
    images = f["images"][np.sort(rows)]
    y = np.repeat(labels, take)
    s = np.repeat(split, take)
    classes = [c.decode() if isinstance(c, bytes) else c for c in f["classes"][:]]
    return images, y, s, classes


def features(images):
    n, S = images.shape[0], images.shape[1]
    step = max(1, S // 32)
    pixels = images[:, ::step, ::step, :].reshape(n, -1).astype(np.float32) / 255
    q = (images // 32).astype(np.int32)  # 8 levels per channel -> 512 joint RGB bins
    idx = (q[..., 0] * 64 + q[..., 1] * 8 + q[..., 2]).reshape(n, -1)
    hist = np.stack([np.bincount(r, minlength=512) for r in idx]).astype(np.float32) / idx.shape[1]
    mean = images.reshape(n, -1, 3).mean(1).astype(np.float32) / 255
    return {"raw pixels (32x32x3)": pixels, "RGB histogram (512 bins)": hist, "mean colour (3)": mean}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--max-views", type=int, default=10, help="views per object used")
    args = ap.parse_args()
    images, y, split, classes = load(args.data, args.max_views)
    train, test = split == 0, split == 1
    if not test.any():
        sys.exit("the dataset has no val objects (val_fraction = 0)")
    print(f"{len(classes)} classes, {train.sum()} train / {test.sum()} val images "
          f"({len(np.unique(y[train]))} classes seen), {images.shape[1]}^2\n")
    print("| features | val accuracy (unseen objects) | train accuracy |\n|---|---|---|")
    for name, x in features(images).items():
        scaler = StandardScaler().fit(x[train])
        clf = LogisticRegression(max_iter=2000, C=1.0).fit(scaler.transform(x[train]), y[train])
        acc = (clf.predict(scaler.transform(x[test])) == y[test]).mean()
        tr = (clf.predict(scaler.transform(x[train])) == y[train]).mean()
        print(f"| {name} | {100 * acc:.1f} % | {100 * tr:.1f} % |")
    print(f"| chance (most frequent class) | {100 * np.bincount(y[test]).max() / test.sum():.1f} % | |")


if __name__ == "__main__":
    main()
