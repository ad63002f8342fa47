"""The trained KeypointGAN: pose encoder Φ, regressor η, renderer β and generator Ψ in one module.

This is what ``MODELS["keypoint-gan"]`` rebuilds from a checkpoint (state ``G``). It implements
:class:`~lkbench.models.KeypointPredictor`: ``predict(x) = η(Φ(x))``, keypoints in the prior's
semantic order, so ``lkbench detect --direct`` scores it without the generated-pair detector.
The pose discriminator(s) are trained alongside but are not part of it.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

import torch
from torch import Tensor, nn

from lkbench.config import from_dict

from .config import KGConfig
from .networks import CondGenerator, PoseEncoder, Regressor, init_weights
from .skeleton import SkeletonRenderer
from .variants import VARIANTS

MODEL_NAME = "keypoint-gan"


class KeypointGAN(nn.Module):
    """Φ, η, β and Ψ of one variant (docs/models.md §2.1).

    Attributes:
        num_keypoints: ``K``; image_size: ``R`` (inputs to :meth:`predict` must be ``R×R``).
        encoder: Φ; regressor: η; renderer: β; generator: Ψ (conditional or not, per variant;
        ``None`` with ``with_generator=False``, the predictor-only model of shipped encoders).
    """

    def __init__(self, cfg: KGConfig, with_generator: bool = True):
        super().__init__()
        self.cfg = cfg
        self.variant = VARIANTS.get(cfg.variant)
        self.num_keypoints, self.image_size = cfg.num_keypoints, cfg.image_size
        self.encoder = PoseEncoder(cfg.width)
        self.regressor = Regressor(cfg.num_keypoints, cfg.width)
        self.renderer = SkeletonRenderer(cfg.edges, cfg.image_size, cfg.sigma)
        self.generator = (CondGenerator(cfg.width, conditional=self.variant.conditional)
                          if with_generator else None)
        init_weights(self)

    def pose_image(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Φ(x) and the skeleton Ψ decodes from: β(η(Φ(x))) with the bottleneck, else Φ(x).

        Returns ``(raw [B,1,R,R], decoded-from [B,1,R,R])``.
        """
        raw = self.encoder(images)
        if self.variant.bottleneck:
            return raw, self.renderer(self.regressor(raw))
        return raw, raw

    def reconstruct(self, images: Tensor, appearance: Tensor) -> Tensor:
        """x̂ = Ψ(pose of ``images``, ``appearance``) ``[B,3,R,R]`` (appearance unused by the
        unconditional variants)."""
        _, pose = self.pose_image(images)
        return self.generator(pose, appearance if self.variant.conditional else None)

    @torch.no_grad()
    def predict(self, images: Tensor) -> Tensor:
        """Direct read-out η(Φ(x)): ``[N,3,R,R]`` in [-1,1] → ``[N,K,2]`` (x, y) in [-1,1]."""
        if images.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(f"KeypointGAN.predict takes {self.image_size}×{self.image_size} "
                             f"images, got {tuple(images.shape[-2:])}; resize them first")
        return self.regressor(self.encoder(images))


PREDICTOR_ONLY = "predictor_only"
"""Model-config key of a checkpoint that holds only Φ, η and β (no Ψ): a shipped encoder."""


def from_config(config: dict[str, Any]) -> KeypointGAN:
    """The ``MODELS`` factory: rebuild the model from a checkpoint's model config (with
    ``predictor_only = true``: Φ, η and β only, enough for :meth:`KeypointGAN.predict`)."""
    config = dict(config)
    with_generator = not config.pop(PREDICTOR_ONLY, False)
    cfg = from_dict(KGConfig, config)
    if not cfg.edges:
        raise ValueError("a KeypointGAN model config needs its skeleton edges")
    return KeypointGAN(cfg, with_generator=with_generator)


def model_config_dict(cfg: KGConfig) -> dict[str, Any]:
    """Plain-data form of ``cfg`` for checkpoints (tuples as lists)."""
    out = asdict(cfg)
    out["edges"] = [list(e) for e in cfg.edges]
    return out
