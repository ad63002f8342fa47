"""The landmark detector of the GAN-based detection protocol, and its training.

``docs/protocols.md`` §2. A keypoint generator renders images *and* the keypoints it put its
parts at; a detector trained on those pairs is then run on real images, and its detections are
regressed onto the annotated landmarks (:mod:`lkbench.protocols.landmarks.run_detect`).

What is confirmed and what is a stand-in:

* **Confirmed (GANSeg, same authors, "built upon LatentKeypointGAN"; GSG ``train_seg.py``):**
  the generator in ``eval()`` under ``no_grad``; fresh pairs every epoch, 1 000 batches × 64 =
  64 000 per epoch, 10 epochs, Adam lr 3e-4, batch 64; network torchvision
  ``deeplabv3_resnet50`` trained from scratch; images at the generator's resolution in [-1, 1]
  (mean/std 0.5). These are the ``paper`` preset of :mod:`~lkbench.protocols.landmarks.run_detect`.
* **Stand-ins (LKG's own detector is not published):** GANSeg predicts K+1 part masks with a
  cross-entropy + Dice loss and reads keypoints as mask centroids; lkbench predicts K heatmaps
  with a per-keypoint spatial softmax (soft-argmax) trained with an L2 loss on the generator's
  keypoints, as spec §2 ▶ prescribes, for both architectures. The default ``compact``
  architecture (a small ResNet trunk with a feature-pyramid decoder) is lkbench's, sized so the
  ``demo`` preset trains in minutes on a CPU.

Conventions: images float32 ``[N,3,R,R]`` in [-1, 1]; keypoints float32 ``[N,K,2]`` (x, y) in
[-1, 1] with ±1 at the image edges (:mod:`lkbench.keypoints`). The soft-argmax reads positions
on the heatmap's pixel-centre grid (:func:`lkbench.keypoints.heatmap_grid`), so outputs are in
the project convention whatever the heatmap's resolution. Images of another size are resized
(bilinear, antialiased) to the detector's ``image_size`` before the forward pass.

The detector is an lkbench model: :data:`lkbench.models.MODELS` ``["keypoint-detector"]``
rebuilds it from a checkpoint's config (:func:`save_detector`, :func:`load_detector`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lkbench.atomic import PathLike
from lkbench.checkpoint import load_model, save_checkpoint
from lkbench.data import LandmarkSet
from lkbench.data.base import shuffled_passes
from lkbench.errors import CheckpointError, ConfigError
from lkbench.keypoints import heatmap_grid
from lkbench.models import Generated, KeypointGenerator
from lkbench.registry import Registry

__all__ = ["MODEL_NAME", "ARCHS", "CompactHeatmapNet", "KeypointDetector", "TrainStats",
           "soft_argmax", "resize_images", "detector_from_config", "build_detector",
           "generated_pairs", "labelled_batches", "keypoint_loss", "train_detector",
           "save_detector", "load_detector"]

MODEL_NAME = "keypoint-detector"
"""Registry name of the detector in :data:`lkbench.models.MODELS`."""


# ==================== read-out and resizing
def soft_argmax(logits: Tensor) -> Tensor:
    """Per-channel spatial softmax, then the expected pixel-centre position.

    Args:
        logits: ``[N,K,h,w]`` heatmap logits.

    Returns:
        float32 ``[N,K,2]`` (x, y) in [-1, 1] (project convention); within
        ``[-1 + 1/w, 1 - 1/w]`` horizontally (the outer pixel centres).
    """
    n, k, h, w = logits.shape
    prob = torch.softmax(logits.float().reshape(n, k, h * w), dim=-1)
    grid = heatmap_grid(h, w, device=logits.device).reshape(h * w, 2)
    return prob @ grid


def resize_images(images: Tensor, size: int) -> Tensor:
    """``[N,3,H,W]`` → ``[N,3,size,size]``, bilinear with antialiasing (a no-op at that size).

    Keypoints in the project convention need no change: they do not depend on the image size.
    """
    if tuple(images.shape[-2:]) == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=True)


# ==================== architectures
class _BasicBlock(nn.Module):
    """ResNet basic block: two 3×3 convolutions with BatchNorm and a (projected) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip = (nn.Identity() if stride == 1 and c_in == c_out else
                     nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                   nn.BatchNorm2d(c_out)))

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.skip(x))


class CompactHeatmapNet(nn.Module):
    """A small ResNet trunk with a feature-pyramid decoder: images → K heatmap logits.

    Level 0 is a 3×3 stem at full resolution with ``widths[0]`` channels; level ``i ≥ 1`` halves
    the resolution with ``blocks`` basic blocks of ``widths[i]`` channels. The decoder adds
    1×1 projections of each level from the deepest up to the level of ``out_stride`` (upsampling
    bilinearly, 3×3 conv after each merge) and a 1×1 head gives the K logit maps.

    Args:
        num_keypoints: ``K``.
        widths: channels per level; ``len(widths) - 1`` downsamplings.
        blocks: basic blocks per downsampling level.
        out_stride: heatmap stride (a power of two up to ``2**(len(widths) - 1)``).

    Output: ``[N,K,R/out_stride,R/out_stride]`` logits for ``[N,3,R,R]`` input.
    """

    def __init__(self, num_keypoints: int, widths: "tuple[int, ...] | list[int]" = (32, 64, 128),
                 blocks: int = 1, out_stride: int = 2):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        levels = len(widths) - 1
        out_level = int(out_stride).bit_length() - 1
        if (len(widths) < 2 or min(widths) < 1 or blocks < 1 or out_stride < 1
                or 2 ** out_level != out_stride or out_level > levels):
            raise ConfigError(f"compact detector: need >= 2 positive widths, blocks >= 1 and "
                              f"out_stride a power of two up to 2**{max(levels, 0)}; got "
                              f"widths={widths}, blocks={blocks}, out_stride={out_stride}")
        self.out_level = out_level
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        self.stages = nn.ModuleList(
            nn.Sequential(_BasicBlock(widths[i - 1], widths[i], 2),
                          *(_BasicBlock(widths[i], widths[i], 1) for _ in range(blocks - 1)))
            for i in range(1, levels + 1))
        d = widths[out_level]
        self.top = nn.Conv2d(widths[-1], d, 1)
        self.lateral = nn.ModuleList(nn.Conv2d(widths[i], d, 1) for i in range(out_level, levels))
        self.smooth = nn.ModuleList(
            nn.Sequential(nn.Conv2d(d, d, 3, 1, 1, bias=False), nn.BatchNorm2d(d),
                          nn.ReLU(inplace=True)) for _ in range(out_level, levels))
        self.head = nn.Conv2d(d, num_keypoints, 1)

    def forward(self, x: Tensor) -> Tensor:
        feats = [self.stem(x)]
        for stage in self.stages:
            feats.append(stage(feats[-1]))
        p = self.top(feats[-1])
        for j in reversed(range(len(self.lateral))):
            c = feats[self.out_level + j]
            p = F.interpolate(p, size=c.shape[-2:], mode="bilinear", align_corners=False)
            p = self.smooth[j](p + self.lateral[j](c))
        return self.head(p)


class _DeepLabV3(nn.Module):
    """torchvision ``deeplabv3_resnet50`` from scratch with K output maps (GANSeg's network)."""

    def __init__(self, num_keypoints: int):
        super().__init__()
        from torchvision.models.segmentation import deeplabv3_resnet50

        self.net = deeplabv3_resnet50(weights=None, weights_backbone=None,
                                      num_classes=num_keypoints, aux_loss=None)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)["out"]


ARCHS: Registry[Callable[..., nn.Module]] = Registry("detector-archs")
"""Architecture name → ``factory(num_keypoints, **options) -> nn.Module`` giving logit maps
``[N,K,h,w]``; the factory's keyword parameters are the architecture's options."""
ARCHS.add("compact", CompactHeatmapNet)
ARCHS.add("deeplabv3-resnet50", _DeepLabV3, aliases=("deeplabv3_resnet50",))


# ==================== the detector model
class KeypointDetector(nn.Module):
    """Heatmap network + soft-argmax; implements :class:`lkbench.models.KeypointPredictor`.

    Args:
        num_keypoints: ``K``.
        image_size: side ``R`` the network sees; other inputs are resized to it.
        arch: a name in :data:`ARCHS`.
        options: the architecture's keyword options (``widths``, ``blocks``, ``out_stride`` for
            ``compact``); must be plain data (they are stored in checkpoints).
    """

    def __init__(self, num_keypoints: int, image_size: int, arch: str = "compact",
                 **options: Any):
        super().__init__()
        if num_keypoints < 1 or image_size < 8:
            raise ConfigError(f"detector needs num_keypoints >= 1 and image_size >= 8, got "
                              f"{num_keypoints} and {image_size}")
        self.num_keypoints, self.image_size = int(num_keypoints), int(image_size)
        self.arch = ARCHS.resolve(arch)
        self.options = dict(options)
        # channels_last: 1.26x (32 px) to 1.47x (64 px) faster training steps on CPU for the
        # compact net (oneDNN's preferred layout); the weights stay ordinary tensors on disk.
        self.net = ARCHS.get(self.arch)(self.num_keypoints, **self.options).to(
            memory_format=torch.channels_last)

    @property
    def config(self) -> dict[str, Any]:
        """Plain-data config that :func:`detector_from_config` rebuilds this model from."""
        opts = {k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()}
        return {"num_keypoints": self.num_keypoints, "image_size": self.image_size,
                "arch": self.arch, **opts}

    def forward(self, images: Tensor) -> Tensor:
        """float32 ``[N,3,H,W]`` in [-1, 1] → keypoints ``[N,K,2]`` (x, y) in [-1, 1]."""
        x = resize_images(images, self.image_size).contiguous(memory_format=torch.channels_last)
        return soft_argmax(self.net(x))

    def predict(self, images: Tensor) -> Tensor:
        """:meth:`forward` without gradients (call ``.eval()`` first for inference)."""
        with torch.no_grad():
            return self.forward(images)


def detector_from_config(config: dict[str, Any]) -> KeypointDetector:
    """The ``MODELS`` factory: rebuild a :class:`KeypointDetector` from its config dict."""
    cfg = dict(config)
    try:
        k, size = int(cfg.pop("num_keypoints")), int(cfg.pop("image_size"))
    except KeyError as exc:
        raise ConfigError(f"detector config lacks {exc}; it needs num_keypoints and "
                          "image_size") from None
    return KeypointDetector(k, size, cfg.pop("arch", "compact"), **cfg)


def build_detector(num_keypoints: int, image_size: int, arch: str, options: dict[str, Any],
                   seed: int) -> KeypointDetector:
    """A freshly initialised detector whose weights depend only on ``seed`` (and the config).

    torch's initialisers draw from the global generator, so it is forked, seeded and restored:
    the caller's random state is untouched.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return KeypointDetector(num_keypoints, image_size, arch, **options)


# ==================== training data streams
def generated_pairs(generator: KeypointGenerator, num_pairs: int, batch_size: int,
                    gen: torch.Generator) -> Iterator[Generated]:
    """Fresh image–keypoint pairs from ``generator``, one batch at a time.

    The generator is put in ``eval()`` and run under ``no_grad`` (left again before each
    ``yield``, so the consumer trains normally). Only the batch being yielded exists: nothing
    is kept between batches, so memory does not grow with ``num_pairs``.

    Args:
        generator: any :class:`~lkbench.models.KeypointGenerator`.
        num_pairs: pairs to produce in total (the last batch may be smaller).
        batch_size: pairs per batch.
        gen: the ``torch.Generator`` latents are drawn from (on the generator's device).

    Yields:
        :class:`~lkbench.models.Generated`: images ``[B,3,R,R]`` in [-1, 1], keypoints
        ``[B,K,2]`` in [-1, 1].
    """
    if isinstance(generator, nn.Module):
        generator.eval()
    done = 0
    while done < num_pairs:
        n = min(batch_size, num_pairs - done)
        with torch.no_grad():
            out = generator.render(generator.sample_latents(n, gen))
        done += n
        yield Generated(out.images, out.keypoints)
        del out


def labelled_batches(dataset: LandmarkSet, num_samples: int, batch_size: int, image_size: int,
                     gen: torch.Generator) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """Annotated images of ``dataset`` in shuffled passes, loaded one batch at a time.

    Yields:
        ``(images [B,3,image_size,image_size], keypoints [B,L,2], visible [B,L])``; images are
        resized with :func:`resize_images`. Every pass visits each image once in a fresh order.
    """
    for idx in shuffled_passes(len(dataset), num_samples, batch_size, gen):
        images, keypoints, visible = dataset.batch(idx)
        yield resize_images(images, image_size), keypoints, visible


# ==================== training
def keypoint_loss(pred: Tensor, target: Tensor, visible: "Tensor | None" = None) -> Tensor:
    """Mean squared L2 distance in the [0, 1] frame over the visible (image, keypoint) pairs.

    Args:
        pred, target: ``[N,K,2]`` in [-1, 1]; ``target`` may hold NaN where not visible.
        visible: optional bool ``[N,K]``.
    """
    sq = ((pred - torch.nan_to_num(target)) / 2).pow(2).sum(-1)
    if visible is None:
        return sq.mean()
    mask = visible.to(sq.dtype)
    return (sq * mask).sum() / mask.sum().clamp_min(1.0)


@dataclass(frozen=True)
class TrainStats:
    """What :func:`train_detector` did: optimiser steps, samples seen, the mean loss of the last
    tenth of the steps (``[0,1]``-frame squared distance), wall time and throughput."""

    steps: int
    samples: int
    final_loss: float
    wall_time_s: float

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.wall_time_s if self.wall_time_s > 0 else float("nan")


def train_detector(detector: KeypointDetector,
                   batches: Iterable[tuple[Tensor, Tensor, "Tensor | None"]], *,
                   lr: float, total: int, device: torch.device, progress: bool = True,
                   desc: str = "detector") -> TrainStats:
    """Train ``detector`` with Adam on ``(images, keypoints, visible | None)`` batches.

    Batches are consumed lazily (pass a generator, e.g. chained :func:`generated_pairs`), so
    training data never has to fit in memory. The detector is left in ``eval()`` mode.

    Args:
        detector: the model (moved to ``device``).
        batches: the training stream.
        lr: Adam learning rate.
        total: samples the stream will yield (for the progress bar only).
        device: where to train.
        progress: show a tqdm bar (pairs/s, loss) on stderr.
        desc: the bar's label.
    """
    from tqdm.auto import tqdm

    detector.to(device).train()
    opt = torch.optim.Adam(detector.parameters(), lr=lr)
    losses: list[float] = []
    samples, start = 0, time.perf_counter()
    with tqdm(total=total, desc=desc, unit="pair", disable=not progress, leave=False,
              dynamic_ncols=True) as bar:
        for images, keypoints, visible in batches:
            images, keypoints = images.to(device), keypoints.to(device)
            loss = keypoint_loss(detector(images), keypoints,
                                 None if visible is None else visible.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            samples += images.shape[0]
            bar.update(images.shape[0])
            if len(losses) % 10 == 0:
                bar.set_postfix(loss=f"{losses[-1]:.2e}")
    detector.eval()
    tail = losses[-max(1, len(losses) // 10):] or [float("nan")]
    return TrainStats(len(losses), samples, sum(tail) / len(tail), time.perf_counter() - start)


# ==================== checkpoints
def save_detector(path: PathLike, detector: KeypointDetector, *, steps: int,
                  extra: "dict[str, Any] | None" = None) -> Path:
    """Save ``detector`` as an lkbench checkpoint (model ``keypoint-detector``, state ``G``)."""
    state = {k: v.detach().cpu() for k, v in detector.state_dict().items()}
    return save_checkpoint(path, model=MODEL_NAME, config=detector.config, state={"G": state},
                           step=steps, extra=extra)


def load_detector(path: PathLike) -> KeypointDetector:
    """Load a detector saved by :func:`save_detector` (CPU, eval mode).

    Raises:
        CheckpointError: unreadable file, or a checkpoint of another model.
    """
    model = load_model(path)
    if not isinstance(model, KeypointDetector):
        raise CheckpointError(f"{path} holds a {type(model).__name__}, not a keypoint detector; "
                              "--detector takes the detector.pt that `lkbench detect` saved")
    return model
