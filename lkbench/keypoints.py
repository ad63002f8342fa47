"""THE coordinate convention of lkbench, defined once.

Keypoints are float32 tensors ``[..., K, 2]`` holding ``(x, y) = (column, row)`` normalised to
``[-1, 1]`` in *continuous* image coordinates: ``-1`` is the left/top EDGE of the image and
``+1`` the right/bottom EDGE, exactly as ``torch.nn.functional.grid_sample(align_corners=False)``
reads them. Consequences:

* the centre of 0-based pixel ``i`` of a side-``R`` image lies at ``(2i + 1)/R - 1``;
* resizing an image leaves every point's normalised coordinates unchanged;
* "pixel coordinates" below are 0-based pixel-centre coordinates: pixel ``i``'s centre is ``i``,
  the image edges are at ``-0.5`` and ``R - 0.5``. Loaders of 1-based annotations subtract 1
  before calling :func:`from_pixels`.

The evaluation protocols work in the "[0, 1] frame" (top-left origin, edges at 0 and 1),
reached with :func:`to_unit` / :func:`from_unit`: ``u = (v + 1) / 2``.

All functions accept torch tensors or numpy arrays and return the same kind, computing in the
input's floating dtype (integers are promoted to float64 for numpy and float32 for torch).
"""
from __future__ import annotations

from typing import TypeVar, Union

import numpy as np
import torch

Array = TypeVar("Array", torch.Tensor, np.ndarray)
Size = Union[int, tuple[int, int]]


def _as_float(a):
    if isinstance(a, torch.Tensor):
        return a if a.is_floating_point() else a.to(torch.float32)
    a = np.asarray(a)
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


def _wh(size: Size, like) -> "torch.Tensor | np.ndarray":
    """Per-axis image extent ``(W, H)`` broadcastable against ``[..., 2]`` (x, y) arrays."""
    w, h = (size, size) if isinstance(size, int) else (size[1], size[0])
    if isinstance(like, torch.Tensor):
        return torch.tensor([w, h], dtype=like.dtype, device=like.device)
    return np.array([w, h], dtype=like.dtype)


def to_pixels(kp: Array, size: Size) -> Array:
    """Normalised ``[-1, 1]`` (x, y) → 0-based pixel-centre (x, y).

    Args:
        kp: ``[..., 2]`` (x, y) in the project convention.
        size: image side ``R`` for square images, or ``(H, W)``.

    Returns:
        ``[..., 2]`` (x, y) pixels; ``-1 → -0.5`` (left edge), ``(2i+1)/R - 1 → i``.
    """
    kp = _as_float(kp)
    return (kp + 1) * _wh(size, kp) / 2 - 0.5


def from_pixels(px: Array, size: Size) -> Array:
    """0-based pixel-centre (x, y) → normalised ``[-1, 1]`` (x, y). Inverse of :func:`to_pixels`.

    Args:
        px: ``[..., 2]`` (x, y) in pixels, pixel ``i``'s centre at ``i``.
        size: image side ``R`` for square images, or ``(H, W)``.
    """
    px = _as_float(px)
    return (2 * px + 1) / _wh(size, px) - 1


def swap_xy(kp: Array) -> Array:
    """``(row, col)`` ↔ ``(x, y)``: reverse the last axis (its own inverse)."""
    return kp.flip(-1) if isinstance(kp, torch.Tensor) else np.asarray(kp)[..., ::-1].copy()


def rowcol_to_xy(rc: Array) -> Array:
    """``[..., 2]`` (row, col) → (x, y). Units are unchanged."""
    return swap_xy(rc)


def xy_to_rowcol(xy: Array) -> Array:
    """``[..., 2]`` (x, y) → (row, col). Units are unchanged."""
    return swap_xy(xy)


def to_unit(kp: Array) -> Array:
    """``[-1, 1]`` → the protocols' ``[0, 1]`` frame (top-left origin): ``u = (v + 1) / 2``."""
    return (_as_float(kp) + 1) / 2


def from_unit(u: Array) -> Array:
    """The ``[0, 1]`` frame → ``[-1, 1]``: ``v = 2u - 1``. Inverse of :func:`to_unit`."""
    return 2 * _as_float(u) - 1


def pixel_centers(size: int, *, dtype: torch.dtype = torch.float32,
                  device: "torch.device | str | None" = None) -> torch.Tensor:
    """The ``size`` pixel-centre coordinates of one image axis: ``(2i + 1)/size - 1``, ``[size]``."""
    i = torch.arange(size, dtype=dtype, device=device)
    return (2 * i + 1) / size - 1


def heatmap_grid(height: int, width: "int | None" = None, *, dtype: torch.dtype = torch.float32,
                 device: "torch.device | str | None" = None) -> torch.Tensor:
    """Normalised (x, y) of every pixel centre of an ``H×W`` heatmap.

    Returns:
        ``[H, W, 2]`` with ``grid[r, c] = (x_c, y_r)``; the same points that
        ``grid_sample(align_corners=False)`` samples at pixel centres, so a Gaussian heatmap
        drawn on this grid peaks at the pixel that contains the keypoint.
    """
    width = height if width is None else width
    ys = pixel_centers(height, dtype=dtype, device=device)
    xs = pixel_centers(width, dtype=dtype, device=device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1)
