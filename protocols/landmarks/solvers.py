"""Least-squares solvers for the landmark regressions: ``exact`` (lkbench) and ``alk`` (the
published AutoLink/GANSeg arithmetic).

``docs/protocols.md`` §0.1: the regressions solve ``β = argmin ‖Xβ − Y‖_F``. lkbench solves them
exactly (float64 :func:`numpy.linalg.lstsq`, minimum-norm solution when rank-deficient). The code
behind the published numbers (ALK ``datasets/*.py`` ``regress_kp``, GSG ``test_seg.py``) instead
evaluates the float32 normal equations with a matrix inverse,

    ``beta = (X.T @ X).inverse() @ X.T @ y``          (torch float32, left to right)

and, when the inverse raises (an exactly singular ``XᵀX``, e.g. a keypoint that never moves),
falls back to ridge regression

    ``beta = (X.T @ X + λ·I).inverse() @ X.T @ y``

with ``λ = 1`` (CelebA, CUB, Taichi) or ``λ = 1e-3`` (DeepFashion, whose ``X`` ALK also scales
by 255 before solving). ``XᵀX`` is badly conditioned for keypoint coordinates (condition numbers
up to 6e7 were measured), so the float32 answer can differ from the exact one by a few percent
of the final error; ``alk`` lets a user reproduce a published number from the same detections
and see how far it is from the exact one. The solver is a *numerical* choice only: frames,
scaling of the ground truth and everything else stay lkbench's.

A solver is a callable ``solve(a, b) -> Solution``; :func:`get_solver` builds the one a benchmark
needs from :data:`SOLVERS`.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np
import torch

from lkbench.registry import Registry

__all__ = ["Solution", "Solve", "SolverSpec", "SOLVERS", "ALK_RIDGE", "ALK_X_SCALE",
           "DEFAULT_SOLVER", "get_solver", "solve_exact", "solve_alk"]

DEFAULT_SOLVER = "exact"

ALK_RIDGE: Mapping[str, float] = MappingProxyType({"deepfashion": 1e-3})
"""Ridge λ of ALK's fallback per benchmark; every other benchmark uses ``1.0`` (ALK
``celeba_wild.py``, ``cub.py``, ``taichi.py``: ``torch.eye``; ``deepfashion.py``: ``1e-3``)."""

ALK_X_SCALE: Mapping[str, float] = MappingProxyType({"deepfashion": 255.0})
"""Factor ALK multiplies the [0, 1]-frame detections by before solving (``deepfashion.py``:
``X = X * 255``); 1 elsewhere. Predictions ``Xβ`` do not depend on it in exact arithmetic."""


@dataclass(frozen=True)
class Solution:
    """A solved least-squares system.

    Attributes:
        beta: float64 ``[P, M]`` coefficients (``a @ beta ≈ b``).
        rank_deficient: the system had no unique solution (minimum-norm or ridge answer used).
        note: a remark for :attr:`lkbench.protocols.landmarks.results.Score.notes`, or ``None``.
    """

    beta: np.ndarray
    rank_deficient: bool = False
    note: "str | None" = None


Solve = Callable[[np.ndarray, np.ndarray], Solution]
"""``solve(a [N,P] float64, b [N,M] float64) -> Solution``."""


def solve_exact(a: np.ndarray, b: np.ndarray) -> Solution:
    """β minimising ‖aβ − b‖_F in float64 (:func:`numpy.linalg.lstsq`, SVD).

    For a rank-deficient ``a`` this is the minimum-norm solution (``rank_deficient=True``).
    """
    beta, _res, rank, _sv = np.linalg.lstsq(a, b, rcond=None)
    return Solution(beta, int(rank) < a.shape[1])


def solve_alk(a: np.ndarray, b: np.ndarray, *, ridge: float = 1.0, x_scale: float = 1.0
              ) -> Solution:
    """ALK's float32 normal equations: ``(XᵀX)⁻¹ Xᵀ Y``, ridge ``λ`` if the inverse raises.

    The torch expression of ALK ``regress_kp`` on the CPU: ``X`` and ``Y`` cast to float32,
    ``beta = (X.T @ X).inverse() @ X.T @ y`` evaluated left to right, and on any inversion error
    ``(X.T @ X + λ·eye).inverse() @ X.T @ y``; for the same float32 ``X`` and ``Y`` this β equals
    ALK's bit for bit. Predictions and errors are then computed in float64 by the caller (ALK
    stays in float32 there, a difference of order 1e-7 relative).

    Args:
        a: float64 ``[N,P]`` design matrix (the regression frame).
        b: float64 ``[N,M]`` targets.
        ridge: ``λ`` of the fallback.
        x_scale: factor applied to ``a`` before solving (ALK scales DeepFashion's by 255); β is
            returned for the unscaled ``a``, so ``a @ beta`` is what ALK predicts.

    Returns:
        :class:`Solution` with float64 β (the float32 values, widened); ``rank_deficient`` and a
        note when the ridge fallback ran.
    """
    x = torch.from_numpy(np.ascontiguousarray(a * x_scale, dtype=np.float32))
    y = torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32))
    note = None
    try:
        beta = (x.T @ x).inverse() @ x.T @ y
    except RuntimeError:  # torch.linalg.LinAlgError: singular XᵀX, as ALK's bare `except`
        eye = torch.eye(x.shape[1], dtype=x.dtype)
        beta = (x.T @ x + ridge * eye).inverse() @ x.T @ y
        note = (f"alk solver: XᵀX is singular, so ALK's ridge fallback (λ = {ridge:g}) was used "
                "where the exact solver takes the minimum-norm solution")
    return Solution(beta.double().numpy() * x_scale, note is not None, note)


@dataclass(frozen=True)
class SolverSpec:
    """A solver family: ``build(benchmark) -> Solve`` and a one-line description."""

    build: Callable[[str], Solve]
    description: str


def _alk_for(benchmark: str) -> Solve:
    ridge, scale = ALK_RIDGE.get(benchmark, 1.0), ALK_X_SCALE.get(benchmark, 1.0)
    return lambda a, b: solve_alk(a, b, ridge=ridge, x_scale=scale)


SOLVERS: Registry[SolverSpec] = Registry("solvers")
SOLVERS.add("exact", SolverSpec(lambda _benchmark: solve_exact,
                                "float64 least squares (numpy lstsq); minimum-norm when "
                                "rank-deficient (lkbench default)"))
SOLVERS.add("alk", SolverSpec(_alk_for,
                              "float32 normal equations with a matrix inverse, ridge fallback "
                              "(lambda 1; 1e-3 for DeepFashion) as the AutoLink/GANSeg code"))


def get_solver(name: str, benchmark: str) -> Solve:
    """The solver ``name`` (a key of :data:`SOLVERS`) configured for canonical ``benchmark``.

    Raises:
        UnknownNameError: unknown solver name (the message lists the known ones).
    """
    return SOLVERS.get(name).build(benchmark)
