"""PDE data from jess: batched spectral solvers, datasets, and exact Lie point symmetry views.

Equations: kdv, ks, burgers, heat (1-D, periodic). Keyword arguments are the CLI's keys
(``jess pde generate --help``, ``jess pde augment --help``) with the same defaults and checks.
"""
import os
import tempfile
from typing import Dict, Iterator, Optional, Union

import torch

from . import _jess
from ._keys import overrides

Number = Union[float, torch.Tensor]
# Views of half the trajectory in each direction unless crop_t / crop_x say otherwise (as pretraining).
_HALF_CROPS = {"crop_t": 0, "crop_x": 0}


def _as_tensor(v: Number) -> torch.Tensor:
    """One value, or one per trajectory, as the bindings take them."""
    return v if isinstance(v, torch.Tensor) else torch.tensor([float(v)], dtype=torch.float64)


def solve(u0: torch.Tensor, equation: str, L: Number, T: Number, nu: Number = 0.0, nt: int = 101,
          nt_keep: int = 0, method: str = "auto", substeps: int = 0, tolerance: float = 1e-8) -> torch.Tensor:
    """Integrates initial conditions ``u0`` (B, nx) sampled at x_j = j L / nx to times j T / (nt - 1).

    L, T, nu: one value or one per trajectory. method: auto (ETDRK4 for kdv/ks, exact Cole-Hopf for
    burgers, exact Fourier for heat) | etdrk4 | cole_hopf | exact. substeps 0 chooses the ETDRK4 step
    for ``tolerance``. Returns (B, nt_keep or nt, nx) float64.
    """
    return _jess.pde_solve(u0, equation, _as_tensor(L), _as_tensor(T), _as_tensor(nu), nt, nt_keep, method, substeps,
                           tolerance)


def generate(equation: str = "kdv", n: Optional[int] = None, seed: int = 0, path: Optional[str] = None,
             **keys) -> Dict[str, Dict[str, torch.Tensor]]:
    """Generates a dataset as ``jess pde generate`` does (same bytes for the same keys); ``n``: training
    trajectories (n_train; n_valid and n_test keep their defaults unless given).

    With ``path`` the HDF5 file is written there (atomically) and also returned as tensors; without,
    the data only come back as {split: {name: tensor}} (trajectories under ``pde_{nt}-{nx}``).
    Keys: n_train, n_valid, n_test, nx, nt, L, T, amplitude, nu_min, nu_max, ... (``generate_keys()``).
    """
    keys = dict(keys, equation=equation, seed=seed)
    if n is not None:
        keys["n_train"] = n
    if path is not None:
        _jess.pde_generate(path, overrides(keys))
        return read(path)
    with tempfile.TemporaryDirectory(prefix="jess-") as d:
        p = os.path.join(d, "data.h5")
        _jess.pde_generate(p, overrides(keys))
        return read(p)


def generate_keys() -> str:
    """The generator's keys: name, type, default, meaning."""
    return _jess.pde_generate_keys()


def augment_keys() -> str:
    """The view maker's keys (symmetry strengths, crops, splitting)."""
    return _jess.pde_augment_keys()


def read(path: str) -> Dict[str, Dict[str, torch.Tensor]]:
    """Every split of a jess PDE file: trajectories as float32, labels (L, T, nu, ...) as float64."""
    return _jess.pde_read(path)


def load_split(path: str, split: str = "train") -> Dict[str, object]:
    """One split as the loaders see it: u (N, nt, nx) float32, dx, dt, nu (N,), equation."""
    return _jess.pde_load_split(path, split)


def residual(equation: str, u: torch.Tensor, dx: float, dt: float, nu: float = 0.0,
             periodic: bool = True) -> torch.Tensor:
    """The PDE's residual on one trajectory (nt, nx): spectral in x (periodic) and 8th-order in t."""
    return _jess.pde_residual(equation, u, dx, dt, nu, periodic)


class ViewMaker:
    """Two independently augmented views per trajectory: a random composition of the equation's Lie
    point symmetries applied exactly, then a crop (Mialon et al. 2023).

    ``ViewMaker("kdv", crop_t=64, galilean=0.65)(u, dx, dt)`` -> dict with view1, view2 (B, crop_t,
    crop_x) float32 and dx1, dt1, dx2, dt2 (B,). Deterministic: batch ``stream`` with ``seed`` always
    gives the same views; each call without ``stream`` takes the next one. ``velocity_scale``: the data's
    std(u), which the Galilean strength is relative to (None: the batch's own).
    """

    def __init__(self, equation: str, seed: int = 0, velocity_scale: Optional[float] = None, **augment_keys) -> None:
        self.equation = equation
        self.seed = seed
        self.velocity_scale = velocity_scale
        self._overrides = overrides(dict(_HALF_CROPS, **augment_keys))
        self._next_stream = 0
        _jess.pde_augment_check(equation, self._overrides)  # bad keys fail here, not at the first batch

    def __call__(self, u: torch.Tensor, dx: Number, dt: Number, nu: Optional[Number] = None,
                 stream: Optional[int] = None, single_view: bool = False) -> Dict[str, torch.Tensor]:
        if stream is None:
            stream = self._next_stream
            self._next_stream += 1
        nu_t = torch.zeros(1, dtype=torch.float64) if nu is None else _as_tensor(nu)
        scale = self.velocity_scale if self.velocity_scale is not None else 0.0
        return _jess.pde_make_views(self.equation, u, _as_tensor(dx), _as_tensor(dt), nu_t, self._overrides, scale,
                                    self.seed, stream, single_view)


class ViewDataset(torch.utils.data.IterableDataset):
    """Batches of two symmetry views per trajectory from one split of an HDF5 file, made by jess's view
    loader (the one ``jess pde pretrain`` trains on). Iterate it directly (it yields whole batches: use
    ``DataLoader(ds, batch_size=None)`` or no DataLoader at all).

    ``prefetch``: 0 (default) makes each batch when it is asked for, with all of torch's threads, the
    GIL released: fastest when the model trains on the same CPU (a thread making batches ahead would
    preempt the model's threads; 1.15-1.2x per step measured on 2 cores). For a model on a GPU, a
    positive value makes that many batches ahead in a background thread while the GPU computes.

    ``epochs`` bounds the iteration (None: endless). Each batch is a dict with view1, view2, dx1, dt1,
    dx2, dt2, index (the trajectories' rows), epoch and step; the batch at (epoch, step) depends only
    on ``seed``. ``shard_begin``/``shard_size`` select this rank's rows of every global batch.
    """

    def __init__(self, path: str, split: str = "train", batch_size: int = 32, seed: int = 0,
                 epochs: Optional[int] = 1, start_epoch: int = 0, start_step: int = 0, single_view: bool = False,
                 shard_begin: int = 0, shard_size: int = 0, prefetch: int = 0, **augment_keys) -> None:
        super().__init__()
        self.prefetch = prefetch
        self.path, self.split, self.batch_size, self.seed = path, split, batch_size, seed
        self.epochs, self.start_epoch, self.start_step = epochs, start_epoch, start_step
        self.single_view, self.shard_begin, self.shard_size = single_view, shard_begin, shard_size
        self._overrides = overrides(dict(_HALF_CROPS, **augment_keys))
        # Opening the loader checks the file and the keys now; the first iteration uses it.
        self._opened: Optional[_jess.ViewLoader] = self._loader()
        self.steps_per_epoch = self._opened.steps_per_epoch
        self.equation = self._opened.equation

    def _loader(self) -> "_jess.ViewLoader":
        return _jess.ViewLoader(self.path, self.split, self.batch_size, self.seed, self._overrides,
                                self.start_epoch, self.start_step, self.single_view, self.shard_begin,
                                self.shard_size, self.prefetch)

    def __len__(self) -> int:
        if self.epochs is None:
            raise TypeError("an endless ViewDataset (epochs=None) has no length")
        return self.epochs * self.steps_per_epoch - self.start_step

    def __iter__(self) -> Iterator[Dict[str, torch.Tensor]]:
        if torch.utils.data.get_worker_info() is not None:
            raise RuntimeError("ViewDataset makes its views with jess's own threads (a background thread with "
                               "prefetch > 0): iterate it in the main process (DataLoader(ds, batch_size=None, "
                               "num_workers=0) or no DataLoader)")
        loader, self._opened = (self._opened or self._loader()), None
        remaining = None if self.epochs is None else len(self)
        while remaining is None or remaining > 0:
            yield loader.next()
            if remaining is not None:
                remaining -= 1
