"""Dataset ``cub-aligned``: Lorenz et al.'s 300×300 aligned CUB-200-2011 crops, 15 parts.

Download the ``cub_200_2011`` folder of the Lorenz et al. (2019) data release (github
theRealSuperMario/unsupervised-disentangling, branch ``reproducing_baselines``,
``original_code/custom_datasets/cub_200_2011``) and its ``images`` archive (link in that
folder's README), and place them under ``<data root>/cub-aligned/``::

    cub-aligned/
      train.csv, test.csv          idx,fname,fname_original,category  (4 735 / 4 630 rows)
      train_kp.npy, test_kp.npy    float (N, 15, 3): x, y in [0, 1], visibility 0/1
      images/train/00181.png …     300×300 aligned crops, birds facing left
      images/test/00179.png …

Conversion (``docs/protocols.md`` §1.3): ``[..., 0]`` = x (column), ``[..., 1]`` = y (row),
both in the protocols' ``[0, 1]`` frame → :func:`lkbench.keypoints.from_unit`; visibility 0
gives ``visible = False`` and a NaN keypoint (the file holds a placeholder there). The whole
300×300 image is resized to ``R×R`` (bilinear). Splits: ``train`` (GAN images) = ``fit`` =
``train.csv``; ``test`` = ``test.csv``.

The CMR-split variants (``cub-001``/``002``/``003``/``cub-all``, docs/protocols.md §1.4) read CUB-200-2011
and CMR's ``.mat`` caches: :mod:`lkbench.data.cub_cmr`.
"""
from __future__ import annotations

import csv
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..errors import DataError
from ..keypoints import from_unit
from .base import SPLIT_FIT, SPLIT_TEST, SPLIT_TRAIN, KeypointMeta
from .files import AnnotationError, Problems, require
from .real import RealLandmarkSet, SplitIndex

CUB_PARTS = KeypointMeta(
    names=("back", "beak", "belly", "breast", "crown", "forehead", "left_eye", "left_leg",
           "left_wing", "nape", "right_eye", "right_leg", "right_wing", "tail", "throat"),
    flip_pairs=((6, 10), (7, 11), (8, 12)),
    edges=((1, 5), (5, 4), (4, 9), (9, 0), (0, 13), (1, 14), (14, 3), (3, 2), (2, 13),
           (6, 5), (10, 5), (0, 8), (0, 12), (2, 7), (2, 11)),
)
"""CUB-200-2011's 15 parts in annotation order; left/right pairs swap under a flip."""

WHERE = ("Lorenz et al.'s cub_200_2011 files (train.csv, test.csv, train_kp.npy, test_kp.npy; "
         "github theRealSuperMario/unsupervised-disentangling, branch reproducing_baselines, "
         "original_code/custom_datasets/cub_200_2011) and their images/ archive")
FILE_OF = MappingProxyType({SPLIT_TRAIN: "train", SPLIT_FIT: "train", SPLIT_TEST: "test"})
PUBLISHED_COUNTS = MappingProxyType({SPLIT_TRAIN: 4_735, SPLIT_FIT: 4_735, SPLIT_TEST: 4_630})
ALIGNED_SIDE = 300


class CUBAligned(RealLandmarkSet):
    """CUB-200-2011 aligned crops of Lorenz et al. (300×300, birds facing left), 15 parts.

    Args:
        split: ``train`` | ``fit`` | ``test``.
        image_size: side ``R`` of the model input (published: 128).
        root: data root holding ``cub-aligned/`` (default ``$LKBENCH_DATA``).
        cache_dir: cache root (default ``$LKBENCH_CACHE_DIR``, else the user cache folder).
        progress: show a progress bar while preprocessing.
    """
    name = "cub-aligned"
    meta = CUB_PARTS
    splits = (SPLIT_TRAIN, SPLIT_FIT, SPLIT_TEST)
    folder = "cub-aligned"
    where_to_get = WHERE
    published_counts = PUBLISHED_COUNTS
    expected_hw = (ALIGNED_SIDE, ALIGNED_SIDE)

    def __init__(self, split: str = SPLIT_TRAIN, image_size: int = 128, root=None,
                 cache_dir=None, progress: bool = True):
        super().__init__(split, image_size, root, cache_dir, {}, progress)

    def annotation_files(self) -> list[Path]:
        stem = FILE_OF[self.split]
        return [require(self.root_dir / f"{stem}.csv", WHERE),
                require(self.root_dir / f"{stem}_kp.npy", WHERE)]

    def image_path(self, image_id: str) -> Path:
        return self.root_dir / image_id

    def build_index(self, problems: Problems) -> SplitIndex:
        csv_path, kp_path = self.annotation_files()
        rows: list[tuple[int, str]] = []                   # (csv row position, fname)
        with open(csv_path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            if header[:2] != ["idx", "fname"]:
                raise AnnotationError(f"{csv_path}:1: expected the header "
                                      f"'idx,fname,fname_original,category', got {header}")
            for position, fields in enumerate(reader):
                line = position + 2
                if len(fields) != 4 or not fields[1]:
                    problems.add(AnnotationError(f"{csv_path}:{line}: malformed line {fields} "
                                                 "(expected idx,fname,fname_original,category)"))
                    continue
                rows.append((position, fields[1]))
        try:
            kp = np.load(kp_path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise AnnotationError(f"cannot read {kp_path}: {exc}; re-download it") from None
        count = sum(1 for _ in open(csv_path, encoding="utf-8")) - 1
        if kp.ndim != 3 or kp.shape[1:] != (15, 3) or kp.shape[0] != count:
            raise AnnotationError(f"{kp_path}: expected an array (N, 15, 3) with one row per "
                                  f"line of {csv_path.name} ({count}), got {kp.shape}")
        positions = np.asarray([p for p, _ in rows], dtype=np.int64)
        sel = kp[positions].astype(np.float64)
        vis_raw = sel[..., 2]
        if not np.isin(vis_raw, (0.0, 1.0)).all():
            bad = int(np.flatnonzero(~np.isin(vis_raw, (0.0, 1.0)).all(1))[0])
            raise DataError(f"{kp_path}: row {positions[bad]} has visibility values other than "
                            "0 and 1")
        n = len(rows)
        boxes = np.tile([0.0, 0.0, float(ALIGNED_SIDE), float(ALIGNED_SIDE)], (n, 1))
        return SplitIndex([f for _, f in rows], boxes, from_unit(sel[..., :2]), vis_raw == 1,
                          count)
