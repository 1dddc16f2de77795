#!/usr/bin/env python3
"""DTAE end to end on the synthetic PHATE-style tree: jess against a Python PyTorch peer of the same
algorithm (Debian's python3-numpy, python3-scipy 1.10 and python3-torch 1.13), in the same run, with
the same thread count.

The peer is a plain re-implementation of the method as the research brief describes it
(shared/reference/dtae_robust.md, sections A.1-A.4 and A.7), not the reference repository's code:

  1. k-means in NumPy float64, as sklearn's KMeans(n_clusters=K) with its defaults: greedy k-means++
     (2 + floor(log K) candidates per centre, the one lowering the potential most is kept), 10 restarts
     (the lowest inertia wins), Lloyd with distances ||x||^2 - 2 x.c + ||c||^2, stop on unchanged labels
     or when the summed squared centroid shift <= 1e-4 * mean feature variance, at most 300 iterations,
     empty clusters re-seeded by the farthest points. (scipy.cluster.vq.kmeans2(minit='++') is not used:
     its ++ seeding is not greedy and it runs a fixed number of iterations without a tolerance.)
  2. The density tree: every point's two nearest centroids, counts per pair, complete graph with weights
     1/count (2 for pairs no point has), scipy.sparse.csgraph.minimum_spanning_tree, a ghost
     g = c + 0.1 (c - c_neighbour) at every leaf, the pairs of the leaves' points recomputed among the
     K + L centroids, hop counts by csgraph.shortest_path(unweighted=True), triplets at the original
     vertices of degree 2.
  3. The autoencoder 100-32-2-32-100 (ReLU between layers, linear bottleneck and output) after
     torch.manual_seed, pretrained on the MSE with Adam (lr 1e-3) on shuffled mini-batches of 256
     (torch.randperm + indexing each epoch: the cheap idiom, not a DataLoader), 150 epochs.
  4. Fine-tuning: a fresh Adam (lr 0.01), 150 full-batch steps of
     w_pp (mean push-pull + mean crispness) + MSE + w_cos mean cosine, with low-dim centroids as cluster
     means (index_add), low-dim ghosts at r = 0.5, d(p, q) = sqrt(max(1e-6, |p - q|^2)), the current two
     nearest low-dim centroids chosen without gradient (topk), push-pull weighted by the hops G[a', b'].

jess runs `build/jess --threads T cells dtae synthetic --out DIR baselines= ...` (the same keys set
explicitly) with JESS_PROGRESS=0. The peer reads the same data, written by `jess cells synthetic`, and
runs in a child process of its own, so both sides' whole-process wall times include interpreter or
program start-up. Rows: jess's stage times from its metrics.json; the peer's from time.perf_counter.

Usage: bench/run.sh cells [--branches 10] [--cells-per-branch 1000] [--dims 100] [--clusters 50]
                          [--pretrain-epochs 150] [--finetune-steps 150] [--threads N] [--seed 0]
Prints one Markdown table (stage | jess seconds | Python peer seconds | speed-up) and both sides'
tree-consistency rates.

Controlled comparison (--swap [--seeds 0,1,2]): per seed, jess and the peer end to end (both write their
tree as k-means clusters + the derived arrays, and their initial, pretrained and final weights, in the
layout of jess's OUT/tree/ and OUT/weights_*.npy), then the six other combinations of {tree, pretrained
weights, fine-tuning} taken from jess or the peer (jess: tree.load=, dtae.pretrained_weights=; the peer:
--tree-from, --pretrained-from; the fine-tuning side rebuilds tree steps 2-8 from the other's clusters),
and jess pretrained from the peer's initialisation and torch.randperm batch order (dtae.pretrain_order=).
Prints the consistency table (mean ± sample std) and per-seed checks: both metrics on one embedding, both
trees from one set of clusters, the two initialisations. --end-to-end: only the two end-to-end runs.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JESS = os.path.join(ROOT, "build", "jess")
from malloc_env import glibc_tunables  # noqa: E402 (this script's directory is on sys.path)
TUNABLES = glibc_tunables()  # what jess sets for itself


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--branches", type=int, default=10)
    ap.add_argument("--cells-per-branch", type=int, default=1000)
    ap.add_argument("--dims", type=int, default=100)
    ap.add_argument("--clusters", type=int, default=50)
    ap.add_argument("--restarts", type=int, default=10, help="k-means++ restarts")
    ap.add_argument("--hidden", default="32", help="encoder hidden sizes joined by '-' (decoder mirrored)")
    ap.add_argument("--pretrain-epochs", type=int, default=150)
    ap.add_argument("--finetune-steps", type=int, default=150)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jess", default=JESS, help="the jess binary")
    ap.add_argument("--jess-arg", action="append", default=[], metavar="KEY=VALUE",
                    help="extra key=value for the jess run (repeatable; after the bench's own keys)")
    ap.add_argument("--keep", metavar="DIR", help="keep the data, jess's output and the peer's embedding in DIR")
    ap.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    # Internal: the peer alone, in a child process (or by hand, e.g. before build/jess has `cells`).
    ap.add_argument("--peer-only", action="store_true",
                    help="run only the Python peer, on --data (or on its own NumPy tree when --data is not given)")
    ap.add_argument("--data", help="cells x features .npy for --peer-only")
    ap.add_argument("--peer-out", help="--peer-only: write the peer's timings as JSON here")
    # Controlled comparisons: start either side from the other's tree and weights (see --swap).
    ap.add_argument("--tree-from", metavar="DIR", help="--peer-only: build the tree from the clusters in DIR "
                    "(kmeans_centroids.npy, labels.npy: jess's OUT/tree/) instead of running k-means")
    ap.add_argument("--init-from", metavar="NPY", help="--peer-only: initial weights (jess's weights_init.npy)")
    ap.add_argument("--pretrained-from", metavar="NPY",
                    help="--peer-only: skip pretraining, fine-tune from these weights (weights_pretrained.npy)")
    ap.add_argument("--order-out", metavar="NPY",
                    help="--peer-only: write the pretraining batch orders (epochs x cells; jess's dtae.pretrain_order=)")
    ap.add_argument("--out-dir", metavar="DIR", help="--peer-only: write tree/, weights_*.npy, dtae.npy, ae.npy, "
                    "peer.json in jess's layout")
    ap.add_argument("--score", nargs=2, metavar=("TREE_DIR", "EMB_NPY"),
                    help="only print the peer's tree consistency of an n x 2 embedding against a stored tree")
    ap.add_argument("--swap", action="store_true",
                    help="the stage-swap table: tree, pretrained weights and fine-tuning from jess or the peer, "
                         "in all 8 combinations, per seed of --seeds")
    ap.add_argument("--seeds", default="0,1,2", help="--swap: seeds, comma-separated")
    ap.add_argument("--end-to-end", action="store_true", help="--swap: only the two end-to-end runs per seed")
    return ap.parse_args(argv)


A = parse_args()

# The peer gets the allocator and thread settings jess applies to itself (OMP_NUM_THREADS also sizes
# OpenBLAS-openmp in NumPy); bench/run.sh exports them, this covers a direct call. Set before NumPy and
# torch are imported, hence the re-exec. OPENBLAS_CORETYPE is recorded, never changed.
if os.environ.get("OMP_NUM_THREADS") != str(A.threads) or os.environ.get("GLIBC_TUNABLES") != TUNABLES:
    if os.environ.get("JESS_CELLS_BENCH_REEXEC"):
        sys.exit("cells_bench: could not set OMP_NUM_THREADS / GLIBC_TUNABLES")
    env = dict(os.environ, OMP_NUM_THREADS=str(A.threads), GLIBC_TUNABLES=TUNABLES, JESS_CELLS_BENCH_REEXEC="1")
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from scipy.sparse import csgraph  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


# ---------------------------------------------------------------------------------------------- k-means

def sq_dist(x, x_sq, c):
    """Squared distances of the rows of x to the rows of c by ||x||^2 - 2 x.c + ||c||^2, clamped at 0."""
    d = x_sq[:, None] - 2.0 * (x @ c.T) + np.einsum("ij,ij->i", c, c)[None, :]
    np.maximum(d, 0.0, out=d)
    return d


def kmeans_plusplus(x, x_sq, k, rng):
    """Greedy k-means++ (sklearn's _kmeans_plusplus): indices of the chosen points."""
    n = x.shape[0]
    trials = 2 + int(np.log(k))
    chosen = [rng.randint(n)]
    closest = sq_dist(x, x_sq, x[chosen[0]][None])[:, 0]
    closest[chosen[0]] = 0.0
    potential = closest.sum()
    for _ in range(1, k):
        r = rng.uniform(size=trials) * potential
        cand = np.minimum(np.searchsorted(np.cumsum(closest), r), n - 1)
        d = np.minimum(closest[None, :], sq_dist(x, x_sq, x[cand]).T)  # trials x n
        d[np.arange(trials), cand] = 0.0
        pots = d.sum(1)
        best = int(np.argmin(pots))
        chosen.append(int(cand[best]))
        closest, potential = d[best], pots[best]
    return np.array(chosen)


def update_centroids(x, old, labels, dist):
    k = old.shape[0]
    counts = np.bincount(labels, minlength=k)
    onehot = sp.csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(k, len(labels)))
    sums = np.asarray(onehot @ x)
    empty = np.flatnonzero(counts == 0)
    if len(empty):  # sklearn's _relocate_empty_clusters: the farthest points become the empty centres
        far = np.argsort(-dist, kind="stable")[: len(empty)]
        for to, i in zip(empty, far):
            sums[labels[i]] -= x[i]
            counts[labels[i]] -= 1
            sums[to] = x[i]
            counts[to] = 1
    out = old.copy()
    nz = counts > 0
    out[nz] = sums[nz] / counts[nz, None]
    return out


def lloyd(x, x_sq, centroids, max_iter, tol_abs):
    previous = None
    strict = False
    for _ in range(max_iter):
        d = sq_dist(x, x_sq, centroids)
        labels = d.argmin(1)
        updated = update_centroids(x, centroids, labels, d[np.arange(len(labels)), labels])
        shift = ((updated - centroids) ** 2).sum()
        centroids = updated
        if previous is not None and np.array_equal(labels, previous):
            strict = True
            break
        if shift <= tol_abs:
            break
        previous = labels
    if not strict:
        labels = sq_dist(x, x_sq, centroids).argmin(1)
    inertia = ((x - centroids[labels]) ** 2).sum()
    return centroids, labels, inertia


def kmeans(x, k, n_init, seed, max_iter=300, tol=1e-4):
    rng = np.random.RandomState(seed)
    x_sq = np.einsum("ij,ij->i", x, x)
    tol_abs = tol * x.var(0).mean()
    best = None
    for _ in range(n_init):
        start = x[kmeans_plusplus(x, x_sq, k, rng)]
        run = lloyd(x, x_sq, start, max_iter, tol_abs)
        if best is None or run[2] < best[2]:
            best = run
    return best


# ---------------------------------------------------------------------------------------------- density tree

def two_nearest(x, x_sq, c):
    """Sorted pair (min id, max id) of every row's two nearest rows of c."""
    idx = np.argpartition(sq_dist(x, x_sq, c), 1, axis=1)[:, :2]
    return np.sort(idx, axis=1)


def density_tree(x, k, n_init, seed):
    centroids, labels, _ = kmeans(x, k, n_init, seed)
    return tree_from_clusters(x, centroids, labels)


def tree_from_clusters(x, centroids, labels):
    """Steps 2-8 of the density tree from given k-means centroids (K x d) and labels."""
    k = centroids.shape[0]
    x_sq = np.einsum("ij,ij->i", x, x)
    pairs = two_nearest(x, x_sq, centroids)
    codes, counts = np.unique(pairs[:, 0] * k + pairs[:, 1], return_counts=True)
    w = np.full((k, k), 2.0)
    w[codes // k, codes % k] = 1.0 / counts
    w = np.triu(w, 1)                      # zeros (diagonal, lower half) are "no edge" for csgraph
    mst = csgraph.minimum_spanning_tree(sp.csr_matrix(w)).tocoo()
    edges = [(min(u, v), max(u, v)) for u, v in zip(mst.row, mst.col)]
    degree = np.bincount(np.array(edges).ravel(), minlength=k)
    leaves = np.flatnonzero(degree == 1)
    neighbour = {}
    for u, v in edges:
        if degree[u] == 1:
            neighbour[u] = v
        if degree[v] == 1:
            neighbour[v] = u
    leaf_nbr = np.array([neighbour[l] for l in leaves], dtype=np.int64)
    ghosts = centroids[leaves] + 0.1 * (centroids[leaves] - centroids[leaf_nbr])
    all_c = np.vstack([centroids, ghosts])
    n_v = k + len(leaves)
    edges += [(int(l), k + g) for g, l in enumerate(leaves)]
    on_leaf = np.isin(labels, leaves)
    pairs[on_leaf] = two_nearest(x[on_leaf], x_sq[on_leaf], all_c)
    e = np.array(edges)
    adj = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n_v, n_v)).tocsr()
    adj = adj + adj.T
    hops = csgraph.shortest_path(adj, directed=False, unweighted=True)
    triplets = []
    for i in range(k):
        nb = adj.indices[adj.indptr[i]:adj.indptr[i + 1]]
        if len(nb) == 2:
            a, b = sorted(int(v) for v in nb)
            triplets.append((a, i, b))
    return dict(labels=labels, pairs=pairs, hops=hops, leaves=leaves, leaf_nbr=leaf_nbr,
                triplets=np.array(triplets, dtype=np.int64).reshape(-1, 3), k=k, n_v=n_v,
                kmeans_centroids=centroids, centroids=all_c, edges=edges)


def write_tree(tree, folder):
    """The tree in the layout of jess's OUT/tree/ (float64 .npy files)."""
    os.makedirs(folder, exist_ok=True)
    k = tree["k"]
    edges = np.array([(u, v, 1.0 if v >= k else 0.0) for u, v in sorted(e for e in tree["edges"] if e[1] < k)]
                     + [(u, v, 1.0) for u, v in tree["edges"] if v >= k], dtype=np.float64).reshape(-1, 3)
    for name, value in (("kmeans_centroids", tree["kmeans_centroids"]), ("centroids", tree["centroids"]),
                        ("labels", tree["labels"]), ("pairs", tree["pairs"]), ("hops", tree["hops"]),
                        ("ghost_leaf", tree["leaves"]), ("triplets", tree["triplets"]), ("edges", edges)):
        np.save(os.path.join(folder, name + ".npy"), np.asarray(value, dtype=np.float64))


def read_clusters(folder):
    """k-means centroids and labels from a tree folder (jess's OUT/tree/ or the peer's)."""
    return (np.load(os.path.join(folder, "kmeans_centroids.npy")),
            np.load(os.path.join(folder, "labels.npy")).astype(np.int64))


def read_tree(folder):
    """A tree folder as stored (no recomputation): what the metric needs."""
    t = {n: np.load(os.path.join(folder, n + ".npy")) for n in ("labels", "pairs", "hops", "ghost_leaf", "edges")}
    k = int(np.load(os.path.join(folder, "kmeans_centroids.npy")).shape[0])
    nbr = {}
    for u, v, ghost in t["edges"].astype(np.int64):
        if not ghost:
            nbr.setdefault(u, []).append(v)
            nbr.setdefault(v, []).append(u)
    leaves = t["ghost_leaf"].astype(np.int64)
    return dict(k=k, labels=t["labels"].astype(np.int64), pairs=t["pairs"].astype(np.int64),
                hops=t["hops"], leaves=leaves, leaf_nbr=np.array([nbr[l][0] for l in leaves], dtype=np.int64),
                triplets=np.load(os.path.join(folder, "triplets.npy")).astype(np.int64).reshape(-1, 3))


def compare_trees(mine, folder):
    """Does the tree stored in `folder` (built by the other side from the same clusters) equal `mine`?"""
    other = read_tree(folder)
    trip = other["triplets"]
    return dict(pairs_differ=int((other["pairs"] != mine["pairs"]).any(1).sum()),
                hops_equal=bool(other["hops"].shape == mine["hops"].shape and (other["hops"] == mine["hops"]).all()),
                leaves_equal=bool(np.array_equal(other["leaves"], mine["leaves"])
                                  and np.array_equal(other["leaf_nbr"], mine["leaf_nbr"])),
                triplets_equal=bool(np.array_equal(trip, mine["triplets"])))


# ---------------------------------------------------------------------------------------------- autoencoder

class AE(nn.Module):
    def __init__(self, dims):
        super().__init__()
        enc, dec = [], []
        for i in range(len(dims) - 1):
            enc.append(nn.Linear(dims[i], dims[i + 1]))
            if i + 2 < len(dims):
                enc.append(nn.ReLU())
        for i in reversed(range(len(dims) - 1)):
            dec.append(nn.Linear(dims[i + 1], dims[i]))
            if i > 0:
                dec.append(nn.ReLU())
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)

    def forward(self, x):
        e = self.encoder(x)
        return e, self.decoder(e)


def pretrain(model, x, epochs, lr=1e-3, batch=256, orders=None):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = x.shape[0]
    curve = []
    for _ in range(epochs):
        perm = torch.randperm(n)
        if orders is not None:  # recorded for --order-out
            orders.append(perm.numpy().copy())
        total = 0.0
        for s in range(0, n, batch):
            xb = x[perm[s:s + batch]]
            loss = F.mse_loss(model(xb)[1], xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
        curve.append(total / n)
    return curve


def safe_dist(p, q):
    return torch.sqrt(torch.clamp(((p - q) ** 2).sum(-1), min=1e-6))


def finetune(model, x, tree, steps, lr=0.01, w_pp=1.0, w_cos=15.0, r=0.5):
    k = tree["k"]
    labels = torch.from_numpy(tree["labels"]).long()
    sizes = torch.bincount(labels, minlength=k).float()[:, None]
    pa = torch.from_numpy(tree["pairs"][:, 0]).long()
    pb = torch.from_numpy(tree["pairs"][:, 1]).long()
    hops = torch.from_numpy(tree["hops"]).float()
    leaves = torch.from_numpy(tree["leaves"]).long()
    leaf_nbr = torch.from_numpy(tree["leaf_nbr"]).long()
    ta, ti, tb = (torch.from_numpy(tree["triplets"][:, j]).long() for j in range(3))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    curve = []
    for _ in range(steps):
        e, rec = model(x)
        c = torch.zeros(k, e.shape[1]).index_add(0, labels, e) / sizes
        c = torch.cat([c, c[leaves] + r * (c[leaves] - c[leaf_nbr])], 0)
        ca, cb = c[pa], c[pb]
        nu = safe_dist(ca, cb)
        crisp = ((safe_dist(ca, e) + safe_dist(cb, e)) / nu) ** 2
        with torch.no_grad():
            near = ((e[:, None, :] - c[None, :, :]) ** 2).sum(-1).topk(2, dim=1, largest=False).indices
            a2, b2 = near.min(1).values, near.max(1).values
        current = ((safe_dist(c[a2], e) + safe_dist(c[b2], e)) / nu) ** 2
        push_pull = hops[a2, b2] * (crisp - current)
        if len(ti):
            cosine = (1 - F.cosine_similarity(c[ti] - c[ta], c[tb] - c[ti], dim=1, eps=1e-8)).mean()
        else:
            cosine = torch.zeros(())
        loss = w_pp * (push_pull.mean() + crisp.mean()) + F.mse_loss(rec, x) + w_cos * cosine
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
    return curve


def tree_consistency(emb, tree, r=0.5):
    """Fraction of points whose two nearest low-dim centroids (ghosts at r included) equal their pair."""
    k = tree["k"]
    c = np.zeros((k, emb.shape[1]))
    np.add.at(c, tree["labels"], emb)
    c /= np.bincount(tree["labels"], minlength=k)[:, None]
    lv = tree["leaves"]
    c = np.vstack([c, c[lv] + r * (c[lv] - c[tree["leaf_nbr"]])])
    d = ((emb[:, None, :] - c[None]) ** 2).sum(-1)
    near = np.sort(np.argsort(d, axis=1, kind="stable")[:, :2], axis=1)
    return float((near == tree["pairs"]).all(1).mean())


def numpy_tree(branches, length, dims, seed, sigma=4.0):
    """A PHATE gen_dla-style tree (only for --peer-only without --data): branch 0 a random walk of
    uniform [-1, 1) steps, every other branch a walk starting at a random point of branch 0, Gaussian
    noise, one global min-max scaling."""
    rng = np.random.RandomState(seed + 37)
    m = np.cumsum(-1 + 2 * rng.rand(length, dims), 0)
    parts = [m]
    for _ in range(1, branches):
        at = rng.randint(length)
        parts.append(np.cumsum(-1 + 2 * rng.rand(length, dims), 0) + m[at])
    x = np.vstack(parts) + rng.normal(0, sigma, (branches * length, dims))
    x -= x.min()
    return x / x.max()


def flat_weights(model):
    """All parameters in one float32 vector, in jess's weights_*.npy layout (per Linear: weight, bias)."""
    return torch.cat([p.detach().flatten() for p in model.parameters()]).numpy().astype(np.float32)


def load_flat_weights(model, path):
    flat = torch.from_numpy(np.load(path).astype(np.float32))
    total = sum(p.numel() for p in model.parameters())
    if flat.numel() != total:
        sys.exit(f"cells_bench: {path} holds {flat.numel()} values, the autoencoder has {total} parameters")
    with torch.no_grad():
        offset = 0
        for p in model.parameters():
            p.copy_(flat[offset:offset + p.numel()].view_as(p))
            offset += p.numel()


def run_peer(a):
    for folder in (a.out_dir, os.path.dirname(a.order_out or "")):
        if folder:
            os.makedirs(folder, exist_ok=True)
    t_start = time.perf_counter()
    torch.set_num_threads(a.threads)
    if a.data:
        x = np.load(a.data).astype(np.float64)
    else:
        x = numpy_tree(a.branches, a.cells_per_branch, a.dims, a.seed)
    t_load = time.perf_counter()
    if a.tree_from:  # the other side's clusters, the peer's own steps 2-8
        tree = tree_from_clusters(x, *read_clusters(a.tree_from))
    else:
        tree = density_tree(x, a.clusters, a.restarts, a.seed)
    t_tree = time.perf_counter()
    torch.manual_seed(a.seed)
    dims = [x.shape[1]] + [int(h) for h in a.hidden.split("-") if h] + [2]
    model = AE(dims)
    if a.init_from:
        load_flat_weights(model, a.init_from)
    w_init = flat_weights(model)
    xt = torch.from_numpy(x.astype(np.float32))
    if a.pretrained_from:
        load_flat_weights(model, a.pretrained_from)
        pre = [float("nan")]
    else:
        orders = [] if a.order_out else None
        pre = pretrain(model, xt, a.pretrain_epochs, orders=orders)
        if a.order_out:
            np.save(a.order_out, np.stack(orders).astype(np.int64))
    w_pre = flat_weights(model)
    with torch.no_grad():
        emb_pre = model(xt)[0].double().numpy()
    t_pre = time.perf_counter()
    fine = finetune(model, xt, tree, a.finetune_steps)
    with torch.no_grad():
        emb = model(xt)[0].double().numpy()
    t_fine = time.perf_counter()
    res = dict(cells=int(x.shape[0]), features=int(x.shape[1]), clusters=tree["k"], leaves=int(len(tree["leaves"])),
               load_seconds=t_load - t_start, tree_seconds=t_tree - t_load, pretrain_seconds=t_pre - t_tree,
               finetune_seconds=t_fine - t_pre, dtae_seconds=t_fine - t_load,
               consistency=tree_consistency(emb, tree), pretrained_consistency=tree_consistency(emb_pre, tree),
               pretrain_mse=pre[-1], finetune_loss=fine[-1],
               inertia=float(((x - tree["kmeans_centroids"][tree["labels"]]) ** 2).sum()))
    if a.tree_from and os.path.exists(os.path.join(a.tree_from, "pairs.npy")):
        res["tree_check"] = compare_trees(tree, a.tree_from)
    if a.keep:
        np.save(os.path.join(a.keep, "peer_dtae.npy"), emb)
    if a.out_dir:  # jess's output layout: tree/, weights_*.npy, dtae.npy, ae.npy
        write_tree(tree, os.path.join(a.out_dir, "tree"))
        for name, w in (("init", w_init), ("pretrained", w_pre), ("final", flat_weights(model))):
            np.save(os.path.join(a.out_dir, f"weights_{name}.npy"), w)
        np.save(os.path.join(a.out_dir, "dtae.npy"), emb)
        np.save(os.path.join(a.out_dir, "ae.npy"), emb_pre)
        json.dump(res, open(os.path.join(a.out_dir, "peer.json"), "w"), indent=1)
    return res


# ---------------------------------------------------------------------------------------------- jess side

def jess_keys(a):
    return [f"synthetic.n_branch={a.branches}", f"synthetic.branch_length={a.cells_per_branch}",
            f"synthetic.n_dim={a.dims}", f"seed={a.seed}"]


def run_jess(a, out, extra=()):
    cmd = [a.jess, "--threads", str(a.threads), "cells", "dtae", "synthetic", "--out", out, "baselines=",
           f"tree.clusters={a.clusters}", f"tree.restarts={a.restarts}", f"dtae.hidden={a.hidden}",
           f"dtae.pretrain_epochs={a.pretrain_epochs}", "dtae.pretrain_lr=0.001", "dtae.batch=256",
           f"dtae.finetune_steps={a.finetune_steps}", "dtae.finetune_lr=0.01", "dtae.weight_push_pull=1",
           "dtae.weight_cosine=15", "dtae.low_ghost_offset=0.5",
           # k-NN preservation is scored on 1,000 points: it is part of jess's report, not of DTAE.
           "metrics.max_queries=1000"] + jess_keys(a) + a.jess_arg + list(extra)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, JESS_PROGRESS="0"))
    wall = time.perf_counter() - t0
    m = json.load(open(os.path.join(out, "metrics.json")))
    row = next(e for e in m["embeddings"] if e["method"] == "dtae")

    def find(key):  # newer jess may report the stages of DTAE itself
        for d in (row, m, m.get("dtae", {}) if isinstance(m.get("dtae"), dict) else {}):
            if d.get(key) is not None:
                return float(d[key])
        return None

    pre, fine = find("pretrain_seconds"), find("finetune_seconds")
    ae = next((e for e in m["embeddings"] if e["method"] == "ae"), None)
    if pre is None and ae is not None and ae.get("seconds") is not None:  # --jess-arg baselines=ae: the AE's
        pre = float(ae["seconds"])                                          # seconds are the pretraining's
    if pre is not None and fine is None:
        fine = float(row["seconds"]) - float(m["tree_seconds"]) - pre
    return dict(wall=wall, total_seconds=float(m["total_seconds"]), tree_seconds=float(m["tree_seconds"]),
                dtae_seconds=float(row["seconds"]), pretrain_seconds=pre,
                finetune_seconds=fine, consistency=float(row["tree_consistency_exact"]),
                pretrained_consistency=float(ae["tree_consistency_exact"]) if ae else None,
                clusters=m.get("clusters"), leaves=m.get("leaves"), cells=m.get("cells"), command=cmd)


def peer_argv(a, seed, data, extra):
    argv = [sys.executable, os.path.abspath(__file__), "--peer-only", "--data", data]
    for opt in ("clusters", "restarts", "hidden", "pretrain_epochs", "finetune_steps", "threads"):
        argv += ["--" + opt.replace("_", "-"), str(getattr(a, opt))]
    return argv + ["--seed", str(seed)] + list(extra)


def mean_std(values):
    v = np.asarray(values, dtype=np.float64)
    return f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.3f}"


def run_swap(a):
    """Stage swaps: every combination of {tree, pretrained weights, fine-tuning} from jess (J) or the peer (P),
    on the same data, per seed. The end-to-end runs J/J/J and P/P/P write their tree (k-means clusters; the
    other side rebuilds steps 2-8 from them) and weights; the other six combinations fine-tune from those."""
    import copy
    seeds = [int(v) for v in a.seeds.split(",") if v.strip()]
    work = a.keep or tempfile.mkdtemp(prefix="jess_cells_swap_")
    combos = [(t, w, f) for t in "JP" for w in "JP" for f in "JP"]
    table = {c: [] for c in combos}
    pre_rows = {"J": [], "P": []}
    checks, same_order = [], []
    for seed in seeds:
        b = copy.copy(a)
        b.seed = seed
        sd = os.path.join(work, f"seed{seed}")
        os.makedirs(sd, exist_ok=True)
        data = os.path.join(sd, "x.npy")
        subprocess.run([a.jess, "cells", "synthetic", "--out", data] + jess_keys(b), check=True, stdout=subprocess.DEVNULL)
        full = {"J": os.path.join(sd, "JJJ"), "P": os.path.join(sd, "PPP")}
        res = {}
        res[("J", "J", "J")] = run_jess(b, full["J"], ["baselines=ae"])
        os.makedirs(full["P"], exist_ok=True)
        order = os.path.join(full["P"], "order.npy")
        subprocess.run(peer_argv(a, seed, data, ["--out-dir", full["P"], "--peer-out", os.devnull, "--order-out", order]),
                       check=True)
        res[("P", "P", "P")] = json.load(open(os.path.join(full["P"], "peer.json")))
        for c in combos if not a.end_to_end else []:
            t, w, f = c
            if (t, w, f) in res:
                continue
            out = os.path.join(sd, t + w + f)
            start = [os.path.join(full[t], "tree"), os.path.join(full[w], "weights_pretrained.npy")]
            if f == "J":
                res[(t, w, f)] = run_jess(b, out, ["baselines=ae", "tree.load=" + start[0],
                                                   "dtae.pretrained_weights=" + start[1]])
            else:
                os.makedirs(out, exist_ok=True)
                subprocess.run(peer_argv(a, seed, data, ["--tree-from", start[0], "--pretrained-from", start[1],
                                                         "--out-dir", out, "--peer-out", os.devnull]), check=True)
                res[(t, w, f)] = json.load(open(os.path.join(out, "peer.json")))
        if a.end_to_end:
            for c in (("J", "J", "J"), ("P", "P", "P")):
                table[c].append(res[c]["consistency"])
            pre_rows["J"].append(res[("J", "J", "J")]["pretrained_consistency"])
            pre_rows["P"].append(res[("P", "P", "P")]["pretrained_consistency"])
            continue
        # jess's pretraining from the same initialisation with the peer's batch order (torch.randperm), on the
        # peer's tree, fine-tuned by jess: against P/P/J it isolates the pretraining code, which matches the
        # peer's to float rounding for the first epochs; the rounding differences then grow (see docs/cells.md).
        same = run_jess(b, os.path.join(sd, "PoJ"), ["baselines=ae", "tree.load=" + os.path.join(full["P"], "tree"),
                                                     "dtae.pretrain_order=" + order])
        wj = np.load(os.path.join(sd, "PoJ", "weights_pretrained.npy"))
        wp = np.load(os.path.join(full["P"], "weights_pretrained.npy"))
        same_order.append(dict(consistency=same["consistency"], pretrained=same["pretrained_consistency"],
                               weights_max_abs_diff=float(np.abs(wj - wp).max())))
        for c in combos:
            table[c].append(res[c]["consistency"])
        # Checks: the same metric on the same embedding; the same tree from the same clusters; the same init.
        jt = read_tree(os.path.join(full["J"], "tree"))
        peer_on_jess = tree_consistency(np.load(os.path.join(full["J"], "dtae.npy")), jt)
        pt = read_tree(os.path.join(full["P"], "tree"))
        jess_rebuilt = compare_trees(pt, os.path.join(sd, "PPJ", "tree"))   # jess's steps 2-8 on the peer's clusters
        peer_rebuilt = res[("J", "J", "P")].get("tree_check")              # the peer's steps 2-8 on jess's clusters
        wi = [np.load(os.path.join(full[s_], "weights_init.npy")) for s_ in "JP"]
        checks.append(dict(seed=seed, jess_metric=res[("J", "J", "J")]["consistency"], peer_metric_same_embedding=peer_on_jess,
                           jess_metric_peer_pretrained=res[("P", "P", "J")]["pretrained_consistency"],
                           peer_metric_peer_pretrained=res[("P", "P", "P")]["pretrained_consistency"],
                           jess_tree_from_peer_clusters=jess_rebuilt, peer_tree_from_jess_clusters=peer_rebuilt,
                           init_max_abs_diff=float(np.abs(wi[0] - wi[1]).max()),
                           inertia_jess=res[("J", "J", "P")].get("inertia"), inertia_peer=res[("P", "P", "P")].get("inertia")))
        for s_ in "JP":
            r = res[(s_, s_, "J")]
            pre_rows[s_].append(r["pretrained_consistency"])
    names = {"J": "jess", "P": "peer"}
    print(f"Tree consistency (exact) on the synthetic tree, seeds {a.seeds}: tree (k-means clusters; steps 2-8 by the "
          "fine-tuning side), pretrained weights, fine-tuning from jess or the peer\n")
    print("| tree | pretraining | fine-tuning | " + " | ".join(f"seed {s_}" for s_ in seeds) + " | mean ± std |")
    print("|---|---|---|" + "---:|" * (len(seeds) + 1))
    for c in combos:
        if table[c]:
            print(f"| {names[c[0]]} | {names[c[1]]} | {names[c[2]]} | " + " | ".join(f"{v:.3f}" for v in table[c])
                  + f" | {mean_std(table[c])} |")
    if same_order:
        v = [r["consistency"] for r in same_order]
        print("| peer | jess, from the peer's init and batch order | jess | " + " | ".join(f"{x:.3f}" for x in v)
              + f" | {mean_std(v)} |")
    for s_ in "JP":
        print(f"| {names[s_]} | {names[s_]} | (none: the pretrained AE) | "
              + " | ".join(f"{v:.3f}" for v in pre_rows[s_]) + f" | {mean_std(pre_rows[s_])} |")
    if same_order:
        v = [r["pretrained"] for r in same_order]
        print("| peer | jess, from the peer's init and batch order | (none: the pretrained AE) | "
              + " | ".join(f"{x:.3f}" for x in v) + f" | {mean_std(v)} |")
        print("\nmax |jess - peer| of the pretrained weights from the same init and batch order: "
              + ", ".join(f"{r['weights_max_abs_diff']:.3g}" for r in same_order))
    if a.end_to_end:
        print(f"\n{len(seeds)} seeds: jess {mean_std(table[('J', 'J', 'J')])}, peer {mean_std(table[('P', 'P', 'P')])}")
    else:
        print("\nChecks per seed:")
        for c in checks:
            print(json.dumps(c))
    if a.json:
        json.dump(dict(table={"".join(c): table[c] for c in combos}, pretrained=pre_rows, checks=checks, seeds=seeds,
                       same_order=same_order),
                  open(a.json, "w"), indent=1)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)


def main(a):
    if a.score:
        print(f"{tree_consistency(np.load(a.score[1]), read_tree(a.score[0])):.6f}")
        return
    if a.swap:
        run_swap(a)
        return
    if a.peer_only:
        res = run_peer(a)
        if a.peer_out:
            json.dump(res, open(a.peer_out, "w"))
        else:
            print(json.dumps(res, indent=1))
        return
    if subprocess.run([a.jess, "cells", "dtae", "--help"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        sys.exit(f"cells_bench: {a.jess} has no `cells dtae` command yet (rebuild jess); "
                 "the peer alone: bench/cells_bench.py --peer-only")
    work = a.keep or tempfile.mkdtemp(prefix="jess_cells_bench_")
    os.makedirs(work, exist_ok=True)
    data = os.path.join(work, "x.npy")
    subprocess.run([a.jess, "cells", "synthetic", "--out", data] + jess_keys(a), check=True, stdout=subprocess.DEVNULL)

    j = run_jess(a, os.path.join(work, "jess"))
    # The peer in a child process of its own: its wall time includes start-up and imports, like jess's.
    peer_json = os.path.join(work, "peer.json")
    argv = [sys.executable, os.path.abspath(__file__), "--peer-only", "--data", data, "--peer-out", peer_json]
    for opt in ("clusters", "restarts", "hidden", "pretrain_epochs", "finetune_steps", "threads", "seed"):
        argv += ["--" + opt.replace("_", "-"), str(getattr(a, opt))]
    if a.keep:
        argv += ["--keep", a.keep]
    t0 = time.perf_counter()
    subprocess.run(argv, check=True)
    p_wall = time.perf_counter() - t0
    p = json.load(open(peer_json))

    rows = [("k-means + density tree", j["tree_seconds"], p["tree_seconds"])]
    if j["pretrain_seconds"] is not None and j["finetune_seconds"] is not None:
        rows += [("pretraining", j["pretrain_seconds"], p["pretrain_seconds"]),
                 ("fine-tuning", j["finetune_seconds"], p["finetune_seconds"])]
    else:
        rows += [("pretraining + fine-tuning", j["dtae_seconds"] - j["tree_seconds"],
                  p["pretrain_seconds"] + p["finetune_seconds"])]
    rows += [("DTAE end to end (tree + pretraining + fine-tuning)", j["dtae_seconds"], p["dtae_seconds"]),
             ("whole process, wall (see notes)", j["wall"], p_wall)]

    core = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    print(f"DTAE on the synthetic tree: {p['cells']} cells ({a.branches} branches x {a.cells_per_branch}) x "
          f"{p['features']} dims, K = {a.clusters} ({p['leaves']} leaves in the peer's tree, "
          f"{j['leaves']} in jess's), {p['features']}-{a.hidden}-2 autoencoder, {a.pretrain_epochs} pretraining epochs "
          f"+ {a.finetune_steps} fine-tuning steps; {a.threads} thread{'s' if a.threads != 1 else ''}, OPENBLAS_CORETYPE={core}, "
          f"torch {torch.__version__}, numpy {np.__version__}, scipy {scipy.__version__}\n")
    print("| stage | jess seconds | Python peer seconds | speed-up |")
    print("|---|---:|---:|---:|")
    for name, js, ps in rows:
        print(f"| {name} | {js:.2f} | {ps:.2f} | {ps / js:.2f}x |")
    print(f"\nTree consistency (fraction of points whose two nearest 2-D centroids are their stored pair): "
          f"jess {j['consistency']:.3f}, Python peer {p['consistency']:.3f} (different random streams: "
          "not identical).")
    print(f"\nNotes: jess's stage times are from its metrics.json (in-process total including generating the data, "
          f"metrics on 1,000 k-NN queries, plots and files: {j['total_seconds']:.2f} s). Whole process = wall time "
          f"of the jess command (program start-up, generating the data, DTAE, metrics, plots) vs of the peer's "
          f"child process (interpreter start-up and imports {p_wall - p['load_seconds'] - p['dtae_seconds']:.2f} s, "
          f"loading the .npy {p['load_seconds']:.2f} s, DTAE, the consistency rate).")
    if a.json:
        json.dump(dict(jess=j, peer=p, peer_wall=p_wall, threads=a.threads, openblas_coretype=core), open(a.json, "w"),
                  indent=1)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(A)
