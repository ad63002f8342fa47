"""Dataset ``taichi``: Taichi-HD 256×256 frames with 18 OpenPose joints (MSCS protocol).

Download from the motion co-segmentation release (github AliaksandrSiarohin/
motion-cosegmentation): ``eval_images.tar.gz`` (``taichi-256/{train,test}/NNNNN.png``) and the
landmark files ``taichi_{train,test}_gt.pkl``; for GAN training, the Taichi-HD training frames.
Place them under ``<data root>/taichi/``::

    taichi/
      eval_images/taichi-256/train/00351.png …   5 000 labelled frames (fit)
      eval_images/taichi-256/test/00164.png …    300 labelled frames (test)
      landmarks/taichi_train_gt.pkl              (``landmark/`` also accepted)
      landmarks/taichi_test_gt.pkl
      train/<video>/<frame>.png …                 unlabelled GAN frames (split ``train``)

Landmark files (``docs/protocols.md`` §1.5) are pandas pickles with columns ``file_name``,
``frame_number``, ``value`` = float (18, 2) **(x, y)** pixels of the 256 frame; a missing joint
is ``(−1, −1)``. Conversion: :func:`lkbench.keypoints.from_pixels` at 256 (so
``to_pixels(kp, 256)`` returns the file's values exactly); a joint with a −1 coordinate is
``visible = False`` with a NaN keypoint. Frames are resized from 256 to ``R`` (bilinear).
The pickles are read by :func:`lkbench.data.safe_pickle.load_dataframe_pickle`, which rebuilds
the DataFrame from an allow-list of numpy/pandas constructors and refuses any other name, so a
crafted file cannot run code.
"""
from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import numpy as np

from .base import SPLIT_FIT, SPLIT_TEST, SPLIT_TRAIN, KeypointMeta
from .files import AnnotationError, MissingDataError, Problems, require_any
from .real import RealLandmarkSet, SplitIndex, box_keypoints

OPENPOSE_18 = KeypointMeta(
    names=("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
           "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
           "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear"),
    flip_pairs=((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13), (14, 15), (16, 17)),
    edges=((0, 1), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
           (1, 11), (11, 12), (12, 13), (0, 14), (14, 16), (0, 15), (15, 17)),
)
"""OpenPose COCO-18 joints (the order of the MSCS landmark files)."""

WHERE = ("the motion co-segmentation release (github AliaksandrSiarohin/motion-cosegmentation): "
         "eval_images.tar.gz and landmarks/taichi_{train,test}_gt.pkl")
PKL_OF = MappingProxyType({SPLIT_FIT: "train", SPLIT_TEST: "test"})
PUBLISHED_COUNTS = MappingProxyType({SPLIT_FIT: 5_000, SPLIT_TEST: 300})
SIDE = 256
MISSING = -1.0
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class Taichi(RealLandmarkSet):
    """Taichi-HD frames (256×256) with 18 OpenPose joints; −1 marks a missing joint.

    Args:
        split: ``train`` (unlabelled GAN frames) | ``fit`` | ``test``.
        image_size: side ``R`` of the model input (ALK/GSG: 128).
        root: data root holding ``taichi/`` (default ``$LKBENCH_DATA``).
        cache_dir: cache root (default ``$LKBENCH_CACHE_DIR``, else the user cache folder).
        progress: show a progress bar while preprocessing.
    """
    name = "taichi"
    meta = OPENPOSE_18
    splits = (SPLIT_TRAIN, SPLIT_FIT, SPLIT_TEST)
    folder = "taichi"
    where_to_get = WHERE
    published_counts = PUBLISHED_COUNTS

    def __init__(self, split: str = SPLIT_TRAIN, image_size: int = 128, root=None,
                 cache_dir=None, progress: bool = True):
        super().__init__(split, image_size, root, cache_dir, {}, progress)
        self.expected_hw = None if split == SPLIT_TRAIN else (SIDE, SIDE)

    def annotation_files(self) -> list[Path]:
        if self.split == SPLIT_TRAIN:
            return []
        name = f"taichi_{PKL_OF[self.split]}_gt.pkl"
        return [require_any([self.root_dir / "landmarks" / name,
                             self.root_dir / "landmark" / name], f"part of {WHERE}")]

    def image_path(self, image_id: str) -> Path:
        return self.root_dir / image_id

    def _train_frames(self) -> SplitIndex:
        folder = self.root_dir / "train"
        if not folder.is_dir():
            raise MissingDataError(f"missing folder {folder}: the Taichi-HD training frames "
                                   "(one sub-folder of PNG frames per video) for split 'train'")
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        ids = [str(p.relative_to(self.root_dir)) for p in files]
        from .files import image_size_of
        hw = np.asarray([image_size_of(p) for p in files], dtype=np.float64).reshape(-1, 2)
        boxes = np.concatenate([np.zeros_like(hw), hw[:, ::-1]], axis=1)
        n, k = len(ids), self.num_landmarks
        return SplitIndex(ids, boxes, np.full((n, k, 2), np.nan), np.zeros((n, k), bool),
                          len(ids))

    def build_index(self, problems: Problems) -> SplitIndex:
        if self.split == SPLIT_TRAIN:
            return self._train_frames()
        from .safe_pickle import load_dataframe_pickle

        (path,) = self.annotation_files()
        table = load_dataframe_pickle(path, where_to_get=WHERE)
        if not {"file_name", "value"} <= set(getattr(table, "columns", ())):
            raise AnnotationError(f"{path}: expected columns file_name and value, got "
                                  f"{list(getattr(table, 'columns', []))}")
        ids, values = [], []
        subdir = f"eval_images/taichi-256/{PKL_OF[self.split]}"
        for row, (name, value) in enumerate(zip(table["file_name"], table["value"])):
            arr = np.asarray(value, dtype=np.float64) if value is not None else np.zeros(0)
            if arr.shape != (18, 2) or not np.isfinite(arr).all():
                problems.add(AnnotationError(f"{path}: row {row} ({name}): value must be 18 "
                                             f"finite (x, y) pairs, got shape {arr.shape}"))
                continue
            ids.append(f"{subdir}/{name}")
            values.append(arr)
        px = np.asarray(values, dtype=np.float64).reshape(-1, 18, 2)
        visible = (px != MISSING).all(-1)
        boxes = np.tile([0.0, 0.0, float(SIDE), float(SIDE)], (len(ids), 1))
        return SplitIndex(ids, boxes, box_keypoints(px, boxes), visible, len(table))
