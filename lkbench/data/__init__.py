"""Datasets: the :class:`LandmarkSet` interface, the ``DATASETS`` registry and the built-ins.

``DATASETS`` maps a dataset name to a factory ``factory(split=..., image_size=..., **options) ->
LandmarkSet`` (usually the dataset class). Third-party datasets register through the entry-point
group ``lkbench.datasets``. Look datasets up with :func:`get_dataset`.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from ..errors import DataError
from ..registry import Registry
from .base import (LABELLED_SPLITS, SPLIT_FIT, SPLIT_PRIOR, SPLIT_TEST, SPLIT_TRAIN, SPLITS,
                   FramePair, IndexOutOfRange, KeypointMeta, LandmarkBatch, LandmarkSample,
                   LandmarkSet)
from .synthetic import DIFFICULTIES, FACE_LANDMARKS, SyntheticConfig, SyntheticFaces

DatasetFactory = Callable[..., LandmarkSet]
DATASETS: Registry[DatasetFactory] = Registry("datasets")
DATASETS.add("synthetic", SyntheticFaces)
# Real benchmark datasets (downloaded by the user; see each module's docstring for the layout).
from .celeba import CelebAAligned, CelebAWild  # noqa: E402
from .cub import CUBAligned  # noqa: E402
from .cub_cmr import CUB001, CUB002, CUB003, CUBCMR  # noqa: E402
from .deepfashion import DeepFashion  # noqa: E402
from .h36m import Human36MSimplified  # noqa: E402
from .taichi import Taichi  # noqa: E402
from .w300 import W300  # noqa: E402

DATASETS.add("celeba-wild", CelebAWild, aliases=("mafl-wild",))
DATASETS.add("celeba-aligned", CelebAAligned, aliases=("mafl-aligned",))
DATASETS.add("cub-aligned", CUBAligned)
DATASETS.add("cub-all", CUBCMR)
DATASETS.add("cub-001", CUB001)
DATASETS.add("cub-002", CUB002)
DATASETS.add("cub-003", CUB003)
DATASETS.add("taichi", Taichi)
DATASETS.add("deepfashion", DeepFashion)
DATASETS.add("h36m-simplified", Human36MSimplified, aliases=("h36m",))
DATASETS.add("300w", W300, aliases=("300-w", "w300"))


def get_dataset(name: str, **kwargs: Any) -> LandmarkSet:
    """Build dataset ``name`` with ``kwargs``, e.g. ``get_dataset("synthetic", split="fit")``.

    Raises:
        UnknownNameError: no dataset of that name (the message suggests close names).
        DataError: an argument the dataset does not take, or an invalid value.
    """
    factory = DATASETS.get(name)
    params = inspect.signature(factory).parameters
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as exc:
        unknown = sorted(set(kwargs) - set(params))
        problem = f"does not take {', '.join(unknown)}" if unknown else f"cannot be built: {exc}"
        raise DataError(f"dataset {DATASETS.resolve(name)!r} {problem}; "
                        f"it accepts: {', '.join(params)}") from None
    return factory(**kwargs)


__all__ = [
    "DATASETS", "DatasetFactory", "get_dataset",
    "LandmarkSet", "LandmarkSample", "LandmarkBatch", "FramePair", "KeypointMeta",
    "IndexOutOfRange", "SPLITS", "LABELLED_SPLITS",
    "SPLIT_TRAIN", "SPLIT_FIT", "SPLIT_TEST", "SPLIT_PRIOR",
    "SyntheticFaces", "SyntheticConfig", "DIFFICULTIES", "FACE_LANDMARKS",
]
