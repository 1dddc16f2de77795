"""jess.pde: the solvers against analytic solutions, generation with the CLI's bytes, and the view
maker / loader agreeing with each other and with the PDE."""
import math

import pytest
import torch

import jess
from conftest import GEN_KEYS


def test_heat_matches_its_analytic_solution():
    nx, L, nu, T = 64, 2 * math.pi, 0.1, 2.0
    x = torch.arange(nx, dtype=torch.float64) * L / nx
    u0 = torch.stack([torch.sin(x), torch.cos(3 * x)])
    u = jess.pde.solve(u0, "heat", L=L, T=T, nu=nu, nt=5)
    assert u.shape == (2, 5, nx) and u.dtype == torch.float64
    t = torch.linspace(0, T, 5, dtype=torch.float64).view(5, 1)
    torch.testing.assert_close(u[0], torch.exp(-nu * t) * torch.sin(x), rtol=0, atol=1e-12)
    torch.testing.assert_close(u[1], torch.exp(-9 * nu * t) * torch.cos(3 * x), rtol=0, atol=1e-12)


def test_kdv_soliton_travels_at_its_speed():
    # u = 3c sech^2(sqrt(c)/2 (x - x0 - c t)) solves u_t + u u_x + u_xxx = 0 (jess's KdV form).
    nx, L, c, T = 256, 60.0, 1.0, 4.0
    x = torch.arange(nx, dtype=torch.float64) * L / nx

    def soliton(t):
        return 3 * c / torch.cosh(math.sqrt(c) / 2 * (x - 20 - c * t)) ** 2

    u = jess.pde.solve(soliton(0).unsqueeze(0), "kdv", L=L, T=T, nt=3, tolerance=1e-9)
    assert (u[0, -1] - soliton(T)).abs().max().item() < 1e-5


def test_generate_gives_the_cli_bytes(tmp_path, burgers_file):
    ours = jess.pde.generate(path=str(tmp_path / "py.h5"), seed=1, **GEN_KEYS)
    theirs = jess.pde.read(burgers_file)
    assert set(ours) == set(theirs) == {"train", "valid", "test"}
    for split in ours:
        assert set(ours[split]) == set(theirs[split])
        for name in ours[split]:
            assert torch.equal(ours[split][name], theirs[split][name]), (split, name)
    assert ours["train"]["pde_40-64"].shape == (48, 40, 64)
    # In memory (no path) the same data; n is n_train.
    keys = {k: v for k, v in GEN_KEYS.items() if k != "n_train"}
    again = jess.pde.generate(n=48, seed=1, **keys)
    assert torch.equal(again["test"]["pde_40-64"], theirs["test"]["pde_40-64"])


def test_views_are_deterministic_and_solve_the_equation(burgers_file):
    data = jess.pde.load_split(burgers_file, "train")
    assert data["equation"] == "burgers"
    maker = jess.pde.ViewMaker("burgers", seed=5, crop_t=20, crop_x=32)
    a = maker(data["u"][:8], data["dx"][:8], data["dt"][:8], data["nu"][:8], stream=3)
    b = maker(data["u"][:8], data["dx"][:8], data["dt"][:8], data["nu"][:8], stream=3)
    c = maker(data["u"][:8], data["dx"][:8], data["dt"][:8], data["nu"][:8], stream=4)
    assert a["view1"].shape == (8, 20, 32) and a["view1"].dtype == torch.float32
    assert torch.equal(a["view1"], b["view1"]) and torch.equal(a["view2"], b["view2"])
    assert not torch.equal(a["view1"], c["view1"])
    assert not torch.equal(a["view1"], a["view2"])


def test_view_dataset_batches_equal_the_view_maker(burgers_file):
    ds = jess.pde.ViewDataset(burgers_file, batch_size=8, seed=7, epochs=1, crop_t=20, crop_x=32)
    assert len(ds) == ds.steps_per_epoch == 6 and ds.equation == "burgers"
    batches = list(ds)
    assert len(batches) == 6 and [b["step"] for b in batches] == list(range(6))
    rows = torch.cat([b["index"] for b in batches])
    assert sorted(rows.tolist()) == list(range(48))  # an epoch is a permutation of the split
    data = jess.pde.load_split(burgers_file, "train")
    maker = jess.pde.ViewMaker("burgers", seed=7, velocity_scale=data["u"].double().std().item(), crop_t=20, crop_x=32)
    i = batches[2]["index"]
    v = maker(data["u"][i], data["dx"][i], data["dt"][i], data["nu"][i], stream=0 * 1000003 + 2)
    assert torch.equal(v["view1"], batches[2]["view1"]) and torch.equal(v["view2"], batches[2]["view2"])
    # Shared, not copied, on the way to Python: jess makes both views in one tensor and hands out two
    # slices of it; they arrive as views of the same storage, one after the other.
    b0 = batches[0]
    assert b0["view1"].storage().data_ptr() == b0["view2"].storage().data_ptr()
    assert b0["view2"].data_ptr() == b0["view1"].data_ptr() + b0["view1"].numel() * b0["view1"].element_size()
    # A data-parallel rank's shard is its rows of the same global batch.
    half = jess.pde.ViewDataset(burgers_file, batch_size=8, seed=7, epochs=1, shard_begin=4, shard_size=4,
                                crop_t=20, crop_x=32)
    first = next(iter(half))
    assert torch.equal(first["view1"], batches[0]["view1"][4:]) and torch.equal(first["index"], batches[0]["index"][4:])
    # Made ahead by a background thread (prefetch > 0, for a GPU model): the same batches as made on demand.
    ahead = list(jess.pde.ViewDataset(burgers_file, batch_size=8, seed=7, epochs=1, crop_t=20, crop_x=32, prefetch=2))
    assert all(torch.equal(a["view1"], b["view1"]) and torch.equal(a["view2"], b["view2"]) and
               torch.equal(a["index"], b["index"]) for a, b in zip(ahead, batches)) and len(ahead) == len(batches)
    with pytest.raises(ValueError, match="prefetch must be >= 0"):
        jess.pde.ViewDataset(burgers_file, batch_size=8, prefetch=-1)
    # jess's loader threads do not survive a fork: DataLoader workers are refused with a clear message.
    with pytest.raises(RuntimeError, match="jess's own threads"):
        list(torch.utils.data.DataLoader(half, batch_size=None, num_workers=1))


def test_heat_views_keep_solving_the_heat_equation():
    # Exact heat solutions, transformed by heat's symmetries: the views still satisfy u_t = nu u_xx.
    nx, L, nu, T, nt = 64, 2 * math.pi, 0.05, 4.0, 65
    x = torch.arange(nx, dtype=torch.float64) * L / nx
    u0 = torch.stack([torch.sin(x) + 0.5 * torch.cos(2 * x), torch.cos(x) - 0.3 * torch.sin(3 * x)])
    u = jess.pde.solve(u0, "heat", L=L, T=T, nu=nu, nt=nt)
    dx, dt = L / nx, T / (nt - 1)
    maker = jess.pde.ViewMaker("heat", seed=1, crop_t=48, crop_x=64, data_grid=False)
    v = maker(u, dx, dt, nu, stream=0)
    data_scale = jess.pde.residual("heat", u[0], dx, dt, nu).abs().max().item()
    assert data_scale < 1e-6
    for k in range(2):
        r = jess.pde.residual("heat", v["view1"][k].double(), v["dx1"][k].item(), v["dt1"][k].item(), nu, periodic=False)
        # float32 views: ~3e-6 here; a view with a 30 % wrong dt gives 0.02-0.04.
        assert r.abs()[8:-8, 8:-8].max().item() < 1e-5 * v["view1"][k].abs().max().item() / dt


def jess_file_for_errors(tmp_path):
    path = str(tmp_path / "small.h5")
    jess.pde.generate("heat", n=4, path=path, n_valid=0, n_test=0, nx=32, nt=8, nt_total=10)
    return path


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="equation"):
        jess.pde.solve(torch.zeros(1, 8), "navier", L=1, T=1)
    with pytest.raises(ValueError, match="even grid"):
        jess.pde.solve(torch.zeros(0, 8), "heat", L=1, T=1)
    with pytest.raises(ValueError, match="finite and positive"):
        jess.pde.solve(torch.zeros(1, 8), "heat", L=-1, T=1, nu=0.1)
    with pytest.raises(ValueError, match="one value or one per trajectory"):
        jess.pde.solve(torch.zeros(2, 8), "heat", L=torch.ones(3), T=1, nu=0.1)
    with pytest.raises(ValueError, match="NaN"):
        jess.pde.ViewMaker("kdv")(torch.full((2, 16, 16), float("nan")), 1.0, 1.0)
    with pytest.raises(ValueError, match="batch size"):
        jess.pde.ViewDataset(jess_file_for_errors(tmp_path), batch_size=0)
    with pytest.raises(ValueError, match="nxx"):
        jess.pde.generate(path=str(tmp_path / "x.h5"), nxx=3)
    with pytest.raises(ValueError, match="galilean"):
        jess.pde.ViewMaker("heat", galilean=0.5)
    with pytest.raises((OSError, ValueError)):
        jess.pde.read(str(tmp_path / "missing.h5"))
    assert not (tmp_path / "x.h5").exists()
