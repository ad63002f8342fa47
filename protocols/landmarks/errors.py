"""Error formulas of ``docs/protocols.md`` §1: the number each benchmark reports, computed from
regressed landmarks and the ground truth (IOD error, visible L2, Taichi MAE sum, PCK, the
left/right-invariant H3.6M error), registered in :data:`ERRORS` with their normalisers
(:data:`NORMALISERS`) and H3.6M aggregations (:data:`AGGREGATIONS`).

Inputs are float ``[N,L,2]`` in the project convention (``(x, y)`` in ``[-1, 1]``,
:mod:`lkbench.keypoints`). Pixel errors convert back with :func:`lkbench.keypoints.to_pixels`, so
ground truth that a loader read with ``from_pixels(px, 256)`` returns to its annotated pixel
values exactly. :func:`visible_from_sentinel` builds the visibility mask of annotations that
mark missing points with a sentinel (Taichi's ``-1``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from lkbench.errors import ConfigError, DataError, UnknownNameError
from lkbench.keypoints import to_pixels, to_unit
from lkbench.registry import Registry, did_you_mean
from .regressions import _frame_distance, swap_permutation
from .results import ErrorValue
from .uncertainty import PerImage

__all__ = ["ErrorFormula", "Normaliser", "ERRORS", "NORMALISERS", "AGGREGATIONS", "iod_error",
           "visible_l2_error", "taichi_mae_sum", "pck", "h36m_swap_error",
           "visible_from_sentinel"]


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


ERRORS: Registry[ErrorFormula] = Registry("error-formulas")
NORMALISERS: Registry[Normaliser] = Registry("normalisers")

for _n in (
    Normaliser("eyes", (0,), (1,), "GT landmarks 0 and 1 (eye centres, CelebA/MAFL order)"),
    Normaliser("outer-corners", (36,), (45,), "68-point outer eye corners 36 and 45 (0-based)"),
    Normaliser("pupils", tuple(range(36, 42)), tuple(range(42, 48)),
               "68-point pupil centres: means of points 36-41 and 42-47 (0-based)"),
):
    NORMALISERS.add(_n.name, _n)

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


# ==================== masks of raw annotations
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

