"""Dataset ``h36m-simplified``: Zhang et al.'s Simplified Human3.6M, 32 joints, 6 activities.

Download ``human_images.tar.gz`` (the release of Zhang et al. CVPR 2018; the KeypointGAN README
links it) and extract it under ``<data root>/h36m/``::

    h36m/
      S1/WithBackground/Directions 1.54138969/0.jpg, 1.jpg, …   128×128 frames
      S1/BackgroudMask/Directions 1.54138969/0.png, …           foreground masks (sic)
      S1/Landmarks/Directions 1.54138969/0.mat, …               ``keypoints_2d`` (32, 2)
      S5/ S6/ S7/ S8/ S9/ S11/                                   same layout

Annotations (``docs/protocols.md`` §1.7): one MATLAB file per frame whose variable
``keypoints_2d`` holds 32 (x, y) joints in normalised image coordinates ([0, 1], top-left
origin; KeypointGAN multiplies by 128 and swaps to (row, col)). Conversion:
:func:`lkbench.keypoints.from_unit`; every joint is visible. Joint order, names and left/right
pairs are KeypointGAN's ``human36m_skeleton.py``.

Sequences are the sub-folders of ``S<k>/Landmarks`` whose names start (case-insensitively) with
one of the six activities Directions, Discussion, Greeting, Posing, Waiting, Walking, in name
order; a sequence's frames are its ``<n>.mat`` files in numeric order. Splits (KeypointGAN's
``simplehuman36m_dataset.py``): subjects 1, 5, 6, 7, 8, 9 train, subject 11 test;

* ``train`` — the first half (``frames[:n // 2]``) of each training sequence (GAN images);
* ``prior`` — the second half (``frames[n // 2:]``): KeypointGAN's unpaired pose prior
  (keypoints only);
* ``fit`` — every training frame (the regression fit, AutoLink ``h36m.py``);
* ``test`` — every frame of subject 11 (stride 1), each with its activity label
  (:attr:`Human36MSimplified.activities`, for the activity mean of docs/protocols.md §1.7).

Preprocessing: ``background="masked"`` (default; KeypointGAN and StableKeypoints multiply each
frame by its ``BackgroudMask`` PNG, read as ``[0, 1]``) or ``"keep"`` (AutoLink's ``h36m``
variant with background; docs/protocols.md §1.7 ⚠ says which variant AutoLink's number used is not stated).
Frames are resized from 128 to ``R`` (bilinear). The index cache is keyed by the names, sizes
and modification times of the per-frame files (there are too many to hash their bytes).
"""
from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from PIL import Image

from ..errors import DataError
from ..keypoints import from_unit
from .base import SPLIT_FIT, SPLIT_PRIOR, SPLIT_TEST, SPLIT_TRAIN, KeypointMeta
from .cache import key_digest
from .files import AnnotationError, CorruptImageError, MissingDataError, Problems, crop_resize, \
    load_rgb
from .real import RealLandmarkSet, SplitIndex, SplitReport, check_choice

H36M_32 = KeypointMeta(
    names=("hip", "r_hip", "r_knee", "r_ankle", "r_ball", "r_toes", "l_hip", "l_knee",
           "l_ankle", "l_ball", "l_toes", "pelvis", "thorax", "neck", "head_center",
           "head_back", "l_unknown", "l_shoulder", "l_elbow", "l_wrist", "l_wrist_2", "l_thumb",
           "l_little", "l_little_2", "r_unknown", "r_shoulder", "r_elbow", "r_wrist",
           "r_wrist_2", "r_thumb", "r_little", "r_little_2"),
    flip_pairs=((6, 1), (7, 2), (8, 3), (9, 4), (10, 5), (16, 24), (17, 25), (18, 26),
                (19, 27), (20, 28), (21, 29), (22, 30), (23, 31)),
    edges=((1, 12), (2, 1), (3, 2), (4, 3), (5, 4), (6, 12), (7, 6), (8, 7), (9, 8), (10, 9),
           (13, 12), (15, 13), (14, 15), (17, 13), (18, 17), (19, 18), (21, 19), (22, 19),
           (25, 13), (26, 25), (27, 26), (29, 27), (30, 27)),
)
"""The 32 joints of Simplified Human3.6M (KeypointGAN ``human36m_skeleton.py`` indices and
links; left/right pairs from its ``l_``/``r_`` names, docs/protocols.md §1.7)."""

WHERE = ("Zhang et al.'s Simplified Human3.6M release human_images.tar.gz (linked from the "
         "KeypointGAN README, github tomasjakab/keypointgan), extracted so that S1/ … S11/ lie "
         "in this folder")
ACTIVITIES = ("Directions", "Discussion", "Greeting", "Posing", "Waiting", "Walking")
TRAIN_SUBJECTS = (1, 5, 6, 7, 8, 9)
TEST_SUBJECTS = (11,)
SUBJECTS = MappingProxyType({SPLIT_TRAIN: TRAIN_SUBJECTS, SPLIT_PRIOR: TRAIN_SUBJECTS,
                             SPLIT_FIT: TRAIN_SUBJECTS, SPLIT_TEST: TEST_SUBJECTS})
BACKGROUNDS = ("masked", "keep")
SIDE = 128
NUM_JOINTS = 32
IMAGES, MASKS, LANDMARKS = "WithBackground", "BackgroudMask", "Landmarks"


def activity_of(sequence: str) -> "int | None":
    """Index in :data:`ACTIVITIES` of a sequence folder name (case-insensitive prefix), or
    ``None`` for the activities the protocol leaves out."""
    low = sequence.lower()
    for i, name in enumerate(ACTIVITIES):
        if low.startswith(name.lower()):
            return i
    return None


class Human36MSimplified(RealLandmarkSet):
    """Simplified Human3.6M (128×128 frames, 32 joints); activity labels on every split.

    Args:
        split: ``train`` | ``fit`` | ``test`` | ``prior`` (see the module docstring).
        image_size: side ``R`` of the model input (KeypointGAN: 128).
        root: data root holding ``h36m/`` (default ``$LKBENCH_DATA``).
        cache_dir: cache root (default ``$LKBENCH_CACHE_DIR``, else the user cache folder).
        background: ``"masked"`` (multiply by the foreground mask) or ``"keep"``.
        progress: show a progress bar while preprocessing.
    """
    name = "h36m-simplified"
    meta = H36M_32
    splits = (SPLIT_TRAIN, SPLIT_FIT, SPLIT_TEST, SPLIT_PRIOR)
    folder = "h36m"
    where_to_get = WHERE
    expected_hw = (SIDE, SIDE)

    def __init__(self, split: str = SPLIT_TRAIN, image_size: int = 128, root=None,
                 cache_dir=None, background: str = "masked", progress: bool = True):
        background = check_choice(background, BACKGROUNDS, "background", self.name)
        super().__init__(split, image_size, root, cache_dir, {"background": background},
                         progress)
        self._frames: "list[tuple[str, int, list[int]]] | None" = None

    # -- files --------------------------------------------------------------------------------
    def sequences(self) -> list[tuple[str, int, list[int]]]:
        """``(S<k>/<sequence>, activity index, frame numbers)`` of this split's subjects, in
        subject, then name order; frames in numeric order (all of them, before halving).

        Raises:
            MissingDataError: a subject's ``Landmarks`` folder is missing.
        """
        if self._frames is None:
            out = []
            for s in SUBJECTS[self.split]:
                folder = self.root_dir / f"S{s}" / LANDMARKS
                if not folder.is_dir():
                    raise MissingDataError(f"missing folder {folder}: part of {WHERE}")
                for seq in sorted(p.name for p in folder.iterdir() if p.is_dir()):
                    activity = activity_of(seq)
                    if activity is None:
                        continue
                    frames = sorted(int(p.stem) for p in (folder / seq).iterdir()
                                    if p.suffix == ".mat" and p.stem.isdigit())
                    out.append((f"S{s}/{seq}", activity, frames))
            self._frames = out
        return self._frames

    def _split_frames(self) -> list[tuple[str, int, int]]:
        """``(S<k>/<sequence>, activity, frame)`` of every sample of this split, in order."""
        rows = []
        for seq, activity, frames in self.sequences():
            half = len(frames) // 2
            kept = {SPLIT_TRAIN: frames[:half], SPLIT_PRIOR: frames[half:]}.get(self.split,
                                                                                 frames)
            rows.extend((seq, activity, f) for f in kept)
        return rows

    def _path(self, kind: str, image_id: str, suffix: str) -> Path:
        subject, seq, frame = image_id.split("/")
        return self.root_dir / subject / kind / seq / f"{frame}{suffix}"

    def annotation_files(self) -> list[Path]:
        return [self._path(LANDMARKS, f"{seq}/{f}", ".mat") for seq, _, f in self._split_frames()]

    def image_path(self, image_id: str) -> Path:
        return self._path(IMAGES, image_id, ".jpg")

    def mask_path(self, image_id: str) -> Path:
        """The foreground mask PNG of ``image_id`` (``S<k>/<sequence>/<frame>``)."""
        return self._path(MASKS, image_id, ".png")

    def _index_key(self) -> dict[str, Any]:
        stats = [(str(p.relative_to(self.root_dir)), st.st_size, st.st_mtime_ns)
                 for p in self.annotation_files() for st in (p.stat(),)]
        return {"dataset": self.name, "version": self.VERSION, "split": self.split,
                "options": self.options, "inputs": key_digest({"stats": stats})}

    def _image_key(self) -> dict[str, Any]:
        key = super()._image_key()
        if self.options["background"] == "masked":
            stats = [(i, p.stat().st_size, p.stat().st_mtime_ns) if p.exists() else (i, None)
                     for i, p in ((i, self.mask_path(i)) for i in self.index.ids)]
            key["masks"] = key_digest({"stats": stats})
        return key

    # -- index and images ---------------------------------------------------------------------
    def build_index(self, problems: Problems) -> SplitIndex:
        from scipy.io import loadmat
        ids, values, activity = [], [], []
        rows = self._split_frames()
        for seq, act, frame in rows:
            image_id = f"{seq}/{frame}"
            path = self._path(LANDMARKS, image_id, ".mat")
            try:
                kp = np.asarray(loadmat(path)["keypoints_2d"], dtype=np.float64)
            except KeyError:
                problems.add(AnnotationError(f"{path}: no variable 'keypoints_2d'; "
                                             "re-extract the release"))
                continue
            except Exception as exc:  # noqa: BLE001 - scipy raises several types for bad files
                problems.add(AnnotationError(f"cannot read {path} as a MATLAB file: {exc}; "
                                             "re-extract the release"))
                continue
            if kp.shape != (NUM_JOINTS, 2) or not np.isfinite(kp).all():
                problems.add(AnnotationError(f"{path}: keypoints_2d must be {NUM_JOINTS} finite "
                                             f"(x, y) rows, got shape {kp.shape}"))
                continue
            ids.append(image_id)
            values.append(kp)
            activity.append(act)
        n = len(ids)
        keypoints = from_unit(np.asarray(values, dtype=np.float64).reshape(n, NUM_JOINTS, 2))
        boxes = np.tile([0.0, 0.0, float(SIDE), float(SIDE)], (n, 1))
        return SplitIndex(ids, boxes, keypoints, np.ones((n, NUM_JOINTS), bool), len(rows),
                          {"activity": np.asarray(activity, dtype=np.int8)})

    @property
    def activities(self) -> np.ndarray:
        """Activity name of every sample, ``[N]`` strings from :data:`ACTIVITIES`."""
        return np.asarray(ACTIVITIES)[self.index.extra["activity"].astype(np.int64)]

    def load_mask(self, image_id: str) -> np.ndarray:
        """The foreground mask of ``image_id`` as float32 ``[H, W]`` in ``[0, 1]``.

        Raises:
            MissingDataError: no mask file.  CorruptImageError: not a readable PNG.
        """
        path = self.mask_path(image_id)
        if not path.is_file():
            raise MissingDataError(f"missing mask {path} (background='masked' needs the "
                                   f"{MASKS} folders; or pass background='keep')")
        try:
            with Image.open(path) as im:
                return np.asarray(im.convert("L"), dtype=np.float32) / 255.0
        except (OSError, SyntaxError, ValueError) as exc:
            raise CorruptImageError(f"corrupt mask {path}: {exc} (re-extract it)") from None

    def preprocess(self, n: int, image_id: str) -> np.ndarray:
        image = load_rgb(self.image_path(image_id))
        if self.options["background"] == "masked":
            mask = self.load_mask(image_id)
            if mask.shape != image.size[::-1]:
                raise CorruptImageError(f"mask {self.mask_path(image_id)} is {mask.shape[0]}x"
                                        f"{mask.shape[1]} but its frame is {image.size[1]}x"
                                        f"{image.size[0]} (HxW); re-extract the release")
            pixels = np.asarray(image, dtype=np.float32) * mask[..., None]
            image = Image.fromarray(np.rint(pixels).astype(np.uint8))
        return crop_resize(image, tuple(self.index.boxes[n]), self.image_size)

    # -- download check -----------------------------------------------------------------------
    def verify(self, problems: Problems, progress: bool = True) -> SplitReport:
        """As :meth:`RealLandmarkSet.verify`; ``train`` and ``prior`` only check annotations
        (their frames are ``fit``'s, decoded there); with ``background="masked"`` every mask
        of ``fit`` and ``test`` is decoded too."""
        if self.split in (SPLIT_TRAIN, SPLIT_PRIOR):
            try:
                index = self.build_index(problems)
            except DataError as exc:
                problems.add(exc)
                return SplitReport(self.split, 0, 0, None)
            return SplitReport(self.split, index.listed, len(index.ids), None)
        report = super().verify(problems, progress)
        if self.options["background"] == "masked" and report.usable:
            for image_id in self.build_index(Problems(strict=False)).ids:
                try:
                    self.load_mask(image_id)
                except DataError as exc:
                    problems.add(exc)
        return report
