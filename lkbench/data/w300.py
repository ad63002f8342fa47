"""Dataset ``300w``: the 300-W faces with 68 landmarks (``.pts``), Ren et al.'s 3 148 / 689 split.

Download the 300-W images with their annotations (iBUG, https://ibug.doc.ic.ac.uk/resources/
300-W/: the ``afw``, ``helen``, ``lfpw`` and ``ibug`` folders) and place them under
``<data root>/300w/``::

    300w/
      afw/1051618982_1.jpg, 1051618982_1.pts …          337 faces   (train)
      helen/trainset/100032540_1.jpg, .pts …            2 000       (train)
      lfpw/trainset/image_0001.png, .pts …              811         (train)
      helen/testset/…                                   330         (test, common)
      lfpw/testset/…                                    224         (test, common)
      ibug/image_003_1.jpg, .pts …                      135         (test, challenging)

Each ``.pts`` (``docs/protocols.md`` §1.8) reads ``version: 1``, ``n_points:  68``, ``{``, 68
lines ``x y`` (float pixels, 1-based by the common reading), ``}``; the image is the file of the
same stem with suffix ``.jpg``, ``.png`` or ``.jpeg``. Conversion: subtract 1, then
:func:`lkbench.keypoints.from_pixels` relative to the crop box; all 68 points are visible.
Landmark names say the image side (``eye_image_left_0`` = 0-based point 36, the outer corner of
the eye on the image's left); the normaliser pair is the outer eye corners 36 and 45.

Splits (Ren et al., as Thewlis et al. and KeypointGAN use them): ``train`` (self-supervised
images) = ``fit`` = afw + helen/trainset + lfpw/trainset (3 148); ``test`` = ``subset``:
``"full"`` (default, 689, the only one KeypointGAN reports), ``"common"`` (helen/testset +
lfpw/testset, 554) or ``"challenging"`` (ibug, 135). Files are taken in folder, then name order.

Crop (⚠ KeypointGAN's 300-W preprocessing is not released; lkbench's choice): ``crop=
"landmarks"`` (default) takes the square centred on the annotated points' bounding box with side
``crop_scale`` (default 1.25) × its longer extent — parts outside the image are black — and
resizes it to ``R×R`` (bilinear); ``crop="none"`` resizes the whole image (aspect not kept).
"""
from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..errors import DataError
from .base import SPLIT_FIT, SPLIT_TEST, SPLIT_TRAIN, KeypointMeta
from .files import (AnnotationError, MissingDataError, Problems, image_size_of, numbered_lines)
from .real import RealLandmarkSet, SplitIndex, box_keypoints, check_choice


def _meta_68() -> KeypointMeta:
    groups = (("jaw", 17), ("brow_image_left", 5), ("brow_image_right", 5),
              ("nose_bridge", 4), ("nose_base", 5), ("eye_image_left", 6),
              ("eye_image_right", 6), ("lips_outer", 12), ("lips_inner", 8))
    names, edges, start = [], [], 0
    for group, n in groups:
        names += [f"{group}_{i}" for i in range(n)]
        edges += [(start + i, start + i + 1) for i in range(n - 1)]
        if group.startswith(("eye", "lips")):          # closed contours
            edges.append((start + n - 1, start))
        start += n
    mirror = [(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)] + \
        [(31, 35), (32, 34)] + [(36 + i, 45 - i) for i in range(4)] + [(40, 47), (41, 46)] + \
        [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]
    return KeypointMeta(tuple(names), tuple(mirror), (names[36], names[45]), tuple(edges))


IBUG_68 = _meta_68()
"""The 68 iBUG landmarks (jaw 0–16, brows 17–26, nose 27–35, eyes 36–47, lips 48–67), their
mirror pairs, the outer-eye-corner normaliser (36, 45) and contour edges."""

WHERE = ("the 300-W images and .pts files (https://ibug.doc.ic.ac.uk/resources/300-W/): "
         "afw/, helen/{trainset,testset}/, lfpw/{trainset,testset}/, ibug/")
TRAIN_FOLDERS = ("afw", "helen/trainset", "lfpw/trainset")
TEST_SUBSETS = MappingProxyType({
    "full": ("helen/testset", "lfpw/testset", "ibug"),
    "common": ("helen/testset", "lfpw/testset"),
    "challenging": ("ibug",),
})
PUBLISHED = MappingProxyType({"train": 3_148, "full": 689, "common": 554, "challenging": 135})
CROPS = ("landmarks", "none")
CROP_SCALE = 1.25
"""Side of the default square crop, as a multiple of the landmarks' longer extent (lkbench)."""
IMAGE_SUFFIXES = (".jpg", ".png", ".jpeg")
NUM_POINTS = 68


def read_pts(path: Path) -> np.ndarray:
    """The points of a ``.pts`` file as float64 ``[n_points, 2]`` (x, y), as written (1-based).

    Raises:
        AnnotationError: a malformed header, point line or count (path and line number named).
    """
    lines = list(numbered_lines(path))
    header = {}
    body: "list[tuple[int, str]] | None" = None
    for number, line in lines:
        if body is None:
            if line == "{":
                body = []
            elif ":" in line:
                key, value = line.split(":", 1)
                header[key.strip()] = value.strip()
            else:
                raise AnnotationError(f"{path}:{number}: malformed header line {line[:60]!r} "
                                      "(expected 'version: 1', 'n_points: 68' and '{')")
        elif line == "}":
            break
        else:
            body.append((number, line))
    else:
        raise AnnotationError(f"{path}: no closing '}}' (the file is truncated); re-download it")
    try:
        n = int(header["n_points"])
    except (KeyError, ValueError):
        raise AnnotationError(f"{path}: missing or malformed 'n_points:' header line") from None
    points = []
    for number, line in body:
        fields = line.split()
        try:
            if len(fields) != 2:
                raise ValueError(f"expected 2 numbers, got {len(fields)} fields")
            points.append([float(fields[0]), float(fields[1])])
        except ValueError as exc:
            raise AnnotationError(f"{path}:{number}: malformed point line {line[:60]!r} "
                                  f"({exc}); re-download the file") from None
    if len(points) != n:
        raise AnnotationError(f"{path}: n_points says {n} but {len(points)} point lines follow")
    return np.asarray(points, dtype=np.float64).reshape(n, 2)


def landmark_box(px: np.ndarray, scale: float) -> tuple[float, float, float, float]:
    """The square ``(x0, y0, x1, y1)`` centred on the bounding box of ``px`` (``[L, 2]``
    0-based pixel centres) with side ``scale`` × its longer extent."""
    lo, hi = px.min(axis=0), px.max(axis=0)
    cx, cy = (lo + hi) / 2
    half = scale * float((hi - lo).max()) / 2
    return (cx - half, cy - half, cx + half, cy + half)


class W300(RealLandmarkSet):
    """300-W faces (68 landmarks), train 3 148 / test 689 (common 554 + challenging 135).

    Args:
        split: ``train`` | ``fit`` | ``test``.
        image_size: side ``R`` of the model input (not recovered for KeypointGAN; 128).
        root: data root holding ``300w/`` (default ``$LKBENCH_DATA``).
        cache_dir: cache root (default ``$LKBENCH_CACHE_DIR``, else the user cache folder).
        subset: test subset, ``"full"`` | ``"common"`` | ``"challenging"``.
        crop: ``"landmarks"`` (square around the points) or ``"none"`` (whole image).
        crop_scale: side of the ``landmarks`` crop over the points' longer extent, in [1, 4].
        progress: show a progress bar while preprocessing.
    """
    name = "300w"
    meta = IBUG_68
    splits = (SPLIT_TRAIN, SPLIT_FIT, SPLIT_TEST)
    folder = "300w"
    where_to_get = WHERE

    def __init__(self, split: str = SPLIT_TRAIN, image_size: int = 128, root=None,
                 cache_dir=None, subset: str = "full", crop: str = "landmarks",
                 crop_scale: float = CROP_SCALE, progress: bool = True):
        subset = check_choice(subset, tuple(TEST_SUBSETS), "subset", self.name)
        crop = check_choice(crop, CROPS, "crop", self.name)
        if isinstance(crop_scale, bool) or not isinstance(crop_scale, (int, float)) or \
                not 1.0 <= crop_scale <= 4.0:
            raise DataError(f"dataset {self.name!r}: crop_scale must be a number in [1, 4], "
                            f"got {crop_scale!r}")
        options = {"subset": subset, "crop": crop}
        if crop == "landmarks":
            options["crop_scale"] = float(crop_scale)
        super().__init__(split, image_size, root, cache_dir, options, progress)
        self.published_counts = MappingProxyType({SPLIT_TRAIN: PUBLISHED["train"],
                                                  SPLIT_FIT: PUBLISHED["train"],
                                                  SPLIT_TEST: PUBLISHED[subset]})

    def folders(self) -> tuple[str, ...]:
        """The release folders this split reads, in order."""
        if self.split == SPLIT_TEST:
            return TEST_SUBSETS[self.options["subset"]]
        return TRAIN_FOLDERS

    def annotation_files(self) -> list[Path]:
        files = []
        for name in self.folders():
            folder = self.root_dir / name
            if not folder.is_dir():
                raise MissingDataError(f"missing folder {folder}: part of {WHERE}")
            files += sorted(folder.glob("*.pts"))
        return files

    def image_path(self, image_id: str) -> Path:
        return self.root_dir / image_id

    def _image_of(self, pts: Path) -> Path:
        for suffix in IMAGE_SUFFIXES:
            path = pts.with_suffix(suffix)
            if path.is_file():
                return path
        raise MissingDataError(f"missing image for {pts}: expected {pts.stem} with suffix "
                               f"{', '.join(IMAGE_SUFFIXES)} beside it")

    def build_index(self, problems: Problems) -> SplitIndex:
        files = self.annotation_files()
        ids, boxes, points = [], [], []
        for pts in files:
            try:
                px = read_pts(pts) - 1.0                       # 1-based → 0-based centres
                if px.shape[0] != NUM_POINTS:
                    raise AnnotationError(f"{pts}: {px.shape[0]} points; 300-W has "
                                          f"{NUM_POINTS}")
                image = self._image_of(pts)
                if self.options["crop"] == "landmarks":
                    box = landmark_box(px, self.options["crop_scale"])
                else:
                    h, w = image_size_of(image)
                    box = (0.0, 0.0, float(w), float(h))
            except DataError as exc:
                problems.add(exc)
                continue
            ids.append(str(image.relative_to(self.root_dir)))
            boxes.append(box)
            points.append(px)
        boxes_a = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        kp = box_keypoints(np.asarray(points).reshape(-1, NUM_POINTS, 2), boxes_a)
        return SplitIndex(ids, boxes_a, kp, np.ones((len(ids), NUM_POINTS), bool), len(files))
