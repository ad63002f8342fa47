"""The interface every lkbench dataset shares: :class:`LandmarkSet`.

A dataset object is one *split* of one dataset at one image size. It is a map-style sequence of
:class:`LandmarkSample` (usable directly with ``torch.utils.data.DataLoader``) plus a batched
accessor, :meth:`LandmarkSet.batch`, which is what trainers and protocols call.

Conventions (see :mod:`lkbench.keypoints` and ``docs/architecture.md``):

* images: float32 ``[3,H,W]`` (batched ``[N,3,H,W]``), RGB, range ``[-1, 1]``;
* keypoints: float32 ``[L,2]`` (batched ``[N,L,2]``), ``(x, y) = (column, row)`` normalised to
  ``[-1, 1]`` with ``±1`` at the image EDGES (pixel ``i``'s centre at ``(2i+1)/R - 1``);
* visible: bool ``[L]`` (batched ``[N,L]``); ``False`` marks a landmark that is absent or not
  annotated. Its keypoint is NaN whenever the position is unknown.

Splits are plain strings; the standard ones are the ``SPLIT_*`` constants below. Each dataset
declares which it provides (:attr:`LandmarkSet.splits`) and whether a split's ground truth is meant
to be used (:attr:`LandmarkSet.labelled`): an unlabelled split (GAN training) still returns the
keypoints it knows, so that tests and plots can use them, but benchmark code must not.
"""
from __future__ import annotations

import abc
import operator
from dataclasses import dataclass
from typing import Iterator, NamedTuple, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from ..registry import did_you_mean

SPLIT_TRAIN = "train"
"""Unlabelled images for (GAN / self-supervised) training."""
SPLIT_FIT = "fit"
"""Labelled images on which the landmark-regression protocol fits its regressor."""
SPLIT_TEST = "test"
"""Labelled images on which the landmark-regression protocol reports its error."""
SPLIT_PRIOR = "prior"
"""Unpaired landmark sets only (no images): KeypointGAN's empirical pose prior."""

SPLITS: tuple[str, ...] = (SPLIT_TRAIN, SPLIT_FIT, SPLIT_TEST, SPLIT_PRIOR)
"""Every standard split name, in canonical order."""
LABELLED_SPLITS: tuple[str, ...] = (SPLIT_FIT, SPLIT_TEST)
"""Splits whose ground truth benchmark code may use."""

Indices = Union[int, slice, range, Sequence[int], np.ndarray, Tensor]
"""What :meth:`LandmarkSet.batch` accepts: ints (negative ones count from the end), a slice, a
range, a sequence / 1-D integer array / integer tensor of them."""


class IndexOutOfRange(DataError, IndexError):
    """An index outside ``[-len, len)``; an ``IndexError`` too, so sequence idioms keep working."""


@dataclass(frozen=True)
class KeypointMeta:
    """Facts about a dataset's landmarks that protocols, trainers and plots need.

    Attributes:
        names: one name per landmark, in the dataset's annotation order.
        flip_pairs: index pairs that swap under a horizontal image flip.
        normaliser: two landmark *names* whose distance normalises the error (e.g. the eyes for
            the inter-ocular distance), or ``None`` where the protocol uses the image size.
        edges: index pairs for drawing a skeleton (KeypointGAN's prior renderer, plots).
    """
    names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    normaliser: "tuple[str, str] | None" = None
    edges: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if len(set(self.names)) != len(self.names):
            raise DataError(f"landmark names must be unique, got {self.names}")
        k = len(self.names)
        for a, b in self.flip_pairs + self.edges:
            if not (0 <= a < k and 0 <= b < k):
                raise DataError(f"landmark pair ({a}, {b}) is out of range for {k} landmarks")
        for n in self.normaliser or ():
            if n not in self.names:
                raise DataError(f"normaliser landmark {n!r} is not one of {self.names}")

    @property
    def num_landmarks(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Position of landmark ``name``; unknown names raise :class:`DataError`."""
        try:
            return self.names.index(name)
        except ValueError:
            raise DataError(did_you_mean(name, self.names, "landmark")) from None


class LandmarkSample(NamedTuple):
    """One annotated image.

    Attributes:
        image: float32 ``[3,H,W]`` RGB in ``[-1, 1]``.
        keypoints: float32 ``[L,2]`` (x, y) in ``[-1, 1]`` (project convention); NaN if unknown.
        visible: bool ``[L]``.
    """
    image: Tensor
    keypoints: Tensor
    visible: Tensor


class LandmarkBatch(NamedTuple):
    """A batch of annotated images; unpacks as ``images, keypoints, visible = ds.batch(idx)``.

    Attributes:
        images: float32 ``[N,3,H,W]`` RGB in ``[-1, 1]``.
        keypoints: float32 ``[N,L,2]`` (x, y) in ``[-1, 1]`` (project convention); NaN if unknown.
        visible: bool ``[N,L]``.
    """
    images: Tensor
    keypoints: Tensor
    visible: Tensor


class FramePair(NamedTuple):
    """Two views of the same subjects (identity, colours and background fixed; pose changed).

    ``first`` and ``second`` are :class:`LandmarkBatch` es of equal length; row ``n`` of each shows
    the same subject.
    """
    first: LandmarkBatch
    second: LandmarkBatch


class LandmarkSet(abc.ABC):
    """One split of a landmark dataset at one square image size.

    Subclasses set the class attributes :attr:`name`, :attr:`splits` and :attr:`meta`, call
    ``super().__init__`` and implement :meth:`__len__`, :meth:`_batch` and :meth:`_landmarks`
    (both receive validated, non-negative int64 index arrays). Everything else — index checking,
    ``__getitem__``, iteration, empty batches — is shared.

    Attributes:
        name: registry name of the dataset (e.g. ``"synthetic"``).
        splits: the split names this dataset provides.
        meta: landmark names, flip pairs, normalising pair, skeleton edges.
        split: this object's split.
        image_size: side ``R`` of the square images, pixels.
        labelled: whether benchmark code may use this split's keypoints.
        has_images: ``False`` for keypoint-only splits (e.g. ``prior``): only
            :meth:`landmarks` works there.
    """
    name: str = ""
    splits: tuple[str, ...] = SPLITS
    meta: KeypointMeta

    supports_pairs: bool = False
    """Whether :meth:`pairs` can return two views of one subject (video frames, re-renders)."""

    attribute_names: tuple[str, ...] = ()
    """Binary image-level attributes :meth:`attributes` returns, in column order; empty = none."""

    def __init__(self, split: str, image_size: int, *, labelled: bool, has_images: bool = True):
        if not isinstance(split, str) or split not in self.splits:
            raise DataError(f"dataset {self.name!r}: "
                            + did_you_mean(str(split), self.splits, "split"))
        self.split = split
        self.image_size = int(image_size)
        self.labelled = bool(labelled)
        self.has_images = bool(has_images)

    # -- what subclasses provide ------------------------------------------------------------
    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of samples in this split."""

    @abc.abstractmethod
    def _batch(self, indices: np.ndarray) -> LandmarkBatch:
        """Samples ``indices`` (int64 ``[N]``, each in ``[0, len)``, N ≥ 1) as a batch."""

    @abc.abstractmethod
    def _landmarks(self, indices: np.ndarray) -> tuple[Tensor, Tensor]:
        """Keypoints ``[N,L,2]`` and visibility ``[N,L]`` of ``indices`` (as in :meth:`_batch`)."""

    def _pairs(self, indices: np.ndarray) -> FramePair:
        raise DataError(f"dataset {self.name!r} has no frame pairs; warp single images instead "
                        "(e.g. KeypointGAN's TPS augmentation)")

    def _attributes(self, indices: np.ndarray) -> Tensor:
        raise DataError(f"dataset {self.name!r} has no attribute labels")

    # -- shared behaviour -------------------------------------------------------------------
    @property
    def num_landmarks(self) -> int:
        """``L``, the number of annotated landmarks."""
        return self.meta.num_landmarks

    @property
    def landmark_names(self) -> tuple[str, ...]:
        return self.meta.names

    def check_indices(self, indices: Indices) -> np.ndarray:
        """Validate ``indices`` and return them as non-negative int64 ``[N]``.

        Raises:
            DataError: non-integer indices, or a multi-dimensional array.
            IndexOutOfRange: an index outside ``[-len, len)``.
        """
        n = len(self)
        if isinstance(indices, slice):
            indices = range(n)[indices]
        if isinstance(indices, Tensor):
            indices = indices.detach().cpu().numpy()
        if isinstance(indices, (int, np.integer)) and not isinstance(indices, bool):
            indices = [indices]
        arr = np.asarray(indices)
        if arr.size == 0:
            return np.zeros(0, dtype=np.int64)
        if arr.ndim != 1 or arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            raise DataError(f"dataset {self.name!r}: indices must be integers (a 1-D sequence, "
                            f"array or tensor), got {arr.dtype} with shape {tuple(arr.shape)}")
        arr = arr.astype(np.int64)
        bad = (arr < -n) | (arr >= n)
        if bad.any():
            raise IndexOutOfRange(f"dataset {self.name!r} split {self.split!r}: index "
                                  f"{int(arr[bad][0])} is out of range for {n} samples "
                                  f"(valid: 0..{n - 1}, or negative from the end)")
        return np.where(arr < 0, arr + n, arr)

    def _require_images(self) -> None:
        if not self.has_images:
            raise DataError(f"dataset {self.name!r} split {self.split!r} holds keypoints only; "
                            "use .landmarks(indices)")

    def batch(self, indices: Indices) -> LandmarkBatch:
        """Images, keypoints and visibility of ``indices``, in that order.

        Returns:
            :class:`LandmarkBatch`: images float32 ``[N,3,R,R]`` in ``[-1,1]``, keypoints float32
            ``[N,L,2]`` (x, y) in ``[-1,1]``, visible bool ``[N,L]``.

        Raises:
            DataError: bad indices, or a keypoint-only split.
        """
        self._require_images()
        idx = self.check_indices(indices)
        if idx.size == 0:
            r, k = self.image_size, self.num_landmarks
            return LandmarkBatch(torch.zeros(0, 3, r, r), torch.zeros(0, k, 2),
                                 torch.zeros(0, k, dtype=torch.bool))
        return self._batch(idx)

    def landmarks(self, indices: Indices) -> tuple[Tensor, Tensor]:
        """Keypoints float32 ``[N,L,2]`` and visibility bool ``[N,L]`` without loading images."""
        idx = self.check_indices(indices)
        if idx.size == 0:
            k = self.num_landmarks
            return torch.zeros(0, k, 2), torch.zeros(0, k, dtype=torch.bool)
        return self._landmarks(idx)

    def attribute_index(self, name: str) -> int:
        """Column of attribute ``name`` in :meth:`attributes`.

        Raises:
            DataError: the dataset has no attribute of that name (the message lists them).
        """
        if name not in self.attribute_names:
            if not self.attribute_names:
                raise DataError(f"dataset {self.name!r} has no attribute labels")
            raise DataError(f"dataset {self.name!r}: "
                            + did_you_mean(str(name), self.attribute_names, "attribute"))
        return self.attribute_names.index(name)

    def attributes(self, indices: Indices) -> Tensor:
        """Binary attribute labels of ``indices``: bool ``[N, A]``, columns :attr:`attribute_names`.

        Raises:
            DataError: bad indices, or a dataset without attribute labels.
        """
        idx = self.check_indices(indices)
        if idx.size == 0:
            return torch.zeros(0, len(self.attribute_names), dtype=torch.bool)
        return self._attributes(idx)

    def pairs(self, indices: Indices) -> FramePair:
        """Two views of each subject in ``indices`` (only if :attr:`supports_pairs`).

        ``first`` equals :meth:`batch` ``(indices)``; ``second`` shows the same subjects with
        a small pose change.

        Raises:
            DataError: bad indices, a keypoint-only split, or a dataset without pairs.
        """
        self._require_images()
        idx = self.check_indices(indices)
        if idx.size == 0:
            empty = self.batch([])
            return FramePair(empty, empty)
        return self._pairs(idx)

    def __getitem__(self, i: int) -> LandmarkSample:
        """Sample ``i`` (negative counts from the end); see :class:`LandmarkSample`."""
        try:
            i = operator.index(i)
        except TypeError:
            raise DataError(f"dataset {self.name!r}: __getitem__ takes one int, got "
                            f"{type(i).__name__}; use .batch(indices) for several") from None
        images, keypoints, visible = self.batch([i])
        return LandmarkSample(images[0], keypoints[0], visible[0])

    def __iter__(self) -> Iterator[LandmarkSample]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, split={self.split!r}, "
                f"image_size={self.image_size}, len={len(self)}, labelled={self.labelled}, "
                f"landmarks={self.landmark_names})")


def shuffled_passes(length: int, num_samples: int, batch_size: int, gen: torch.Generator
                    ) -> Iterator[Tensor]:
    """Index batches (int64 ``[B]``, ``B ≤ batch_size``) for ``num_samples`` draws from
    ``range(length)`` in shuffled passes: every pass visits each index once in a fresh order
    from ``gen``, and a batch never spans two passes (the last of a pass may be shorter)."""
    done, order = 0, torch.zeros(0, dtype=torch.long)
    while done < num_samples:
        if order.numel() == 0:
            order = torch.randperm(length, generator=gen)
        n = min(batch_size, num_samples - done, order.numel())
        idx, order = order[:n], order[n:]
        done += n
        yield idx
