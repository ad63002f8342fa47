"""The L2M-GAN-style editor's architecture config (``docs/models.md`` §3, §3.5, §4.3).

Stored in checkpoints as plain data; ``MODELS["l2m-gan"](asdict(cfg))`` rebuilds the editor
(generator, style encoder and latent manipulator; the discriminator is training-only).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

from torch import nn


def he_init(module: nn.Module) -> None:
    """StarGAN v2's ``he_init`` on every submodule: Kaiming-normal weights (fan-in, ReLU gain
    √2, so std = √(2 / fan_in)) and zero biases for each ``Conv2d`` and ``Linear``."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


INITS: Mapping[str, Callable[[nn.Module], None]] = MappingProxyType({
    "default": lambda module: None, "he": he_init})
"""``L2MConfig.init`` → ``fn(module)`` applied to each network after it is built."""


@dataclass(frozen=True)
class L2MConfig:
    """StarGAN-v2-lite backbone plus latent manipulator.

    Attributes:
        image_size: side ``R`` in pixels, a power of two in [16, 512]. G has ``log2(R) − 4``
            down/up blocks plus 2 bottleneck blocks; E and D have ``log2(R) − 2`` down blocks
            (down to 4×4) and a 4×4 convolution.
        first_width: channels after the from-RGB convolution (StarGAN v2: ``2¹⁴ // R``).
        max_width: channel cap; each down block doubles the width up to it.
        style_dim: ``S``, size of the style code.
        num_domains: attribute domains (2 for one binary attribute: 0 = without, 1 = with).
        mlp_layers: Linear layers of M and of each transformer ``T_y`` (width ``S``, ReLU
            between layers, none at the end; lkbench default 3, [L2Mu] 4).
        init: weight initialisation of every network, a key of :data:`INITS`: ``default``
            (PyTorch's own, lkbench default and the CPU demo's) or ``he`` (Kaiming-normal
            weights for the ReLU gain, fan-in, zero biases, in every convolution and linear
            layer: StarGAN v2's ``he_init``, which [L2Mo] and [L2Mu] use).
    """
    image_size: int = 256
    first_width: int = 64
    max_width: int = 512
    style_dim: int = 64
    num_domains: int = 2
    mlp_layers: int = 3
    init: str = "default"

    def __post_init__(self) -> None:
        r = self.image_size
        if r < 16 or r > 512 or r & (r - 1):
            raise ValueError(f"image_size must be a power of two in [16, 512], got {r}")
        for name in ("first_width", "max_width", "style_dim", "mlp_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_domains < 2:
            raise ValueError(f"num_domains must be >= 2, got {self.num_domains}")
        if self.init not in INITS:
            raise ValueError(f"model.init must be one of {', '.join(INITS)}, got {self.init!r}")

    @property
    def g_blocks(self) -> int:
        """Down (and up) blocks of the generator: ``log2(R) − 4``."""
        return int(math.log2(self.image_size)) - 4

    @property
    def d_blocks(self) -> int:
        """Down blocks of the style encoder and the discriminator: ``log2(R) − 2``."""
        return int(math.log2(self.image_size)) - 2

    def widths(self, blocks: int) -> list[tuple[int, int]]:
        """(in, out) channels of ``blocks`` successive down blocks from ``first_width``."""
        out, w = [], self.first_width
        for _ in range(blocks):
            nxt = min(2 * w, self.max_width)
            out.append((w, nxt))
            w = nxt
        return out
