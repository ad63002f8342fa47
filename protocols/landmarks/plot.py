"""The detection protocol's figure: test images with regressed and ground-truth landmarks, and a
per-landmark error bar chart for the model next to its baselines.

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no global backend or state) and
written atomically with :func:`lkbench.plots.save_png`. Inputs follow the project convention:
images float ``[N,3,H,W]`` in [-1, 1], landmarks ``[N,L,2]`` (x, y) in [-1, 1].
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from lkbench.errors import DataError
from lkbench.keypoints import to_pixels
from lkbench.plots import images_to_uint8, landmark_colour, save_png

__all__ = ["detection_figure", "save_detection_figure"]

# Bar colours of the compared entries (model first, then baselines), colour-blind friendly.
_BAR_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999")


def _as_numpy(a: "Tensor | np.ndarray") -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, Tensor) else np.asarray(a)


def detection_figure(images: Tensor, gt: "Tensor | np.ndarray", pred: "Tensor | np.ndarray",
                     visible: "Tensor | np.ndarray | None", *, names: Sequence[str],
                     bars: Mapping[str, Sequence[float]], unit: str, title: str,
                     ncols: int = 8, regressed: bool = True) -> Tensor:
    """The figure as uint8 ``[3,H,W]``.

    Args:
        images: float ``[N,3,R,R]`` in [-1, 1], the test images shown (N ≥ 1).
        gt: ``[N,L,2]`` ground truth (drawn as rings).
        pred: ``[N,L,2]`` predicted landmarks (drawn as crosses, joined to their ring).
        visible: optional bool ``[N,L]``; invisible ground truth is not drawn.
        names: ``L`` landmark names (colour legend and bar labels).
        bars: entry label → ``L`` per-landmark values (NaN = no bar), e.g. the model and each
            baseline; the first entry is the one whose landmarks are drawn.
        unit: the values' unit (y-axis label).
        title: figure title (benchmark, value, model).
        ncols: images per row.
        regressed: whether ``pred`` went through the benchmark's regression (the legend says
            "regressed") or is the model's own read-out (``--no-regression``: "predicted").
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    tiles = images_to_uint8(images).permute(0, 2, 3, 1).numpy()
    n, size = tiles.shape[0], tiles.shape[1]
    gt_px, pred_px = to_pixels(_as_numpy(gt), size), to_pixels(_as_numpy(pred), size)
    num_l = gt_px.shape[1]
    if n == 0 or gt_px.shape != (n, num_l, 2) or pred_px.shape != gt_px.shape:
        raise DataError(f"detection figure: images {tuple(images.shape)}, gt {gt_px.shape} and "
                        f"pred {pred_px.shape} must be [N,3,R,R], [N,L,2], [N,L,2] with N >= 1")
    vis = np.ones((n, num_l), bool) if visible is None else _as_numpy(visible).astype(bool)
    ncols = min(ncols, n)
    rows = math.ceil(n / ncols)
    fig = Figure(figsize=(1.5 * ncols, 1.55 * rows + 3.8), dpi=100)
    FigureCanvasAgg(fig)
    # rows of images, a spacer row (room for the bar chart's title and legend), the bar chart
    grid = fig.add_gridspec(rows + 2, ncols, height_ratios=[1.5] * rows + [0.45, 2.6],
                            hspace=0.08, wspace=0.04, top=0.93, bottom=0.08, left=0.06,
                            right=0.99)
    for i in range(n):
        ax = fig.add_subplot(grid[i // ncols, i % ncols])
        ax.imshow(tiles[i], interpolation="nearest")
        for l in range(num_l):
            c = tuple(v / 255 for v in landmark_colour(l))
            if vis[i, l]:
                ax.plot([gt_px[i, l, 0], pred_px[i, l, 0]], [gt_px[i, l, 1], pred_px[i, l, 1]],
                        color=c, linewidth=0.8)
                ax.scatter(gt_px[i, l, 0], gt_px[i, l, 1], s=26, facecolors="none",
                           edgecolors=[c], linewidths=1.2)
            ax.scatter(pred_px[i, l, 0], pred_px[i, l, 1], s=22, marker="x", color=[c],
                       linewidths=1.3)
        ax.set_xlim(-0.5, size - 0.5)
        ax.set_ylim(size - 0.5, -0.5)
        ax.set_axis_off()
    _bar_chart(fig.add_subplot(grid[rows + 1, :]), names, bars, unit)
    handles = [Line2D([], [], marker="o", linestyle="", markerfacecolor="none",
                      markeredgecolor="black", label="ground truth"),
               Line2D([], [], marker="x", linestyle="", color="black",
                      label=f"{'regressed' if regressed else 'predicted'} "
                      f"({next(iter(bars), 'model')})")]
    fig.legend(handles=handles, loc="upper right", fontsize=8, ncol=2, frameon=False)
    fig.suptitle(title, x=0.01, y=0.995, ha="left", fontsize=10)
    fig.canvas.draw()
    w, h = fig.canvas.get_width_height()
    rgba = torch.frombuffer(bytearray(fig.canvas.buffer_rgba()), dtype=torch.uint8)
    return rgba.view(h, w, 4)[..., :3].permute(2, 0, 1).contiguous()


def _bar_chart(ax, names: Sequence[str], bars: Mapping[str, Sequence[float]], unit: str) -> None:
    """Grouped bars: one group per landmark, one bar per entry; tick labels in landmark colour."""
    entries = list(bars.items())
    width = 0.8 / max(1, len(entries))
    x = np.arange(len(names))
    for j, (label, values) in enumerate(entries):
        vals = np.asarray(values, dtype=float)
        ax.bar(x - 0.4 + width * (j + 0.5), np.nan_to_num(vals), width,
               color=_BAR_COLOURS[j % len(_BAR_COLOURS)], label=label)
    ax.set_xticks(x, list(names), fontsize=8)
    for tick, l in zip(ax.get_xticklabels(), range(len(names))):
        tick.set_color(tuple(v / 255 for v in landmark_colour(l)))
        tick.set_fontweight("bold")
    ax.set_ylabel(unit, fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title("each landmark alone", fontsize=9, loc="left")
    ax.legend(fontsize=8, ncol=len(entries), frameon=False, loc="lower right",
              bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2)
    ax.grid(axis="y", alpha=0.3)


def save_detection_figure(path: "str | os.PathLike[str]", *args, **kwargs) -> Path:
    """:func:`detection_figure` written to ``path`` as PNG, atomically. Returns the path."""
    return save_png(path, detection_figure(*args, **kwargs))
