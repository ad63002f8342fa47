"""Batched, anti-aliased 2-D shape drawing for procedural datasets.

Shapes are described by approximate signed distances (negative inside) evaluated on a whole batch
of coordinate grids at once; :func:`coverage` turns a distance into a per-pixel opacity with a
one-pixel linear ramp (a box-filter approximation, so edges look the same at every resolution) and
:func:`paint` composites a colour over the canvas.

Every function here uses only exactly rounded IEEE operations (``+ - * /``, ``sqrt``, ``abs``,
``floor``, ``min``/``max``/``clamp``): no ``exp``/``sin``/``lerp``, whose vectorised and scalar
CPU kernels may differ in the last bit. An output pixel therefore does not depend on where its
sample sits in the batch, which is what makes datasets byte-identical under any batching.

Shapes: coordinates ``x, y`` are float32 ``[N,H,W]``; shape parameters are tensors broadcastable
to that (usually ``[N,1,1]``) or Python floats; canvases are float32 ``[N,3,H,W]``.
"""
from __future__ import annotations

from typing import Union

import torch
from torch import Tensor

Scalar = Union[Tensor, float]


def _sqrt(v: Scalar) -> Scalar:
    return torch.sqrt(v) if isinstance(v, Tensor) else v ** 0.5


def ellipse_sd(x: Tensor, y: Tensor, cx: Scalar, cy: Scalar, ax: Scalar, ay: Scalar) -> Tensor:
    """Approximate signed distance to the axis-aligned ellipse ``((x-cx)/ax)² + ((y-cy)/ay)² = 1``.

    ``(r − 1)·√(ax·ay)`` with ``r`` the elliptical radius: exact for circles and off by at most
    ``√(aspect)`` along the axes of an ellipse, which only changes how wide the one-pixel
    anti-aliasing ramp is; the shape's boundary (``sd = 0``) is exact.
    """
    u = (x - cx) * (1 / ax)
    v = (y - cy) * (1 / ay)
    return (torch.sqrt(u * u + v * v) - 1) * _sqrt(ax * ay)


def capsule_sd(x: Tensor, y: Tensor, ax: Scalar, ay: Scalar, bx: Scalar, by: Scalar,
               radius: Scalar) -> Tensor:
    """Exact signed distance to the segment ``(ax,ay)–(bx,by)`` thickened by ``radius``."""
    px = x - ax
    py = y - ay
    dx = bx - ax
    dy = by - ay
    h = ((px * dx + py * dy) / (dx * dx + dy * dy + 1e-12)).clamp_(0, 1)
    ex = px - dx * h
    ey = py - dy * h
    return torch.sqrt(ex * ex + ey * ey) - radius


def coverage(sd: Tensor, pixel: Scalar, opacity: "Scalar | None" = None) -> Tensor:
    """Opacity in ``[0, 1]`` of a shape with signed distance ``sd``.

    Args:
        sd: signed distance, negative inside, ``[N,H,W]``.
        pixel: the width of one pixel in the units of ``sd`` (anti-aliasing ramp width).
        opacity: optional per-sample factor (e.g. 0/1 to switch a part off).
    """
    a = (0.5 - sd / pixel).clamp_(0, 1)
    return a if opacity is None else a * opacity


def paint(canvas: Tensor, alpha: Tensor, colour: Tensor) -> Tensor:
    """Composite ``colour`` over ``canvas`` in place: ``canvas += alpha · (colour − canvas)``.

    Args:
        canvas: float32 ``[N,3,H,W]``.
        alpha: float32 ``[N,H,W]`` in ``[0, 1]``.
        colour: float32 ``[N,3]`` (flat colour) or ``[N,3,H,W]`` (shaded colour field).
    """
    if colour.dim() == 2:
        colour = colour[:, :, None, None]
    diff = colour - canvas
    return canvas.add_(diff.mul_(alpha.unsqueeze(1)))


def smoothstep(t: Tensor) -> Tensor:
    """``3t² − 2t³`` for ``t`` in ``[0, 1]``: a smooth ramp with zero slope at both ends."""
    return t * t * (3 - 2 * t)


def triangle_wave(t: Tensor) -> Tensor:
    """Period-1 triangle wave in ``[0, 1]``: 1 at integers, 0 at half-integers."""
    return (2 * (t - torch.floor(t)) - 1).abs()


def hsv_to_rgb(h: Tensor, s: Tensor, v: Tensor) -> Tensor:
    """HSV → RGB, all in ``[0, 1]``; ``h, s, v`` are ``[N]``, the result ``[N,3]``.

    Piecewise-linear form ``v · (1 − s · (1 − clamp(|(6h + k) mod 6 − 3| − 1, 0, 1)))`` with
    ``k = 0, 4, 2`` for R, G, B (exactly rounded operations only).
    """
    k = torch.tensor([0.0, 4.0, 2.0], dtype=h.dtype, device=h.device)
    t = h[:, None] * 6 + k
    t = t - 6 * torch.floor(t / 6)
    ramp = ((t - 3).abs() - 1).clamp(0, 1)
    return v[:, None] * (1 - s[:, None] * (1 - ramp))
