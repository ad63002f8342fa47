"""Grids of edited samples: one row per sample, one labelled column per stage of an edit.

Used by ``lkbench edit``; reusable for any side-by-side comparison of images with keypoints.
Inputs follow the project convention (float ``[N,3,H,W]`` in ``[-1, 1]``, keypoints ``[N,K,2]``
(x, y) in ``[-1, 1]``, :mod:`lkbench.keypoints`). Part ``j`` is drawn in
:func:`lkbench.plots.landmark_colour` of its *colour index* (by default ``j``; pass a column's
``slots`` so parts added by editing share the colour of the part they copy). Text is rendered
with matplotlib's object API on an Agg canvas (no pyplot, no global state), as
:func:`lkbench.plots.legend_image` does.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from lkbench.errors import DataError
from lkbench.keypoints import to_pixels
from lkbench.plots import images_to_uint8, landmark_colour, legend_image, save_png, upscale_factor

__all__ = ["EditColumn", "edit_grid", "save_edit_grid"]


class EditColumn(NamedTuple):
    """One column of an edit grid (a plain 4- or 5-tuple works too).

    Attributes:
        label: text above the column.
        images: float ``[N,3,H,W]`` in ``[-1, 1]``.
        keypoints: float ``[N,K,2]`` (x, y) in ``[-1, 1]``; non-finite points are skipped.
        visible: optional bool ``[N,K]``; False parts (e.g. removed ones) are not drawn.
        colours: optional integer ``[K]``: the colour index of each part (default ``arange(K)``).
    """
    label: str
    images: Tensor
    keypoints: Tensor
    visible: "Tensor | None" = None
    colours: "Tensor | None" = None


def _columns(columns: Sequence) -> list[EditColumn]:
    if not columns:
        raise DataError("an edit grid needs at least one column")
    cols = []
    for c, col in enumerate(columns):
        if not 4 <= len(col) <= 5:
            raise DataError(f"column {c} must be (label, images, keypoints, visible[, colours]), "
                            f"got {len(col)} items")
        cols.append(EditColumn(*col))
    n, _, h, w = cols[0].images.shape if cols[0].images.dim() == 4 else (0, 0, 0, 0)
    for c, col in enumerate(cols):
        im, kp = col.images, col.keypoints
        if im.dim() != 4 or im.shape[1] != 3 or im.shape[0] == 0:
            raise DataError(f"column {c} ({col.label!r}): images must be [N,3,H,W] with N > 0, "
                            f"got shape {tuple(im.shape)}")
        if tuple(im.shape) != (n, 3, h, w):
            raise DataError(f"column {c} ({col.label!r}): images have shape {tuple(im.shape)} "
                            f"but column 0's are {(n, 3, h, w)}; every column needs the same "
                            "samples at the same size")
        if kp.dim() != 3 or kp.shape[0] != n or kp.shape[2] != 2:
            raise DataError(f"column {c} ({col.label!r}): keypoints must be [N,K,2] with N={n}, "
                            f"got shape {tuple(kp.shape)}")
        k = kp.shape[1]
        if col.visible is not None and tuple(col.visible.shape) != (n, k):
            raise DataError(f"column {c} ({col.label!r}): visible must be [{n},{k}], got shape "
                            f"{tuple(col.visible.shape)}")
        if col.colours is not None and tuple(col.colours.shape) != (k,):
            raise DataError(f"column {c} ({col.label!r}): colours must be [{k}], got shape "
                            f"{tuple(col.colours.shape)}")
    return cols


def _tile(image: Tensor, keypoints: Tensor, visible: Tensor, colours: Sequence[int],
          scale: int, radius: int) -> Tensor:
    """uint8 ``[3,H·s,W·s]``: one image upscaled (nearest) with its keypoints drawn on it.

    Each point is a coloured dot in a dark ring, so it shows on light and dark images alike.
    """
    from torchvision.utils import draw_keypoints

    tile = image.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    h, w = tile.shape[1:]
    pix = to_pixels(keypoints, (h, w)).round()
    for j in range(keypoints.shape[0]):
        if not visible[j]:
            continue
        p = pix[j].view(1, 1, 2)
        tile = draw_keypoints(tile, p, colors=(20, 20, 20), radius=radius + 1, width=0)
        tile = draw_keypoints(tile, p, colors=landmark_colour(int(colours[j])), radius=radius,
                              width=0)
    return tile


def _text_strip(items: Sequence[tuple[float, float, str]], *, width: int, height: int,
                fontsize: float) -> Tensor:
    """White uint8 ``[3,height,width]`` with each ``(x, room, text)`` centred at pixel column
    ``x``; text wider than ``room`` pixels is set in a smaller font (down to 4 pt) to fit."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    for x, room, text in items:
        t = fig.text(x / width, 0.5, text, color="black", fontsize=fontsize, ha="center",
                     va="center")
        wide = t.get_window_extent(renderer).width
        if wide > room - 4:
            t.set_fontsize(max(4.0, fontsize * (room - 4) / wide))
    canvas.draw()
    w_px, h_px = canvas.get_width_height()
    rgba = torch.frombuffer(bytearray(canvas.buffer_rgba()), dtype=torch.uint8)
    strip = rgba.view(h_px, w_px, 4)[..., :3].permute(2, 0, 1)[:, :height, :width].contiguous()
    # Agg may round the figure size by a pixel: pad to the exact size.
    out = torch.full((3, height, width), 255, dtype=torch.uint8)
    out[:, :strip.shape[1], :strip.shape[2]] = strip
    return out


def edit_grid(columns: Sequence, *, title: "str | None" = None,
              names: "Sequence[str] | None" = None, min_tile: int = 96, padding: int = 2,
              radius: "int | None" = None) -> Tensor:
    """Tile ``columns`` side by side (row ``i`` = sample ``i``) under a strip of column labels.

    Args:
        columns: :class:`EditColumn` s or tuples ``(label, images [N,3,H,W], keypoints [N,K,2],
            visible [N,K] | None[, colours [K]])``; every column has the same ``N, H, W`` (``K``
            may differ, e.g. after adding a part).
        title: optional line above the labels.
        names: optional part names for a colour legend below the grid (colour index ``j`` is
            named ``names[j]``).
        min_tile: images are upscaled by an integer factor (nearest) until their longer side
            is at least this many pixels, so small renders stay readable and labels fit.
        padding: pixels between tiles (white).
        radius: keypoint dot radius in display pixels (default: 1/48 of the tile, at least 2).

    Returns:
        uint8 ``[3, H_total, W_total]``.

    Raises:
        DataError: no columns, or shapes that do not fit together.
    """
    from torchvision.utils import make_grid

    cols = _columns(columns)
    n, _, h, w = cols[0].images.shape
    scale = upscale_factor(max(h, w), min_tile)
    th, tw = h * scale, w * scale
    radius = max(2, round(min(th, tw) / 48)) if radius is None else radius
    tiles = [[None] * len(cols) for _ in range(n)]
    for c, col in enumerate(cols):
        k = col.keypoints.shape[1]
        imgs = images_to_uint8(col.images)
        kp = col.keypoints.detach().float().cpu()
        vis = (torch.ones(n, k, dtype=torch.bool) if col.visible is None
               else col.visible.detach().cpu().bool())
        vis = vis & torch.isfinite(kp).all(-1)
        colours = (list(range(k)) if col.colours is None
                   else [int(v) for v in col.colours.detach().cpu()])
        for i in range(n):
            tiles[i][c] = _tile(imgs[i], torch.nan_to_num(kp[i]), vis[i], colours, scale, radius)
    grid = make_grid(torch.stack([t for row in tiles for t in row]), nrow=len(cols),
                     padding=padding, pad_value=255)
    width = grid.shape[2]
    fontsize = 9 if tw >= 90 else 7
    labels = [(padding + c * (tw + padding) + tw / 2, tw + padding, col.label)
              for c, col in enumerate(cols)]
    parts = []
    if title:
        parts.append(_text_strip([(width / 2, width, title)], width=width, height=20, fontsize=fontsize))
    parts += [_text_strip(labels, width=width, height=18, fontsize=fontsize), grid]
    if names:
        parts.append(legend_image(names, width=width))
    return torch.cat(parts, dim=1)


def save_edit_grid(path: "str | os.PathLike[str]", columns: Sequence, *,
                   title: "str | None" = None, names: "Sequence[str] | None" = None,
                   min_tile: int = 96, padding: int = 2, radius: "int | None" = None) -> Path:
    """:func:`edit_grid` written to ``path`` as PNG, atomically (parent folders created).

    Example:
        >>> lat = G.sample_latents(4, gen); moved = move(lat, 0, lat.keypoints[:, 0] + 0.3)
        >>> save_edit_grid("move.png", [
        ...     ("source", G.render(lat).images, lat.keypoints, lat.active),
        ...     ("moved", G.render(moved).images, moved.keypoints, moved.active)])

    Returns:
        The path written.
    """
    grid = edit_grid(columns, title=title, names=names, min_tile=min_tile, padding=padding,
                     radius=radius)
    return save_png(path, grid)
