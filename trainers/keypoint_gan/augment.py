"""Random similarity transforms of training images and prior poses (lkbench's, not [KG]'s).

KeypointGAN learns pose only if the reconstruction of ``x`` needs it: when the appearance
image ``x′`` already has ``x``'s geometry, Ψ copies it and the pose encoder Φ may output one
constant skeleton. Datasets whose poses barely vary (the synthetic ``easy`` faces: landmark
std ≈ 0.06 normalised units, under one pixel at 32 px) leave Φ nothing to learn. Drawing an
*independent* random rotation, scale and shift for ``x``, for ``x′`` and for each prior pose
makes pose vary, keeps ``x′`` uninformative about ``x``'s pose, and keeps the pose prior's
distribution equal to the images' (the prior is transformed by the same law). Measured on the
synthetic demo (32 px, 1 500 main steps, ±15°, ±10 %, ±0.15): this alone did not stop the
collapse — Φ still emitted one skeleton and Ψ a blurred average face — so it is a knob for
experiments, off by default.

Conventions: images ``[B,C,R,R]``; keypoints ``[B,K,2]`` (x, y) in [-1, 1] with ±1 at the image
edges (``grid_sample(align_corners=False)``'s frame, :mod:`lkbench.keypoints`). A transform is
``theta [B,2,3]`` mapping an output position ``q`` to the input position ``p = A q + t`` it
samples, as :func:`torch.nn.functional.affine_grid` takes it; a keypoint at ``p`` therefore
lands at ``q = A⁻¹ (p − t)``. Outside the image the border pixels are repeated.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["SimilarityAugment", "random_similarity", "warp_images", "warp_keypoints"]


@dataclass(frozen=True)
class SimilarityAugment:
    """Ranges of the uniform random similarity transform (all 0 = off).

    Attributes:
        rotation_deg: rotation in ``[−r, r]`` degrees.
        scale: zoom factor in ``[1 − s, 1 + s]`` (> 1 enlarges the content).
        shift: translation of the content in ``[−t, t]`` per axis, normalised units (1 = half
            the image side).
    """
    rotation_deg: float = 0.0
    scale: float = 0.0
    shift: float = 0.0

    def __post_init__(self) -> None:
        if self.rotation_deg < 0 or not 0 <= self.scale < 1 or self.shift < 0:
            raise ValueError("augment ranges must be >= 0 (scale < 1), got "
                             f"rotation_deg={self.rotation_deg}, scale={self.scale}, "
                             f"shift={self.shift}")

    @property
    def enabled(self) -> bool:
        return bool(self.rotation_deg or self.scale or self.shift)


def random_similarity(n: int, aug: SimilarityAugment, gen: torch.Generator,
                      device: "torch.device | str | None" = None) -> Tensor:
    """``theta [n,2,3]`` of ``n`` independent random similarities (output → input positions)."""
    def uniform(bound: float, *shape: int) -> Tensor:
        return (torch.rand(*shape, generator=gen, device=device) * 2 - 1) * bound

    angle = uniform(math.radians(aug.rotation_deg), n)
    zoom = 1 + uniform(aug.scale, n)
    shift = uniform(aug.shift, n, 2)
    # content rotated by +angle, zoomed by `zoom` and moved by `shift`: sample the input at
    # p = R(−angle) q / zoom − R(−angle) shift / zoom.
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    a = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)  # [n,2,2]
    t = -(a @ shift.unsqueeze(-1))
    return torch.cat([a, t], -1)


def warp_images(images: Tensor, theta: Tensor) -> Tensor:
    """Resample ``images`` ``[B,C,R,R]`` through ``theta`` (bilinear, border padding)."""
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border",
                         align_corners=False)


def warp_keypoints(keypoints: Tensor, theta: Tensor) -> Tensor:
    """Where keypoints ``[B,K,2]`` land after :func:`warp_images` with the same ``theta``."""
    a, t = theta[..., :2].to(keypoints.dtype), theta[..., 2].to(keypoints.dtype)
    return torch.linalg.solve(a.unsqueeze(1), (keypoints - t.unsqueeze(1)).unsqueeze(-1)
                              ).squeeze(-1)
