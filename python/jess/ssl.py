"""Joint-embedding criteria from jess's C++ registry, differentiable inside PyTorch graphs.

Example::

    vicreg = jess.ssl.loss("vicreg", invariance=25.0)
    value, parts = vicreg(z1, z2)      # value: 0-d tensor with grad_fn; parts: {"invariance": ...}
    value.backward()
"""
from typing import Dict, List, Tuple

import torch

from . import _jess
from ._keys import overrides


def names() -> List[str]:
    """The registered criteria (vicreg, simclr, barlow_twins, ...)."""
    return list(_jess.loss_names())


class Loss:
    """A registered criterion; keyword arguments are its hyperparameters (see ``.keys``)."""

    def __init__(self, name: str, **keys) -> None:
        self._criterion = _jess.Criterion(name, overrides(keys))

    @property
    def name(self) -> str:
        return self._criterion.name

    @property
    def keys(self) -> str:
        """The criterion's hyperparameters: name, type, value, meaning (one per line)."""
        return self._criterion.keys

    def __call__(self, z1: torch.Tensor, z2: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, float]]:
        """The loss of two branches' embeddings (B, D) and its unweighted parts (for logs)."""
        return self._criterion(z1, z2)

    def __repr__(self) -> str:
        return f"jess.ssl.Loss({self.name!r})"


def loss(name: str, **keys) -> Loss:
    """``Loss(name, **keys)``: e.g. ``loss("simclr", temperature=0.2)``."""
    return Loss(name, **keys)
