"""Training curves: the scalars of a run's ``stats.jsonl`` against the step, as one PNG.

Every trainer logs different scalars (losses, discriminator outputs, monitors such as the
keypoint spread), so the figure is built from whatever the file holds: one panel for the
``loss_*`` keys together, one panel per other scalar, each raw (thin) and smoothed with a
centred moving average (thick) because GAN losses are noisy step to step. Lists and
bookkeeping keys (``step``, ``wall_time_s``, ``images_per_s``) are not plotted; the wall time
labels the top axis. Matplotlib's object API with the Agg canvas: no global state is touched.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from lkbench.atomic import atomic_write
from lkbench.errors import DataError

SKIP = ("step", "wall_time_s", "images_per_s")
"""Keys that are bookkeeping rather than curves."""


def read_stats(path: "str | os.PathLike[str]") -> list[dict]:
    """The JSON lines of ``stats.jsonl``; a torn last line (a run killed mid-write) is skipped."""
    rows = []
    for line in Path(path).read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def curve_keys(rows: list[dict]) -> tuple[list[str], list[str]]:
    """``(loss keys, other scalar keys)`` in first-seen order: the panels of the figure."""
    seen: dict[str, None] = {}
    for row in rows:
        for k, v in row.items():
            if k not in SKIP and isinstance(v, (int, float)) and not isinstance(v, bool):
                seen.setdefault(k)
    keys = list(seen)
    return [k for k in keys if k.startswith("loss")], [k for k in keys if not k.startswith("loss")]


def smooth(values: list[float], window: int) -> list[float]:
    """Centred moving average over ``window`` points (shorter at the ends); NaNs ignored."""
    half = max(window, 1) // 2
    out = []
    for i in range(len(values)):
        part = [v for v in values[max(0, i - half):i + half + 1] if not math.isnan(v)]
        out.append(sum(part) / len(part) if part else math.nan)
    return out


def plot_training_curves(stats_path: "str | os.PathLike[str]", out_path: "str | os.PathLike[str]",
                         *, title: str | None = None) -> Path:
    """Write the curves of ``stats_path`` (a run's ``stats.jsonl``) to the PNG ``out_path``.

    Raises:
        DataError: if the file has no logged step yet.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [r for r in read_stats(stats_path) if "step" in r]
    if not rows:
        raise DataError(f"{stats_path}: no logged steps yet; curves need at least one stats line")
    losses, others = curve_keys(rows)
    panels = ([losses] if losses else []) + [[k] for k in others]
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.0 * nrows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    for i, keys in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        for j, key in enumerate(keys):
            # Keys logged only on some steps (e.g. a lazy penalty) are drawn over their own steps.
            xs = [r["step"] for r in rows if key in r]
            vals = [float(r[key]) for r in rows if key in r]
            colour = f"C{j}"
            ax.plot(xs, vals, color=colour, alpha=0.25, linewidth=0.8,
                    marker="." if len(xs) < len(rows) / 2 else None)
            ax.plot(xs, smooth(vals, max(1, len(xs) // 25)), color=colour, linewidth=1.8,
                    label=key)
        ax.set_xlabel("step")
        ax.set_title(" / ".join(keys), fontsize=10)
        ax.grid(alpha=0.3)
        if len(keys) > 1:
            ax.legend(fontsize=8)
        if i < ncols and "wall_time_s" in rows[-1] and rows[-1]["step"] > 0:
            per_step = rows[-1]["wall_time_s"] / rows[-1]["step"] / 60
            top = ax.secondary_xaxis("top", functions=(lambda s, k=per_step: s * k,
                                                       lambda m, k=per_step: m / k))
            top.set_xlabel("wall time (min, at the run's mean rate)", fontsize=8)
    if title:
        fig.suptitle(title)
    out = Path(out_path)
    with atomic_write(out) as fh:
        fig.savefig(fh, format="png")
    return out
