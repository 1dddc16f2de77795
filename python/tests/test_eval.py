"""jess.eval on tensors: RankMe and numerical rank against their definitions, probes on separable data,
and the same numbers as the CLI (jess eval rankme) on the same embeddings."""
import math
import os
import subprocess

import numpy as np
import pytest
import torch

import jess
from conftest import cli


def test_rankme_is_the_entropy_of_the_singular_values():
    z = torch.randn(200, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * torch.linspace(0.1, 3, 16)
    s = torch.linalg.svdvals(z)
    p = s / s.sum() + 1e-7
    assert jess.eval.rankme(z) == pytest.approx(math.exp(-(p * p.log()).sum().item()), rel=1e-9)
    torch.testing.assert_close(jess.eval.singular_values(z), s, rtol=1e-8, atol=1e-10)


def test_numerical_rank_of_a_low_rank_matrix():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(100, 5, generator=g, dtype=torch.float64) @ torch.randn(5, 20, generator=g, dtype=torch.float64)
    assert jess.eval.numerical_rank(z) == 5 == torch.linalg.matrix_rank(z).item()
    assert jess.eval.numerical_rank(z.float()) == 5


def test_rankme_equals_the_cli_on_the_same_file(tmp_path):
    z = torch.randn(300, 24, generator=torch.Generator().manual_seed(2)).float()
    path = str(tmp_path / "z.npy")
    np.save(path, z.numpy())
    out = subprocess.run([cli(), "eval", "rankme", path, "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    import json
    assert jess.eval.rankme(z) == pytest.approx(json.loads(out.stdout)["rankme"], rel=1e-12)


def clusters(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 4
    centres = torch.eye(4, 8) * 5
    return centres[y] + torch.randn(n, 8, generator=g), y


def test_probes_separate_separable_classes():
    xa, ya = clusters(200, 0)
    xb, yb = clusters(100, 1)
    knn = jess.eval.knn(xa, ya, xb, yb, ks=(5, 20))
    assert knn[5]["top1"] == 1.0 and knn[20]["top1"] == 1.0
    lin = jess.eval.linear_probe(xa, ya, xb, yb)
    assert lin["top1"] == 1.0 and lin["scores"].shape == (100, 4)
    # Random labels: near chance (the probe cannot see the test labels).
    rnd = jess.eval.linear_probe(xa, ya, xb, yb[torch.randperm(100, generator=torch.Generator().manual_seed(3))])
    assert rnd["top1"] < 0.6


def test_ridge_recovers_a_linear_map():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(300, 5, generator=g, dtype=torch.float64)
    w = torch.randn(5, 2, generator=g, dtype=torch.float64)
    r = jess.eval.ridge_probe(x[:200], x[:200] @ w + 1, x[200:], x[200:] @ w + 1)
    assert r["r2"] > 0.999999
    torch.testing.assert_close(r["weight"], w, rtol=1e-3, atol=1e-3)


def test_bad_input_is_a_value_error():
    with pytest.raises(ValueError, match="NaN"):
        jess.eval.rankme(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="2-D"):
        jess.eval.rankme(torch.ones(3))
    x, y = clusters(20, 0)
    with pytest.raises(ValueError, match="one label per row"):
        jess.eval.knn(x, y[:5], x, y)
    with pytest.raises(ValueError, match="integer class"):
        jess.eval.linear_probe(x, y.float(), x, y)
    with pytest.raises(ValueError, match="at least 2 training rows"):
        jess.eval.linear_probe(x[:0], y[:0], x, y)
    with pytest.raises(ValueError, match="at least one k"):
        jess.eval.knn(x, y, x, y, ks=())
