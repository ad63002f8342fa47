"""Training images for the shared loop: a deterministic order that depends only on the step.

The images of step ``s`` on rank ``r`` of ``w`` are positions ``(s·w + r)·B … +B`` of an endless
stream that visits the dataset once per epoch in a fresh permutation; epoch ``e``'s permutation
comes from its own generator seeded with ``(seed, e)``. Nothing about the order is stateful, so
``--resume`` continues with exactly the batches an uninterrupted run would have seen.

Datasets that fit the cache budget (the built-in ``synthetic`` one) are rendered once per run
into a uint8 tensor, so drawing a batch costs one gather; larger ones are read batch by batch
(streamed).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from lkbench.data import get_dataset
from lkbench.errors import DataError

_CACHE_CHUNK = 512


@dataclass(frozen=True)
class TrainDataConfig:
    """Which images a generator is trained on.

    Attributes:
        name: dataset registry name (``lkbench datasets list``).
        split: split to train on (``train``).
        difficulty: synthetic only: ``easy`` | ``hard``; empty = the dataset's default.
        seed: synthetic only: dataset seed; -1 = the dataset's default.
        size: synthetic only: number of training images; 0 = the dataset's default.
        cache_mb: render the split once into memory as uint8 when it takes at most this many
            MiB (the synthetic train split: 60 MiB at 32 px, 240 MiB at 64 px); larger datasets
            are read batch by batch. 0 never caches.
        options: any other keyword option of the dataset's loader (``root``, ``crop``,
            ``compat``, …; its docstring lists them), e.g. ``--set data.options.root=~/data``.
    """
    name: str = "synthetic"
    split: str = "train"
    difficulty: str = ""
    seed: int = -1
    size: int = 0
    cache_mb: int = 2048
    options: dict = field(default_factory=dict)

    def dataset_options(self) -> dict:
        """Keyword arguments for :func:`lkbench.data.get_dataset` (only those that were set)."""
        opts: dict = {}
        if self.difficulty:
            opts["difficulty"] = self.difficulty
        if self.seed >= 0:
            opts["seed"] = self.seed
        if self.size > 0:
            opts["size"] = self.size
        return {**opts, **self.options}


class TrainImages:
    """Batches of training images in ``[-1, 1]`` for the shared loop.

    Args:
        cfg: the data config.
        image_size: side of the images the model is trained at.
        batch_size: images per batch and rank.
        seed: root seed of the data order.
        progress: show a progress bar while filling the cache.
    """

    def __init__(self, cfg: TrainDataConfig, image_size: int, batch_size: int, seed: int,
                 progress: bool = False):
        self.dataset = get_dataset(cfg.name, split=cfg.split, image_size=image_size,
                                   **cfg.dataset_options())
        if not self.dataset.has_images:
            raise DataError(f"dataset {cfg.name!r} split {cfg.split!r} has no images to train "
                            "on; use --set data.split=train")
        self.size = len(self.dataset)
        if self.size < batch_size:
            raise DataError(f"dataset {cfg.name!r} split {cfg.split!r} has {self.size} images, "
                            f"fewer than one batch of {batch_size}; lower loop.batch_size")
        self.batch_size, self.seed = batch_size, seed
        self._perm: tuple[int, Tensor] | None = None
        r = self.dataset.image_size
        fits = self.size * 3 * r * r <= cfg.cache_mb * 2 ** 20
        self.cache = self._fill_cache(progress) if fits else None

    def _fill_cache(self, progress: bool) -> Tensor:
        from tqdm import tqdm

        r = self.dataset.image_size
        cache = torch.empty(self.size, 3, r, r, dtype=torch.uint8)
        chunks = range(0, self.size, _CACHE_CHUNK)
        for start in tqdm(chunks, desc=f"rendering {self.dataset.name} {self.dataset.split}",
                          unit="chunk", disable=not progress, leave=False):
            stop = min(start + _CACHE_CHUNK, self.size)
            images = self.dataset.batch(range(start, stop)).images
            cache[start:stop] = ((images + 1) * 127.5).round_().clamp_(0, 255).to(torch.uint8)
        return cache

    def _permutation(self, epoch: int) -> Tensor:
        if self._perm is None or self._perm[0] != epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = (epoch, torch.randperm(self.size, generator=gen))
        return self._perm[1]

    def indices(self, step: int, rank: int = 0, world: int = 1) -> Tensor:
        """Dataset indices ``[B]`` of step ``step`` on ``rank`` of ``world``."""
        start = (step * world + rank) * self.batch_size
        pos = torch.arange(start, start + self.batch_size)
        epochs, offsets = pos // self.size, pos % self.size
        return torch.stack([self._permutation(int(e))[int(o)] for e, o in zip(epochs, offsets)])

    def batch(self, step: int, rank: int = 0, world: int = 1) -> Tensor:
        """float32 ``[B,3,R,R]`` in ``[-1, 1]``."""
        idx = self.indices(step, rank, world)
        if self.cache is not None:
            return self.cache[idx].float().div_(127.5).sub_(1)
        return self.dataset.batch(idx.numpy()).images
