"""Keypoint overlays: image grids with one colour per landmark, saved as PNG.

Images arrive in the project convention (float32 ``[N,3,H,W]`` in ``[-1,1]``, keypoints float32
``[N,K,2]`` (x, y) in ``[-1,1]``, see :mod:`lkbench.keypoints`) and leave as uint8 ``[3,H,W]``.
Drawing uses torchvision (``draw_keypoints``, ``make_grid``); the optional legend uses matplotlib
through its object API with the Agg canvas, so importing or calling this module never changes
matplotlib's global backend or state.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from .atomic import atomic_write
from .errors import DataError
from .keypoints import to_pixels

LANDMARK_COLOURS: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (255, 225, 25), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
    (170, 255, 195), (128, 128, 0), (255, 215, 180), (0, 0, 128), (128, 128, 128),
)
"""Colour of landmark ``k`` is ``LANDMARK_COLOURS[k % 20]`` (a high-contrast 20-colour set)."""


def landmark_colour(k: int) -> tuple[int, int, int]:
    """RGB uint8 colour of landmark index ``k``, the same in every image and plot."""
    return LANDMARK_COLOURS[k % len(LANDMARK_COLOURS)]


def images_to_uint8(images: Tensor) -> Tensor:
    """float ``[..., 3, H, W]`` in ``[-1, 1]`` → uint8 in ``[0, 255]``: ``round((x + 1)·127.5)``,
    values outside the range clipped."""
    return ((images.detach().float().cpu() + 1) * 127.5).round_().clamp_(0, 255).to(torch.uint8)


def upscale_factor(size: int, min_tile: int) -> int:
    """Smallest integer factor that brings an image side ``size`` to at least ``min_tile``."""
    return max(1, -(-min_tile // size))


def upscale(images: Tensor, min_tile: int = 96) -> Tensor:
    """Nearest-neighbour enlargement of ``[N,3,H,W]`` by an integer factor so that the longer
    side reaches ``min_tile`` pixels (small samples stay legible in grids). Keypoints in the
    project convention stay valid: they do not depend on the image size."""
    f = upscale_factor(max(images.shape[-2:]), min_tile)
    return images if f == 1 else images.repeat_interleave(f, -2).repeat_interleave(f, -1)


def _check(images: Tensor, keypoints: Tensor, visible: "Tensor | None") -> Tensor:
    if images.dim() != 4 or images.shape[1] != 3:
        raise DataError(f"images must be [N,3,H,W], got shape {tuple(images.shape)}")
    n, k = images.shape[0], keypoints.shape[1] if keypoints.dim() == 3 else -1
    if keypoints.dim() != 3 or keypoints.shape[0] != n or keypoints.shape[2] != 2:
        raise DataError(f"keypoints must be [N,K,2] with N={n}, got shape {tuple(keypoints.shape)}")
    if n == 0:
        raise DataError("cannot draw a grid of zero images")
    if visible is None:
        return torch.ones(n, k, dtype=torch.bool)
    if tuple(visible.shape) != (n, k):
        raise DataError(f"visible must be [N,K] = [{n},{k}], got shape {tuple(visible.shape)}")
    return visible.detach().cpu().bool()


def keypoint_grid(images: Tensor, keypoints: Tensor, visible: "Tensor | None" = None, *,
                  nrow: int = 8, names: "Sequence[str] | None" = None, radius: "int | None" = None,
                  padding: int = 2) -> Tensor:
    """Draw each image's keypoints (landmark ``k`` in :func:`landmark_colour` ``(k)``) and tile.

    Args:
        images: float32 ``[N,3,H,W]`` in ``[-1, 1]``.
        keypoints: float32 ``[N,K,2]`` (x, y) in ``[-1, 1]``; NaN or invisible points are skipped.
        visible: optional bool ``[N,K]``.
        nrow: images per grid row.
        names: optional K landmark names; adds a colour legend below the grid.
        radius: dot radius in pixels (default: 1/64 of the image side, at least 1).
        padding: pixels between tiles.

    Returns:
        uint8 ``[3, H_grid, W_grid]``; without ``names`` exactly
        ``torchvision.utils.make_grid``'s size for ``N`` tiles of ``H×W``.

    Raises:
        DataError: mismatched shapes, no images, or ``names`` of the wrong length.
    """
    from torchvision.utils import draw_keypoints, make_grid

    vis = _check(images, keypoints, visible)
    n, _, h, w = images.shape
    k = keypoints.shape[1]
    if names is not None and len(names) != k:
        raise DataError(f"got {len(names)} landmark names for {k} keypoints")
    radius = max(1, round(min(h, w) / 64)) if radius is None else radius
    pix = to_pixels(keypoints.detach().float().cpu(), (h, w))
    vis = vis & torch.isfinite(pix).all(-1)
    # draw_keypoints truncates to int64; round first so a dot sits on the nearest pixel.
    pix = torch.nan_to_num(pix).round_()
    tiles = images_to_uint8(images)
    drawn = []
    for i in range(n):
        tile = tiles[i]
        for j in range(k):
            if vis[i, j]:
                tile = draw_keypoints(tile, pix[i, j].view(1, 1, 2), colors=landmark_colour(j),
                                      radius=radius, width=0)
        drawn.append(tile)
    grid = make_grid(torch.stack(drawn), nrow=nrow, padding=padding, pad_value=255)
    if names is None:
        return grid
    legend = legend_image(names, width=grid.shape[2])
    return torch.cat([grid, legend], dim=1)


def legend_image(names: Sequence[str], *, width: int, row_height: int = 18) -> Tensor:
    """A white strip naming each landmark in its colour, uint8 ``[3, h, width]``.

    Rendered with matplotlib's object API on an Agg canvas (no pyplot, no global backend change).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    per_row = max(1, width // 110)
    rows = -(-len(names) // per_row)
    height = rows * row_height + 4
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    for j, name in enumerate(names):
        r, c = divmod(j, per_row)
        x = (c * 110 + 6) / width
        y = 1 - (r * row_height + row_height / 2 + 2) / height
        colour = tuple(v / 255 for v in landmark_colour(j))
        fig.text(x, y, "\u25cf", color=colour, fontsize=9, va="center", ha="left")
        fig.text(x + 14 / width, y, name, color="black", fontsize=8, va="center", ha="left")
    canvas.draw()
    rgba = torch.frombuffer(bytearray(canvas.buffer_rgba()), dtype=torch.uint8)
    rgba = rgba.view(canvas.get_width_height()[1], canvas.get_width_height()[0], 4)
    strip = rgba[..., :3].permute(2, 0, 1).contiguous()
    # Agg may round the figure size by a pixel; crop or pad to the exact width.
    strip = strip[:, :, :width]
    if strip.shape[2] < width:
        pad = torch.full((3, strip.shape[1], width - strip.shape[2]), 255, dtype=torch.uint8)
        strip = torch.cat([strip, pad], dim=2)
    return strip


def save_png(path: "str | os.PathLike[str]", image: Tensor) -> Path:
    """Write uint8 ``[3,H,W]`` to ``path`` as PNG atomically (temp file + ``os.replace``).

    Parent folders are created. Returns the path written.
    """
    from PIL import Image

    if image.dtype != torch.uint8 or image.dim() != 3 or image.shape[0] != 3:
        raise DataError(f"save_png needs uint8 [3,H,W], got {image.dtype} {tuple(image.shape)}")
    path = Path(path)
    with atomic_write(path) as fh:
        Image.fromarray(image.permute(1, 2, 0).contiguous().numpy()).save(fh, format="PNG")
    return path


def save_keypoint_grid(path: "str | os.PathLike[str]", images: Tensor, keypoints: Tensor,
                       visible: "Tensor | None" = None, *, nrow: int = 8,
                       names: "Sequence[str] | None" = None, radius: "int | None" = None,
                       padding: int = 2) -> Path:
    """:func:`keypoint_grid` written to ``path`` as PNG, atomically. Returns the path.

    Example:
        >>> ds = lkbench.data.get_dataset("synthetic", split="test", image_size=128)
        >>> b = ds.batch(range(16))
        >>> save_keypoint_grid("grid.png", b.images, b.keypoints, b.visible,
        ...                    names=ds.landmark_names)
    """
    grid = keypoint_grid(images, keypoints, visible, nrow=nrow, names=names, radius=radius,
                         padding=padding)
    return save_png(path, grid)
