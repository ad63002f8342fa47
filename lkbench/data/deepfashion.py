"""Dataset ``deepfashion``: DeepFashion In-shop full-body images, 17 COCO joints (PCK@6px).

Download the DeepFashion In-shop images (``Img/img``; http://mmlab.ie.cuhk.edu.hk/projects/
DeepFashion/InShopRetrieval.html) and the Lorenz et al. (2019) keypoint files (github
theRealSuperMario/unsupervised-disentangling, branch ``reproducing_baselines``,
``original_code/custom_datasets/deepfashion``), and arrange them as that folder's README does,
under ``<data root>/deepfashion/``::

    deepfashion/
      data_train.csv, data_test.csv     id,filename   (10 604 / 1 179 rows)
      data_train.json, data_test.json   per row: image_path, keypoints 17×[x, y] px, …
      images/WOMEN/Dresses/id_00005746/06_1_front.jpg …   (``Img/img`` of In-shop)

⚠ ``data_train.json`` is missing from the public Lorenz release (``docs/protocols.md`` §5); the
``fit`` split needs it (the ``train`` and ``test`` splits do not).

Conversion (docs/protocols.md §1.6): keypoints are (x, y) pixels of the 256×256 image (COCO-17 order), read
with :func:`lkbench.keypoints.from_pixels` at 256; all 17 count as visible (values slightly
outside the image occur and are kept). The whole image is resized to ``R×R`` (bilinear).
Splits: ``train`` (GAN images) = ``data_train.csv``; ``fit`` = ``data_train.json``; ``test`` =
``data_test.json``; each json is checked row by row against its csv.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .base import SPLIT_FIT, SPLIT_TEST, SPLIT_TRAIN, KeypointMeta
from .files import AnnotationError, Problems, require
from .real import RealLandmarkSet, SplitIndex, box_keypoints

COCO_17 = KeypointMeta(
    names=("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
           "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
           "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"),
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    edges=((0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10), (5, 11),
           (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16)),
)
"""COCO-17 joints (the AlphaPose order of the Lorenz files)."""

WHERE = ("Lorenz et al.'s deepfashion files (github theRealSuperMario/unsupervised-"
         "disentangling, branch reproducing_baselines, original_code/custom_datasets/"
         "deepfashion) and DeepFashion In-shop Img/img linked as images/")
STEM_OF = MappingProxyType({SPLIT_TRAIN: "train", SPLIT_FIT: "train", SPLIT_TEST: "test"})
PUBLISHED_COUNTS = MappingProxyType({SPLIT_TRAIN: 10_604, SPLIT_FIT: 10_604, SPLIT_TEST: 1_179})
SIDE = 256


class DeepFashion(RealLandmarkSet):
    """DeepFashion In-shop full-body images (256×256) with 17 AlphaPose COCO joints.

    Args:
        split: ``train`` | ``fit`` | ``test``.
        image_size: side ``R`` of the model input.
        root: data root holding ``deepfashion/`` (default ``$LKBENCH_DATA``).
        cache_dir: cache root (default ``$LKBENCH_CACHE_DIR``, else the user cache folder).
        progress: show a progress bar while preprocessing.
    """
    name = "deepfashion"
    meta = COCO_17
    splits = (SPLIT_TRAIN, SPLIT_FIT, SPLIT_TEST)
    folder = "deepfashion"
    where_to_get = WHERE
    published_counts = PUBLISHED_COUNTS
    expected_hw = (SIDE, SIDE)

    def __init__(self, split: str = SPLIT_TRAIN, image_size: int = 128, root=None,
                 cache_dir=None, progress: bool = True):
        super().__init__(split, image_size, root, cache_dir, {}, progress)

    def annotation_files(self) -> list[Path]:
        stem = STEM_OF[self.split]
        files = [require(self.root_dir / f"data_{stem}.csv", WHERE)]
        if self.split != SPLIT_TRAIN:
            note = (" (not in the public Lorenz release; the fit split needs it)"
                    if stem == "train" else "")
            files.append(require(self.root_dir / f"data_{stem}.json", WHERE + note))
        return files

    def image_path(self, image_id: str) -> Path:
        return self.root_dir / "images" / image_id

    def _read_csv(self, path: Path, problems: Problems) -> list[tuple[int, str]]:
        """``(line number, filename)`` of the csv's rows."""
        rows = []
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            if header != ["id", "filename"]:
                raise AnnotationError(f"{path}:1: expected the header 'id,filename', got {header}")
            for line, fields in enumerate(reader, start=2):
                if len(fields) != 2 or not fields[1]:
                    problems.add(AnnotationError(f"{path}:{line}: malformed line {fields} "
                                                 "(expected id,filename)"))
                    continue
                rows.append((line, fields[1]))
        return rows

    def build_index(self, problems: Problems) -> SplitIndex:
        files = self.annotation_files()
        rows = self._read_csv(files[0], problems)
        n_listed = sum(1 for _ in open(files[0], encoding="utf-8")) - 1
        if self.split == SPLIT_TRAIN:
            ids = [f for _, f in rows]
            px = np.full((len(ids), 17, 2), np.nan)
            visible = np.zeros((len(ids), 17), bool)
        else:
            try:
                entries = json.loads(files[1].read_text(encoding="utf-8"))
            except ValueError as exc:
                raise AnnotationError(f"{files[1]}: not valid JSON ({exc}); re-download it"
                                      ) from None
            by_path = {}
            for i, e in enumerate(entries if isinstance(entries, list) else []):
                kp = np.asarray(e.get("keypoints", []) if isinstance(e, dict) else [],
                                dtype=np.float64)
                if kp.shape != (17, 2) or not np.isfinite(kp).all():
                    problems.add(AnnotationError(f"{files[1]}: entry {i}: keypoints must be 17 "
                                                 f"finite [x, y] pairs, got shape {kp.shape}"))
                    continue
                by_path[e.get("image_path")] = kp
            ids, values = [], []
            for line, name in rows:
                if name not in by_path:
                    problems.add(AnnotationError(f"{files[0]}:{line}: {name} has no entry in "
                                                 f"{files[1].name}"))
                    continue
                ids.append(name)
                values.append(by_path[name])
            px = np.asarray(values, dtype=np.float64).reshape(-1, 17, 2)
            visible = np.ones((len(ids), 17), bool)
        boxes = np.tile([0.0, 0.0, float(SIDE), float(SIDE)], (len(ids), 1))
        kp = box_keypoints(np.nan_to_num(px), boxes)
        return SplitIndex(ids, boxes, kp, visible, n_listed)
