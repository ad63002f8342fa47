"""Charts of the report (matplotlib object API on the Agg canvas; PNG and PDF).

* :func:`bar_charts`: for every column of every table, a horizontal bar per method with its
  value: published bars grey, measured bars blue with ± std error bars, the column's best
  outlined, supervised reference rows hatched.
* :func:`step_charts`: error (or score) against the training step for every run whose
  checkpoints were scored at two or more steps, with the published numbers of that column as
  dashed reference lines.

Nothing here touches matplotlib's global state (no ``pyplot``), so it is safe inside other
programs and tests.
"""
from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from lkbench.atomic import PathLike, atomic_write

from .families import metric_label, unit_label
from .table_model import Column, Table, format_cell_text

__all__ = ["bar_charts", "step_charts", "write_plots", "PLOT_FORMATS"]

PLOT_FORMATS = ("png", "pdf")
_PUBLISHED, _MEASURED = "#9e9e9e", "#1f77b4"


def _slug(*parts: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")


def _save(fig: Figure, out_dir: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    FigureCanvasAgg(fig)
    paths = []
    for ext in formats:
        path = out_dir / f"{stem}.{ext}"
        with atomic_write(path) as fh:
            fig.savefig(fh, format=ext, dpi=150, bbox_inches="tight")
        paths.append(path)
    return paths


def _axis_label(col: Column) -> str:
    direction = "higher" if col.higher_is_better else "lower"
    return f"{metric_label(col.metric)} ({unit_label(col.unit)}), {direction} is better"


def _row_label(table: Table, i: int) -> str:
    row = table.rows[i]
    if row.kind == "published":
        return row.method
    return f"{row.method} [{row.source}{'; ' + row.marker if row.marker else ''}]"


def _footnote(ax, table: Table, rows: Sequence[int]) -> None:
    """The settings behind the row letters shown in a chart, under its x label."""
    markers = dict(table.row_markers())
    shown = sorted({table.rows[i].marker for i in rows} - {""})
    if shown:
        text = "\n".join(textwrap.shorten(f"{m}: {markers[m]}", 150) for m in shown)
        ax.annotate(text, (0, 0), xycoords="axes fraction", xytext=(0, -34),
                    textcoords="offset points", fontsize=6, va="top", ha="left")


def bar_charts(tables: Sequence[Table], out_dir: PathLike,
               formats: Sequence[str] = PLOT_FORMATS) -> list[Path]:
    """One bar chart per table column with at least one value; returns the files written."""
    out_dir = Path(out_dir)
    written: list[Path] = []
    for table in tables:
        for j, col in enumerate(table.columns):
            entries = [(i, table.cells[(i, j)]) for i in range(len(table.rows))
                       if (i, j) in table.cells]
            if not entries:
                continue
            entries.reverse()  # first row at the top
            fig = Figure(figsize=(7.5, 0.38 * len(entries) + 1.4))
            ax = fig.add_subplot()
            ys = list(range(len(entries)))
            values = [c.value for _, c in entries]
            measured = [table.rows[i].kind == "measured" for i, _ in entries]
            bars = ax.barh(ys, values, color=[_MEASURED if m else _PUBLISHED for m in measured])
            spread = [(y, c) for y, (_, c) in zip(ys, entries) if c.std is not None]
            if spread:
                ax.errorbar([c.value for _, c in spread], [y for y, _ in spread],
                            xerr=[c.std for _, c in spread], fmt="none", ecolor="black",
                            elinewidth=1, capsize=3)
            for bar, (i, cell) in zip(bars, entries):
                if cell.best:
                    bar.set_edgecolor("black")
                    bar.set_linewidth(1.6)
                if table.rows[i].supervised:
                    bar.set_hatch("//")
                ax.annotate(format_cell_text(cell), (cell.value + (cell.std or 0.0),
                            bar.get_y() + bar.get_height() / 2), xytext=(4, 0),
                            textcoords="offset points", va="center", fontsize=7)
            ax.set_yticks(ys, [_row_label(table, i) for i, _ in entries], fontsize=7)
            ax.set_xlabel(_axis_label(col), fontsize=8)
            ax.set_title(f"{table.title}: {col.label}", fontsize=9, loc="left", pad=16)
            top = max(c.value + (c.std or 0.0) for _, c in entries)
            ax.set_xlim(0, top * 1.3 if top > 0 else 1.0)
            ax.tick_params(axis="x", labelsize=7)
            ax.legend([Patch(color=_PUBLISHED), Patch(color=_MEASURED)],
                      ["published", "measured (mean ± std over seeds)"], fontsize=7,
                      loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, frameon=False)
            _footnote(ax, table, [i for i, _ in entries])
            written += _save(fig, out_dir, _slug("bars", table.family, col.label), formats)
    return written


def step_charts(tables: Sequence[Table], out_dir: PathLike,
                formats: Sequence[str] = PLOT_FORMATS) -> list[Path]:
    """Value against training step per column where some run was scored at two or more
    checkpoints; returns the files written."""
    out_dir = Path(out_dir)
    written: list[Path] = []
    for table in tables:
        if table.history.empty:
            continue
        for j, part in table.history.groupby("column", sort=True):
            col = table.columns[int(j)]
            fig = Figure(figsize=(7.0, 4.2))
            ax = fig.add_subplot()
            for label, series in part.groupby("series", sort=True):
                series = series.sort_values("step")
                ax.errorbar(series["step"], series["mean"],
                            yerr=series["std"].fillna(0.0).to_numpy(dtype=float),
                            marker="o", markersize=4, capsize=3, label=f"{label} (measured)")
            published = [(table.rows[i].method, c.value) for (i, jj), c in table.cells.items()
                         if jj == j and table.rows[i].kind == "published"]
            for k, (method, value) in enumerate(published[:8]):
                ax.axhline(value, linestyle="--", linewidth=0.9, color=f"C{(k + 1) % 10}",
                           label=f"{method} (published)")
            ax.set_xlabel("training step", fontsize=8)
            ax.set_ylabel(_axis_label(col), fontsize=8)
            ax.set_title(f"{table.title}: {col.label} vs training step", fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
            written += _save(fig, out_dir, _slug("steps", table.family, col.label), formats)
    return written


def write_plots(tables: Sequence[Table], out_dir: PathLike,
                formats: Sequence[str] = PLOT_FORMATS) -> list[Path]:
    """Bar charts and error-vs-step charts of ``tables`` into ``out_dir`` (created)."""
    return bar_charts(tables, out_dir, formats) + step_charts(tables, out_dir, formats)
