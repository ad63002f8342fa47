"""Part heatmaps of LatentKeypointGAN (``docs/models.md`` §1.4), free of subnormal floats.

A keypoint ``p`` becomes ``H(x) = exp(-‖x − p‖² / τ)`` on the pixel-centre grid of
:func:`lkbench.keypoints.heatmap_grid` (τ in normalised [-1, 1] units, the same at every level).
The background part is ``1 − max_j H_j``.

**Why a cut-off.** Far from its keypoint ``exp(-e)`` falls below float32's smallest normal number
(``e > 87.3``) and stays subnormal until it underflows to 0 (``e > 103.3``): a ring covering a
large share of every map. x86 CPUs compute on subnormal operands many times slower, and the
heatmaps feed every SPADE convolution and their gradients, so an unguarded G+D step runs several
times slower on a CPU (``benchmarks/bench_lkg.py`` measures it). Instead of a process-wide
``torch.set_flush_denormal`` (which changes other people's numerics), values below
:data:`HEATMAP_CUTOFF` = 2⁻⁴⁰ ≈ 9.1e-13 are set to exactly 0 by construction. A heatmap then
moves by at most 9.1e-13 per pixel, five orders of magnitude below float32 resolution at 1
(2⁻²⁴ ≈ 6e-8), so images change by less than float tolerance (``tests`` check it); products of
the remaining values with weights of ordinary size stay normal.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from lkbench.keypoints import heatmap_grid

HEATMAP_CUTOFF = 2.0 ** -40
"""Heatmap values below this are set to 0 (see the module docstring)."""
_EXPONENT_CUTOFF = -math.log(HEATMAP_CUTOFF)  # exp(-e) < cut-off  ⇔  e > 27.73


def part_heatmaps(keypoints: Tensor, tau: Tensor, size: int, *, kind: str = "gaussian",
                  guard: bool = True) -> Tensor:
    """Heatmaps of every keypoint at one resolution.

    Args:
        keypoints: float ``[N,P,2]`` (x, y) in [-1, 1] (project convention).
        tau: float ``[N,P]`` (or broadcastable to it): the width τ of each part, normalised units
            (Gaussian: ``exp(-d²/τ)``; linear cone: ``max(1 − d/τ, 0)``).
        size: side ``r`` of the map, pixels.
        kind: ``gaussian`` (default) or ``linear`` (GANSeg's cone).
        guard: flush values below :data:`HEATMAP_CUTOFF` to 0 (keep True; False exists to
            measure what subnormals cost).

    Returns:
        float ``[N,P,r,r]`` in [0, 1], peaking at the pixel that contains each keypoint.
    """
    grid = heatmap_grid(size, dtype=keypoints.dtype, device=keypoints.device)  # [r,r,2]
    diff = grid.view(1, 1, size, size, 2) - keypoints.view(*keypoints.shape[:2], 1, 1, 2)
    d2 = diff.pow(2).sum(-1)                                                   # [N,P,r,r]
    tau = torch.as_tensor(tau, dtype=keypoints.dtype, device=keypoints.device)
    tau = tau.expand(keypoints.shape[:2]).unsqueeze(-1).unsqueeze(-1)
    if kind == "gaussian":
        e = d2 / tau
        h = torch.exp(-e)
        return torch.where(e > _EXPONENT_CUTOFF, torch.zeros_like(h), h) if guard else h
    if kind == "linear":
        # sqrt has an infinite derivative at 0: keep the gradient finite on the keypoint itself.
        h = (1 - torch.sqrt(d2 + 1e-12) / tau).clamp_min(0)
        return torch.where(h < HEATMAP_CUTOFF, torch.zeros_like(h), h) if guard else h
    raise ValueError(f"unknown heatmap kind {kind!r}; use 'gaussian' or 'linear'")


def background_heatmap(parts: Tensor, active: Tensor) -> Tensor:
    """``1 − max_j H_j`` over the active parts: float ``[N,1,r,r]``.

    Args:
        parts: ``[N,P,r,r]`` part heatmaps.
        active: bool ``[N,P]``; inactive parts do not cover the background (removal leaves the
            background to fill the hole).
    """
    n, _, h, w = parts.shape
    if parts.shape[1] == 0:
        return parts.new_ones(n, 1, h, w)
    masked = parts * active[:, :, None, None].to(parts.dtype)
    return 1 - masked.amax(dim=1, keepdim=True)
