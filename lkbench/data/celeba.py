"""Datasets ``celeba-wild`` and ``celeba-aligned``: CelebA images with MAFL's 5 landmarks.

Download CelebA (https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html) and MAFL's two lists
(``training.txt``, ``testing.txt``; in the MAFL release or GANSeg's ``data/celeba_wild_raw/MAFL``)
and arrange them as the releases ship them, under ``<data root>/celeba/``::

    celeba/
      Img/img_celeba/000001.jpg …           in-the-wild JPEGs (celeba-wild)
      Img/img_align_celeba/000001.jpg …     178×218 aligned JPEGs (celeba-aligned)
      Anno/list_landmarks_celeba.txt        wild landmarks      (celeba-wild)
      Anno/list_bbox_celeba.txt             wild face boxes     (celeba-wild)
      Anno/list_landmarks_align_celeba.txt  aligned landmarks   (celeba-aligned)
      Anno/list_attr_celeba.txt             40 attributes (optional; ``attributes()``)
      Eval/list_eval_partition.txt          0/1/2 = train/val/test
      MAFL/training.txt, MAFL/testing.txt   19 000 / 1 000 image names

Annotations (``docs/protocols.md`` §1.1–1.2): ``<name> x y …`` integer pixels of the image the
list belongs to, x = column, y = row, read as 0-based pixel centres and converted with
:func:`lkbench.keypoints.from_pixels` (a CelebA image is ``(H, W)``; the files never say which
origin they use — a half-pixel shift that the inter-ocular error does not see).

Splits (both datasets): ``train`` = CelebA partition 0 minus the MAFL test images (161 962
names; the GANSeg ``celebA_training.txt`` list equals this), ``fit`` = MAFL training, ``test`` =
MAFL testing. Landmarks: ``left_eye, right_eye, nose, left_mouth, right_mouth`` (image-left).

``celeba-wild`` preprocessing (GANSeg ``celeba_wild_preprocess.py``): every split drops images
whose face box covers less than 30 % of the image (``w·h < 0.3·H·W``); the whole image is
resized to ``R×R`` (bilinear, aspect ratio not kept). ``compat="alk-swap"`` reproduces
AutoLink's bug that scales columns by ``1/H`` and rows by ``1/W`` (docs/protocols.md §1.1); default
``"none"`` is the correct scaling.

``celeba-aligned`` preprocessing: ``crop="imm"`` (default; IMM: resize 178×218 to 160×160 and
keep the centre 128×128, i.e. the centre 80 % of each axis, scaled to ``R``; normalised
keypoints scale by 1/0.8) or ``crop="none"`` (the whole aligned image resized to ``R×R``, SKP).
"""
from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from .base import SPLIT_FIT, SPLIT_TEST, SPLIT_TRAIN
from .files import (AnnotationError, Problems, image_size_of, read_names, read_table, require)
from .real import RealLandmarkSet, SplitIndex, box_keypoints, check_choice
from .synthetic import FACE_LANDMARKS

WHERE = ("CelebA's Img/, Anno/, Eval/ folders from https://mmlab.ie.cuhk.edu.hk/projects/"
         "CelebA.html and MAFL/training.txt, MAFL/testing.txt (MAFL release)")
MAFL_LISTS = MappingProxyType({SPLIT_FIT: "training.txt", SPLIT_TEST: "testing.txt"})
PUBLISHED_COUNTS = MappingProxyType({SPLIT_TRAIN: 161_962, SPLIT_FIT: 19_000, SPLIT_TEST: 1_000})
FACE_BOX_MIN_FRACTION = 0.3
"""celeba-wild keeps an image iff face-box area ≥ this fraction of the image area."""
ALIGNED_HW = (218, 178)
"""(H, W) of every ``img_align_celeba`` image."""
IMM_KEEP = 0.8
"""IMM keeps the centre 128 of 160 pixels of each axis."""
COMPAT_WILD = ("none", "alk-swap")
CELEBA_ATTRIBUTES: tuple[str, ...] = tuple(
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose "
    "Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee "
    "Gray_Hair Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes "
    "No_Beard Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling "
    "Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace "
    "Wearing_Necktie Young".split())
"""The 40 binary attributes of ``list_attr_celeba.txt``, in its column order."""
CROPS_ALIGNED = ("imm", "none")


class _CelebA(RealLandmarkSet):
    """Shared by the two CelebA datasets: lists, landmarks, attributes."""
    meta = FACE_LANDMARKS
    splits = (SPLIT_TRAIN, SPLIT_FIT, SPLIT_TEST)
    folder = "celeba"
    where_to_get = WHERE
    published_counts = PUBLISHED_COUNTS
    image_folder: ClassVar[str] = ""
    landmark_file: ClassVar[str] = ""

    def __init__(self, split: str, image_size: int, root, cache_dir, options, progress: bool):
        super().__init__(split, image_size, root, cache_dir, options, progress)
        self._attribute_table: "dict[str, np.ndarray] | None" = None

    def _file(self, *parts: str) -> Path:
        return require(self.root_dir.joinpath(*parts), f"part of {WHERE}")

    def _list_files(self) -> list[Path]:
        if self.split == SPLIT_TRAIN:
            return [self._file("Eval", "list_eval_partition.txt"),
                    self._file("MAFL", MAFL_LISTS[SPLIT_TEST])]
        return [self._file("MAFL", MAFL_LISTS[self.split])]

    def split_names(self, problems: Problems) -> list[str]:
        """The split's image names before any filter (MAFL list, or partition 0 − MAFL test)."""
        if self.split != SPLIT_TRAIN:
            return read_names(self._file("MAFL", MAFL_LISTS[self.split]))
        names, part = read_table(self._file("Eval", "list_eval_partition.txt"), 1, problems)
        mafl_test = set(read_names(self._file("MAFL", MAFL_LISTS[SPLIT_TEST])))
        return [n for n, p in zip(names, part[:, 0]) if p == 0 and n not in mafl_test]

    def read_landmarks(self, problems: Problems) -> dict[str, np.ndarray]:
        """name → float64 ``[5, 2]`` (x, y) pixels from this dataset's landmark list."""
        path = self._file("Anno", self.landmark_file)
        names, values = read_table(path, 10, problems, header_lines=2)
        return dict(zip(names, values.reshape(-1, 5, 2).astype(np.float64)))

    def image_path(self, image_id: str) -> Path:
        return self.root_dir / "Img" / self.image_folder / image_id

    def _lookup(self, names: list[str], table: dict[str, np.ndarray], what: Path,
                problems: Problems) -> list[str]:
        kept = []
        for n in names:
            if n in table:
                kept.append(n)
            else:
                problems.add(AnnotationError(f"{what}: no row for image {n} (listed in the "
                                             f"{self.split!r} split); re-download the file"))
        return kept

    # -- attributes -------------------------------------------------------------------------
    attribute_names = CELEBA_ATTRIBUTES

    def _read_attributes(self) -> dict[str, np.ndarray]:
        """name → int8 ``[40]`` of −1 / 1 from ``Anno/list_attr_celeba.txt`` (read once)."""
        if self._attribute_table is None:
            path = require(self.root_dir / "Anno" / "list_attr_celeba.txt",
                           f"CelebA's Anno/list_attr_celeba.txt ({WHERE})")
            with open(path, encoding="utf-8") as fh:
                fh.readline()
                header = tuple(fh.readline().split())
            if header != CELEBA_ATTRIBUTES:
                raise AnnotationError(f"{path}:2: expected the 40 CelebA attribute names "
                                      f"({CELEBA_ATTRIBUTES[0]} … {CELEBA_ATTRIBUTES[-1]}), "
                                      f"got {len(header)} names starting {header[:3]}")
            names, values = read_table(path, 40, Problems(), header_lines=2, dtype=np.int8)
            bad = ~np.isin(values, (-1, 1)).all(1)
            if bad.any():
                raise AnnotationError(f"{path}: image {names[int(np.flatnonzero(bad)[0])]} has "
                                      "attribute values other than -1 and 1")
            self._attribute_table = dict(zip(names, values))
        return self._attribute_table

    def _attributes(self, indices: np.ndarray) -> Tensor:
        """bool ``[N, 40]``: True where ``list_attr_celeba.txt`` says 1 (columns
        :data:`CELEBA_ATTRIBUTES`).

        Raises:
            MissingDataError: ``Anno/list_attr_celeba.txt`` is absent.
            AnnotationError: an image of the split has no attribute row.
        """
        table = self._read_attributes()
        ids = self.index.ids
        missing = [ids[i] for i in indices if ids[i] not in table]
        if missing:
            raise AnnotationError(f"Anno/list_attr_celeba.txt has no row for {missing[0]} "
                                  f"({len(missing)} image(s) missing); re-download it")
        return torch.from_numpy(np.stack([table[ids[i]] for i in indices]) == 1)


class CelebAWild(_CelebA):
    """CelebA in the wild + MAFL landmarks: face-box filter, whole image resized (K = 4, 8).

    Args:
        split: ``train`` | ``fit`` | ``test``.
        image_size: side ``R`` of the model input (published: 128).
        root: data root holding ``celeba/`` (default ``$LKBENCH_DATA``).
        cache_dir: cache root (default ``$LKBENCH_CACHE_DIR``, else the user cache folder).
        compat: ``"none"`` (correct scaling) or ``"alk-swap"`` (AutoLink's swapped scales).
        progress: show a progress bar while preprocessing.
    """
    name = "celeba-wild"
    image_folder = "img_celeba"
    landmark_file = "list_landmarks_celeba.txt"

    def __init__(self, split: str = SPLIT_TRAIN, image_size: int = 128, root=None,
                 cache_dir=None, compat: str = "none", progress: bool = True):
        compat = check_choice(compat, COMPAT_WILD, "compat", self.name)
        super().__init__(split, image_size, root, cache_dir, {"compat": compat}, progress)

    def annotation_files(self) -> list[Path]:
        return [*self._list_files(), self._file("Anno", self.landmark_file),
                self._file("Anno", "list_bbox_celeba.txt")]

    def build_index(self, problems: Problems) -> SplitIndex:
        names = self.split_names(problems)
        landmarks = self.read_landmarks(problems)
        bbox_path = self._file("Anno", "list_bbox_celeba.txt")
        bnames, bvalues = read_table(bbox_path, 4, problems, header_lines=2)
        boxes = dict(zip(bnames, bvalues))
        names = self._lookup(names, landmarks, self._file("Anno", self.landmark_file), problems)
        names = self._lookup(names, boxes, bbox_path, problems)
        ids, sizes = [], []
        for n in names:
            try:
                h, w = image_size_of(self.image_path(n))
            except DataError as exc:
                problems.add(exc)
                continue
            _, _, bw, bh = boxes[n]
            if bw * bh >= FACE_BOX_MIN_FRACTION * h * w:
                ids.append(n)
                sizes.append((h, w))
        hw = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
        whole = np.concatenate([np.zeros_like(hw), hw[:, ::-1]], axis=1)   # (0, 0, W, H)
        px = np.stack([landmarks[n] for n in ids]) if ids else np.zeros((0, 5, 2))
        frame = whole if self.options["compat"] == "none" else \
            np.concatenate([np.zeros_like(hw), hw], axis=1)                 # (0, 0, H, W): swap
        keypoints = box_keypoints(px, frame)
        return SplitIndex(ids, whole, keypoints, np.ones((len(ids), 5), bool), len(names))


class CelebAAligned(_CelebA):
    """CelebA aligned (178×218) + MAFL landmarks; IMM centre crop by default (K = 10).

    Args:
        split: ``train`` | ``fit`` | ``test``.
        image_size: side ``R`` of the model input (IMM: 128).
        root: data root holding ``celeba/`` (default ``$LKBENCH_DATA``).
        cache_dir: cache root (default ``$LKBENCH_CACHE_DIR``, else the user cache folder).
        crop: ``"imm"`` (centre 80 % of each axis) or ``"none"`` (whole image).
        progress: show a progress bar while preprocessing.
    """
    name = "celeba-aligned"
    expected_hw = ALIGNED_HW
    image_folder = "img_align_celeba"
    landmark_file = "list_landmarks_align_celeba.txt"

    def __init__(self, split: str = SPLIT_TRAIN, image_size: int = 128, root=None,
                 cache_dir=None, crop: str = "imm", progress: bool = True):
        crop = check_choice(crop, CROPS_ALIGNED, "crop", self.name)
        super().__init__(split, image_size, root, cache_dir, {"crop": crop}, progress)

    def annotation_files(self) -> list[Path]:
        return [*self._list_files(), self._file("Anno", self.landmark_file)]

    def crop_box(self) -> tuple[float, float, float, float]:
        """The source region of every aligned image, ``(x0, y0, x1, y1)`` pixels."""
        h, w = ALIGNED_HW
        if self.options["crop"] == "none":
            return (0.0, 0.0, float(w), float(h))
        m = (1 - IMM_KEEP) / 2
        return (m * w, m * h, (1 - m) * w, (1 - m) * h)

    def build_index(self, problems: Problems) -> SplitIndex:
        landmarks = self.read_landmarks(problems)
        listed = self.split_names(problems)
        ids = self._lookup(listed, landmarks,
                           self.root_dir / "Anno" / self.landmark_file, problems)
        boxes = np.tile(np.asarray(self.crop_box()), (len(ids), 1))
        px = np.stack([landmarks[n] for n in ids]) if ids else np.zeros((0, 5, 2))
        return SplitIndex(ids, boxes, box_keypoints(px, boxes), np.ones((len(ids), 5), bool),
                          len(listed))
