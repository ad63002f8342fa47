"""StarGAN-v2-lite networks and the L2M latent manipulator (``docs/models.md`` §3.1–3.2, §3.5).

Shapes (``B`` batch, ``R`` image side, ``S`` style size, ``Y`` domains):

* generator ``G(x [B,3,R,R], s [B,S]) -> [B,3,R,R]``: from-RGB conv, ``log2(R) − 4`` down
  ResBlks (instance norm), 2 bottleneck ResBlks, then 2 bottleneck and ``log2(R) − 4`` up AdaIN
  ResBlks driven by ``s``, to-RGB. No high-pass skip (``w_hpf = 0``), no tanh (StarGAN v2).
* style encoder ``E(x, y [B]) -> [B,S]``: ``log2(R) − 2`` down ResBlks to 4×4, conv 4×4, one
  linear head per domain; the head of each image's own domain ``y`` is returned.
* discriminator ``D(x, y) -> [B]``: the same trunk, one real/fake logit per domain.
* manipulator: ``M`` and one ``T_y`` per domain, MLPs of width ``S``:
  ``s_irr = M(s)``, ``s_rel = s − s_irr``, ``s̃_rel = T_ỹ(s_rel)``, ``s̃ = s_irr + s̃_rel``.

Images are float32 in [-1, 1]; labels are long domain indices (0 = attribute absent).
"""
from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import INITS, L2MConfig

MODEL_NAME = "l2m-gan"
_SQRT2 = math.sqrt(2.0)


class ResBlk(nn.Module):
    """Pre-activation residual block (optional instance norm and 2× average-pool down)."""

    def __init__(self, c_in: int, c_out: int, normalize: bool = False, downsample: bool = False):
        super().__init__()
        self.downsample = downsample
        self.conv1 = nn.Conv2d(c_in, c_in, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.norm1 = nn.InstanceNorm2d(c_in, affine=True) if normalize else nn.Identity()
        self.norm2 = nn.InstanceNorm2d(c_in, affine=True) if normalize else nn.Identity()
        self.shortcut = nn.Conv2d(c_in, c_out, 1, bias=False) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        sc = self.shortcut(x)
        h = self.conv1(F.leaky_relu(self.norm1(x), 0.2))
        if self.downsample:
            sc, h = F.avg_pool2d(sc, 2), F.avg_pool2d(h, 2)
        h = self.conv2(F.leaky_relu(self.norm2(h), 0.2))
        return (sc + h) / _SQRT2


class AdaIN(nn.Module):
    """Instance norm whose scale ``1 + γ`` and shift ``β`` come from the style code."""

    def __init__(self, style_dim: int, channels: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.fc = nn.Linear(style_dim, 2 * channels)

    def forward(self, x: Tensor, s: Tensor) -> Tensor:
        gamma, beta = self.fc(s)[:, :, None, None].chunk(2, dim=1)
        return (1 + gamma) * self.norm(x) + beta


class AdainResBlk(nn.Module):
    """Residual block with AdaIN (optional 2× nearest up-sampling)."""

    def __init__(self, c_in: int, c_out: int, style_dim: int, upsample: bool = False):
        super().__init__()
        self.upsample = upsample
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.norm1 = AdaIN(style_dim, c_in)
        self.norm2 = AdaIN(style_dim, c_out)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, bias=False) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, s: Tensor) -> Tensor:
        h = F.leaky_relu(self.norm1(x, s), 0.2)
        if self.upsample:
            h, x = F.interpolate(h, scale_factor=2.0), F.interpolate(x, scale_factor=2.0)
        h = self.conv2(F.leaky_relu(self.norm2(self.conv1(h), s), 0.2))
        return (self.shortcut(x) + h) / _SQRT2


class Generator(nn.Module):
    """``G(x, s)``: encoder–decoder translating ``x`` to the style ``s`` (see module doc)."""

    def __init__(self, cfg: L2MConfig):
        super().__init__()
        self.from_rgb = nn.Conv2d(3, cfg.first_width, 3, 1, 1)
        widths = cfg.widths(cfg.g_blocks)
        self.encode = nn.ModuleList(ResBlk(a, b, normalize=True, downsample=True)
                                    for a, b in widths)
        self.decode = nn.ModuleList(AdainResBlk(b, a, cfg.style_dim, upsample=True)
                                    for a, b in reversed(widths))
        bottom = widths[-1][1] if widths else cfg.first_width
        for _ in range(2):
            self.encode.append(ResBlk(bottom, bottom, normalize=True))
            self.decode.insert(0, AdainResBlk(bottom, bottom, cfg.style_dim))
        self.to_rgb = nn.Sequential(nn.InstanceNorm2d(cfg.first_width, affine=True),
                                    nn.LeakyReLU(0.2), nn.Conv2d(cfg.first_width, 3, 1))

    def forward(self, x: Tensor, s: Tensor) -> Tensor:
        h = self.from_rgb(x)
        for block in self.encode:
            h = block(h)
        for block in self.decode:
            h = block(h, s)
        return self.to_rgb(h)


class _Trunk(nn.Module):
    """Shared E/D trunk: from-RGB, ``log2(R) − 2`` down ResBlks, conv 4×4 → ``[B, C]``."""

    def __init__(self, cfg: L2MConfig):
        super().__init__()
        widths = cfg.widths(cfg.d_blocks)
        out = widths[-1][1]
        self.net = nn.Sequential(
            nn.Conv2d(3, cfg.first_width, 3, 1, 1),
            *(ResBlk(a, b, downsample=True) for a, b in widths),
            nn.LeakyReLU(0.2), nn.Conv2d(out, out, 4, 1, 0), nn.LeakyReLU(0.2))
        self.out_channels = out

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten(1)


class StyleEncoder(nn.Module):
    """``E(x, y)``: style code ``[B,S]`` of ``x`` read by the head of domain ``y``."""

    def __init__(self, cfg: L2MConfig):
        super().__init__()
        self.trunk = _Trunk(cfg)
        self.heads = nn.ModuleList(nn.Linear(self.trunk.out_channels, cfg.style_dim)
                                   for _ in range(cfg.num_domains))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.trunk(x)
        all_heads = torch.stack([head(h) for head in self.heads], 1)        # [B,Y,S]
        return all_heads[torch.arange(x.shape[0], device=x.device), y]


class Discriminator(nn.Module):
    """``D(x, y)``: the real/fake logit ``[B]`` of each image's domain head ``y``."""

    def __init__(self, cfg: L2MConfig):
        super().__init__()
        self.trunk = _Trunk(cfg)
        self.head = nn.Linear(self.trunk.out_channels, cfg.num_domains)  # = conv 1×1 on 1×1
        INITS[cfg.init](self)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        logits = self.head(self.trunk(x))                                  # [B,Y]
        return logits[torch.arange(x.shape[0], device=x.device), y]


def _mlp(width: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(layers):
        mods.append(nn.Linear(width, width))
        if i < layers - 1:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


class Split(NamedTuple):
    """A style code factorised by the manipulator; all ``[B,S]``.

    ``code = irrelevant + relevant`` (algebraically; ``relevant = code − irrelevant``);
    ``transformed`` is ``T_target(relevant)``.
    """
    code: Tensor
    irrelevant: Tensor
    relevant: Tensor
    transformed: Tensor

    def edited(self, alpha: "float | Tensor" = 1.0) -> Tensor:
        """``s + α·(s̃_rel − s_rel)`` = ``s_irr + s_rel + α·(s̃_rel − s_rel)`` ([L2Mo] ``--degree``).

        Written around ``s`` so that ``α = 0`` returns the source code bit for bit (and α = 1
        is ``s_irr + s̃_rel`` up to rounding).
        """
        return self.code + alpha * (self.transformed - self.relevant)


class Manipulator(nn.Module):
    """``M`` (irrelevant part) and one transformer ``T_y`` per target domain."""

    def __init__(self, cfg: L2MConfig):
        super().__init__()
        self.irrelevant = _mlp(cfg.style_dim, cfg.mlp_layers)
        self.transform = nn.ModuleList(_mlp(cfg.style_dim, cfg.mlp_layers)
                                       for _ in range(cfg.num_domains))

    def forward(self, s: Tensor, target: Tensor) -> Split:
        irr = self.irrelevant(s)
        rel = s - irr
        all_t = torch.stack([t(rel) for t in self.transform], 1)           # [B,Y,S]
        return Split(s, irr, rel, all_t[torch.arange(s.shape[0], device=s.device), target])


class L2MEditor(nn.Module):
    """The evaluated model: generator, style encoder and manipulator (``MODELS["l2m-gan"]``).

    Args:
        cfg: architecture.
    """

    def __init__(self, cfg: L2MConfig):
        super().__init__()
        self.cfg = cfg
        self.image_size = cfg.image_size
        self.num_domains = cfg.num_domains
        self.generator = Generator(cfg)
        self.style = StyleEncoder(cfg)
        self.manipulator = Manipulator(cfg)
        INITS[cfg.init](self)

    def split(self, images: Tensor, source: Tensor, target: Tensor) -> Split:
        """Style code of ``images`` in their ``source`` domains, factorised for ``target``."""
        return self.manipulator(self.style(images, source), target)

    def edit(self, images: Tensor, source: Tensor, target: "Tensor | None" = None,
             alpha: float = 1.0) -> Tensor:
        """Translate ``images`` ``[B,3,R,R]`` from domains ``source`` ``[B]`` to ``target``
        (default: the other domain of a binary attribute) with edit strength ``alpha``."""
        source = source.long()
        target = (1 - source) if target is None else target.long()
        return self.generator(images, self.split(images, source, target).edited(alpha))

    def forward(self, images: Tensor, source: Tensor, target: "Tensor | None" = None) -> Tensor:
        return self.edit(images, source, target)


def model_config_dict(cfg: L2MConfig) -> dict[str, Any]:
    """Plain-data config stored in checkpoints."""
    return asdict(cfg)


def from_config(config: dict[str, Any]) -> L2MEditor:
    """``MODELS`` factory: rebuild the editor from a checkpoint's config dict."""
    return L2MEditor(L2MConfig(**config))
