"""Random thin-plate-spline warps for image-only datasets (spec ``models.md`` §2.9), via kornia.

[KG]'s ``TPSRandomSampler``: pad the image by ``R/2`` on each side (replicate), place ``g×g``
control points on [-1,1]² of the padded image, move them by a random affine map (rotation
``N(0, 5°)``, scale ``1 + N(0, 0.05)``, translation ``N(0, 0.05)`` per axis) plus per-point
noise ``0.0005·N(0,1) + 0.005·m·N(0,1)`` with ``m ~ Bernoulli(0.5)``, warp with kornia's TPS
(``grid_sample``, half-pixel centres) and crop back. All randomness comes from the caller's
generator, so a step's warp is a function of (seed, step). [KG] keeps a cache of 1 000 grids
resampled with probability 0.01; lkbench samples fresh parameters every step [L].
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class TPSParams:
    """Magnitudes of the random warp (defaults: [KG]'s)."""
    grid: int = 10
    rotation_deg: float = 5.0
    scale: float = 0.05
    translation: float = 0.05
    warp_small: float = 0.0005
    warp_large: float = 0.005


def control_grid(g: int, device=None) -> Tensor:
    """``[g·g, 2]`` control points (x, y) evenly on [-1, 1]²."""
    c = torch.linspace(-1, 1, g, device=device)
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], -1)


def random_targets(n: int, params: TPSParams, gen: torch.Generator,
                   device=None) -> tuple[Tensor, Tensor]:
    """Control points ``[n,g·g,2]`` and their randomly moved targets ``[n,g·g,2]``."""
    src = control_grid(params.grid, device).expand(n, -1, -1)

    def normal(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=gen, device=device)

    angle = normal(n) * math.radians(params.rotation_deg)
    scale = 1 + normal(n) * params.scale
    shift = normal(n, 1, 2) * params.translation
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # [n,2,2]
    moved = src @ rot.transpose(1, 2) + shift
    mask = (torch.rand(n, src.shape[1], 1, generator=gen, device=device) < 0.5).float()
    noise = (params.warp_small * normal(n, src.shape[1], 2)
             + params.warp_large * mask * normal(n, src.shape[1], 2))
    return src, moved + noise


def tps_warp(images: Tensor, src: Tensor, dst: Tensor) -> Tensor:
    """Warp ``images`` ``[B,C,R,R]`` so content at control points ``src`` moves to ``dst``
    (both ``[B,N,2]``, coordinates of the padded ``2R`` canvas in [-1, 1]). Zero displacement
    (``dst == src``) returns the images unchanged up to float round-off."""
    from kornia.geometry.transform import get_tps_transform, warp_image_tps

    r = images.shape[-1]
    pad = r // 2
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    # warp_image_tps maps output pixels back to input pixels: weights from dst → src.
    kernel, affine = get_tps_transform(dst.float(), src.float())
    warped = warp_image_tps(padded.float(), src.float(), kernel, affine, align_corners=False,
                            padding_mode="border")
    return warped[..., pad:pad + r, pad:pad + r].to(images.dtype)


def random_tps(images: Tensor, gen: torch.Generator, params: TPSParams = TPSParams()) -> Tensor:
    """A random TPS warp of each image (see module docstring); ``[B,C,R,R]`` → same shape."""
    src, dst = random_targets(images.shape[0], params, gen, images.device)
    return tps_warp(images, src, dst)
