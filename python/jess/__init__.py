"""jess from Python: joint-embedding self-supervised learning in C++, as PyTorch-native functions.

Subpackages:
    jess.pde     batched spectral solvers, dataset generation, Lie point symmetry views, a view loader
    jess.ssl     every registered joint-embedding criterion as a differentiable ``loss(z1, z2)``
    jess.eval    RankMe, numerical rank, k-NN and linear probes on tensors
    jess.models  jess encoders loaded as ``torch.nn.Module`` (and saved back as jess checkpoints)
    jess.cells   the single-cell readers (R data, 10x MatrixMarket, CSV/TSV) as tensors
    jess.render  the OpenGL (OSMesa) renderer: views as tensors, datasets and factor sets as files

Tensors go in and come out as ``torch.Tensor`` (CPU); jess links the same LibTorch as Debian's
python3-torch, so C++ losses take part in Python autograd graphs. Errors in the input raise
``ValueError`` with jess's message; unreadable files ``OSError``.
"""
import torch  # noqa: F401  (loads libtorch and its Python bindings before the extension)

from . import _jess

__version__ = _jess.__version__

from . import cells, eval, models, pde, render, ssl  # noqa: E402

__all__ = ["pde", "ssl", "eval", "models", "cells", "render", "__version__"]
