"""KeypointGAN configs (``docs/models.md`` §2, §4.2): architecture, losses, optimisation, data.

``KGConfig`` is what a checkpoint stores to rebuild the model (``MODELS["keypoint-gan"]``);
the other tables only steer training. Every open choice of the spec is a field here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..images import TrainDataConfig
from ..loop import LoopConfig
from .augment import SimilarityAugment

Variant = Literal["full", "bottleneck", "conditional", "cyclegan", "cyclegan-cycle"]
"""The Table 4 ablation rows (see :mod:`.variants`)."""

Perceptual = Literal["vgg19", "vgg16", "random-vgg", "tiny-random", "l1"]
"""Feature extractor Γ of the reconstruction loss (see :mod:`.perceptual`)."""


@dataclass(frozen=True)
class KGConfig:
    """KeypointGAN architecture (rebuilt from checkpoints).

    Attributes:
        image_size: side ``R`` in pixels, a multiple of 8 (Φ, η and Ψ downsample three times).
        num_keypoints: ``K``, the prior's landmark count (η's outputs, in the prior's order).
        edges: skeleton edges as keypoint index pairs; empty = the training dataset's
            ``meta.edges`` (filled in by the trainer before the model is built).
        sigma: fall-off σ of the skeleton renderer β, normalised units (``exp(−d/σ²)``, §2.3).
        width: base width ``b`` of Φ, η and Ψ (encoders b/2b/4b/8b; 32 in [KG], 8 at smoke).
        d_ndf: first-layer width of each pose-discriminator scale (64 in [KG]).
        d_layers: ``n_layers`` of each PatchGAN scale (3 in [KG]).
        d_scales: number of discriminator scales 1, ½, ¼, … (3 in [KG]).
        d_batch_std: give the pose discriminator an extra input channel, the per-pixel
            standard deviation of its batch (:func:`.networks.batch_std_map`), so a pose encoder
            that emits one skeleton for every image is told apart from the prior. An lkbench
            addition [L], off in [KG]'s settings; it adds ``d_ndf·16`` weights per scale.
        variant: the ablation row; decides whether Ψ is conditional (see :mod:`.variants`).
    """
    image_size: int = 128
    num_keypoints: int = 32
    edges: tuple[tuple[int, int], ...] = ()
    sigma: float = 0.2
    width: int = 32
    d_ndf: int = 64
    d_layers: int = 3
    d_scales: int = 3
    d_batch_std: bool = False
    variant: Variant = "full"

    def __post_init__(self) -> None:
        if self.image_size < 16 or self.image_size % 8:
            raise ValueError(f"image_size must be a multiple of 8 and >= 16, got {self.image_size}")
        for name in ("num_keypoints", "width", "d_ndf", "d_layers", "d_scales"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.sigma <= 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma}")
        for a, b in self.edges:
            if not (0 <= a < self.num_keypoints and 0 <= b < self.num_keypoints) or a == b:
                raise ValueError(f"edge ({a}, {b}) needs two different keypoint indices in "
                                 f"[0, {self.num_keypoints})")
        smallest = self.image_size // 2 ** (self.d_scales - 1)
        if smallest < 2 ** (self.d_layers + 1):
            raise ValueError(f"the pose discriminator's coarsest scale ({smallest} px) is too "
                             f"small for d_layers={self.d_layers}; lower d_scales or d_layers")


@dataclass(frozen=True)
class KGLossConfig:
    """Loss terms and weights (docs/models.md §2.6, §2.8).

    Attributes:
        perceptual: ``vgg19`` (spec) or ``vgg16`` with ImageNet weights from ``vgg_weights``;
            without weights ``random-vgg`` (same VGG-19 layers, frozen random init),
            ``tiny-random`` (a frozen random 3-stage CNN, docs/models.md §4.2) or ``l1`` (pixels). The
            choice is written to the run config and travels into every result record.
        vgg_weights: torchvision VGG state dict (``.pth``) for ``vgg16``/``vgg19``, or
            ``download`` to let torchvision fetch it (online only).
        vgg_relu: compare ReLU'd VGG features (default) or [KG]'s linear stacks (``false``).
        perceptual_weight: weight of the perceptual term (``lambda_A`` = 10).
        adv_weight: weight of each generator-side LSGAN term (``lambda_gan_A`` = 10).
        pose_adv_warmup: main steps over which the pose adversary's generator-side weight ramps
            linearly from 0 to ``adv_weight`` (0 = full weight from the first main step, [KG]).
            An lkbench addition [L]: with a strong pose discriminator from the start, Φ settles
            on one plausible skeleton before Ψ learns to read it, and no reconstruction gradient
            reaches Φ again; the ramp lets the bottleneck auto-encoder form first.
        cycle_weight: weight of the skeleton-cycle L1 term of the variants with a second cycle.
        regressor_prior_weight: η fine-tuning: weight of ``MSE(η(β(p̄)), p̄)`` (0.9); the
            re-rendering term ``MSE(β(η(Φ(x))), Φ(x))`` gets ``1 −`` this.
        norm_momentum: EMA momentum of the per-term running means that normalise the
            perceptual terms (0.99).
    """
    perceptual: Perceptual = "vgg19"
    vgg_weights: str = ""
    vgg_relu: bool = True
    perceptual_weight: float = 10.0
    adv_weight: float = 10.0
    pose_adv_warmup: int = 0
    cycle_weight: float = 10.0
    regressor_prior_weight: float = 0.9
    norm_momentum: float = 0.99

    def __post_init__(self) -> None:
        for name in ("perceptual_weight", "adv_weight", "cycle_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"loss.{name} must be >= 0, got {getattr(self, name)}")
        if self.pose_adv_warmup < 0:
            raise ValueError(f"loss.pose_adv_warmup must be >= 0, got {self.pose_adv_warmup}")
        if not 0 <= self.regressor_prior_weight <= 1:
            raise ValueError("loss.regressor_prior_weight must be in [0, 1]")
        if not 0 <= self.norm_momentum < 1:
            raise ValueError("loss.norm_momentum must be in [0, 1)")


@dataclass(frozen=True)
class KGOptimConfig:
    """Optimisation (docs/models.md §2.8): three Adams (Φ+Ψ, D, η), constant learning rate by default.

    Attributes:
        lr: learning rate of the Φ+Ψ and discriminator optimisers.
        lr_regressor: learning rate of η (pre-training and fine-tuning).
        betas: Adam betas.
        grad_clip: global gradient-norm clip per optimiser (0 = off).
        regressor_pretrain_steps: the run's first steps train only η on rendered prior poses
            (``MSE(η(β(p̄)), p̄)``); they count towards ``loop.steps``.
        finetune_regressor: keep training η during the main phase (``finetune_regressor``).
        pool_size: history pool of discriminator fakes (CycleGAN image pool; 0 = off).
        lr_decay_steps: the last N steps of the run (``loop.steps``) decay all three learning
            rates linearly towards 0 (the ``niter_decay`` schedule of the pix2pix/CycleGAN code
            [KG] is built on; [KG] itself keeps them constant, the default 0). Must lie within
            the main phase. Raising ``loop.steps`` on ``--resume`` moves the decay with it.
    """
    lr: float = 2e-4
    lr_regressor: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    grad_clip: float = 1.0
    regressor_pretrain_steps: int = 2000
    finetune_regressor: bool = True
    pool_size: int = 50
    lr_decay_steps: int = 0

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.lr_regressor <= 0:
            raise ValueError("optim.lr and optim.lr_regressor must be > 0")
        if min(self.grad_clip, self.regressor_pretrain_steps, self.pool_size,
               self.lr_decay_steps) < 0:
            raise ValueError("optim.grad_clip, optim.regressor_pretrain_steps, "
                             "optim.pool_size and optim.lr_decay_steps must be >= 0")

    def lr_factor(self, step: int, total_steps: int) -> float:
        """Multiplier of every learning rate at 0-based ``step`` of a ``total_steps`` run:
        1 until the last ``lr_decay_steps`` steps, then ``(total_steps − step) /
        (lr_decay_steps + 1)`` — linear, never reaching 0 within the run."""
        start = total_steps - self.lr_decay_steps
        if self.lr_decay_steps == 0 or step < start:
            return 1.0
        return (total_steps - step) / (self.lr_decay_steps + 1)


@dataclass(frozen=True)
class KGDataConfig(TrainDataConfig):
    """Training images, how pairs are formed, and the unpaired pose prior.

    Attributes (on top of :class:`~lkbench.trainers.images.TrainDataConfig`):
        pairs: ``auto`` (frame pairs when the dataset has them, else TPS), ``frames``
            (``LandmarkSet.pairs``; an error without them), ``frames+tps`` (frame pairs with
            the appearance frame also TPS-warped, [KG]'s ``--tps`` on videos: for pairs whose
            pose barely changes) or ``tps`` (appearance image = a random thin-plate-spline warp
            of the target, docs/models.md §2.9).
        prior_split: split whose landmark sets form the pose prior; must be disjoint from the
            training images (synthetic: ``prior``).
        prior_size: use the first N prior poses (Table 5: 5000 / 500 / 50); 0 = all.
        tps_grid: control points per side of the TPS warp (10 in [KG]).
        augment_rotation_deg, augment_scale, augment_shift: an independent uniform random
            similarity (rotation ±deg, zoom 1 ± scale, shift ± normalised units) for the
            target, for the appearance image and for each prior pose (:mod:`.augment`; lkbench's
            addition, 0 = off as in [KG]): makes pose vary where the data's barely does.
    """
    pairs: Literal["auto", "frames", "frames+tps", "tps"] = "auto"
    prior_split: str = "prior"
    prior_size: int = 0
    tps_grid: int = 10
    augment_rotation_deg: float = 0.0
    augment_scale: float = 0.0
    augment_shift: float = 0.0

    def __post_init__(self) -> None:
        if self.prior_size < 0:
            raise ValueError(f"data.prior_size must be >= 0, got {self.prior_size}")
        if self.prior_split == self.split:
            raise ValueError(f"data.prior_split must differ from the training split "
                             f"({self.split!r}): the prior has to be unpaired")
        if self.tps_grid < 2:
            raise ValueError(f"data.tps_grid must be >= 2, got {self.tps_grid}")
        _ = self.augment                                   # validates the ranges

    @property
    def augment(self) -> SimilarityAugment:
        """The random similarity of the ``augment_*`` fields."""
        try:
            return SimilarityAugment(self.augment_rotation_deg, self.augment_scale,
                                     self.augment_shift)
        except ValueError as exc:
            raise ValueError(f"data.{exc}") from None


@dataclass(frozen=True)
class KGMonitorConfig:
    """The learning monitors of :mod:`.monitors` (logged to ``stats.jsonl`` and the curves).

    Attributes:
        every: steps between two checks (at the first log line after each multiple; main phase
            only); 0 = off.
        probe: training pairs of the skeleton-swap and gradient-ratio probe (≥ 2).
        faces: labelled faces of ``split`` for the read-out monitors (0 = none; skipped for a
            dataset without that split or with another landmark count than the model's).
        split: the labelled split the read-out is measured on (never the test split).
    """
    every: int = 250
    probe: int = 32
    faces: int = 256
    split: str = "fit"

    def __post_init__(self) -> None:
        if self.every < 0 or self.faces < 0 or self.probe < 2:
            raise ValueError("monitor.every and monitor.faces must be >= 0 and monitor.probe "
                             ">= 2")


@dataclass(frozen=True)
class KGRunConfig:
    """Everything ``lkbench train --model keypoint-gan`` reads: ``[model]``, ``[loss]``,
    ``[optim]``, ``[loop]``, ``[data]``, ``[monitor]`` tables."""
    model: KGConfig = field(default_factory=KGConfig)
    loss: KGLossConfig = field(default_factory=KGLossConfig)
    optim: KGOptimConfig = field(default_factory=KGOptimConfig)
    loop: LoopConfig = field(default_factory=lambda: LoopConfig(steps=200_000, batch_size=16))
    data: KGDataConfig = field(default_factory=KGDataConfig)
    monitor: KGMonitorConfig = field(default_factory=KGMonitorConfig)

    def __post_init__(self) -> None:
        main_steps = self.loop.steps - self.optim.regressor_pretrain_steps
        if self.optim.lr_decay_steps > max(main_steps, 0):
            raise ValueError(f"optim.lr_decay_steps = {self.optim.lr_decay_steps} is longer "
                             f"than the main phase ({main_steps} steps: loop.steps minus "
                             "optim.regressor_pretrain_steps); lower it or raise loop.steps")
