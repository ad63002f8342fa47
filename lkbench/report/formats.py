"""The report as Markdown, CSV, LaTeX (booktabs) or HTML, written by pandas.

Every format shows the same tables (:class:`~lkbench.report.table_model.Table`): one per family with
its heading, a line saying what is measured, the table, then the footnotes: measured rows'
settings (letters), cell notes from ``published.csv`` (numbers), units and the sources.
Markdown, LaTeX and HTML render each table through ``DataFrame.to_markdown`` / ``to_latex`` /
``to_html``; CSV is one tidy row per cell (``DataFrame.to_csv``) with the numbers as numbers, for
spreadsheets and scripts.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from .table_model import Cell, Report, Table, format_cell_text

__all__ = ["FORMATS", "render", "table_frame", "cells_frame", "CSV_COLUMNS"]


@dataclass(frozen=True)
class _Style:
    """How one output format writes the parts of a cell."""
    escape: Callable[[str], str]
    bold: Callable[[str], str]
    sup: Callable[[str], str]          # a footnote reference after a value or a source
    mark: Callable[[str], str]         # the same reference at the start of its footnote
    pm: str
    arrows: tuple[str, str]           # (higher is better, lower is better)
    empty: str
    source_column: str = "l"          # LaTeX column type of the Source column
    source_prefix: str = ""           # before each Source cell
    url: Callable[[str], str] = lambda s: s  # an (escaped) URL in a footnote


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
                  "±": r"$\pm$", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "×": r"$\times$",
                  "≥": r"$\geq$", "≈": r"$\approx$", "≤": r"$\leq$", "ε": r"$\varepsilon$", "λ": r"$\lambda$"}
_LATEX_RE = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIAL))


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters (and a few symbols) made safe."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group(0)], text)


_STYLES = {
    "md": _Style(escape=lambda s: s.replace("|", "\\|"), bold=lambda s: f"**{s}**",
                 sup=lambda s: f" [{s}]", mark=lambda s: f"[{s}]", pm="±", arrows=("↑", "↓"),
                 empty=""),
    "latex": _Style(escape=latex_escape, bold=lambda s: rf"\textbf{{{s}}}",
                    sup=lambda s: rf"\textsuperscript{{{s}}}",
                    mark=lambda s: rf"\textsuperscript{{{s}}}", pm=r"$\pm$",
                    arrows=(r"$\uparrow$", r"$\downarrow$"), empty="--",
                    source_column=r"p{%s}", source_prefix="\\raggedright ",
                    url=lambda s: s.replace("/", r"/\allowbreak{}")),
    "html": _Style(escape=html.escape, bold=lambda s: f"<strong>{s}</strong>",
                   sup=lambda s: f" <sup>[{s}]</sup>", mark=lambda s: f"<sup>[{s}]</sup>",
                   pm="±", arrows=("↑", "↓"), empty=""),
}


def _cell_text(cell: "Cell | None", style: _Style) -> str:
    if cell is None:
        return style.empty
    text = style.escape(format_cell_text(cell))  # LaTeX's escape turns ± into $\pm$
    if cell.best:
        text = style.bold(text)
    if cell.notes:
        text += style.sup(",".join(map(str, cell.notes)))
    return text


def table_frame(table: Table, fmt: str = "md") -> pd.DataFrame:
    """The table as a DataFrame of display strings: ``Method``, ``Source``, one column per
    benchmark column with its arrow."""
    style = _STYLES[fmt]
    headers = [f"{style.escape(c.label)} {style.arrows[0 if c.higher_is_better else 1]}"
               for c in table.columns]
    data = []
    for i, row in enumerate(table.rows):
        source = style.source_prefix + style.escape(row.source) + (
            style.sup(row.marker) if row.marker else "")
        data.append([style.escape(row.method), source] +
                    [_cell_text(table.cells.get((i, j)), style)
                     for j in range(len(table.columns))])
    return pd.DataFrame(data, columns=["Method", "Source", *headers])


# ==================== footnotes
def _footnotes(table: Table, style: _Style) -> list[str]:
    """Footnote lines of a table, already escaped for the format."""
    lines = []
    for marker, text in table.row_markers():
        lines.append(f"{style.mark(marker)} {style.escape(text)}")
    for i, note in enumerate(table.notes, 1):
        lines.append(f"{style.mark(str(i))} {style.escape(note)}")
    units = table.units
    if len(units) == 1:
        lines.append(f"Unit: {style.escape(units[0][1])}.")
    else:
        lines.append("Units: " + "; ".join(f"{style.escape(c)}: {style.escape(u)}"
                                           for c, u in units) + ".")
    if any(r.kind == "measured" for r in table.rows):
        lines.append(f"Measured with {style.escape(', '.join(table.protocols))}; "
                     f"mean {style.pm} std over seeds, n = number of seeds.")
    if table.sources:
        lines.append("Sources: " + "; ".join(
            f"{style.escape(k)} = {_URL_RE.sub(lambda m: style.url(m.group(0)), style.escape(v))}"
            for k, v in table.sources) + ".")
    return lines


_URL_RE = re.compile(r"https?://\S+")
_LEGEND = ("Cells: the published value, or for rows whose source says \"measured\" the mean "
           "± std over seeds with n = the number of seeds. ↑/↓: higher/lower is better. "
           "Bold: best in its column (supervised reference rows excluded); ≈: within noise of "
           "the best (its 95 % paired-bootstrap interval of the difference over the same test "
           "images contains 0). Letters: settings "
           "of measured rows that differ from the published protocol or between rows; "
           "numbers: notes on published values.")


def _empty_line(report: Report) -> str:
    if not report.empty_families:
        return ""
    return "No numbers yet: " + "; ".join(
        f"{f.title} (written by {f.commands})" if f.commands else f.title
        for f in report.empty_families) + "."


# ==================== the formats
def _markdown(report: Report, summary: str) -> str:
    style = _STYLES["md"]
    out = ["# lkbench leaderboard", "", summary, "", style.escape(_LEGEND), ""]
    for table in report.tables:
        frame = table_frame(table, "md")
        align = ("left", "left") + ("right",) * len(table.columns)
        out += [f"## {table.title}", "", style.escape(table.description), "",
                frame.to_markdown(index=False, colalign=align, disable_numparse=True), ""]
        out += [f"- {line}" for line in _footnotes(table, style)] + [""]
    if (empty := _empty_line(report)):
        out += [empty, ""]
    return "\n".join(out)


def _latex(report: Report, summary: str) -> str:
    style = _STYLES["latex"]
    out = ["% lkbench report: one table environment per family.",
           r"% Needs \usepackage{booktabs} (and \usepackage[T1]{fontenc} for the symbols).",
           f"% {summary}", ""]
    for table in report.tables:
        frame = table_frame(table, "latex")
        tight = [r"\setlength{\tabcolsep}{3pt}"] if len(table.columns) > 4 else []
        body = frame.to_latex(index=False, escape=False,
                              column_format="l" + style.source_column % (
                                  "2.4cm" if tight else "3.4cm") + "r" * len(table.columns))
        label = "tab:lkbench-" + re.sub(r"[^A-Za-z0-9-]+", "-", table.family)
        out += [r"\begin{table}[ht]", r"\centering", r"\small", *tight,
                rf"\caption{{{style.escape(table.title)}. {style.escape(table.description)}}}",
                rf"\label{{{label}}}", body.rstrip("\n"), r"\par\smallskip",
                r"\parbox{\linewidth}{\footnotesize",
                " \\\\\n".join(_footnotes(table, style)) + "}", r"\end{table}", ""]
    if (empty := _empty_line(report)):
        out += [f"% {empty}", ""]
    return "\n".join(out)


_CSS = ("body{font-family:sans-serif;max-width:80em;margin:auto}"
        "table.lkbench{border-collapse:collapse;margin:.5em 0}"
        "table.lkbench th,table.lkbench td{padding:.2em .6em;border-bottom:1px solid #ccc}"
        "table.lkbench td:nth-child(n+3){text-align:right}"
        ".notes{font-size:.85em;color:#333}")


def _html(report: Report, summary: str) -> str:
    style = _STYLES["html"]
    out = ["<!DOCTYPE html>", '<html lang="en">', '<head><meta charset="utf-8">',
           "<title>lkbench leaderboard</title>", f"<style>{_CSS}</style></head>", "<body>",
           "<h1>lkbench leaderboard</h1>", f"<p>{html.escape(summary)}</p>",
           f"<p>{html.escape(_LEGEND)}</p>"]
    for table in report.tables:
        anchor = re.sub(r"[^A-Za-z0-9-]+", "-", table.family)
        out += [f'<h2 id="{anchor}">{html.escape(table.title)}</h2>',
                f"<p>{html.escape(table.description)}</p>",
                table_frame(table, "html").to_html(index=False, escape=False, border=0,
                                                   classes="lkbench"),
                '<ul class="notes">' + "".join(f"<li>{line}</li>"
                                               for line in _footnotes(table, style)) + "</ul>"]
    if (empty := _empty_line(report)):
        out.append(f"<p>{html.escape(empty)}</p>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


CSV_COLUMNS = ("table", "title", "row", "method", "kind", "source", "checkpoint", "step",
               "settings", "supervised", "column", "benchmark", "metric", "variant",
               "num_keypoints", "unit", "higher_is_better", "value", "std", "n_seeds", "n",
               "stderr", "best", "noise", "notes")


def cells_frame(report: Report) -> pd.DataFrame:
    """One row per table cell, numbers as numbers (the CSV format)."""
    rows = []
    for table in report.tables:
        for (i, j), cell in sorted(table.cells.items()):
            row, col = table.rows[i], table.columns[j]
            rows.append({
                "table": table.family, "title": table.title, "row": i, "method": row.method,
                "kind": row.kind, "source": cell.source if row.kind == "published" else
                row.source, "checkpoint": row.checkpoint, "step": row.step,
                "settings": row.settings, "supervised": row.supervised, "column": col.label,
                "benchmark": col.benchmark, "metric": col.metric, "variant": col.variant,
                "num_keypoints": col.num_keypoints, "unit": col.unit,
                "higher_is_better": col.higher_is_better, "value": cell.value, "std": cell.std,
                "n_seeds": cell.n_seeds, "n": cell.n, "stderr": cell.stderr, "best": cell.best,
                "noise": cell.noise, "notes": " | ".join(table.notes[k - 1] for k in cell.notes)})
    frame = pd.DataFrame(rows, columns=list(CSV_COLUMNS))
    for name in ("step", "n_seeds", "n", "num_keypoints"):
        frame[name] = frame[name].astype("Int64")
    return frame


def _csv(report: Report, summary: str) -> str:
    return cells_frame(report).to_csv(index=False, float_format="%.10g", lineterminator="\n")


FORMATS: dict[str, Callable[[Report, str], str]] = {
    "md": _markdown, "csv": _csv, "latex": _latex, "html": _html}
"""Output format name → renderer ``f(report, summary line) -> text``."""


def render(report: Report, fmt: str = "md", summary: str = "") -> str:
    """The whole report as text in ``fmt`` (one of :data:`FORMATS`)."""
    return FORMATS[fmt](report, summary)
