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

import os as _os

from . import _jess

__version__ = _jess.__version__


def _start_up():
    """The start-up every jess binary runs, for the Python process that imports jess.

    glibc hands freed tensor buffers back to the OS at every step unless its mmap/trim thresholds are
    raised: a PyTorch training step (forward, backward, AdamW) measured 1.45x faster with them, in C++
    2.3x. And libtorch may see one core on a VM (torch.get_num_threads() == 1 with more CPUs usable):
    then torch's thread count is raised to the usable CPUs, unless JESS_THREADS, OMP_NUM_THREADS or
    MKL_NUM_THREADS says otherwise (JESS_THREADS wins). JESS_MALLOC_TUNING=0 keeps glibc's defaults.
    """
    tuning = _jess._tune_allocator()
    env = _os.environ.get("JESS_THREADS", "")
    if env.strip().isdigit() and int(env) > 0:
        torch.set_num_threads(int(env))
    elif not any(_os.environ.get(v) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        usable = len(_os.sched_getaffinity(0)) if hasattr(_os, "sched_getaffinity") else (_os.cpu_count() or 1)
        if torch.get_num_threads() == 1 and usable > 1:
            torch.set_num_threads(usable)
    return tuning


_malloc_tuning = _start_up()

from . import cells, eval, models, pde, render, ssl  # noqa: E402

__all__ = ["pde", "ssl", "eval", "models", "cells", "render", "__version__"]
