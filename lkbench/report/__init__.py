"""``lkbench report``: leaderboard tables and charts from result records and published numbers.

Python API (the command line only calls these)::

    from lkbench.report import read_records, read_published, build_report, render, write_plots

    inputs = read_records(["results/runs"])           # skips corrupt lines, with warnings
    report = build_report(read_published(), inputs.records)
    print(render(report, "md"))                        # or "csv", "latex", "html"
    write_plots(report.tables, "plots/")

Modules: :mod:`.load` (inputs), :mod:`.families` (which numbers go in which table),
:mod:`.comparability` (settings that keep numbers apart), :mod:`.tables` (grouping, mean ± std,
best per column, footnotes), :mod:`.formats` (output), :mod:`.plots` (charts).
"""
from __future__ import annotations

from .families import FAMILIES, Family, register_family
from .formats import FORMATS, render
from .load import read_published, read_records
from .table_model import Report, Table
from .tables import build_report

__all__ = ["FAMILIES", "Family", "register_family", "FORMATS", "render", "read_published",
           "read_records", "Report", "Table", "build_report", "write_plots"]


def write_plots(*args, **kwargs):
    """:func:`lkbench.report.plots.write_plots`, imported on first use (matplotlib)."""
    from .plots import write_plots as _write_plots
    return _write_plots(*args, **kwargs)
