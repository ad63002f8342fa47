"""Regression of detected keypoints onto annotated landmarks, and the benchmark error formulas.

Spec: ``protocols.md`` §0.1 (regression variants) and §1 (per-benchmark errors). Everything here
is a pure function of arrays; :func:`score` is the one entry point that ties a benchmark name
(:data:`lkbench.protocols.landmarks.benchmarks.BENCHMARKS`) to its regression variant and error formula.

Coordinates. Inputs follow the project convention of :mod:`lkbench.keypoints`: float ``[N,K,2]``
detections and ``[N,L,2]`` ground truth, ``(x, y)`` in ``[-1, 1]`` with the image edges at ±1.
Regressions run in the protocols' "[0, 1] frame" ``u = (v + 1)/2`` (top-left origin, the LKG
authors' own code ALK/GSG); ``center=True`` subtracts 0.5 from detections *and* ground truth first
(image-centre origin, as ZHG and SKP do). Only the bias-free variants depend on that choice.
Pixel errors convert back with :func:`lkbench.keypoints.to_pixels`, so ground truth that a loader
read with ``from_pixels(px, 256)`` returns to its annotated pixel values exactly.

Numerics. By default (``solver="exact"``) all fits are least squares in float64 with
:func:`numpy.linalg.lstsq`. Where the design matrix is rank-deficient (a collapsed keypoint, fewer
fit rows than unknowns) lstsq returns the minimum-norm solution; :class:`Score` says so
(``min_norm``). The published code (ALK/GSG) inverts ``XᵀX`` in float32 and falls back to ridge;
``solver="alk"`` reproduces that arithmetic (:mod:`lkbench.protocols.landmarks.solvers`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from lkbench.errors import ConfigError, DataError, UnknownNameError
from lkbench.keypoints import from_unit, to_pixels, to_unit
from .benchmarks import BENCHMARKS, BenchmarkSpec
from .solvers import DEFAULT_SOLVER, SOLVERS, Solve, get_solver, solve_exact
from .uncertainty import PerImage
from lkbench.registry import Registry, did_you_mean

__all__ = [
    "Score", "Fitted", "ErrorValue", "RegressionVariant", "ErrorFormula", "Normaliser",
    "REGRESSIONS", "ERRORS", "NORMALISERS", "AGGREGATIONS",
    "score", "score_and_predict",
    "regress_joint", "regress_vis", "regress_coord", "regress_h36m", "regress_none",
    "iod_error", "visible_l2_error", "taichi_mae_sum", "pck", "h36m_swap_error",
    "swap_permutation", "visible_from_sentinel",
]

# ALK `h36m.py`: stop relabelling once at most this many frames would change label.
RELABEL_MAX_CHANGED = 10
# ALK `h36m.py`: after relabelling, drop fit frames whose error is >= mean + 3 std.
TRIM_NUM_STD = 3.0
# Not in ALK (its loop is unbounded); a cap so a pathological input cannot spin forever.
RELABEL_MAX_ROUNDS = 100


# ==================== results
@dataclass(frozen=True)
class Score:
    """One benchmark number, as :func:`score` returns it.

    Attributes:
        benchmark: canonical benchmark name.
        value: the number in the benchmark's published unit (e.g. 5.63 = 5.63 % of IOD).
        unit: unit string, same as ``BenchmarkSpec.unit`` and ``results/published.csv``.
        higher_is_better: ``True`` for PCK, ``False`` for errors.
        n: test images that contributed (images with at least one visible landmark).
        formula: name of the error formula (a key of :data:`ERRORS`).
        regression: regression variant used (a key of :data:`REGRESSIONS`).
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


@dataclass(frozen=True)
class ErrorFormula:
    """An error formula of spec §1.

    Attributes:
        fn: ``fn(pred, gt, visible, **kwargs) -> ErrorValue``; ``[N,L,2]`` in ``[-1, 1]``.
        spec_fields: ``BenchmarkSpec`` attributes passed to ``fn`` as keywords.
        options: keywords a caller may set through ``score(**options)``; their benchmark defaults
            come from ``BenchmarkSpec.error_params``.
    """

    fn: Callable[..., ErrorValue]
    spec_fields: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Normaliser:
    """Inter-ocular distance: ‖mean(GT[left]) − mean(GT[right])‖₂ per image (0-based indices)."""

    name: str
    left: tuple[int, ...]
    right: tuple[int, ...]
    description: str


REGRESSIONS: Registry[RegressionVariant] = Registry("regressions")
ERRORS: Registry[ErrorFormula] = Registry("error-formulas")
NORMALISERS: Registry[Normaliser] = Registry("normalisers")

for _n in (
    Normaliser("eyes", (0,), (1,), "GT landmarks 0 and 1 (eye centres, CelebA/MAFL order)"),
    Normaliser("outer-corners", (36,), (45,), "68-point outer eye corners 36 and 45 (0-based)"),
    Normaliser("pupils", tuple(range(36, 42)), tuple(range(42, 48)),
               "68-point pupil centres: means of points 36-41 and 42-47 (0-based)"),
):
    NORMALISERS.add(_n.name, _n)


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


# ==================== error formulas
def _require_visible(visible: np.ndarray) -> None:
    if not visible.any():
        raise DataError("test_visible marks no landmark visible in the test split, so there is "
                        "nothing to score; check the mask (True = visible) and the split")


def _images_used(visible: np.ndarray) -> int:
    return int(visible.any(axis=1).sum())


def _per_landmark(values: np.ndarray, visible: np.ndarray, scale: float = 1.0
                  ) -> tuple[float, ...]:
    """``scale ·`` the mean of ``values [N,L]`` over the visible images of each landmark;
    NaN for a landmark never visible."""
    count = visible.sum(axis=0)
    total = np.where(visible, values, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return tuple(float(v) for v in scale * total / count)


def _pooled(values: np.ndarray, visible: np.ndarray, scale: float) -> PerImage:
    """Per-image terms of ``scale · mean(values[visible])`` (a mean over visible pairs):
    ``e_n`` the image's mean over its visible landmarks, ``w_n`` their number."""
    count = visible.sum(axis=1).astype(np.float64)
    total = np.where(visible, values, 0.0).sum(axis=1)
    return PerImage(scale * total / np.maximum(count, 1.0), count)


def _inter_ocular(gt_unit: np.ndarray, visible: np.ndarray, normaliser: Normaliser) -> np.ndarray:
    """Per-image normaliser distance ``d_n`` ``[N]`` in the [0, 1] frame (images without any
    visible landmark get 1, they are not scored)."""
    idx = list(normaliser.left + normaliser.right)
    if max(idx) >= gt_unit.shape[1]:
        raise DataError(f"normaliser {normaliser.name!r} uses landmark {max(idx)} but the ground "
                        f"truth has L={gt_unit.shape[1]}; pick a normaliser that fits the "
                        f"annotation (available: {', '.join(NORMALISERS.names())})")
    used = visible.any(axis=1)
    missing = used & ~visible[:, idx].all(axis=1)
    if missing.any():
        raise DataError(f"normaliser {normaliser.name!r} needs landmarks {idx} visible, but test "
                        f"image {int(np.argmax(missing))} lacks one; drop that image or choose "
                        "another normaliser")
    d = np.linalg.norm(gt_unit[:, list(normaliser.left)].mean(axis=1)
                       - gt_unit[:, list(normaliser.right)].mean(axis=1), axis=-1)
    zero = used & (d == 0)
    if zero.any():
        raise DataError(f"ground-truth inter-ocular distance is 0 in test image "
                        f"{int(np.argmax(zero))} (normaliser {normaliser.name!r}: its landmarks "
                        "coincide); fix the annotation or drop the image")
    return np.where(used, d, 1.0)


def iod_error(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, *,
              normaliser: str = "eyes") -> ErrorValue:
    """Mean landmark error normalised by the inter-ocular distance, in percent.

    ``e = 100 · mean_{(n,l): v_{n,l}} ‖ŷ_{n,l} − y_{n,l}‖₂ / d_n`` with ``d_n`` the GT
    inter-ocular distance of image ``n`` (:data:`NORMALISERS`: ``"eyes"`` = landmarks 0 and 1 for
    CelebA/MAFL; ``"outer-corners"`` = 36 and 45 or ``"pupils"`` for 300-W). With everything
    visible this is ALK ``celeba_wild.py`` / GSG ``test_seg.py`` / IMM / ZHG ``mean_error_IOD.m``:
    ``(1/(N·L)) Σ_n Σ_l ‖·‖/d_n``. Unitless ratio, so the pixel scale is irrelevant.

    Args:
        pred: float ``[N,L,2]`` predicted landmarks in ``[-1, 1]``.
        gt: float ``[N,L,2]`` ground truth in ``[-1, 1]``.
        visible: bool ``[N,L]``; invisible pairs are skipped.
        normaliser: a name in :data:`NORMALISERS`.

    Returns:
        :class:`ErrorValue` in % of the inter-ocular distance.
    """
    _require_visible(visible)
    norm = NORMALISERS.get(normaliser)
    gt_u, pred_u = to_unit(gt), to_unit(pred)
    ratio = np.linalg.norm(pred_u - gt_u, axis=-1) / _inter_ocular(gt_u, visible, norm)[:, None]
    return ErrorValue(100.0 * float(ratio[visible].mean()), _images_used(visible),
                      (("normaliser", norm.name),),
                      per_landmark=_per_landmark(ratio, visible, 100.0),
                      per_image=_pooled(ratio, visible, 100.0))


def visible_l2_error(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray) -> ErrorValue:
    """Mean L2 error over visible (image, landmark) pairs in the [0, 1] frame, in percent.

    ``e = 100 · Σ_{n,l} v_{n,l} ‖ŷ_{n,l} − y_{n,l}‖₂ / Σ_{n,l} v_{n,l}`` — one mean over all
    visible pairs, not a mean of per-image means (ALK ``cub.py`` ``test_epoch_end``). Distances in
    units of the image side (the [0, 1] frame), so 1.0 % = 1.28 px at 128×128.

    Args: as :func:`iod_error` (no normaliser).

    Returns:
        :class:`ErrorValue` in % of the image size.

    Raises:
        DataError: no landmark is visible in the test split.
    """
    _require_visible(visible)
    dist = np.linalg.norm(to_unit(pred) - to_unit(gt), axis=-1)
    return ErrorValue(100.0 * float(dist[visible].mean()), _images_used(visible),
                      per_landmark=_per_landmark(dist, visible, 100.0),
                      per_image=_pooled(dist, visible, 100.0))


def taichi_mae_sum(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, *,
                   image_size: int = 256) -> ErrorValue:
    """Sum over the 36 (joint, coordinate) pairs of the mean absolute error, in pixels at 256.

    ``E = Σ_j Σ_{c∈{x,y}} mean_{n: v_{n,j}} |ŷ_{n,j,c} − y_{n,j,c}|`` with coordinates in pixels
    of the 256×256 frames (``to_pixels(·, 256)``), as MSCS ``evaluate.py`` and ALK/GSG compute it
    (spec §1.5; values ≈ 300–440). Missing GT joints (−1 in the pkl files) must be marked
    ``visible=False`` (:func:`visible_from_sentinel`).

    Args:
        pred, gt, visible: as :func:`iod_error`.
        image_size: frame side in pixels.

    Returns:
        :class:`ErrorValue` in pixels (sum of 2·L per-coordinate means).

    Raises:
        DataError: a joint is missing in every test image (its mean would be undefined).
    """
    _require_visible(visible)
    count = visible.sum(axis=0)
    if (count == 0).any():
        raise DataError(f"joint(s) {np.flatnonzero(count == 0).tolist()} are missing in every "
                        "test image, so their mean error is undefined and the sum is not "
                        "comparable; score a test split where each joint is annotated at least "
                        "once")
    err = np.abs(to_pixels(pred, image_size) - to_pixels(gt, image_size))
    per_coord = np.where(visible[..., None], err, 0.0).sum(axis=0) / count[:, None]
    # Image n's share: Σ_j v_nj (|Δx| + |Δy|) / count_j, times the number of scored images, so
    # that the mean over scored images is the sum of per-coordinate means.
    used = visible.any(axis=1)
    share = (np.where(visible, err.sum(axis=-1), 0.0) / count).sum(axis=1) * used.sum()
    return ErrorValue(float(per_coord.sum()), _images_used(visible),
                      (("image_size", image_size),),
                      per_landmark=tuple(float(v) for v in per_coord.sum(axis=1)),
                      per_image=PerImage(share, used.astype(np.float64)))


def pck(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, *, image_size: int = 256,
        threshold_px: float = 6.0) -> ErrorValue:
    """Percentage of correct keypoints: L2 distance strictly below ``threshold_px`` pixels.

    ``PCK = 100 · mean_{(n,j): v_{n,j}} 1[‖ŷ_{n,j} − y_{n,j}‖₂ < 6]`` (ALK ``deepfashion.py``,
    LOR DeepFashion protocol; spec §1.6). Pixel mapping: ``to_pixels(kp, 256)``, i.e. 0-based
    pixel centres of the 256×256 image, ``px = 128·(v + 1) − 0.5``; ground truth read from the
    LOR json with ``from_pixels(px, 256)`` returns to its json values, and distances equal 256 ×
    the [0, 1]-frame distance. A distance of exactly 6 px is a miss.

    Args:
        pred, gt, visible: as :func:`iod_error`.
        image_size: image side in pixels at which the threshold is measured.
        threshold_px: the threshold in pixels.

    Returns:
        :class:`ErrorValue` in percent (higher is better).
    """
    _require_visible(visible)
    dist = np.linalg.norm(to_pixels(pred, image_size) - to_pixels(gt, image_size), axis=-1)
    hit = dist < threshold_px
    return ErrorValue(100.0 * float(hit[visible].mean()), _images_used(visible),
                      (("image_size", image_size), ("threshold_px", threshold_px)),
                      per_landmark=_per_landmark(hit.astype(np.float64), visible, 100.0),
                      per_image=_pooled(hit.astype(np.float64), visible, 100.0))


def _frame_mean(per_frame: np.ndarray, groups: "np.ndarray | None") -> float:
    """Mean over test frames (ALK, SKP)."""
    return float(per_frame.mean())


def _activity_mean(per_frame: np.ndarray, groups: "np.ndarray | None") -> float:
    """Unweighted mean of the per-activity means (KPG; SEED-KG Table 1's "all")."""
    if groups is None:
        raise ConfigError("aggregation 'activity' needs groups=… (one activity label per test "
                          "frame); pass groups or use aggregation='frame'")
    return float(np.mean([per_frame[groups == g].mean() for g in np.unique(groups)]))


AGGREGATIONS: Mapping[str, Callable[[np.ndarray, "np.ndarray | None"], float]] = {
    "frame": _frame_mean,
    "activity": _activity_mean,
}


def _groups_array(groups: "Sequence | np.ndarray | torch.Tensor | None", n: int
                  ) -> "np.ndarray | None":
    if groups is None:
        return None
    arr = np.asarray(groups.cpu() if isinstance(groups, torch.Tensor) else groups)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise DataError(f"groups must give one label per test image (N={n}); got shape "
                        f"{tuple(arr.shape)}")
    return arr.astype(str)


def h36m_swap_error(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, *,
                    flip_pairs: Sequence[tuple[int, int]],
                    groups: "Sequence | np.ndarray | None" = None,
                    aggregation: "str | None" = None) -> ErrorValue:
    """Simplified Human3.6M error: L/R-invariant mean L2 in the [0, 1] frame, in percent.

    Per frame ``e_n = min(mean_l ‖ŷ_{n,l} − y_{n,l}‖₂, mean_l ‖ŷ_{n,l} − y_{n,π(l)}‖₂)`` with ``π``
    the left/right swap (KPG ``test_pose.py`` "min distance"; ZHG ``mean_error_IOD`` with IOD = 1,
    i.e. "normalised by image size"), then ×100 and aggregated:

    * ``"activity"`` — unweighted mean of the per-activity means (KPG; SEED-KG Table 1 "all");
      the default when ``groups`` is given;
    * ``"frame"`` — mean over all test frames (ALK/SKP); the default otherwise.

    Args:
        pred, gt, visible: as :func:`iod_error`; the swapped GT swaps visibility too.
        flip_pairs: 0-based left/right pairs (KeypointGAN's list).
        groups: optional ``[N]`` activity label per test frame.
        aggregation: ``"activity"`` or ``"frame"`` (:data:`AGGREGATIONS`).

    Returns:
        :class:`ErrorValue` in % of the image size; ``by_group`` holds per-activity means;
        ``per_landmark`` is each joint's mean over frames under the labelling (as is or swapped)
        that each frame's minimum chose.
    """
    _require_visible(visible)
    perm = swap_permutation(gt.shape[1], flip_pairs)
    pred_u, gt_u = to_unit(pred), to_unit(gt)
    as_is = _frame_distance(pred_u, gt_u, visible)
    swapped = _frame_distance(pred_u, gt_u[:, perm], visible[:, perm])
    per_frame = np.fmin(as_is, swapped)
    use_swap = (swapped < as_is)[:, None]
    chosen_gt = np.where(use_swap[..., None], gt_u[:, perm], gt_u)
    chosen_vis = np.where(use_swap, visible[:, perm], visible)
    per_joint = _per_landmark(np.linalg.norm(pred_u - chosen_gt, axis=-1), chosen_vis, 100.0)
    labels = _groups_array(groups, gt.shape[0])
    aggregation = aggregation or ("activity" if labels is not None else "frame")
    if aggregation not in AGGREGATIONS:
        raise UnknownNameError(did_you_mean(aggregation, list(AGGREGATIONS), "aggregation"))
    used = visible.any(axis=1)
    all_frames, all_labels = per_frame, labels
    per_frame, labels = per_frame[used], None if labels is None else labels[used]
    value = 100.0 * AGGREGATIONS[aggregation](per_frame, labels)
    by_group = () if labels is None else tuple(
        (str(g), 100.0 * float(per_frame[labels == g].mean())) for g in np.unique(labels))
    # Frame weights that reproduce the aggregation: 1 per frame, or 1 / (frames in its group)
    # for the mean of activity means.
    weights = used.astype(np.float64)
    if aggregation == "activity" and all_labels is not None:
        groups, inverse = np.unique(all_labels, return_inverse=True)
        size = np.bincount(inverse, weights=weights, minlength=len(groups))
        weights = np.where(used, 1.0 / np.maximum(size[inverse], 1.0), 0.0)
    per_image = PerImage(100.0 * np.where(used, all_frames, 0.0), weights)
    return ErrorValue(value, int(used.sum()), (("aggregation", aggregation),), by_group,
                      per_joint, per_image)


for _name, _formula in (
    ("iod_error", ErrorFormula(iod_error, options=("normaliser",))),
    ("visible_l2_error", ErrorFormula(visible_l2_error)),
    ("taichi_mae_sum", ErrorFormula(taichi_mae_sum, spec_fields=("image_size",))),
    ("pck", ErrorFormula(pck, spec_fields=("image_size",), options=("threshold_px",))),
    ("h36m_swap_error", ErrorFormula(h36m_swap_error, spec_fields=("flip_pairs",),
                                     options=("groups", "aggregation"))),
):
    ERRORS.add(_name, _formula)


# ==================== input checks
def visible_from_sentinel(raw: "np.ndarray | torch.Tensor", sentinel: float = -1.0) -> np.ndarray:
    """Visibility mask from raw annotations that mark missing points with a sentinel value.

    Taichi's ``taichi_{train,test}_gt.pkl`` store missing joints as ``(-1, -1)`` pixels (in the
    released files both coordinates are always missing together). A point counts as missing if
    either coordinate equals ``sentinel``.

    Args:
        raw: ``[N,L,2]`` raw pixel annotations (before any conversion).
        sentinel: the value marking a missing coordinate.

    Returns:
        bool ``[N,L]``, True where the point is annotated.
    """
    arr = raw.detach().cpu().numpy() if isinstance(raw, torch.Tensor) else np.asarray(raw)
    if arr.ndim < 1 or arr.shape[-1] != 2:
        raise DataError(f"raw annotations must have shape [N,L,2]; got {tuple(arr.shape)}")
    return ~(arr == sentinel).any(axis=-1)


def _as_float64(name: str, a: object) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be a numeric array (torch tensor or numpy); "
                        f"could not convert it: {exc}") from exc


def _points(name: str, a: object, axis_name: str) -> np.ndarray:
    """Validate ``[N,P,2]`` points and return them as float64."""
    if a is None:
        raise DataError(f"{name} is missing (None); pass a [N,{axis_name},2] array")
    arr = _as_float64(name, a)
    if arr.ndim != 3:
        raise DataError(f"{name} must have shape [N,{axis_name},2] (images, points, (x, y)); "
                        f"got ndim={arr.ndim}, shape {tuple(arr.shape)}; reshape flat "
                        "coordinates with .reshape(N, -1, 2)")
    if arr.shape[-1] != 2:
        raise DataError(f"{name} must have (x, y) in its last axis, i.e. shape [N,{axis_name},2]; "
                        f"got last dimension {arr.shape[-1]} (shape {tuple(arr.shape)}); pass "
                        "visibility separately as *_visible")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{name} is empty (shape {tuple(arr.shape)}); nothing to score")
    return arr


def _visible(name: str, v: object, shape: tuple[int, int]) -> np.ndarray:
    """Validate a ``[N,L]`` mask (bool, or 0/1 numbers); ``None`` means all visible."""
    if v is None:
        return np.ones(shape, dtype=bool)
    arr = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
    if arr.shape != shape:
        raise DataError(f"{name} must have shape [N,L] = {shape} to match the ground truth; "
                        f"got {tuple(arr.shape)}")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise DataError(f"{name} must be boolean (True = visible) or 0/1; got other values")
        arr = arr.astype(bool)
    return arr


def _check_finite(name: str, arr: np.ndarray, where: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(arr).all(axis=-1) & where
    if bad.any():
        n, p = np.argwhere(bad)[0]
        raise DataError(f"{name} contains {int(bad.sum())} non-finite point(s) (NaN or inf), first "
                        f"at image {n}, {what} {p}; drop those images, fix the producer, or mark "
                        "missing ground truth with visible=False")


@dataclass(frozen=True)
class _Split:
    """A validated split: float64 arrays in ``[-1, 1]``; invisible GT entries set to 0."""

    pred: np.ndarray     # [N,K,2]
    gt: np.ndarray       # [N,L,2]
    visible: np.ndarray  # [N,L] bool


def _split(prefix: str, pred: object, gt: object, visible: object) -> _Split:
    p = _points(f"{prefix}_pred", pred, "K")
    g = _points(f"{prefix}_gt", gt, "L")
    if p.shape[0] != g.shape[0]:
        raise DataError(f"{prefix}_pred has N={p.shape[0]} images but {prefix}_gt has "
                        f"N={g.shape[0]}; detections and ground truth must list the same images "
                        "in the same order")
    v = _visible(f"{prefix}_visible", visible, g.shape[:2])
    _check_finite(f"{prefix}_pred", p, np.ones(p.shape[:2], dtype=bool), "keypoint")
    _check_finite(f"{prefix}_gt", g, v, "visible landmark")
    # Values at invisible entries are never read; zeroing makes NaN markers of missing GT harmless.
    return _Split(p, np.where(v[..., None], g, 0.0), v)


# ==================== score
_GENERAL_OPTIONS = ("regression", "strict_k")


@dataclass(frozen=True)
class _Options:
    regression: str
    strict_k: bool
    error_kwargs: Mapping[str, object]


def _resolve_options(spec: BenchmarkSpec, options: Mapping[str, object]) -> _Options:
    formula = ERRORS.get(spec.error)
    allowed = _GENERAL_OPTIONS + formula.options
    for name in options:
        if name not in allowed:
            raise UnknownNameError(f"{did_you_mean(name, list(allowed), 'score option')} "
                                   f"(options of benchmark {spec.name!r}, formula {spec.error!r})")
    regression = REGRESSIONS.resolve(str(options.get("regression", spec.regression)))
    if regression not in spec.regressions:
        raise ConfigError(f"benchmark {spec.name!r} does not use regression {regression!r}; "
                          f"allowed: {', '.join(spec.regressions)}")
    error_kwargs = {**spec.error_params,
                    **{k: v for k, v in options.items() if k in formula.options}}
    return _Options(regression, bool(options.get("strict_k", True)), error_kwargs)


def _check_sizes(spec: BenchmarkSpec, opts: _Options, test: _Split, fit: "_Split | None") -> None:
    for s, prefix in ((test, "test"), (fit, "fit")):
        if s is not None and s.gt.shape[1] != spec.num_landmarks:
            raise DataError(f"benchmark {spec.name!r} has L={spec.num_landmarks} ground-truth "
                            f"landmarks but {prefix}_gt has L={s.gt.shape[1]}; pass that "
                            "benchmark's annotation or pick the benchmark that matches it")
    k = test.pred.shape[1]
    if fit is not None and fit.pred.shape[1] != k:
        raise DataError(f"fit_pred has K={fit.pred.shape[1]} keypoints but test_pred has K={k}; "
                        "use the same detector for both splits")
    if opts.regression == "none" and k != spec.num_landmarks:
        raise DataError(f"regression 'none' scores the detections directly, so K must equal "
                        f"L={spec.num_landmarks}; got K={k}. Use regression="
                        f"{spec.regressions[0]!r} to map K points onto the landmarks")
    if (opts.regression != "none" and opts.strict_k and spec.num_keypoints is not None
            and k not in spec.num_keypoints):
        raise DataError(f"benchmark {spec.name!r} is defined for K in {list(spec.num_keypoints)} "
                        f"detected keypoints, got K={k}; pass strict_k=False to score another K "
                        "(the number is then not comparable with published ones)")


def _to_frame(kp: np.ndarray, center: bool) -> np.ndarray:
    """``[-1, 1]`` → the regression frame: [0, 1] (top-left origin) or centred ([−½, ½])."""
    u = to_unit(kp)
    return u - 0.5 if center else u


def _from_frame(u: np.ndarray, center: bool) -> np.ndarray:
    """Inverse of :func:`_to_frame`."""
    return from_unit(u + 0.5 if center else u)


def _regress(spec: BenchmarkSpec, name: str, fit: "_Split | None", test: _Split,
             center: bool, solve: Solve) -> Fitted:
    variant = REGRESSIONS.get(name)
    extra = {f: getattr(spec, f) for f in variant.spec_fields}
    if variant.needs_fit:
        extra["solve"] = solve
    fit_args = ((None, None, None) if fit is None
                else (_to_frame(fit.pred, center), _to_frame(fit.gt, center), fit.visible))
    return variant.fn(*fit_args, _to_frame(test.pred, center), **extra)


def score(benchmark: str, fit_pred: object, fit_gt: object, test_pred: object, test_gt: object,
          fit_visible: object = None, test_visible: object = None, *, center: bool = False,
          solver: str = DEFAULT_SOLVER, **options: object) -> Score:
    """Score detections on a landmark benchmark with its published protocol.

    Maps detections to landmarks with the benchmark's regression variant fitted on the fit split,
    then applies its error formula to the test split (spec §0.1, §1; see :data:`BENCHMARKS`).

    Args:
        benchmark: benchmark name or alias (``"celeba-wild"``, ``"cub"``, ``"h36m"``, …).
        fit_pred: float ``[N,K,2]`` detections on the fit split, ``(x, y)`` in ``[-1, 1]``
            (torch or numpy). May be ``None`` with ``regression="none"``.
        fit_gt: float ``[N,L,2]`` ground truth of the fit split, same convention.
        test_pred: float ``[M,K,2]`` detections on the test split.
        test_gt: float ``[M,L,2]`` ground truth of the test split.
        fit_visible: optional bool ``[N,L]`` (True = annotated); default all visible.
        test_visible: optional bool ``[M,L]``; invisible entries are not scored.
        center: fit bias-free regressions in the centred frame (ZHG/SKP) instead of the
            top-left [0, 1] frame (ALK/GSG, the default).
        solver: ``"exact"`` (float64 least squares, default) or ``"alk"`` (the float32 normal
            equations and ridge fallback of the AutoLink/GANSeg code; see
            :mod:`lkbench.protocols.landmarks.solvers`).
        **options: ``regression`` (a variant the benchmark allows, e.g. ``"none"`` for 300-W or
            H3.6M models that output L points), ``strict_k`` (default True: K must be one the
            published protocol uses), and the error formula's options: ``normaliser`` (IOD
            benchmarks), ``threshold_px`` (PCK), ``groups`` / ``aggregation`` (H3.6M).

    Returns:
        :class:`Score`.

    Raises:
        UnknownNameError: unknown benchmark, solver, option, normaliser or aggregation.
        ConfigError: a regression the benchmark does not allow.
        DataError: malformed arrays (shape, N/K/L mismatch, NaN/inf, no visible landmark).
    """
    return score_and_predict(benchmark, fit_pred, fit_gt, test_pred, test_gt, fit_visible,
                             test_visible, center=center, solver=solver, **options)[0]


def score_and_predict(benchmark: str, fit_pred: object, fit_gt: object, test_pred: object,
                      test_gt: object, fit_visible: object = None, test_visible: object = None,
                      *, center: bool = False, solver: str = DEFAULT_SOLVER,
                      **options: object) -> tuple[Score, np.ndarray]:
    """:func:`score`, also returning the regressed test landmarks (for plots and exports).

    Returns:
        ``(Score, pred)`` with ``pred`` float64 ``[M,L,2]`` in ``[-1, 1]`` (project convention):
        the landmarks the error formula compared with ``test_gt``.
    """
    spec = BENCHMARKS.get(benchmark)
    solver = SOLVERS.resolve(solver)
    opts = _resolve_options(spec, options)
    test = _split("test", test_pred, test_gt, test_visible)
    needs_fit = REGRESSIONS.get(opts.regression).needs_fit
    fit = _split("fit", fit_pred, fit_gt, fit_visible) if needs_fit else None
    ignored = (("fit split not used: regression 'none' scores the detections directly",)
               if not needs_fit and fit_pred is not None else ())
    _check_sizes(spec, opts, test, fit)
    _require_visible(test.visible)
    fitted = _regress(spec, opts.regression, fit, test, center, get_solver(solver, spec.name))
    formula = ERRORS.get(spec.error)
    extra = {f: getattr(spec, f) for f in formula.spec_fields}
    pred = _from_frame(fitted.pred, center)
    err = formula.fn(pred, test.gt, test.visible, **extra, **opts.error_kwargs)
    # With solver "alk" a singular system takes the ridge fallback, which its note reports.
    min_norm = fitted.min_norm and solver == DEFAULT_SOLVER
    min_norm_note = (("minimum-norm least-squares solution used (the fit is rank-deficient, "
                      "e.g. a collapsed keypoint)",) if min_norm else ())
    result = Score(benchmark=spec.name, value=err.value, unit=spec.unit,
                   higher_is_better=spec.higher_is_better, n=err.n, formula=spec.error,
                   regression=opts.regression, min_norm=min_norm, center=center,
                   settings=err.settings, by_group=err.by_group,
                   notes=ignored + fitted.notes + min_norm_note, solver=solver,
                   per_landmark=err.per_landmark, per_image=err.per_image)
    return result, pred
