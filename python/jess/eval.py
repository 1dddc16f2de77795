"""Label-free and labelled evaluation of representations on tensors (jess eval's kernels).

RankMe (Garrido et al. 2023) is computed from the float64 Gram spectrum, not a full SVD.
"""
from typing import Dict, Optional, Sequence

import torch

from . import _jess


def singular_values(z: torch.Tensor) -> torch.Tensor:
    """Singular values of the rows of ``z`` (N, K), descending, float64."""
    return _jess.singular_values(z)


def rankme(z: torch.Tensor, eps: float = 1e-7) -> float:
    """RankMe: exp of the entropy of the normalised singular values of ``z`` (uncentred)."""
    return _jess.rankme(z, eps)


def numerical_rank(z: torch.Tensor, rtol: float = 0.0) -> int:
    """Singular values above ``rtol * sigma_max`` (0: NumPy's matrix_rank default, at least 1e-7)."""
    return _jess.numerical_rank(z, rtol)


def knn(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
        ks: Sequence[int] = (20, 200), temperature: float = 0.07) -> Dict[int, Dict[str, float]]:
    """Weighted cosine k-NN (votes exp(s / T)); returns {k: {"top1", "top5"}} as fractions."""
    if not ks:
        raise ValueError("ks: give at least one k")
    ks = [k for k in ks if k <= train_x.shape[0]] or [train_x.shape[0]]  # k beyond the bank: the whole bank
    return _jess.knn(train_x, train_y, test_x, test_y, list(ks), temperature)


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                 weight_decays: Optional[Sequence[float]] = None, max_iterations: int = 300,
                 seed: int = 0) -> Dict[str, object]:
    """Multinomial logistic regression on standardised features (L-BFGS), weight decay chosen on a
    validation split of the training set; returns top1, top5, weight_decay, validation_top1, scores."""
    return _jess.classifier_probe(train_x, train_y, test_x, test_y, 0, list(weight_decays or []),
                                  max_iterations, 100, seed)


def mlp_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
              hidden: int = 512, epochs: int = 100, seed: int = 0) -> Dict[str, object]:
    """One-hidden-layer MLP probe (Adam), weight decay chosen as for the linear probe."""
    return _jess.classifier_probe(train_x, train_y, test_x, test_y, hidden, [], 300, epochs, seed)


def ridge_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                alphas: Optional[Sequence[float]] = None, folds: int = 5, seed: int = 0) -> Dict[str, object]:
    """Closed-form ridge regression, alpha by k-fold cross-validation; test MSE, NMSE, R^2."""
    return _jess.ridge_probe(train_x, train_y, test_x, test_y, list(alphas or []), folds, seed)
