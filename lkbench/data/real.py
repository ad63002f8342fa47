"""What every real (downloaded) dataset shares: split index, image cache, download check.

A real dataset module subclasses :class:`RealLandmarkSet` and provides, per split, a
:class:`SplitIndex` built from the official annotation files: the image ids, one source *box*
per image (the region that becomes the ``R×R`` model input; the whole image when nothing is
cropped) and the ground truth already converted to the project convention *relative to that
box* with :mod:`lkbench.keypoints`. This class does the rest:

* the index is cached (it can need every image's header) and the preprocessed images are cached
  as a memory-mapped uint8 ``[N,3,R,R]`` array under the cache root (:mod:`lkbench.data.cache`),
  keyed by the dataset's preprocessing ``VERSION``, its options, the split, ``R`` and digests
  of the annotation files and image file stats;
* :meth:`landmarks` never decodes an image, so scoring a predictions file reads annotations only;
* :meth:`verify` re-reads everything leniently for ``lkbench datasets check``.
"""
from __future__ import annotations

import abc
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from .base import LABELLED_SPLITS, SPLIT_PRIOR, LandmarkBatch, LandmarkSet
from .cache import cached_entry, key_digest
from .files import Problems, crop_resize, data_root, file_digest, load_rgb

MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 16, 1024
OUT_OF_RANGE = 1.1
"""``datasets check`` flags visible keypoints beyond ±this (normalised; 5 % past the edge)."""


@dataclass
class SplitIndex:
    """One split's images and ground truth, before any pixel is decoded.

    Attributes:
        ids: image ids (paths relative to the dataset folder, or file names), dataset order.
        boxes: float64 ``[N,4]`` source regions ``(x0, y0, x1, y1)``, continuous pixels.
        keypoints: float32 ``[N,L,2]`` (x, y) in ``[-1, 1]`` relative to the box; NaN if unknown.
        visible: bool ``[N,L]``.
        listed: entries of the split's official list before any filter (for ``check``).
        extra: further per-image arrays ``[N, ...]`` (e.g. CelebA attributes), keyed by name.
    """
    ids: list[str]
    boxes: np.ndarray
    keypoints: np.ndarray
    visible: np.ndarray
    listed: int
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.ids)
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(n, 4)
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32)
        self.visible = np.asarray(self.visible, dtype=bool)
        self.keypoints = np.where(self.visible[..., None], self.keypoints, np.nan
                                  ).astype(np.float32)


def _save_index(index: SplitIndex, folder: Path) -> None:
    np.savez(folder / "index.npz", boxes=index.boxes, keypoints=index.keypoints,
             visible=index.visible, **{f"extra_{k}": v for k, v in index.extra.items()})
    (folder / "ids.json").write_text(json.dumps({"ids": index.ids, "listed": index.listed}))


def _load_index(folder: Path) -> SplitIndex:
    meta = json.loads((folder / "ids.json").read_text())
    with np.load(folder / "index.npz") as z:
        extra = {k[len("extra_"):]: z[k] for k in z.files if k.startswith("extra_")}
        return SplitIndex(meta["ids"], z["boxes"], z["keypoints"], z["visible"], meta["listed"],
                          extra)


def check_image_size(image_size: Any, dataset: str) -> int:
    """``image_size`` as an int in ``[MIN_IMAGE_SIZE, MAX_IMAGE_SIZE]``, else DataError."""
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or \
            not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE:
        raise DataError(f"dataset {dataset!r}: image_size must be an integer in "
                        f"[{MIN_IMAGE_SIZE}, {MAX_IMAGE_SIZE}] pixels, got {image_size!r}")
    return int(image_size)


def check_choice(value: Any, choices: tuple[str, ...], what: str, dataset: str) -> str:
    """``value`` if it is one of ``choices``, else DataError listing them."""
    if value not in choices:
        raise DataError(f"dataset {dataset!r}: {what} must be one of {', '.join(choices)}; "
                        f"got {value!r}")
    return value


class RealLandmarkSet(LandmarkSet):
    """A split of a downloaded dataset, preprocessed to ``R×R`` and cached.

    Subclasses set :attr:`name`, :attr:`meta`, :attr:`splits`, :attr:`folder`,
    :attr:`where_to_get`, :attr:`VERSION`, :attr:`published_counts`, implement
    :meth:`annotation_files`, :meth:`build_index` and :meth:`image_path`, and pass their
    checked loader options to ``super().__init__``.
    """
    folder: ClassVar[str] = ""
    """Sub-folder of the data root."""
    where_to_get: ClassVar[str] = ""
    """One line: what to download and where it goes (error messages, ``check``)."""
    VERSION: ClassVar[str] = "1"
    """Bump whenever preprocessing or annotation conversion changes (invalidates caches)."""
    published_counts: ClassVar[Mapping[str, int]] = {}
    """Split → the published number of entries in its official list (``check`` compares)."""
    expected_hw: ClassVar["tuple[int, int] | None"] = None
    """``(H, W)`` every source image must have (the crop boxes assume it), or ``None``."""

    def __init__(self, split: str, image_size: int, root, cache_dir,
                 options: Mapping[str, Any], progress: bool):
        image_size = check_image_size(image_size, self.name)
        super().__init__(split, image_size, **real_split_kwargs(split))
        self._setup(root, cache_dir, options, progress)

    def _setup(self, root, cache_dir, options: Mapping[str, Any], progress: bool) -> None:
        self.root_dir = data_root(root, self.folder, self.where_to_get)
        self.cache_dir = cache_dir
        self.options = dict(options)
        self.progress = bool(progress)
        self._index: "SplitIndex | None" = None
        self._images: "np.ndarray | None" = None

    # -- what subclasses provide -------------------------------------------------------------
    @abc.abstractmethod
    def annotation_files(self) -> list[Path]:
        """The annotation and split files this split reads (checked to exist; digested)."""

    @abc.abstractmethod
    def build_index(self, problems: Problems) -> SplitIndex:
        """Parse the official files into a :class:`SplitIndex`; report bad rows to ``problems``."""

    @abc.abstractmethod
    def image_path(self, image_id: str) -> Path:
        """The image file of ``image_id``."""

    # -- index and images -------------------------------------------------------------------
    def _index_key(self) -> dict[str, Any]:
        return {"dataset": self.name, "version": self.VERSION, "split": self.split,
                "options": self.options, "inputs": file_digest(self.annotation_files())}

    @property
    def index(self) -> SplitIndex:
        """The split's :class:`SplitIndex` (built once, then read from the cache)."""
        if self._index is None:
            folder = cached_entry(self.name, "index", self._index_key(),
                                  lambda d: _save_index(self.build_index(Problems()), d),
                                  root=self.cache_dir)
            self._index = _load_index(folder)
            if not self._index.ids:
                raise DataError(f"dataset {self.name!r} split {self.split!r} is empty after "
                                f"preprocessing; check the files under {self.root_dir}")
        return self._index

    @property
    def image_ids(self) -> list[str]:
        """One id per sample, dataset order (what ``lkbench score``'s order file lists)."""
        return list(self.index.ids)

    def __len__(self) -> int:
        return len(self.index.ids)

    def _image_key(self) -> dict[str, Any]:
        stats = [(i, p.stat().st_size, p.stat().st_mtime_ns) if p.exists() else (i, None, None)
                 for i, p in ((i, self.image_path(i)) for i in self.index.ids)]
        return {**self._index_key(), "image_size": self.image_size,
                "images": key_digest({"stats": stats})}

    def _build_images(self, folder: Path) -> None:
        from tqdm.auto import tqdm
        index, r = self.index, self.image_size
        tmp = folder / "images.npy"
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                        shape=(len(index.ids), 3, r, r))
        bar = tqdm(total=len(index.ids), desc=f"preprocessing {self.name}/{self.split}",
                   unit="img", disable=not self.progress, leave=False)
        for n, image_id in enumerate(index.ids):
            out[n] = self.preprocess(n, image_id)
            bar.update(1)
        bar.close()
        out.flush()
        del out

    def preprocess(self, n: int, image_id: str) -> np.ndarray:
        """The model input of sample ``n``, uint8 ``[3,R,R]``: its box of the decoded image,
        resized (:func:`~lkbench.data.files.crop_resize`). Datasets that do more (H3.6M's
        background mask) override this."""
        return crop_resize(load_rgb(self.image_path(image_id)), tuple(self.index.boxes[n]),
                           self.image_size)

    def images_uint8(self) -> np.ndarray:
        """All preprocessed images, uint8 ``[N,3,R,R]`` (memory-mapped from the cache)."""
        if self._images is None:
            folder = cached_entry(self.name, "images", self._image_key(), self._build_images,
                                  root=self.cache_dir)
            self._images = np.load(folder / "images.npy", mmap_mode="r")
        return self._images

    def _batch(self, indices: np.ndarray) -> LandmarkBatch:
        images = torch.from_numpy(np.ascontiguousarray(self.images_uint8()[indices]))
        keypoints, visible = self._landmarks(indices)
        return LandmarkBatch(images.to(torch.float32) / 127.5 - 1, keypoints, visible)

    def _landmarks(self, indices: np.ndarray) -> tuple[Tensor, Tensor]:
        index = self.index
        return (torch.from_numpy(index.keypoints[indices].copy()),
                torch.from_numpy(index.visible[indices].copy()))

    # -- download check -------------------------------------------------------------------
    def verify(self, problems: Problems, progress: bool = True) -> "SplitReport":
        """Re-read this split leniently: files, every image decoded, keypoints in range."""
        from tqdm.auto import tqdm
        try:
            index = self.build_index(problems)
        except DataError as exc:  # a file the whole split depends on
            problems.add(exc)
            return SplitReport(self.split, 0, 0, self.published_counts.get(self.split))
        for image_id in tqdm(index.ids, desc=f"checking {self.name}/{self.split}", unit="img",
                             disable=not progress, leave=False):
            path = self.image_path(image_id)
            try:
                image = load_rgb(path)
            except DataError as exc:
                problems.add(exc)
                continue
            if self.expected_hw is not None and image.size[::-1] != tuple(self.expected_hw):
                problems.add(DataError(f"image {path} is {image.size[1]}x{image.size[0]} (HxW); "
                                       f"the dataset's images are {self.expected_hw[0]}x"
                                       f"{self.expected_hw[1]} (wrong download or variant?)"))
        if self.labelled:
            far = np.abs(np.nan_to_num(index.keypoints)) > OUT_OF_RANGE
            bad = np.flatnonzero((far.any(-1) & index.visible).any(-1))
            if bad.size:
                shown = ", ".join(index.ids[i] for i in bad[:5])
                problems.add(DataError(
                    f"{self.name}/{self.split}: {bad.size} image(s) have visible landmarks "
                    f"outside the image (beyond ±{OUT_OF_RANGE} normalised), e.g. {shown}"))
        return SplitReport(self.split, index.listed, len(index.ids),
                           self.published_counts.get(self.split))


@dataclass(frozen=True)
class SplitReport:
    """What ``datasets check`` found for one split.

    Attributes:
        split: split name.
        listed: entries in the split's official list.
        usable: samples after the published filter (and after dropping broken rows).
        published: the published list size, or ``None`` if the spec gives none.
    """
    split: str
    listed: int
    usable: int
    published: "int | None"

    @property
    def count_ok(self) -> bool:
        return self.published is None or self.published == self.listed


def real_split_kwargs(split: str) -> dict[str, bool]:
    """``labelled`` / ``has_images`` for a standard split name."""
    return {"labelled": split in LABELLED_SPLITS, "has_images": split != SPLIT_PRIOR}


def box_keypoints(px: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """0-based pixel-centre (x, y) of the source images → project convention inside each box.

    Args:
        px: ``[N,L,2]`` (x, y) pixels of the source image (pixel ``i``'s centre at ``i``).
        boxes: ``[N,4]`` ``(x0, y0, x1, y1)`` continuous source regions (see
            :data:`lkbench.data.files.Box`).

    Returns:
        float64 ``[N,L,2]``: ``from_pixels(px − (x0, y0), (y1 − y0, x1 − x0))``, i.e. −1/+1 at
        the box edges.
    """
    from ..keypoints import from_pixels
    px = np.asarray(px, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64)
    out = np.empty_like(px)
    sizes = np.stack([boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]], axis=1)  # (H, W)
    shifted = px - boxes[:, None, :2]
    uniq, which = np.unique(sizes, axis=0, return_inverse=True)
    for g, (h, w) in enumerate(uniq):
        rows = which.reshape(-1) == g
        out[rows] = from_pixels(shifted[rows], (float(h), float(w)))
    return out
