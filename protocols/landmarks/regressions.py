"""Regression variants of ``docs/protocols.md`` §0.1: how detected keypoints are mapped onto a
benchmark's annotated landmarks (R-JOINT, R-VIS, R-COORD, R-H36M with its left/right swap, none).

Every variant is a pure function of float64 arrays already in the regression frame (see
:mod:`.score`), registered in :data:`REGRESSIONS`; a :class:`~.benchmarks.BenchmarkSpec` names
the ones it allows.

Numerics. By default (``solver="exact"``) all fits are least squares in float64 with
:func:`numpy.linalg.lstsq`. Where the design matrix is rank-deficient (a collapsed keypoint, fewer
fit rows than unknowns) lstsq returns the minimum-norm solution; :class:`~.results.Score` says so
(``min_norm``). The published code (ALK/GSG) inverts ``XᵀX`` in float32 and falls back to ridge;
``solver="alk"`` reproduces that arithmetic (:mod:`lkbench.protocols.landmarks.solvers`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from lkbench.errors import DataError
from lkbench.registry import Registry
from .results import Fitted
from .solvers import Solve, solve_exact

__all__ = ["RegressionVariant", "REGRESSIONS", "regress_joint", "regress_vis", "regress_coord",
           "regress_h36m", "regress_none", "swap_permutation", "RELABEL_MAX_CHANGED",
           "TRIM_NUM_STD", "RELABEL_MAX_ROUNDS"]

# ALK `h36m.py`: stop relabelling once at most this many frames would change label.
RELABEL_MAX_CHANGED = 10
# ALK `h36m.py`: after relabelling, drop fit frames whose error is >= mean + 3 std.
TRIM_NUM_STD = 3.0
# Not in ALK (its loop is unbounded); a cap so a pathological input cannot spin forever.
RELABEL_MAX_ROUNDS = 100


@dataclass(frozen=True)
class RegressionVariant:
    """A regression variant of spec §0.1.

    Attributes:
        fn: ``fn(fit_x, fit_y, fit_visible, test_x, *, solve, **spec_fields) -> Fitted``; arrays
            in the frame; ``solve`` (a :data:`~lkbench.protocols.landmarks.solvers.Solve`) is passed only
            to variants that fit (``needs_fit``).
        needs_fit: whether a fit split is required (``False`` only for ``"none"``).
        spec_fields: ``BenchmarkSpec`` attributes passed to ``fn`` as keywords.
    """

    fn: Callable[..., Fitted]
    needs_fit: bool = True
    spec_fields: tuple[str, ...] = ()


REGRESSIONS: Registry[RegressionVariant] = Registry("regressions")


# ==================== linear algebra
def _flatten(kp: np.ndarray) -> np.ndarray:
    """``[N,P,2]`` → ``[N,2P]`` as (x0, y0, x1, y1, …); fit and test use the same order."""
    return kp.reshape(kp.shape[0], -1)


def _with_ones(kp: np.ndarray) -> np.ndarray:
    """``[N,K,2]`` → design ``[N,2K+1]`` with a trailing ones column (the intercept)."""
    return np.hstack([_flatten(kp), np.ones((kp.shape[0], 1))])


@dataclass(frozen=True)
class _Coefficients:
    """What :func:`_fit_landmarks` returns: β ``[P,L,2]`` (0 for landmarks without rows), whether
    a solve was rank-deficient, those landmarks, and the solver's remarks."""

    beta: np.ndarray
    deficient: bool
    empty: tuple[int, ...]
    notes: tuple[str, ...]


def _fit_landmarks(design: np.ndarray, y: np.ndarray, visible: np.ndarray,
                   solve: Solve = solve_exact) -> _Coefficients:
    """Least squares of every landmark on the rows where it is visible.

    Least squares solves each output column independently, so fitting landmark ``l`` on its
    visible rows only equals a joint fit when everything is visible; landmarks that share a
    visibility pattern are solved in one call.

    Args:
        design: float64 ``[N,P]`` design matrix.
        y: float64 ``[N,L,2]`` targets (values at invisible entries are never read).
        visible: bool ``[N,L]``.
        solve: the least-squares solver (default: exact float64).

    Returns:
        :class:`_Coefficients`.
    """
    num_params, num_landmarks = design.shape[1], y.shape[1]
    beta = np.zeros((num_params, num_landmarks, 2))
    patterns, which = np.unique(visible.T, axis=0, return_inverse=True)
    which = which.ravel()
    deficient, empty, notes = False, [], []
    for k, rows in enumerate(patterns):
        lms = np.flatnonzero(which == k)
        if not rows.any():
            empty.extend(int(l) for l in lms)
            continue
        sol = solve(design[rows], y[rows][:, lms].reshape(int(rows.sum()), -1))
        beta[:, lms] = sol.beta.reshape(num_params, len(lms), 2)
        deficient |= sol.rank_deficient
        if sol.note and sol.note not in notes:
            notes.append(sol.note)
    return _Coefficients(beta, deficient, tuple(sorted(empty)), tuple(notes))


def _apply(design: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``design [N,P] @ β [P,L,2]`` → predictions ``[N,L,2]``."""
    return (design @ beta.reshape(beta.shape[0], -1)).reshape(design.shape[0], -1, 2)


def _require_rows(empty: tuple[int, ...], variant: str) -> None:
    if empty:
        raise DataError(f"fit_visible marks landmark(s) {list(empty)} invisible in every fit "
                        f"image; regression {variant!r} needs at least one visible fit row per "
                        "landmark: fix the mask or add fit images that show them")


def _empty_note(empty: tuple[int, ...]) -> tuple[str, ...]:
    if not empty:
        return ()
    return (f"landmark(s) {list(empty)} have no visible fit row: their coefficients are 0 "
            "(as in ALK), so they are predicted at the frame origin",)


# ==================== regression variants
def regress_joint(fit_x: np.ndarray, fit_y: np.ndarray, fit_visible: np.ndarray,
                  test_x: np.ndarray, *, solve: Solve = solve_exact) -> Fitted:
    """R-JOINT: every GT coordinate from every detected coordinate, no bias.

    ``Ŷ = X β`` with ``X = [N, 2K]`` flattened detections and ``Y = [N, 2L]`` flattened GT, both
    in the regression frame; ``β ∈ R^{2K×2L}`` minimises ‖Xβ − Y‖_F over the fit split
    (``numpy.linalg.lstsq``, float64). Follows ALK/GSG ``regress_kp`` (``(XᵀX)⁻¹XᵀY``) and IMM
    (``Ridge(alpha=0, fit_intercept=False)``). Used by CelebA/MAFL, DeepFashion and 300-W.
    Entries marked invisible are left out of their landmark's fit (with everything visible this
    is exactly the joint fit, since least squares solves each output column separately).

    Args:
        fit_x: float64 ``[N,K,2]`` detections of the fit split, in the frame.
        fit_y: float64 ``[N,L,2]`` GT of the fit split, in the frame.
        fit_visible: bool ``[N,L]``.
        test_x: float64 ``[M,K,2]`` detections of the test split, in the frame.
        solve: least-squares solver (:mod:`lkbench.protocols.landmarks.solvers`); default exact float64.

    Returns:
        :class:`Fitted` with ``pred [M,L,2]`` in the frame.

    Raises:
        DataError: a landmark has no visible fit row.
    """
    c = _fit_landmarks(_flatten(fit_x), fit_y, fit_visible, solve)
    _require_rows(c.empty, "joint")
    return Fitted(_apply(_flatten(test_x), c.beta), c.deficient, c.notes)


def regress_vis(fit_x: np.ndarray, fit_y: np.ndarray, fit_visible: np.ndarray,
                test_x: np.ndarray, *, solve: Solve = solve_exact) -> Fitted:
    """R-VIS: one bias-free ``β_l ∈ R^{2K×2}`` per GT landmark, fitted on its visible rows.

    ``ŷ_{n,l} = x_n β_l`` with ``β_l = argmin Σ_{n: v_{n,l}} ‖x_n β_l − y_{n,l}‖²``; a landmark
    with no visible fit row gets ``β_l = 0`` (ALK ``cub.py``: the singular normal equations fall
    back to ridge, whose solution is 0). Used by all CUB benchmarks.

    Args/Returns: as :func:`regress_joint`.
    """
    c = _fit_landmarks(_flatten(fit_x), fit_y, fit_visible, solve)
    return Fitted(_apply(_flatten(test_x), c.beta), c.deficient, _empty_note(c.empty) + c.notes)


def regress_coord(fit_x: np.ndarray, fit_y: np.ndarray, fit_visible: np.ndarray,
                  test_x: np.ndarray, *, solve: Solve = solve_exact) -> Fitted:
    """R-COORD: one scalar regressor with intercept per (GT joint, coordinate).

    ``ŷ_{n,j,c} = [x_n, 1] β_{j,c}``, fitted on the rows where joint ``j`` is annotated (MSCS
    ``evaluate.py``: ``sklearn LinearRegression`` per coordinate on rows whose GT is not −1; ALK/GSG
    ``taichi.py``: the same closed form with a ones column). A joint without annotated fit rows
    gets ``β = 0`` as in ALK. Used by Taichi. The intercept makes the result independent of the
    frame's origin.

    Args/Returns: as :func:`regress_joint`.
    """
    c = _fit_landmarks(_with_ones(fit_x), fit_y, fit_visible, solve)
    return Fitted(_apply(_with_ones(test_x), c.beta), c.deficient,
                  _empty_note(c.empty) + c.notes)


def regress_none(fit_x: "np.ndarray | None", fit_y: "np.ndarray | None",
                 fit_visible: "np.ndarray | None", test_x: np.ndarray) -> Fitted:
    """No regression: ``ŷ_{n,l} = x_{n,l}``, the model's ``K = L`` outputs are the predictions.

    KeypointGAN's 300-W "w/o post-processing" and its Simplified H3.6M numbers (SEED-KG, KPG
    ``test_pose.py``). The fit split is not used.
    """
    return Fitted(test_x.copy())


def swap_permutation(num_landmarks: int, flip_pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """Index array that exchanges every left/right pair: ``gt[:, perm]`` is the L/R-swapped GT.

    Args:
        num_landmarks: ``L``.
        flip_pairs: disjoint 0-based ``(left, right)`` pairs.

    Returns:
        int ``[L]``, an involution (``perm[perm] == arange(L)``).

    Raises:
        DataError: a pair repeats an index or leaves ``[0, L)`` — the list would not be a
            permutation (ALK's list, with both (20, 28) and (21, 28), is rejected).
    """
    perm = np.arange(num_landmarks)
    seen: set[int] = set()
    for a, b in flip_pairs:
        for i in (a, b):
            if i in seen or not 0 <= i < num_landmarks:
                raise DataError(f"flip pairs are not a permutation of {num_landmarks} landmarks: "
                                f"index {i} in pair ({a}, {b}) is repeated or out of range; list "
                                "each landmark in at most one pair")
            seen.add(i)
        perm[a], perm[b] = b, a
    return perm


def _frame_distance(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Per image, the mean over visible landmarks of ‖ŷ − y‖₂; ``[N]``, NaN if none is visible."""
    dist = np.where(visible, np.linalg.norm(pred - gt, axis=-1), 0.0)
    count = visible.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return dist.sum(axis=1) / count


def _relabel(design: np.ndarray, y: np.ndarray, visible: np.ndarray, perm: np.ndarray,
             solve: Solve = solve_exact
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, bool]:
    """ALK's loop: refit, swap the labels of frames closer to their swapped GT, until ≤ 10 change.

    Returns:
        ``(y, visible, distance [N], swapped [N] bool, rounds, converged)``; ``distance`` is each
        frame's error against its final labels under the last fit, as ALK's trim uses it.
    """
    swapped = np.zeros(y.shape[0], dtype=bool)
    rounds = 0
    while True:
        c = _fit_landmarks(design, y, visible, solve)
        _require_rows(c.empty, "h36m")
        pred = _apply(design, c.beta)
        dist = _frame_distance(pred, y, visible)
        change = dist > _frame_distance(pred, y[:, perm], visible[:, perm])
        settled = int(change.sum()) <= RELABEL_MAX_CHANGED
        if settled or rounds == RELABEL_MAX_ROUNDS:
            return y, visible, dist, swapped, rounds, settled
        y = np.where(change[:, None, None], y[:, perm], y)
        visible = np.where(change[:, None], visible[:, perm], visible)
        swapped ^= change
        rounds += 1


def _trim_mask(dist: np.ndarray) -> np.ndarray:
    """Frames kept by ALK's outlier trim: ``dist < mean + 3·std`` (unbiased std, as torch).

    With zero spread (e.g. a perfect fit) no frame is an outlier and all are kept; the literal
    rule would drop every frame. Frames without a visible landmark (NaN) are dropped.
    """
    finite = np.isfinite(dist)
    if finite.sum() < 2 or dist[finite].std() == 0:
        return finite
    limit = dist[finite].mean() + TRIM_NUM_STD * dist[finite].std(ddof=1)
    return finite & (dist < limit)


def regress_h36m(fit_x: np.ndarray, fit_y: np.ndarray, fit_visible: np.ndarray,
                 test_x: np.ndarray, *, flip_pairs: Sequence[tuple[int, int]],
                 solve: Solve = solve_exact) -> Fitted:
    """R-H36M: R-JOINT with ALK's left/right relabelling loop and outlier trim (spec §1.7).

    1. Fit ``β`` bias-free on all fit frames (as :func:`regress_joint`).
    2. For each frame compare ``d_n`` = mean_l ‖ŷ_{n,l} − y_{n,l}‖₂ against its GT and ``d'_n``
       against its L/R-swapped GT; if more than 10 frames have ``d'_n < d_n``, swap their labels,
       refit and repeat.
    3. Drop frames with ``d_n ≥ mean(d) + 3·std(d)``; refit on the rest.

    Follows ALK ``datasets/h36m.py`` ``regress_kp``, but with KeypointGAN's pair list (a true
    permutation) instead of ALK's.

    Args:
        fit_x, fit_y, fit_visible, test_x: as :func:`regress_joint`.
        flip_pairs: 0-based left/right landmark pairs.
        solve: least-squares solver; default exact float64.

    Returns:
        :class:`Fitted`; its notes give the number of relabelled and trimmed frames.
    """
    design = _flatten(fit_x)
    perm = swap_permutation(fit_y.shape[1], flip_pairs)
    y, visible, dist, swapped, rounds, converged = _relabel(design, fit_y, fit_visible, perm,
                                                            solve)
    keep = _trim_mask(dist)
    c = _fit_landmarks(design[keep], y[keep], visible[keep], solve)
    _require_rows(c.empty, "h36m")
    notes = [f"relabelled {int(swapped.sum())} fit frame(s) to their L/R-swapped GT in {rounds} "
             f"round(s); trimmed {int((~keep).sum())} outlier frame(s) (error >= mean + "
             f"{TRIM_NUM_STD:g} std)"]
    if not converged:
        notes.append(f"relabelling stopped after {RELABEL_MAX_ROUNDS} rounds without settling")
    return Fitted(_apply(_flatten(test_x), c.beta), c.deficient, tuple(notes) + c.notes)


for _name, _variant, _aliases in (
    ("joint", RegressionVariant(regress_joint), ("R-JOINT",)),
    ("vis", RegressionVariant(regress_vis), ("R-VIS",)),
    ("coord", RegressionVariant(regress_coord), ("R-COORD",)),
    ("h36m", RegressionVariant(regress_h36m, spec_fields=("flip_pairs",)), ("R-H36M",)),
    ("none", RegressionVariant(regress_none, needs_fit=False), ()),
):
    REGRESSIONS.add(_name, _variant, aliases=_aliases)
