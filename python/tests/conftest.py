"""Shared fixtures: a small seeded dataset and a tiny pretraining run made by the jess CLI (JESS_CLI),
which the bindings are compared against."""
import os
import shutil
import subprocess

import pytest
import torch


def cli() -> str:
    exe = os.environ.get("JESS_CLI") or shutil.which("jess")
    if not exe:
        pytest.skip("JESS_CLI is not set (ctest sets it to the built jess)")
    return exe


def run_cli(*args: str) -> str:
    r = subprocess.run([cli(), *args], capture_output=True, text=True, env=dict(os.environ, JESS_THREADS="1"))
    assert r.returncode == 0, r.stderr
    return r.stdout


GEN_KEYS = dict(equation="burgers", method="cole_hopf", n_train=48, n_valid=8, n_test=16, nx=64, nt=40, nt_total=60,
                solve_nx=128)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    torch.manual_seed(0)
    return tmp_path_factory.mktemp("jess")


@pytest.fixture(scope="session")
def burgers_file(workdir):
    path = str(workdir / "burgers.h5")
    run_cli("pde", "generate", "--out", path, "--seed", "1", *[f"{k}={v}" for k, v in GEN_KEYS.items()])
    return path


@pytest.fixture(scope="session")
def pretrained(workdir, burgers_file):
    out = str(workdir / "run")
    run_cli("pde", "pretrain", burgers_file, "--out", out, "batch=8", "augment.crop_t=16", "augment.crop_x=32",
            "encoder.width=4", "projector=16-16", "train.epochs=1", "monitor=8")
    return os.path.join(out, "checkpoint.pt")


@pytest.fixture(scope="session")
def image_run(workdir):
    """A tiny `jess train` (BYOL: a teacher and a predictor travel with the checkpoint) on Fashion-MNIST."""
    if not os.path.isdir("/usr/share/datasets/fashion-mnist") and not os.environ.get("JESS_FMNIST"):
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    out = str(workdir / "vision")
    run_cli("train", "method=byol", "n_train=128", "batch=32", "width=2", "projector=16-16", "predictor=8",
            "n_bank=128", "n_monitor=64", "train.epochs=1", "train.warmup_epochs=0", "--out", out)
    return os.path.join(out, "checkpoint.pt")


@pytest.fixture(scope="session")
def rendered(workdir):
    out = str(workdir / "rendered")
    run_cli("render", "dataset", "--out", out, "classes=chair,car", "objects_per_class=2", "views_per_object=3",
            "image_size=32", "val_fraction=0.5", "layout=packed", "seed=4")
    return out
