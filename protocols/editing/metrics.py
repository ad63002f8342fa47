"""Attribute-edit metrics (``docs/models.md`` §3.4), as pure functions of tensors.

An *attribute editor* maps source images ``x`` with binary labels ``y`` to edits ``x̃`` that
should show ``1 − y`` and change nothing else. Given a classifier ``C`` (probability that the
attribute is present), a keypoint detector ``P`` and, on ``synthetic``, the exact
counterfactuals ``x*`` (the same faces with the attribute flipped by the renderer):

==============================  ======================================================  =====
metric                          definition (mean over images)                           best
==============================  ======================================================  =====
``attribute_accuracy``          share of edits with ``(C(x̃) > ½) = 1 − y``              high
``keypoint_displacement``       ``mean_k ‖P(x̃)_k − P(x)_k‖ / d_io``                     low
``image_distance``              ``mean |x̃ − x| / 2`` over pixels and channels           low
``counterfactual_image_error``  ``mean |x̃ − x*| / 2``                                    low
``counterfactual_keypoint_``    ``mean_k ‖P(x̃)_k − P(x*)_k‖ / d_io``                    low
``error``
``counterfactual_correctness_`` ``mean |x̃ − x*| / 2`` over the pixels ``x*`` changes      low
``error``                       (``x*`` ≠ ``x`` in any channel): did the attribute appear
``counterfactual_preservation`` ``mean |x̃ − x*| / 2`` over the pixels ``x*`` keeps        low
``_error``                      (there ``x* = x``): did anything else change
==============================  ======================================================  =====

Correctness and preservation are L2M-GAN's two requirements ("the target attribute appears",
"nothing else changes") measured apart and exactly; no published metric can do this, because
real data has no counterfactual. The split is exact because ``x`` and ``x*`` come from one
renderer with uint8-level images, so a kept pixel is bit-identical. The identity edit scores 0
preservation error and its full distance to the counterfactual as correctness error; the exact
counterfactual scores 0 on both. A face whose counterfactual changes no pixel has no
correctness error (NaN, left out of that metric's mean and count).

``d_io`` is the inter-ocular distance (the dataset's normalising landmark pair) of the source's
*annotated* landmarks, so displacements are fractions of the face's scale. Image distances are
in intensity units of [0, 1] images (images are [-1, 1], hence the ½). Both keypoint terms use
the same detector on both images, so an edit equal to its target scores exactly 0 whatever the
detector's own error. The identity edit (``x̃ = x``) scores keypoint displacement and image
distance 0, its counterfactual errors are the distances between each face and its flipped
twin, and its attribute accuracy is the classifier's error rate on real images.

FID of edits against real target-domain images (spec §3.4) needs feature statistics over
whole sets rather than per-image values; :mod:`lkbench.protocols.editing.fid` computes it and
``lkbench edit-eval --set fid_features=inception`` reports it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from lkbench.data import KeypointMeta
from lkbench.errors import DataError

__all__ = ["AttributeEditor", "IdentityEditor", "METRICS", "MetricInfo", "EditMeasurements",
           "image_distance", "split_image_error", "keypoint_distance", "interocular",
           "attribute_hits"]


@runtime_checkable
class AttributeEditor(Protocol):
    """Anything that edits one binary attribute of images."""

    def edit(self, images: Tensor, source: Tensor, target: "Tensor | None" = None,
             alpha: float = 1.0) -> Tensor:
        """``[N,3,R,R]`` in [-1, 1] with labels ``source`` ``[N]`` → edits showing ``target``
        (default ``1 − source``) at strength ``alpha``."""
        ...


class IdentityEditor:
    """The do-nothing baseline: returns a copy of the source images."""
    label = "baseline:identity"

    def edit(self, images: Tensor, source: Tensor, target: "Tensor | None" = None,
             alpha: float = 1.0) -> Tensor:
        return images.clone()


# ==================== pure metric functions
def image_distance(a: Tensor, b: Tensor) -> Tensor:
    """Per-image mean absolute difference of ``[N,3,H,W]`` images in [-1, 1], in [0, 1]
    intensity units: ``mean |a − b| / 2`` → ``[N]``."""
    if a.shape != b.shape or a.dim() != 4:
        raise DataError(f"image_distance needs two [N,3,H,W] batches of one shape, got "
                        f"{tuple(a.shape)} and {tuple(b.shape)}")
    return (a.float() - b.float()).abs().flatten(1).mean(1) / 2


def split_image_error(edits: Tensor, counterfactuals: Tensor, sources: Tensor
                      ) -> tuple[Tensor, Tensor]:
    """Counterfactual image error split by what the counterfactual changes.

    Args:
        edits, counterfactuals, sources: ``[N,3,H,W]`` in [-1, 1], one shape.

    Returns:
        ``(correctness, preservation)``, each ``[N]`` in [0, 1] intensity units: the mean over
        pixels and channels of ``|edits − counterfactuals| / 2`` over the pixels where the
        counterfactual differs from the source in any channel, and over the pixels where it
        equals the source in every channel. A row with no pixel in a set gets NaN there.
    """
    if not (edits.shape == counterfactuals.shape == sources.shape) or edits.dim() != 4:
        raise DataError(f"split_image_error needs three [N,3,H,W] batches of one shape, got "
                        f"{tuple(edits.shape)}, {tuple(counterfactuals.shape)} and "
                        f"{tuple(sources.shape)}")
    changed = (counterfactuals != sources).any(1).flatten(1).float()       # [N, H·W]
    err = ((edits.float() - counterfactuals.float()).abs().mean(1) / 2).flatten(1)
    kept = 1 - changed

    def masked_mean(mask: Tensor) -> Tensor:
        count = mask.sum(1)
        return torch.where(count > 0, (err * mask).sum(1) / count.clamp(min=1),
                           torch.full_like(count, float("nan")))
    return masked_mean(changed), masked_mean(kept)


def interocular(keypoints: Tensor, meta: KeypointMeta) -> Tensor:
    """Distance ``[N]`` between the two normalising landmarks (``meta.normaliser``) of
    ``[N,L,2]`` keypoints (normalised [-1, 1] units)."""
    if meta.normaliser is None:
        raise DataError("the dataset's landmarks define no normalising pair (meta.normaliser); "
                        "keypoint displacement needs one")
    i, j = (meta.index(n) for n in meta.normaliser)
    return (keypoints[:, i] - keypoints[:, j]).norm(dim=-1)


def keypoint_distance(a: Tensor, b: Tensor, normaliser: Tensor) -> Tensor:
    """``mean_k ‖a_k − b_k‖ / normaliser`` → ``[N]`` for keypoints ``[N,K,2]`` and a positive
    per-image ``normaliser`` ``[N]`` in the same units."""
    if a.shape != b.shape or a.dim() != 3 or normaliser.shape != a.shape[:1]:
        raise DataError(f"keypoint_distance needs [N,K,2], [N,K,2] and [N], got "
                        f"{tuple(a.shape)}, {tuple(b.shape)} and {tuple(normaliser.shape)}")
    return (a.float() - b.float()).norm(dim=-1).mean(1) / normaliser.float()


def attribute_hits(probability: Tensor, target: Tensor) -> Tensor:
    """bool ``[N]``: the classifier's decision (``probability > ½``) equals ``target``."""
    return (probability > 0.5) == target.bool()


# ==================== a whole evaluation's measurements
@dataclass(frozen=True)
class MetricInfo:
    """How a metric is reported: record unit and direction."""
    unit: str
    higher_is_better: bool


METRICS: dict[str, MetricInfo] = {
    "attribute_accuracy": MetricInfo("fraction", True),
    "keypoint_displacement": MetricInfo("fraction_of_inter_ocular", False),
    "image_distance": MetricInfo("mean_abs_intensity", False),
    "counterfactual_image_error": MetricInfo("mean_abs_intensity", False),
    "counterfactual_keypoint_error": MetricInfo("fraction_of_inter_ocular", False),
    "counterfactual_correctness_error": MetricInfo("mean_abs_intensity", False),
    "counterfactual_preservation_error": MetricInfo("mean_abs_intensity", False),
}
"""Metric name → unit and direction, in report order."""


@dataclass(frozen=True)
class EditMeasurements:
    """Per-image measurements of one evaluation; every tensor is ``[N]`` (float unless stated).

    Attributes:
        target: bool, the attribute the edit should show.
        p_source, p_edit: classifier probabilities on the source images and on the edits.
        p_counterfactual: on the counterfactuals (``None`` without them).
        displacement: keypoint displacement source → edit (fraction of inter-ocular).
        distance: image distance source → edit.
        cf_image, cf_keypoint: counterfactual errors (``None`` without counterfactuals).
        cf_distance: image distance source → counterfactual (what the identity edit scores).
        cf_correct, cf_preserve: counterfactual image error over the pixels the
            counterfactual changes / keeps (:func:`split_image_error`; NaN where a set is
            empty).
    """
    target: Tensor
    p_source: Tensor
    p_edit: Tensor
    displacement: Tensor
    distance: Tensor
    p_counterfactual: "Tensor | None" = None
    cf_image: "Tensor | None" = None
    cf_keypoint: "Tensor | None" = None
    cf_distance: "Tensor | None" = None
    cf_correct: "Tensor | None" = None
    cf_preserve: "Tensor | None" = None

    @classmethod
    def measure(cls, sources: Tensor, edits: Tensor, labels: Tensor, source_landmarks: Tensor,
                meta: KeypointMeta, classify, detect,
                counterfactuals: "Tensor | None" = None) -> "EditMeasurements":
        """Measure edits of one batch.

        Args:
            sources, edits: ``[N,3,R,R]`` in [-1, 1].
            labels: bool ``[N]``, the sources' attribute labels (edits target ``~labels``).
            source_landmarks: annotated ``[N,L,2]`` landmarks of the sources (for ``d_io``).
            meta: the landmarks' metadata (normalising pair).
            classify: ``images -> probabilities [N]``.
            detect: ``images -> keypoints [N,K,2]``.
            counterfactuals: optional exact counterfactuals ``[N,3,R,R]``.
        """
        d_io = interocular(source_landmarks, meta)
        kp_src, kp_edit = detect(sources), detect(edits)
        out = dict(target=~labels.bool(), p_source=classify(sources), p_edit=classify(edits),
                   displacement=keypoint_distance(kp_edit, kp_src, d_io),
                   distance=image_distance(edits, sources))
        if counterfactuals is not None:
            kp_cf = detect(counterfactuals)
            correct, preserve = split_image_error(edits, counterfactuals, sources)
            out.update(p_counterfactual=classify(counterfactuals),
                       cf_correct=correct, cf_preserve=preserve,
                       cf_image=image_distance(edits, counterfactuals),
                       cf_keypoint=keypoint_distance(kp_edit, kp_cf, d_io),
                       cf_distance=image_distance(counterfactuals, sources))
        return cls(**out)

    @classmethod
    def concat(cls, parts: "list[EditMeasurements]") -> "EditMeasurements":
        """One measurement set from batches measured separately."""
        def cat(name):
            values = [getattr(p, name) for p in parts]
            return None if values[0] is None else torch.cat(values)
        return cls(**{name: cat(name) for name in cls.__dataclass_fields__})

    def __len__(self) -> int:
        return self.target.shape[0]

    def per_image(self) -> dict[str, Tensor]:
        """Metric name → per-image values ``[N]`` (only the metrics that were measured)."""
        out = {"attribute_accuracy": attribute_hits(self.p_edit, self.target).float(),
               "keypoint_displacement": self.displacement,
               "image_distance": self.distance}
        if self.cf_image is not None:
            out["counterfactual_image_error"] = self.cf_image
            out["counterfactual_keypoint_error"] = self.cf_keypoint
            out["counterfactual_correctness_error"] = self.cf_correct
            out["counterfactual_preservation_error"] = self.cf_preserve
        return out

    def summary(self) -> dict[str, tuple[float, float]]:
        """Metric name → (mean, standard error of the mean) over the images where the metric is
        defined (not NaN; see :meth:`counts`)."""
        out = {}
        for name, v in self.per_image().items():
            v = v.double()
            v = v[~torch.isnan(v)]
            mean = float(v.mean()) if len(v) else float("nan")
            se = float(v.std(unbiased=True) / math.sqrt(len(v))) if len(v) > 1 else float("nan")
            out[name] = (mean, se)
        return out

    def counts(self) -> dict[str, int]:
        """Metric name → number of images it is defined on (all but NaN values)."""
        return {name: int((~torch.isnan(v)).sum()) for name, v in self.per_image().items()}

    def references(self) -> dict[str, float]:
        """Reference numbers for reading the metrics: the classifier's accuracy on the real
        sources (their own labels) and on the counterfactuals (the target), and the mean
        source–counterfactual distance."""
        out = {"classifier_accuracy_on_sources":
               float(attribute_hits(self.p_source, ~self.target).float().mean())}
        if self.p_counterfactual is not None:
            out["classifier_accuracy_on_counterfactuals"] = float(
                attribute_hits(self.p_counterfactual, self.target).float().mean())
            out["source_counterfactual_distance"] = float(self.cf_distance.double().mean())
        return out
