#!/usr/bin/env python3
"""Time of the 3DIEBench retrieval metrics on the issue's size (10,000 objects x 50 views, d = 1024):
jess (bench/bench_sie_metrics.cpp, the library's retrieval_metrics and prediction_error) against a plain
PyTorch implementation of the same definitions, on identical tensors (torch's CPU generator, seed 0, drawn
in the same order on both sides), same thread count, in one run. Target: under a minute for both metrics.

MRR / H@k: for object o and view j, the prediction from view 0 is ranked by cosine among the object's V
embeddings (rank = 1 + #strictly higher). PRE: nearest neighbour by cosine among all N*V embeddings for
Q sampled queries, mean(1 - <q_true, q_nn>^2).

Usage: bench/run.sh sie-metrics [--objects 10000] [--views 50] [--dim 1024] [--queries 10000] [--threads T]
"""
import argparse, json, os, subprocess, time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def peer(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    e = torch.randn(a.objects, a.views, a.dim)
    p = e + 20.0 * torch.randn(a.objects, a.views, a.dim)
    q = torch.randn(a.objects, a.views, 4, dtype=torch.float64)
    q = q / q.norm(dim=-1, keepdim=True)
    qi = torch.randperm(a.objects * a.views)[: min(a.queries, a.objects * a.views)]
    with torch.no_grad():
        t = time.perf_counter()
        ranks = []
        for f in range(0, a.objects, 1000):  # blocks of objects keep the normalised copies small
            pn = torch.nn.functional.normalize(p[f:f + 1000], dim=-1, eps=1e-8)
            en = torch.nn.functional.normalize(e[f:f + 1000], dim=-1, eps=1e-8)
            s = pn @ en.transpose(1, 2)
            ranks.append((s > s.diagonal(dim1=1, dim2=2).unsqueeze(2)).sum(2).double() + 1)
        r = torch.cat(ranks)
        mrr, h1, h5 = (1 / r).mean().item(), (r <= 1).double().mean().item(), (r <= 5).double().mean().item()
        t_mrr = time.perf_counter() - t
        t = time.perf_counter()
        cand = torch.nn.functional.normalize(e.flatten(0, 1), dim=-1, eps=1e-8)
        fq, fp = q.flatten(0, 1), p.flatten(0, 1)[qi]
        tq, total = fq[qi], 0.0
        for f in range(0, len(qi), 1024):
            nn_idx = (torch.nn.functional.normalize(fp[f:f + 1024], dim=-1, eps=1e-8) @ cand.T).argmax(1)
            total += (1 - (tq[f:f + 1024] * fq[nn_idx]).sum(1).pow(2)).sum().item()
        pre = total / len(qi)
        t_pre = time.perf_counter() - t
    return dict(mrr=mrr, h1=h1, h5=h5, pre=pre, seconds_mrr=t_mrr, seconds_pre=t_pre)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=10000)
    ap.add_argument("--views", type=int, default=50)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--queries", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    cmd = [os.path.join(ROOT, "build", "jess_bench_sie_metrics")] + [x for k in ("objects", "views", "dim", "queries", "threads")
                                                                     for x in (f"--{k}", str(getattr(a, k)))]
    t = time.perf_counter()
    j = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    j_wall = time.perf_counter() - t
    pr = peer(a)
    same = all(abs(j[k] - pr[k]) <= 1e-6 * max(1, abs(pr[k])) for k in ("mrr", "h1", "h5", "pre"))
    core = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    print(f"3DIEBench retrieval metrics on {a.objects:,} objects x {a.views} views, d = {a.dim}, PRE over {j['queries']:,} sampled "
          f"queries; {a.threads} threads, OPENBLAS_CORETYPE={core} (kernels: {j.get('openblas_kernels') or 'not OpenBLAS'}), torch {torch.__version__}; values equal on both sides: {same}\n")
    print("| implementation | MRR + H@k (s) | PRE (s) | both (s) | MRR | PRE |\n|---|---|---|---|---|---|")
    print(f"| jess (C++ LibTorch) | {j['seconds_mrr']:.2f} | {j['seconds_pre']:.2f} | {j['seconds_mrr'] + j['seconds_pre']:.2f} | "
          f"{j['mrr']:.4f} | {j['pre']:.4f} |")
    print(f"| plain PyTorch peer | {pr['seconds_mrr']:.2f} | {pr['seconds_pre']:.2f} | {pr['seconds_mrr'] + pr['seconds_pre']:.2f} | "
          f"{pr['mrr']:.4f} | {pr['pre']:.4f} |")
    print(f"\njess process wall time including data generation: {j_wall:.1f} s")


if __name__ == "__main__":
    main()
