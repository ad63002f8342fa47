"""KeypointGAN's training batches: image pairs plus unpaired prior poses, ordered by the step.

A batch is a dict of tensors::

    image       float32 [B,3,R,R] in [-1,1]   the target frame x
    appearance  float32 [B,3,R,R] in [-1,1]   x′: another frame of the same subject; absent in
                                               TPS mode (the trainer warps x itself)
    prior       float32 [B,K,2]  (x, y) in [-1,1]  poses from the prior split (unpaired)

Images follow :class:`~lkbench.trainers.images.TrainImages`' step-determined order (pairs are
cached as uint8 when they fit ``data.cache_mb``); prior poses are drawn with replacement from a
generator seeded by (seed, step, rank), so nothing is stateful and ``--resume`` continues bit
for bit.
"""
from __future__ import annotations

import torch
from torch import Tensor

from lkbench.data import get_dataset
from lkbench.errors import ConfigError, DataError

from ..images import TrainImages
from .config import KGDataConfig


def prior_poses(cfg: KGDataConfig, image_size: int, num_keypoints: int) -> Tensor:
    """The first ``cfg.prior_size`` (all if 0) poses of ``cfg.prior_split``: ``[P,K,2]``.

    Raises:
        DataError: the split is missing, too small, has another landmark count or NaNs.
    """
    opts = {k: v for k, v in cfg.dataset_options().items() if k != "size"}
    ds = get_dataset(cfg.name, split=cfg.prior_split, image_size=image_size, **opts)
    n = cfg.prior_size or len(ds)
    if n > len(ds):
        raise DataError(f"data.prior_size = {n} but split {cfg.prior_split!r} of {cfg.name!r} "
                        f"holds {len(ds)} poses; choose at most {len(ds)}")
    if ds.num_landmarks != num_keypoints:
        raise ConfigError(f"the prior ({cfg.name}/{cfg.prior_split}) has {ds.num_landmarks} "
                          f"landmarks but model.num_keypoints = {num_keypoints}; set "
                          f"--set model.num_keypoints={ds.num_landmarks}")
    kp, vis = ds.landmarks(range(n))
    if not bool(vis.all()) or not bool(torch.isfinite(kp).all()):
        raise DataError(f"prior split {cfg.prior_split!r} of {cfg.name!r} has invisible or "
                        "unknown landmarks; KeypointGAN's prior needs complete poses")
    return kp.float()


class PairImages(TrainImages):
    """Batches of ``{"image", "appearance"?, "prior"}`` for the shared loop (see module doc).

    Args:
        cfg: the data config; ``cfg.pairs`` picks frame pairs or TPS mode.
        image_size, batch_size, seed, progress: as :class:`TrainImages`.
        num_keypoints: ``K`` of the model (checked against the prior).
    """

    def __init__(self, cfg: KGDataConfig, image_size: int, batch_size: int, seed: int,
                 num_keypoints: int, progress: bool = False):
        ds = get_dataset(cfg.name, split=cfg.split, image_size=image_size,
                         **cfg.dataset_options())
        if cfg.pairs.startswith("frames") and not ds.supports_pairs:
            raise DataError(f"dataset {cfg.name!r} has no frame pairs; use --set "
                            "data.pairs=tps (thin-plate-spline warps) or auto")
        self.frames = cfg.pairs != "tps" and ds.supports_pairs
        self.prior = prior_poses(cfg, image_size, num_keypoints)
        super().__init__(cfg, image_size, batch_size, seed, progress)

    def _fill_cache(self, progress: bool) -> Tensor:
        if not self.frames:
            return super()._fill_cache(progress)
        from tqdm import tqdm

        r = self.dataset.image_size
        cache = torch.empty(self.size, 2, 3, r, r, dtype=torch.uint8)
        for start in tqdm(range(0, self.size, 512), desc=f"rendering {self.dataset.name} pairs",
                          unit="chunk", disable=not progress, leave=False):
            stop = min(start + 512, self.size)
            pair = self.dataset.pairs(range(start, stop))
            both = torch.stack([pair.first.images, pair.second.images], 1)
            cache[start:stop] = ((both + 1) * 127.5).round_().clamp_(0, 255).to(torch.uint8)
        return cache

    def batch(self, step: int, rank: int = 0, world: int = 1) -> dict[str, Tensor]:
        idx = self.indices(step, rank, world)
        out: dict[str, Tensor] = {}
        if self.frames:
            if self.cache is not None:
                both = self.cache[idx].float().div_(127.5).sub_(1)
                out["image"], out["appearance"] = both[:, 0], both[:, 1]
            else:
                pair = self.dataset.pairs(idx.numpy())
                out["image"], out["appearance"] = pair.first.images, pair.second.images
        else:
            out["image"] = super().batch(step, rank, world)
        gen = torch.Generator().manual_seed(((self.seed * 1_000_003 + step) * 1_009 + rank)
                                            % (2 ** 63) ^ 0x5EED)
        out["prior"] = self.prior[torch.randint(len(self.prior), (len(idx),), generator=gen)]
        return out
