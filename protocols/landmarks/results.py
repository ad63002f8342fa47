"""The result types of the landmark protocol: :class:`Score` (one benchmark number, what
:func:`~lkbench.protocols.landmarks.score.score` returns), :class:`Fitted` (what a regression
variant returns) and :class:`ErrorValue` (what an error formula returns).

Kept apart from the numerics so that the regression variants (:mod:`.regressions`), the error
formulas (:mod:`.errors`) and :mod:`.score` share them without importing each other.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .solvers import DEFAULT_SOLVER
from .uncertainty import PerImage

__all__ = ["Score", "Fitted", "ErrorValue"]


@dataclass(frozen=True)
class Score:
    """One benchmark number, as :func:`~lkbench.protocols.landmarks.score.score` returns it.

    Attributes:
        benchmark: canonical benchmark name.
        value: the number in the benchmark's published unit (e.g. 5.63 = 5.63 % of IOD).
        unit: unit string, same as ``BenchmarkSpec.unit`` and ``results/published.csv``.
        higher_is_better: ``True`` for PCK, ``False`` for errors.
        n: test images that contributed (images with at least one visible landmark).
        formula: name of the error formula (a key of :data:`~lkbench.protocols.landmarks.errors.ERRORS`).
        regression: regression variant used (a key of :data:`~lkbench.protocols.landmarks.regressions.REGRESSIONS`).
        min_norm: a rank-deficient fit used the minimum-norm least-squares solution (exact
            solver only; the ``alk`` solver's ridge fallback is reported in ``notes``).
        center: the bias-free fit ran in the centred frame.
        settings: effective error-formula settings, e.g. ``(("normaliser", "eyes"),)``.
        by_group: per-group values (H3.6M activities) in the same unit, when groups were given.
        notes: human-readable remarks on the fit (relabelled frames, landmarks without fit rows).
        solver: least-squares solver used (a key of :data:`~lkbench.protocols.landmarks.solvers.SOLVERS`).
        per_landmark: the error of each ground-truth landmark alone, in the same unit (``L``
            values; NaN for a landmark that is never visible in the test split).
        per_image: each test image's contribution (:class:`~lkbench.protocols.landmarks.uncertainty.
            PerImage`, ``M`` entries in test order, weight 0 for images not scored).
    """

    benchmark: str
    value: float
    unit: str
    higher_is_better: bool
    n: int
    formula: str
    regression: str
    min_norm: bool
    center: bool
    settings: tuple[tuple[str, object], ...] = ()
    by_group: tuple[tuple[str, float], ...] = ()
    notes: tuple[str, ...] = ()
    solver: str = DEFAULT_SOLVER
    per_landmark: tuple[float, ...] = ()
    per_image: "PerImage | None" = field(default=None, compare=False)


@dataclass(frozen=True)
class Fitted:
    """Regressed test landmarks.

    Attributes:
        pred: float64 ``[N,L,2]`` predicted landmarks, in the regression frame.
        min_norm: some least-squares solve was rank-deficient (minimum-norm solution used).
        notes: remarks for :attr:`Score.notes`.
    """

    pred: np.ndarray
    min_norm: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ErrorValue:
    """What an error formula returns: the value, the images used, the settings applied, the
    value of each landmark alone (``per_landmark``, same unit; NaN where never visible) and each
    test image's contribution (``per_image``: ``value == per_image.value`` up to rounding; the
    input of the bootstrap intervals of :mod:`~lkbench.protocols.landmarks.uncertainty`)."""

    value: float
    n: int
    settings: tuple[tuple[str, object], ...] = ()
    by_group: tuple[tuple[str, float], ...] = ()
    per_landmark: tuple[float, ...] = ()
    per_image: "PerImage | None" = field(default=None, compare=False)

