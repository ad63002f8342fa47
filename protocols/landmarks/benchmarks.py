"""The landmark benchmarks lkbench scores, as data (spec ``protocols.md`` §1).

A :class:`BenchmarkSpec` binds a benchmark name to its protocol parameters: how many ground-truth
landmarks it has, which detector sizes the published numbers used, which regression variant maps
detections to landmarks (§0.1), which error formula scores the result and in which unit. The
formulas themselves live in :mod:`.regressions` and :mod:`.errors`; a spec names them, so this
module stays free of numerics and can be imported by anything (CLI listings, the published-numbers loader).

Benchmarks that appear in published tables but are not scored by :func:`~lkbench.protocols.landmarks.
score.score` (image-generation FID/CPD, original Human3.6M in pixels) are listed in
:data:`UNSCORED_BENCHMARKS`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from lkbench.registry import Registry

__all__ = ["BenchmarkSpec", "BENCHMARKS", "UNSCORED_BENCHMARKS", "H36M_FLIP_PAIRS",
           "is_known_benchmark"]


@dataclass(frozen=True)
class BenchmarkSpec:
    """Protocol parameters of one landmark benchmark.

    Attributes:
        name: canonical registry name, e.g. ``"celeba-wild"``.
        num_landmarks: ``L``, ground-truth landmarks per image.
        num_keypoints: detector sizes ``K`` the published numbers use; ``None`` = any ``K``.
            Regression ``"none"`` instead requires ``K == L``.
        regressions: allowed regression variant ids (names in
            ``lkbench.protocols.landmarks.regressions.REGRESSIONS``); the first is the default.
        error: name of the error formula in ``lkbench.protocols.landmarks.errors.ERRORS``.
        unit: unit string of the reported value (also used in ``results/published.csv``).
        higher_is_better: ``True`` for PCK, ``False`` for errors.
        image_size: side in pixels at which pixel-unit errors are measured (Taichi, DeepFashion);
            ``None`` when the error is normalised.
        error_params: default keyword arguments of the error formula (e.g. the IOD normaliser);
            the ones a formula lists as options can be overridden through ``score(**options)``.
        flip_pairs: left/right landmark index pairs (0-based) for L/R-invariant protocols.
        description: one line saying what is evaluated.
        source: the code and paper text the protocol follows (keys of the spec's source table).
    """

    name: str
    num_landmarks: int
    num_keypoints: "tuple[int, ...] | None"
    regressions: tuple[str, ...]
    error: str
    unit: str
    higher_is_better: bool
    image_size: "int | None" = None
    error_params: Mapping[str, object] = field(default_factory=dict)
    flip_pairs: tuple[tuple[int, int], ...] = ()
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        # A read-only view keeps the frozen spec immutable all the way down.
        object.__setattr__(self, "error_params", MappingProxyType(dict(self.error_params)))

    @property
    def regression(self) -> str:
        """The default regression variant id."""
        return self.regressions[0]


BENCHMARKS: Registry[BenchmarkSpec] = Registry("benchmarks")


def _add(spec: BenchmarkSpec, *aliases: str) -> None:
    BENCHMARKS.add(spec.name, spec, aliases=aliases)


# Simplified Human3.6M left/right pairs from KeypointGAN's `human36m_skeleton.py` (l_/r_ names).
# ALK/SKP use a list without (16, 24) and with (21, 28), which is not a permutation (spec §1.7).
H36M_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (6, 1), (7, 2), (8, 3), (9, 4), (10, 5), (16, 24), (17, 25), (18, 26), (19, 27), (20, 28),
    (21, 29), (22, 30), (23, 31),
)

_IOD = "iod_error"
_EYES = {"normaliser": "eyes"}
_PCT_IOD = "pct_inter_ocular"
_PCT_SIZE = "pct_image_size"

_add(BenchmarkSpec(
    name="synthetic", num_landmarks=5, num_keypoints=None, regressions=("joint", "none"),
    error=_IOD, unit=_PCT_IOD, higher_is_better=False, error_params=_EYES,
    description="lkbench's built-in synthetic faces, scored like MAFL (GT landmarks 0, 1 = eyes)",
    source="lkbench; formula as CelebA/MAFL (ALK celeba_wild.py, GSG test_seg.py)"))

_add(BenchmarkSpec(
    name="synthetic-pose", num_landmarks=5, num_keypoints=None, regressions=("joint", "none"),
    error=_IOD, unit=_PCT_IOD, higher_is_better=False, error_params=_EYES,
    description="lkbench's synthetic faces with a wide pose law (difficulty 'pose', video "
    "pairs), scored like MAFL; the mean shape is far from the answer",
    source="lkbench; formula as CelebA/MAFL (ALK celeba_wild.py, GSG test_seg.py)"))

_add(BenchmarkSpec(
    name="celeba-wild", num_landmarks=5, num_keypoints=(4, 8), regressions=("joint",),
    error=_IOD, unit=_PCT_IOD, higher_is_better=False, error_params=_EYES,
    description="CelebA/MAFL in the wild, 128x128 whole images, face box >= 30% of the image",
    source="ALK datasets/celeba_wild.py; GSG test_seg.py, celeba_wild_preprocess.py; IMM; ZHG"),
    "celeba", "mafl", "mafl-wild")

_add(BenchmarkSpec(
    name="celeba-aligned", num_landmarks=5, num_keypoints=(10,), regressions=("joint",),
    error=_IOD, unit=_PCT_IOD, higher_is_better=False, error_params=_EYES,
    description="CelebA/MAFL aligned crops (default crop: IMM, 160x160 resize, centre 128x128)",
    source="IMM scripts/test.py, imm/datasets/celeba_dataset.py; ZHG face_evaluation.m"),
    "mafl-aligned")

_CUB_COMMON = dict(num_landmarks=15, regressions=("vis",), error="visible_l2_error",
                   unit=_PCT_SIZE, higher_is_better=False,
                   source="ALK datasets/cub.py, datasets/cub_three.py; PPL Table 1")

_add(BenchmarkSpec(
    name="cub-aligned", num_keypoints=(10,),
    description="CUB-200-2011 aligned 300x300 crops of Lorenz et al. (birds facing left)",
    **_CUB_COMMON), "cub")
for _c in (1, 2, 3):
    _add(BenchmarkSpec(
        name=f"cub-00{_c}", num_keypoints=(4,),
        description=f"CUB-200-2011 class {_c:03d} only, CMR split, 128x128 box crops",
        **_CUB_COMMON))
_add(BenchmarkSpec(
    name="cub-all", num_keypoints=(4,),
    description="CUB-200-2011 all classes, CMR train/test split, 128x128 box crops",
    **_CUB_COMMON))

_add(BenchmarkSpec(
    name="taichi", num_landmarks=18, num_keypoints=None, regressions=("coord",),
    error="taichi_mae_sum", unit="px_mae_sum@256", higher_is_better=False, image_size=256,
    description="Taichi-HD frames, 18 OpenPose joints, 5000 fit / 300 test frames",
    source="MSCS evaluate.py; ALK datasets/taichi.py; GSG test_seg.py"),
    "tai-chi", "taichi-hd")

_add(BenchmarkSpec(
    name="deepfashion", num_landmarks=17, num_keypoints=None, regressions=("joint",),
    error="pck", unit="pct_pck@6px", higher_is_better=True, image_size=256,
    error_params={"threshold_px": 6.0},
    description="DeepFashion in-shop full-body images, 17 COCO joints, 10604 fit / 1179 test",
    source="ALK datasets/deepfashion.py; LOR custom_datasets/deepfashion"))

_add(BenchmarkSpec(
    name="h36m-simplified", num_landmarks=32, num_keypoints=None, regressions=("h36m", "none"),
    error="h36m_swap_error", unit=_PCT_SIZE, higher_is_better=False,
    flip_pairs=H36M_FLIP_PAIRS,
    description="Simplified Human3.6M (Zhang et al.), S11 test, 6 activities, 32 joints",
    source="ALK datasets/h36m.py (relabel/trim loop); KPG test_pose.py, human36m_skeleton.py"),
    "h36m", "human36m", "simplified-h36m")

_add(BenchmarkSpec(
    name="300w", num_landmarks=68, num_keypoints=None, regressions=("joint", "none"),
    error=_IOD, unit=_PCT_IOD, higher_is_better=False,
    error_params={"normaliser": "outer-corners"},
    description="300-W full test set (689 = common 554 + challenging 135), 68 landmarks",
    source="SEED-KG Table 3 (KeypointGAN code for 300-W not released); IOD choice: lkbench"),
    "300-w", "w300")


# Benchmarks of published tables that `score` does not compute; `load_published` accepts them.
UNSCORED_BENCHMARKS: Mapping[str, str] = MappingProxyType({
    "portraits": "portrait generation (LatentKeypointGAN extended abstract Table 2; "
                 "dataset not stated per row): FID, FID_interp, CPD",
    "celeba-hq": "CelebA-HQ 256 image generation: FID, FID_interp, CPD",
    "ffhq": "FFHQ image generation: FID, FID_interp",
    "h36m-original": "original Human3.6M (17 of 32 joints, pixels; KeypointGAN Table 2)",
})


def is_known_benchmark(name: str) -> bool:
    """Whether ``name`` is a registered benchmark, an alias of one, or an unscored benchmark."""
    return name in BENCHMARKS or name in UNSCORED_BENCHMARKS
