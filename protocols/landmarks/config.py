"""Settings of ``lkbench detect`` (:class:`DetectConfig`) and its presets.

Layers as everywhere in lkbench (:mod:`lkbench.config`): dataclass defaults < ``--preset`` <
``--config FILE.toml`` < ``--set key=value``. Tables: ``[detector]`` (architecture), ``[train]``
(pairs and optimiser), ``[data]`` (the benchmark dataset's options, e.g. ``--set
data.compat=alk-swap``) and top-level keys.

* defaults: ``docs/protocols.md`` §2 ▶ — GANSeg's budget (64 000 fresh pairs per epoch × 10
  epochs, batch 64, Adam 3e-4) with lkbench's ``compact`` heatmap detector; meant for a GPU.
* ``smoke``: seconds on a CPU (tests): a tiny detector on 128 pairs.
* ``demo``: the synthetic benchmark on a 2-core CPU in a few minutes (``benchmarks/
  bench_detect.py`` measures it): 4 × 4 096 pairs, batch 32, Adam 1e-3.
* ``paper``: GANSeg's network too — torchvision ``deeplabv3_resnet50`` from scratch (GPU).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from lkbench.config import register_preset

from .detector import ARCHS

__all__ = ["DetectorSettings", "TrainSettings", "DetectConfig", "PRESET_HELP"]


@dataclass(frozen=True)
class DetectorSettings:
    """The detector network (:mod:`lkbench.protocols.landmarks.detector`).

    Attributes:
        arch: ``compact`` (lkbench's small ResNet + pyramid decoder) or ``deeplabv3-resnet50``.
        widths: ``compact`` only: channels per level (one downsampling per extra level).
        blocks: ``compact`` only: basic blocks per downsampling level.
        out_stride: ``compact`` only: heatmap stride (1, 2, 4, ...).
    """
    arch: str = "compact"
    widths: tuple[int, ...] = (32, 64, 128, 256)
    blocks: int = 2
    out_stride: int = 2

    def options(self) -> dict[str, Any]:
        """The keyword options the chosen architecture's factory takes (others are ignored)."""
        params = inspect.signature(ARCHS.get(self.arch)).parameters
        return {k: v for k, v in (("widths", list(self.widths)), ("blocks", self.blocks),
                                  ("out_stride", self.out_stride)) if k in params}


@dataclass(frozen=True)
class TrainSettings:
    """Detector training: fresh generated pairs every epoch, Adam.

    The ``supervised`` baseline trains on the fit split's ground truth for the same number of
    samples (``epochs × pairs_per_epoch``) and batch size.

    Attributes:
        pairs_per_epoch: pairs generated (fresh) per epoch.
        epochs: passes; the total is ``epochs × pairs_per_epoch`` distinct pairs.
        batch_size: pairs per optimiser step.
        lr: Adam learning rate.
    """
    pairs_per_epoch: int = 64_000
    epochs: int = 10
    batch_size: int = 64
    lr: float = 3e-4

    def __post_init__(self) -> None:
        for name in ("pairs_per_epoch", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"train.lr must be > 0, got {self.lr}")

    @property
    def total_pairs(self) -> int:
        return self.epochs * self.pairs_per_epoch


@dataclass(frozen=True)
class DetectConfig:
    """Everything ``lkbench detect`` does besides its inputs and outputs.

    Attributes:
        detector: network settings.
        train: training settings.
        baselines: baselines run with ``--baselines`` (names in
            :data:`lkbench.protocols.landmarks.baselines.BASELINES`).
        solver: ``exact`` (float64 least squares) or ``alk`` (published float32 arithmetic).
        center: bias-free fits in the image-centred frame (ZHG/SKP) instead of top-left.
        predict_batch_size: images per forward pass when predicting on real images.
        plot_images: test images shown in the figure.
        seed: root seed (latents, detector init, data order each get their own generator).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        threads: torch CPU threads during the run (0 = torch's default). On a CPU shared with
            other jobs, 1 can be many times faster than oversubscribed threads.
        data: the benchmark dataset's options on top of its binding (``image_size`` or a
            keyword of the dataset, e.g. ``compat`` of ``celeba-wild``; ``lkbench datasets
            list`` and each dataset's docstring name them).
    """
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    baselines: tuple[str, ...] = ("mean-shape", "random-detector", "supervised")
    solver: str = "exact"
    center: bool = False
    predict_batch_size: int = 256
    plot_images: int = 16
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.predict_batch_size < 1 or self.plot_images < 1:
            raise ValueError("predict_batch_size and plot_images must be >= 1")
        if self.threads < 0 or self.seed < 0:
            raise ValueError("threads and seed must be >= 0")


PRESET_HELP = {
    "smoke": "seconds on a CPU: tiny compact detector, 1 x 128 pairs (tests)",
    "demo": "synthetic benchmark on a 2-core CPU in minutes: 4 x 4096 pairs, batch 32",
    "paper": "GANSeg's budget and network: deeplabv3_resnet50, 10 x 64000 pairs, batch 64, "
             "Adam 3e-4 (GPU)",
}

register_preset("smoke", DetectConfig, {
    "detector": {"widths": [8, 16, 32], "blocks": 1, "out_stride": 2},
    "train": {"pairs_per_epoch": 128, "epochs": 1, "batch_size": 32, "lr": 1e-3},
    "plot_images": 8,
})
register_preset("demo", DetectConfig, {
    "detector": {"widths": [16, 32, 64, 128], "blocks": 1, "out_stride": 2},
    "train": {"pairs_per_epoch": 4096, "epochs": 4, "batch_size": 32, "lr": 1e-3},
})
register_preset("paper", DetectConfig, {
    "detector": {"arch": "deeplabv3-resnet50"},
    "train": {"pairs_per_epoch": 64_000, "epochs": 10, "batch_size": 64, "lr": 3e-4},
})
