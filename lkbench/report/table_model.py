"""What a leaderboard table holds (columns, rows, cells, notes) and how its numbers are printed.

The data model every output format (:mod:`.formats`) and chart (:mod:`.plots`) reads;
:mod:`.tables` builds it from published numbers and result records.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from .families import Family, unit_label

__all__ = ["Column", "Row", "Cell", "Table", "Report", "format_value", "format_cell_text"]


# ==================== the data a table holds
@dataclass(frozen=True)
class Column:
    """One column: a benchmark's metric (in one variant, at one K).

    Attributes:
        benchmark, metric, variant, num_keypoints, unit, higher_is_better: what the column
            holds (``metric`` may be a renamed one, e.g. ``fd[...]`` for a non-Inception FID;
            ``variant`` is "" when variants are rows; ``num_keypoints`` is None unless the
            benchmark is published at several K).
        label: header text without the direction arrow.
    """
    benchmark: str
    metric: str
    variant: str
    num_keypoints: "int | None"
    unit: str
    higher_is_better: bool
    label: str = ""

    @property
    def key(self) -> tuple:
        return (self.benchmark, self.metric, self.variant, self.num_keypoints, self.unit,
                self.higher_is_better)

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


@dataclass(frozen=True)
class Row:
    """One row: a published method, or a measured model/checkpoint with one set of settings.

    Attributes:
        kind: ``"published"`` or ``"measured"``.
        method: display name (published method, or the record's model).
        source: published: the sources its cells cite in ``published.csv`` (each source once,
            ``; ``-joined; a cell's ``a = b`` lists two sources of one number);
            measured: ``measured: <checkpoint>``.
        marker: footnote letter of a measured row whose settings differ ("" for none).
        settings: the footnote text of that marker.
        supervised: a reference row (ground truth used in training): never bold.
        checkpoint: the record's checkpoint path (measured rows).
        step: training step of the checkpoint, when known.
    """
    kind: str
    method: str
    source: str
    marker: str = ""
    settings: str = ""
    supervised: bool = False
    checkpoint: "str | None" = None
    step: "int | None" = None


@dataclass(frozen=True)
class Cell:
    """One number of the table.

    Attributes:
        value: published value, or mean over seeds.
        std: sample standard deviation over seeds (None for published cells and n = 1).
        n_seeds: number of seeds averaged (None for published cells).
        n: samples the measured value was computed from (the record's ``n``).
        best: best of its column.
        notes: numbers of the cell notes (1-based, :attr:`Table.notes`).
        source: ``published.csv`` source of a published cell.
        text: a published value as written in ``published.csv`` (``"4.00"``).
        stderr: a single-seed cell's standard error as its record states it, if any.
        noise: a measured cell whose difference from its column's best measured cell is within
            noise (:func:`lkbench.report.tables._mark_noise`); shown as ``≈``.
    """
    value: float
    std: "float | None" = None
    n_seeds: "int | None" = None
    n: "int | None" = None
    best: bool = False
    notes: tuple[int, ...] = ()
    source: "str | None" = None
    text: "str | None" = None
    stderr: "float | None" = None
    noise: bool = False


@dataclass
class Table:
    """One leaderboard table.

    Attributes:
        family: the family's name (a sub-table of a split family is ``family/benchmark``).
        title, description: heading and the line under it.
        columns, rows: in display order.
        cells: ``(row index, column index) -> Cell``.
        notes: cell notes, numbered from 1.
        sources: ``(key, what it is)`` of every source cited in the table.
        protocols: ``protocol vN`` strings of the measured records.
        history: measured values per training step (columns ``series``, ``column``, ``step``,
            ``mean``, ``std``, ``n_seeds``) for series with at least two steps.
    """
    family: str
    title: str
    description: str
    columns: list[Column]
    rows: list[Row]
    cells: dict[tuple[int, int], Cell]
    notes: list[str] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)
    protocols: list[str] = field(default_factory=list)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def units(self) -> list[tuple[str, str]]:
        """``(column label, unit label)``; a single entry ``("", unit)`` when all agree."""
        units = {c.unit for c in self.columns}
        if len(units) == 1:
            return [("", unit_label(units.pop()))]
        return [(c.label, unit_label(c.unit)) for c in self.columns]

    def row_markers(self) -> list[tuple[str, str]]:
        """``(marker, settings text)`` of the measured rows' footnotes, in order."""
        seen: dict[str, str] = {}
        for r in self.rows:
            if r.marker and r.marker not in seen:
                seen[r.marker] = r.settings
        return list(seen.items())


@dataclass
class Report:
    """Every table plus what went into them.

    Attributes:
        tables: in family order.
        num_published: published rows read (after the benchmark filter).
        num_records: records read (after the benchmark filter).
        empty_families: families with neither published numbers nor records.
    """
    tables: list[Table]
    num_published: int
    num_records: int
    empty_families: list[Family]


# ==================== formatting of numbers (shared by every output format)
def _decimals(value: float) -> int:
    """Two decimals from 1 up, else three significant digits (0.905, 0.00150)."""
    if abs(value) >= 1 or value == 0:
        return 2 if abs(value) >= 1 else 3
    return max(3, 2 - math.floor(math.log10(abs(value))))


def format_value(value: float, *, published: bool) -> str:
    """Published numbers as stored (``5.63``, ``49``, ``437.69``); measured ones with two
    decimals, three significant digits below 1."""
    if published:
        return f"{value:.6g}"
    return f"{value:.{_decimals(value)}f}"


def format_cell_text(cell: Cell, pm: str = "±") -> str:
    """``5.63`` (published) or ``5.21 ± 0.13 (n=3)`` / ``5.21 (n=1)`` (measured; n = seeds);
    a single seed whose record states a standard error: ``0.850 (s.e. 0.012, n=1)``; a trailing
    ``≈`` marks a cell within noise of its column's best."""
    if cell.n_seeds is None:
        return cell.text or format_value(cell.value, published=True)
    digits = _decimals(cell.value)
    text = f"{cell.value:.{digits}f}"
    tie = " ≈" if cell.noise else ""
    if cell.std is not None:
        text += f" {pm} {cell.std:.{digits}f}"
    elif cell.stderr is not None:
        return f"{text} (s.e. {cell.stderr:.{digits}f}, n={cell.n_seeds}){tie}"
    return f"{text} (n={cell.n_seeds}){tie}"
