"""FID of attribute edits against real target-domain images (``docs/models.md`` §3.4, [L2Mo]).

One Fréchet distance per translation task (edits whose target is ``t`` against real images of
the dataset whose label is ``t``), averaged over the tasks. Features come from the FID module
(:mod:`lkbench.protocols.generation.fid`, :mod:`lkbench.protocols.generation.inception`): ``inception`` is FID
(clean-fid's Inception, offline-first weights); any other feature network (``random-conv``) is
a named Fréchet distance and is never reported as FID (metric ``fd_random_conv``).
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor

from lkbench.protocols.generation.fid import image_features
from lkbench.protocols.generation.frechet import FeatureStats, frechet_distance
from lkbench.protocols.generation.inception import FeatureExtractor

__all__ = ["TaskStats", "metric_name"]


def metric_name(features: str) -> str:
    """``fid`` for Inception features, ``fd_<name>`` for any other network."""
    return "fid" if features == "inception" else "fd_" + features.replace("-", "_")


class TaskStats:
    """Feature statistics of edits and of real images, per target domain.

    Args:
        extractor: the feature network.
        mode: clean-fid mode (``clean`` | ``legacy_tensorflow``).
        device: where features are computed.
    """

    def __init__(self, extractor: FeatureExtractor, mode: str, device: torch.device):
        self.extractor, self.mode, self.device = extractor, mode, device
        self.edits: dict[int, FeatureStats] = {}
        self.real: dict[int, FeatureStats] = {}

    def _add(self, table: dict[int, FeatureStats], images: Tensor, labels: Tensor) -> None:
        feats = image_features(images.cpu(), self.extractor, self.mode, self.device)
        for t in labels.long().unique().tolist():
            table.setdefault(t, FeatureStats(self.extractor.dim)).update(
                feats[labels.long().cpu() == t])

    def add_edits(self, edits: Tensor, targets: Tensor) -> None:
        """Edits ``[B,3,R,R]`` in [-1, 1] and the domains ``[B]`` they should show."""
        self._add(self.edits, edits, targets)

    def add_real(self, batches: Iterable[tuple[Tensor, Tensor]]) -> None:
        """Real images ``[B,3,R,R]`` with their labels ``[B]``."""
        for images, labels in batches:
            self._add(self.real, images, labels)

    def distance(self) -> tuple[float, dict[int, float], dict[int, tuple[int, int]]]:
        """(mean over tasks, per-task distance, per-task (edits, real) counts).

        Raises:
            DataError: a task with fewer than 2 edits or real images.
        """
        per_task, counts = {}, {}
        for t in sorted(self.edits):
            e, r = self.edits[t], self.real.get(t, FeatureStats(self.extractor.dim))
            per_task[t] = frechet_distance(*e.compute(), *r.compute())
            counts[t] = (e.n, r.n)
        return sum(per_task.values()) / len(per_task), per_task, counts
