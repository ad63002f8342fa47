"""The landmark benchmarks lkbench scores, as data (``docs/protocols.md`` §1), and the one call
that adds one.

A :class:`BenchmarkSpec` holds everything lkbench needs to know about a benchmark:

* its protocol parameters: how many ground-truth landmarks it has, which detector sizes the
  published numbers used, which regression variant maps detections to landmarks (§0.1), which
  error formula scores the result and in which unit (the formulas live in :mod:`.regressions`
  and :mod:`.errors`; a spec names them, so this module stays free of numerics and can be
  imported by anything: CLI listings, the published-numbers loader, the report);
* its dataset binding (:class:`BenchmarkData`: dataset, fit/test splits, the image size the
  loader renders, loader options, per-image groups), default: the dataset of the same name;
* how the report shows it: display label and report family (default: its own table);
* published numbers, if any, beyond ``lkbench/published.csv`` (:class:`PublishedNumber`).

Adding a benchmark is one :func:`register_benchmark` call (which can also register its dataset
factory) and one fixture test; :func:`unregister_benchmark` / :func:`registered_benchmark` take
it out again. ``lkbench score``/``detect`` (:mod:`.predictions`), ``lkbench report``
(:mod:`lkbench.report.families`) and :func:`lkbench.published.load_published` read the registry.

Benchmarks that appear in published tables but are not scored by :func:`~lkbench.protocols.
landmarks.score.score` (image-generation FID/CPD, original Human3.6M in pixels) are listed in
:data:`UNSCORED_BENCHMARKS`.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from lkbench.errors import DataError
from lkbench.registry import Registry

if TYPE_CHECKING:
    from lkbench.atomic import PathLike
    from lkbench.data import LandmarkSet

__all__ = ["BenchmarkSpec", "BenchmarkData", "PublishedNumber", "BENCHMARKS",
           "UNSCORED_BENCHMARKS", "H36M_FLIP_PAIRS", "is_known_benchmark", "register_benchmark",
           "unregister_benchmark", "registered_benchmark"]


# ==================== dataset binding
@dataclass(frozen=True)
class BenchmarkData:
    """Where a benchmark's images and ground truth come from.

    Attributes:
        dataset: name in :data:`lkbench.data.DATASETS`.
        fit_split, test_split: the dataset's splits for the regression fit and the test.
        image_size: side at which the loader provides images; detectors see them resized to
            their own input size (bilinear, antialiased).
        options: further keyword arguments of the dataset factory.
        uses_root: whether the loader reads files under ``--root`` (generated data does not).
        groups: name of a test-dataset attribute giving one label per test image (H3.6M's
            ``activities``), passed to the error formula as ``groups``; ``None`` = no groups.
    """

    dataset: str
    fit_split: str = "fit"
    test_split: str = "test"
    image_size: int = 128
    options: Mapping[str, Any] = field(default_factory=dict)
    uses_root: bool = True
    groups: "str | None" = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def load(self, role: str, root: "PathLike | None" = None) -> "LandmarkSet":
        """The ``"fit"`` or ``"test"`` split as a :class:`~lkbench.data.LandmarkSet`."""
        from lkbench.data import get_dataset  # torch and the loaders only when data is loaded

        split = {"fit": self.fit_split, "test": self.test_split}[role]
        kwargs = dict(self.options)
        if self.uses_root and root is not None:
            kwargs["root"] = root
        return get_dataset(self.dataset, split=split, image_size=self.image_size, **kwargs)

    def with_options(self, overrides: "Mapping[str, Any] | None") -> "BenchmarkData":
        """This binding with a user's dataset options (``--set data.KEY=VALUE``) on top.

        ``image_size`` sets :attr:`image_size`; every other key is a keyword of the dataset
        factory (checked when a split is loaded: an unknown one raises a :class:`DataError`
        listing the accepted ones).

        Raises:
            DataError: ``split`` or ``root`` (the benchmark fixes the splits; ``--root`` gives
                the data root).
        """
        overrides = dict(overrides or {})
        if not overrides:
            return self
        fixed = sorted({"split", "root"} & set(overrides))
        if fixed:
            raise DataError(f"data option {fixed[0]!r} cannot be set for a benchmark: the "
                            "benchmark fixes its fit/test splits and --root gives the data root")
        size = overrides.pop("image_size", self.image_size)
        return replace(self, image_size=size, options={**self.options, **overrides})


@dataclass(frozen=True)
class PublishedNumber:
    """One published number of a benchmark, declared with its registration; the report shows it
    beside the lkbench numbers as a row of ``published.csv`` would be (metric, unit and direction
    are the spec's).

    Attributes:
        method: the method's name as the paper writes it.
        value: the number in the spec's unit; a string keeps the digits as printed ("31.80").
        source: where it comes from (a key of :data:`lkbench.report.families.SOURCES` or text).
        num_keypoints: ``K`` of the published model, if the source gives it.
        variant: benchmark variant (e.g. an H3.6M activity); ``""`` = none.
        notes: free text (``"supervised"`` first marks a supervised reference).
    """

    method: str
    value: "float | str"
    source: str
    num_keypoints: "int | None" = None
    variant: str = ""
    notes: str = ""


# ==================== the spec
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
        data: the dataset binding; default ``BenchmarkData(name)``, the dataset registered
            under the benchmark's name, ``fit``/``test`` splits at 128 px.
        label: display name in reports; default ``name``.
        family: name of the report table (:data:`lkbench.report.families.FAMILIES`) that shows
            the benchmark; default ``name``. A name no family is registered under gets an
            automatic table titled ``label``.
        published: published numbers declared here rather than in ``published.csv``.
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
    data: "BenchmarkData | None" = None
    label: str = ""
    family: str = ""
    published: tuple[PublishedNumber, ...] = ()

    def __post_init__(self) -> None:
        # A read-only view keeps the frozen spec immutable all the way down.
        object.__setattr__(self, "error_params", MappingProxyType(dict(self.error_params)))
        # Defaults derived from the name: the dataset of that name, its own report table.
        object.__setattr__(self, "data", self.data or BenchmarkData(self.name))
        object.__setattr__(self, "label", self.label or self.name)
        object.__setattr__(self, "family", self.family or self.name)
        object.__setattr__(self, "published", tuple(self.published))

    @property
    def regression(self) -> str:
        """The default regression variant id."""
        return self.regressions[0]


BENCHMARKS: Registry[BenchmarkSpec] = Registry("benchmarks")
_DATASETS_ADDED: dict[str, str] = {}
"""benchmark → the dataset name :func:`register_benchmark` registered with it."""


def register_benchmark(spec: BenchmarkSpec, *aliases: str,
                       dataset: "Callable[..., LandmarkSet] | None" = None) -> BenchmarkSpec:
    """Add a benchmark: ``spec`` under ``spec.name`` and ``aliases``.

    Args:
        spec: the benchmark (protocol parameters, dataset binding, report family, published
            numbers).
        aliases: further names ``lkbench score --benchmark`` accepts.
        dataset: a dataset factory (``factory(split=..., image_size=..., **options) ->
            LandmarkSet``) to register in :data:`lkbench.data.DATASETS` under
            ``spec.data.dataset`` together with the benchmark; ``None`` when that dataset is
            already registered (a built-in, or a plugin of ``lkbench.datasets``).

    Raises:
        LkbenchError: a name (or the dataset's) is taken.
    """
    if dataset is not None:
        from lkbench.data import DATASETS

        DATASETS.add(spec.data.dataset, dataset)
    try:
        BENCHMARKS.add(spec.name, spec, aliases=aliases)
    except Exception:
        if dataset is not None:
            DATASETS.remove(spec.data.dataset)
        raise
    if dataset is not None:
        _DATASETS_ADDED[spec.name] = spec.data.dataset
    return spec


def unregister_benchmark(name: str) -> BenchmarkSpec:
    """Take a benchmark (name or alias) out of :data:`BENCHMARKS` with its aliases, and the
    dataset factory :func:`register_benchmark` registered with it; returns its spec."""
    spec = BENCHMARKS.remove(name)
    if spec.name in _DATASETS_ADDED:
        from lkbench.data import DATASETS

        DATASETS.remove(_DATASETS_ADDED.pop(spec.name))
    return spec


@contextmanager
def registered_benchmark(spec: BenchmarkSpec, *aliases: str,
                         dataset: "Callable[..., LandmarkSet] | None" = None
                         ) -> Iterator[BenchmarkSpec]:
    """:func:`register_benchmark` for the duration of a ``with`` block (tests, notebooks)."""
    register_benchmark(spec, *aliases, dataset=dataset)
    try:
        yield spec
    finally:
        unregister_benchmark(spec.name)


# ==================== the built-in benchmarks
_add = register_benchmark

# Simplified Human3.6M left/right pairs from KeypointGAN's `human36m_skeleton.py` (l_/r_ names).
# ALK/SKP use a list without (16, 24) and with (21, 28), which is not a permutation (spec §1.7).
H36M_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (6, 1), (7, 2), (8, 3), (9, 4), (10, 5), (16, 24), (17, 25), (18, 26), (19, 27), (20, 28),
    (21, 29), (22, 30), (23, 31),
)

# Real benchmarks are scored on the dataset of the same name (the default binding), fit/test
# splits, at the 128 px every published model of spec §1 was fed (DeepFashion and Taichi measure
# their pixel errors at 256, which normalised keypoints make independent of the loader's size;
# 300-W's model input size was not recovered, 128 is lkbench's choice).
_IOD = "iod_error"
_EYES = {"normaliser": "eyes"}
_PCT_IOD = "pct_inter_ocular"
_PCT_SIZE = "pct_image_size"

_add(BenchmarkSpec(
    name="synthetic", num_landmarks=5, num_keypoints=None, regressions=("joint", "none"),
    error=_IOD, unit=_PCT_IOD, higher_is_better=False, error_params=_EYES,
    description="lkbench's built-in synthetic faces, scored like MAFL (GT landmarks 0, 1 = eyes)",
    source="lkbench; formula as CelebA/MAFL (ALK celeba_wild.py, GSG test_seg.py)",
    data=BenchmarkData("synthetic", image_size=64, options={"difficulty": "easy", "seed": 0},
                       uses_root=False)))

_add(BenchmarkSpec(
    name="synthetic-pose", num_landmarks=5, num_keypoints=None, regressions=("joint", "none"),
    error=_IOD, unit=_PCT_IOD, higher_is_better=False, error_params=_EYES,
    description="lkbench's synthetic faces with a wide pose law (difficulty 'pose', video "
    "pairs), scored like MAFL; the mean shape is far from the answer",
    source="lkbench; formula as CelebA/MAFL (ALK celeba_wild.py, GSG test_seg.py)",
    data=BenchmarkData("synthetic", image_size=64, options={"difficulty": "pose", "seed": 0},
                       uses_root=False),
    label="synthetic pose", family="synthetic"))

_add(BenchmarkSpec(
    name="celeba-wild", num_landmarks=5, num_keypoints=(4, 8), regressions=("joint",),
    error=_IOD, unit=_PCT_IOD, higher_is_better=False, error_params=_EYES,
    description="CelebA/MAFL in the wild, 128x128 whole images, face box >= 30% of the image",
    source="ALK datasets/celeba_wild.py; GSG test_seg.py, celeba_wild_preprocess.py; IMM; ZHG",
    label="CelebA wild", family="celeba"),
    "celeba", "mafl", "mafl-wild")

_add(BenchmarkSpec(
    name="celeba-aligned", num_landmarks=5, num_keypoints=(10,), regressions=("joint",),
    error=_IOD, unit=_PCT_IOD, higher_is_better=False, error_params=_EYES,
    description="CelebA/MAFL aligned crops (default crop: IMM, 160x160 resize, centre 128x128)",
    source="IMM scripts/test.py, imm/datasets/celeba_dataset.py; ZHG face_evaluation.m",
    label="MAFL aligned", family="celeba"),
    "mafl-aligned")

_CUB_COMMON = dict(num_landmarks=15, regressions=("vis",), error="visible_l2_error",
                   unit=_PCT_SIZE, higher_is_better=False, family="cub",
                   source="ALK datasets/cub.py, datasets/cub_three.py; PPL Table 1")

_add(BenchmarkSpec(
    name="cub-aligned", num_keypoints=(10,),
    description="CUB-200-2011 aligned 300x300 crops of Lorenz et al. (birds facing left)",
    label="CUB aligned", **_CUB_COMMON), "cub")
for _c in (1, 2, 3):
    _add(BenchmarkSpec(
        name=f"cub-00{_c}", num_keypoints=(4,),
        description=f"CUB-200-2011 class {_c:03d} only, CMR split, 128x128 box crops",
        label=f"CUB-00{_c}", **_CUB_COMMON))
_add(BenchmarkSpec(
    name="cub-all", num_keypoints=(4,),
    description="CUB-200-2011 all classes, CMR train/test split, 128x128 box crops",
    label="CUB all", **_CUB_COMMON))

_add(BenchmarkSpec(
    name="taichi", num_landmarks=18, num_keypoints=None, regressions=("coord",),
    error="taichi_mae_sum", unit="px_mae_sum@256", higher_is_better=False, image_size=256,
    description="Taichi-HD frames, 18 OpenPose joints, 5000 fit / 300 test frames",
    source="MSCS evaluate.py; ALK datasets/taichi.py; GSG test_seg.py", label="Taichi"),
    "tai-chi", "taichi-hd")

_add(BenchmarkSpec(
    name="deepfashion", num_landmarks=17, num_keypoints=None, regressions=("joint",),
    error="pck", unit="pct_pck@6px", higher_is_better=True, image_size=256,
    error_params={"threshold_px": 6.0},
    description="DeepFashion in-shop full-body images, 17 COCO joints, 10604 fit / 1179 test",
    source="ALK datasets/deepfashion.py; LOR custom_datasets/deepfashion", label="DeepFashion"))

_add(BenchmarkSpec(
    name="h36m-simplified", num_landmarks=32, num_keypoints=None, regressions=("h36m", "none"),
    error="h36m_swap_error", unit=_PCT_SIZE, higher_is_better=False,
    flip_pairs=H36M_FLIP_PAIRS,
    description="Simplified Human3.6M (Zhang et al.), S11 test, 6 activities, 32 joints",
    source="ALK datasets/h36m.py (relabel/trim loop); KPG test_pose.py, human36m_skeleton.py",
    data=BenchmarkData("h36m-simplified", groups="activities"), label="Simplified H3.6M",
    family="h36m"),
    "h36m", "human36m", "simplified-h36m")

_add(BenchmarkSpec(
    name="300w", num_landmarks=68, num_keypoints=None, regressions=("joint", "none"),
    error=_IOD, unit=_PCT_IOD, higher_is_better=False,
    error_params={"normaliser": "outer-corners"},
    description="300-W full test set (689 = common 554 + challenging 135), 68 landmarks",
    source="SEED-KG Table 3 (KeypointGAN code for 300-W not released); IOD choice: lkbench",
    label="300-W"),
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
