"""Dataset ``synthetic``: procedurally drawn cartoon faces with 5 ground-truth landmarks.

The built-in benchmark: no download, any size, exact ground truth. Each face has a head, two
eyes, eyebrows, a nose, a mouth and ears (often hair; a neck and shoulders), a random identity
(proportions, colours), a random pose (yaw-like feature shift with foreshortening, pitch, roll,
scale, translation) and a background; the face model is :mod:`lkbench.data.cartoon`.

Landmarks follow MAFL / CelebA: ``left_eye, right_eye, nose, left_mouth, right_mouth``, where
*left means image-left* as CelebA annotates it (``lefteye_x < righteye_x`` on a frontal face —
the subject's own right eye). Eye landmarks are pupil centres, the nose landmark the nose tip, the
mouth landmarks the lip corners. Keypoints are computed analytically in continuous coordinates, so
one face gives the same normalised keypoints at every image size.

Determinism: sample ``i`` of split ``s`` is drawn from the counter-based generator
:func:`counter_uniforms` keyed by ``(seed, split_id(s), stream 0)`` at counter ``i`` alone, so it
is byte-identical whatever batch it is rendered in (and the renderer uses only exactly rounded
arithmetic, see :mod:`lkbench.data.draw`); the second view of a frame pair uses stream 1. Splits
differ in ``split_id``, so they are disjoint by construction. Across machines the content is equal
within a stated tolerance, not bitwise: images are quantised to uint8 levels (version 2), so a
last-bit difference of another CPU's float kernels can flip only a value on a rounding boundary,
by one level; keypoints agree to 1e-6. ``tests/fixtures/synthetic/reference.npz`` pins both.

Splits (sizes configurable with ``size``):

==========  ========  =========  ==================================================
split       default   labelled   use
==========  ========  =========  ==================================================
``train``   20 000    no         GAN / self-supervised training images
``fit``     2 000     yes        regression-fit images of the landmark protocol
``test``    500       yes        test images of the landmark protocol
``prior``   5 000     —          landmark sets only (KeypointGAN's unpaired pose prior)
==========  ========  =========  ==================================================

Difficulties (:data:`DIFFICULTIES`): ``easy`` — plain backgrounds, large centred faces, mild pose
(yaw ≤ 12°, roll ≤ 8°), hair on 60 % of faces, so a GAN learns it on a CPU; ``hard`` — textured
backgrounds (soft stripes and blobs), hair on 85 %, strong pose (yaw ≤ 30°, roll ≤ 35°) and
scale (head half-height 0.32–0.6 of half the image) anywhere in the frame; ``pose`` — ``easy``'s
appearance (plain backgrounds, hair on 60 %) with a wide pose law (head half-height 0.45–0.66,
shift ≤ 0.25, yaw ≤ 25°, roll ≤ 20°) and *video* frame pairs: the second view keeps identity,
colours, clothes and background and draws a new pose and expression from the same law
(``pair_mode = "redraw"``), so pose dominates the difference between frames (the
``synthetic-pose`` benchmark); ``edit`` — ``easy``'s pose and framing with hair on every face
and a background lightness drawn independently of the skin (``background_lightness =
"independent"``): the attribute-editing benchmark, where ``dark_hair`` changes hair and brows
on every face and a ``dark_skin`` counterfactual (which keeps the background) is a face the law
draws too.

Attributes and counterfactuals: every sample has binary attributes (:meth:`SyntheticFaces.attributes`,
columns ``smiling, mouth_open, hair, dark_hair, dark_skin``; definitions and balance in
:mod:`lkbench.data.face_attributes`), and :meth:`SyntheticFaces.counterfactual` renders the same
face with one attribute flipped. Adding them changed no existing image or keypoint.
"""
from __future__ import annotations

import operator
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from ..registry import did_you_mean
from .base import (LABELLED_SPLITS, SPLIT_FIT, SPLIT_PRIOR, SPLIT_TEST, SPLIT_TRAIN, FramePair,
                   Indices, KeypointMeta, LandmarkBatch, LandmarkSet)
from .cartoon import (NUM_SLOTS, PAIR_MODES, FaceParams, FaceStyle, PoseJitter, face_keypoints,
                      params_from_uniforms, render_faces)
from .face_attributes import (ATTRIBUTE_NAMES, FACE_ATTRIBUTES, attribute_labels, flip_uniforms,
                              keep_fields)

FACE_LANDMARKS = KeypointMeta(
    names=("left_eye", "right_eye", "nose", "left_mouth", "right_mouth"),
    flip_pairs=((0, 1), (3, 4)),
    normaliser=("left_eye", "right_eye"),
    edges=((0, 1), (0, 2), (1, 2), (2, 3), (2, 4), (3, 4)),
)
"""MAFL's 5 landmarks (left = image-left); inter-ocular normaliser; eyes–nose–mouth skeleton."""

DIFFICULTIES: Mapping[str, FaceStyle] = MappingProxyType({
    "easy": FaceStyle(head_scale=(0.56, 0.66), max_shift=0.06, yaw_deg=12.0, roll_deg=8.0,
                      pitch=0.04, background="plain", hair_prob=0.6),
    "hard": FaceStyle(head_scale=(0.32, 0.6), max_shift=1.0, yaw_deg=30.0, roll_deg=35.0,
                      pitch=0.1, background="textured", hair_prob=0.85,
                      pair_jitter=PoseJitter(yaw_deg=8.0, roll_deg=8.0, shift=0.04, scale=0.06)),
    "pose": FaceStyle(head_scale=(0.45, 0.66), max_shift=0.25, yaw_deg=25.0, roll_deg=20.0,
                      pitch=0.04, background="plain", hair_prob=0.6, pair_mode="redraw"),
    "edit": FaceStyle(head_scale=(0.56, 0.66), max_shift=0.06, yaw_deg=12.0, roll_deg=8.0,
                      pitch=0.04, background="plain", hair_prob=1.0,
                      background_lightness="independent"),
})
"""Face-parameter ranges per difficulty name."""

SPLIT_IDS: Mapping[str, int] = MappingProxyType({SPLIT_TRAIN: 0, SPLIT_FIT: 1, SPLIT_TEST: 2,
                                                 SPLIT_PRIOR: 3})
"""The split's word in every sample's seed; never renumber (it would change every image)."""

DEFAULT_SIZES: Mapping[str, int] = MappingProxyType({SPLIT_TRAIN: 20_000, SPLIT_FIT: 2_000,
                                                     SPLIT_TEST: 500, SPLIT_PRIOR: 5_000})
VERSION = "2"
"""Bump whenever any (seed, split, index) would give different faces or keypoints."""
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 32, 256
MAX_SEED = 2**63 - 1
MAX_SIZE = 2**32

_GAMMA = np.uint64(0x9E3779B97F4A7C15)     # SplitMix64's increment (2^64 / golden ratio)


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function: a bijection of uint64 with strong avalanche."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def counter_uniforms(key: tuple[int, ...], indices: np.ndarray, width: int) -> np.ndarray:
    """Counter-based uniforms: row ``n`` is a function of ``key`` and ``indices[n]`` only.

    The key words and the index are hashed into a SplitMix64 state; the row is that state's
    first ``width`` SplitMix64 outputs. Vectorised integer arithmetic (exact, wrapping), so no
    per-sample generator objects and no dependence on numpy's ``Generator`` streams.

    Args:
        key: non-negative ints below 2⁶⁴ (e.g. seed, split id, stream).
        indices: int ``[N]``, non-negative.
        width: uniforms per row.

    Returns:
        float64 ``[N, width]`` in ``[0, 1)``, multiples of 2⁻⁵³.
    """
    with np.errstate(over="ignore"):
        h = np.zeros((), dtype=np.uint64)
        for word in key:
            h = _mix64((h + _GAMMA) ^ np.uint64(word))
        state = _mix64((h + _GAMMA) ^ np.asarray(indices, dtype=np.int64).astype(np.uint64))
        steps = np.arange(1, width + 1, dtype=np.uint64) * _GAMMA
        bits = _mix64(state[:, None] + steps[None, :])
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _check_int(value: Any, what: str, lo: int, hi: int) -> int:
    """``value`` as an int in ``[lo, hi]``; anything else is a :class:`DataError`."""
    try:
        if isinstance(value, bool):
            raise TypeError
        v = operator.index(value)
    except TypeError:
        raise DataError(f"synthetic dataset: {what} must be an integer in [{lo}, {hi}], "
                        f"got {value!r}") from None
    if not lo <= v <= hi:
        raise DataError(f"synthetic dataset: {what} must be in [{lo}, {hi}], got {v}")
    return v


@dataclass(frozen=True)
class SyntheticConfig:
    """What determines a :class:`SyntheticFaces` object's content (record it for provenance)."""
    split: str = SPLIT_TRAIN
    image_size: int = 64
    difficulty: str = "easy"
    seed: int = 0
    size: int = DEFAULT_SIZES[SPLIT_TRAIN]

    def to_dict(self) -> dict[str, Any]:
        """The fields plus the dataset ``version``, for result records."""
        return {"name": "synthetic", "version": VERSION, **asdict(self)}


class SyntheticFaces(LandmarkSet):
    """Procedurally drawn cartoon faces with 5 MAFL-ordered landmarks; built in, no download.

    See the module docstring for the face model, splits, difficulties and determinism.
    Registered as ``synthetic`` in :data:`lkbench.data.DATASETS`.

    Args:
        split: ``train`` | ``fit`` | ``test`` | ``prior``.
        image_size: image side ``R``, 32–256 pixels.
        difficulty: a key of :data:`DIFFICULTIES` (``easy`` | ``hard`` | ``pose`` | ``edit``).
        seed: root seed, ``0 ≤ seed < 2⁶³``.
        size: number of samples; ``None`` takes :data:`DEFAULT_SIZES` ``[split]``.

    Raises:
        DataError: any invalid argument, with the valid choices.

    Example:
        >>> ds = SyntheticFaces("fit", image_size=64)
        >>> images, keypoints, visible = ds.batch(range(16))   # [16,3,64,64], [16,5,2], [16,5]
    """
    name = "synthetic"
    meta = FACE_LANDMARKS
    supports_pairs = True
    attribute_names = ATTRIBUTE_NAMES

    def __init__(self, split: str = SPLIT_TRAIN, image_size: int = 64, difficulty: str = "easy",
                 seed: int = 0, size: "int | None" = None):
        image_size = _check_int(image_size, "image_size", MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)
        super().__init__(split, image_size, labelled=split in LABELLED_SPLITS,
                         has_images=split != SPLIT_PRIOR)
        if difficulty not in DIFFICULTIES:
            raise DataError("synthetic dataset: "
                            + did_you_mean(str(difficulty), tuple(DIFFICULTIES), "difficulty"))
        seed = _check_int(seed, "seed", 0, MAX_SEED)
        size = DEFAULT_SIZES[split] if size is None else _check_int(size, "size", 1, MAX_SIZE)
        self.config = SyntheticConfig(split, self.image_size, difficulty, seed, size)
        self.style = DIFFICULTIES[difficulty]

    def __len__(self) -> int:
        return self.config.size

    # -- sampling ---------------------------------------------------------------------------
    def _uniforms(self, idx: np.ndarray, stream: int, width: int) -> Tensor:
        """float64 ``[N, width]``: row ``n`` depends only on (seed, split, stream, ``idx[n]``)."""
        key = (self.config.seed, SPLIT_IDS[self.config.split], stream)
        return torch.from_numpy(counter_uniforms(key, idx, width))

    def params(self, indices: Indices) -> FaceParams:
        """The float64 face parameters of ``indices`` (for tests and analysis)."""
        idx = self.check_indices(indices)
        return params_from_uniforms(self._uniforms(idx, 0, NUM_SLOTS), self.style)

    def _render(self, p: FaceParams) -> LandmarkBatch:
        images = render_faces(p, self.image_size, self.style.background)
        keypoints = face_keypoints(p).to(torch.float32)
        return LandmarkBatch(images, keypoints, torch.ones(keypoints.shape[:2], dtype=torch.bool))

    # -- LandmarkSet ------------------------------------------------------------------------
    def _batch(self, indices: np.ndarray) -> LandmarkBatch:
        return self._render(self.params(indices))

    def _landmarks(self, indices: np.ndarray) -> tuple[Tensor, Tensor]:
        keypoints = face_keypoints(self.params(indices)).to(torch.float32)
        return keypoints, torch.ones(keypoints.shape[:2], dtype=torch.bool)

    def _pairs(self, indices: np.ndarray) -> FramePair:
        first, second = self.pair_params(indices)
        return FramePair(self._render(first), self._render(second))

    def _attributes(self, indices: np.ndarray) -> Tensor:
        return attribute_labels(self._uniforms(indices, 0, NUM_SLOTS), self.style)

    # -- counterfactuals --------------------------------------------------------------------
    def flip(self, u: Tensor, source: FaceParams, attribute: str) -> tuple[Tensor, FaceParams]:
        """One flip of ``attribute`` on faces given by uniforms ``u`` ``[N, NUM_SLOTS]`` and
        their parameters ``source``: the flipped uniforms and the counterfactual parameters.

        Applying it to its own output flips the attribute back to the source's parameters
        exactly (see :mod:`lkbench.data.face_attributes`).
        """
        attr = FACE_ATTRIBUTES[self.attribute_names[self.attribute_index(attribute)]]
        flipped = flip_uniforms(u, attr, self.style)
        return flipped, keep_fields(params_from_uniforms(flipped, self.style), source, attr.keep)

    def counterfactual_params(self, indices: Indices, attribute: str) -> FaceParams:
        """Parameters of ``indices`` with ``attribute`` flipped (everything else unchanged)."""
        idx = self.check_indices(indices)
        u = self._uniforms(idx, 0, NUM_SLOTS)
        return self.flip(u, params_from_uniforms(u, self.style), attribute)[1]

    def counterfactual(self, indices: Indices, attribute: str) -> LandmarkBatch:
        """The exact counterfactual of ``indices``: the same faces (identity, pose, background)
        with ``attribute`` flipped, as images, keypoints and visibility like :meth:`batch`.

        Raises:
            DataError: bad indices, an unknown attribute, or a keypoint-only split.
        """
        self._require_images()
        self.attribute_index(attribute)
        if self.check_indices(indices).size == 0:
            return self.batch([])
        return self._render(self.counterfactual_params(indices, attribute))

    def pair_params(self, indices: Indices) -> tuple[FaceParams, FaceParams]:
        """Parameters of both views of :meth:`pairs`: the second changes only pose and
        expression, as ``style.pair_mode`` says (a small jitter, or a new draw of the law)."""
        idx = self.check_indices(indices)
        u = self._uniforms(idx, 0, NUM_SLOTS)
        first = params_from_uniforms(u, self.style)
        mode = PAIR_MODES[self.style.pair_mode]
        return first, mode.view(first, u, self._uniforms(idx, 1, mode.width), self.style)

    def __repr__(self) -> str:
        c = self.config
        return (f"SyntheticFaces(split={c.split!r}, image_size={c.image_size}, "
                f"difficulty={c.difficulty!r}, seed={c.seed}, size={c.size})")
