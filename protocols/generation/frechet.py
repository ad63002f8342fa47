"""Streaming Gaussian statistics of features and the Fréchet distance between two of them.

``FD = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^{1/2})`` (spec §3.1). The distance itself is
clean-fid's :func:`cleanfid.fid.frechet_distance` (``scipy.linalg.sqrtm``; if the square root is
not finite it retries with ``1e-6·I`` added to both covariances), so lkbench's numbers are
clean-fid's. What lkbench adds is :class:`FeatureStats`: ``μ`` and the unbiased ``Σ`` (as
``np.cov(rowvar=False)``) from float64 running sums, so memory does not grow with the number of
images (clean-fid keeps every feature vector).
"""
from __future__ import annotations

import contextlib
import sys

import numpy as np
import torch
from torch import Tensor

from lkbench.errors import DataError

__all__ = ["FeatureStats", "frechet_distance"]


class FeatureStats:
    """Running ``n``, mean ``[D]`` and co-moment ``Σ (x − μ)(x − μ)ᵀ`` ``[D,D]`` in float64.

    Blocks of rows are merged with the pairwise update (Chan et al.), which avoids the
    cancellation of raw sums of squares; the result equals ``np.mean`` / ``np.cov`` of all rows
    to rounding. Incoming batches are held until :data:`BLOCK_ROWS` rows have arrived, so the
    ``D×D`` update runs once per block rather than once per (small) batch — at D = 2048 that
    update costs as much as the features of a small batch. Memory stays bounded by one block.
    """

    BLOCK_ROWS = 1024

    def __init__(self, dim: int):
        self.dim = int(dim)
        self._n = 0
        self._mean = torch.zeros(self.dim, dtype=torch.float64)
        self._comoment = torch.zeros(self.dim, self.dim, dtype=torch.float64)
        self._pending: list[Tensor] = []
        self._pending_rows = 0

    @property
    def n(self) -> int:
        return self._n + self._pending_rows

    @property
    def mean(self) -> Tensor:
        self._flush()
        return self._mean

    @property
    def comoment(self) -> Tensor:
        self._flush()
        return self._comoment

    def update(self, features: "Tensor | np.ndarray") -> None:
        """Add rows: ``features`` ``[B, D]``."""
        x = torch.as_tensor(features).detach().to("cpu", torch.float64)
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise DataError(f"features must be [B, {self.dim}], got shape {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise DataError("the feature network returned NaN or inf; check the images "
                            "(generator weights) and the feature weights")
        if x.shape[0] == 0:
            return
        self._pending.append(x)
        self._pending_rows += x.shape[0]
        if self._pending_rows >= self.BLOCK_ROWS:
            self._flush()

    def _flush(self) -> None:
        """Fold the held rows into the running statistics."""
        if not self._pending:
            return
        x = torch.cat(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending, self._pending_rows = [], 0
        b = x.shape[0]
        mean_b = x.mean(0)
        xc = x - mean_b
        n_a, n = self._n, self._n + b
        delta = mean_b - self._mean
        self._comoment += xc.T @ xc + torch.outer(delta, delta) * (n_a * b / n)
        self._mean += delta * (b / n)
        self._n = n

    def merge(self, other: "FeatureStats") -> None:
        """Fold in another accumulator of the same dimension."""
        if other.dim != self.dim:
            raise DataError(f"cannot merge {other.dim}-d statistics into {self.dim}-d ones")
        if other.n == 0:
            return
        self._flush()
        o_mean, o_com = other.mean, other.comoment          # flushes ``other``
        n_a, n = self._n, self._n + other.n
        delta = o_mean - self._mean
        self._comoment += o_com + torch.outer(delta, delta) * (n_a * other.n / n)
        self._mean += delta * (other.n / n)
        self._n = n

    def compute(self) -> tuple[np.ndarray, np.ndarray]:
        """``(μ [D], Σ [D,D])`` as float64 numpy; ``Σ`` unbiased (divided by ``n − 1``)."""
        if self.n < 2:
            raise DataError(f"a covariance needs at least 2 samples, got {self.n}")
        self._flush()
        return self._mean.numpy().copy(), (self._comoment / (self._n - 1)).numpy()


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
    """clean-fid's Fréchet distance of ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``.

    Args:
        mu1, mu2: ``[D]`` means; sigma1, sigma2: ``[D,D]`` covariances (float64).

    Raises:
        DataError: mismatched shapes, or a square root with a large imaginary part.
    """
    from cleanfid.fid import frechet_distance as cleanfid_fd

    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    if mu1.shape != mu2.shape or np.shape(sigma1) != np.shape(sigma2) \
            or np.shape(sigma1) != (mu1.shape[0],) * 2:
        raise DataError(f"statistics do not match: means {mu1.shape} / {mu2.shape}, covariances "
                        f"{np.shape(sigma1)} / {np.shape(sigma2)}; were they computed with the "
                        "same feature network?")
    try:  # clean-fid prints its singular-product notice; keep stdout for results
        with contextlib.redirect_stdout(sys.stderr):
            return float(cleanfid_fd(mu1, sigma1, mu2, sigma2))
    except ValueError as exc:
        raise DataError(f"the Fréchet distance is not real ({exc}); use more samples "
                        "(n well above the feature size)") from exc
