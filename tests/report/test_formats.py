"""Output formats: LaTeX is structurally sound booktabs, CSV and HTML parse back to the numbers,
Markdown marks best cells and footnotes."""
from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from lkbench.report import render
from lkbench.report.formats import cells_frame, table_frame


def _unescaped(char: str, line: str) -> int:
    return len(re.findall(rf"(?<!\\){re.escape(char)}", line))


def test_latex_tables_are_balanced_booktabs(report):
    text = render(report, "latex", "summary")
    tables = re.findall(r"\\begin\{table\}.*?\\end\{table\}", text, flags=re.S)
    assert len(tables) == len(report.tables) > 5
    for env, table in zip(tables, report.tables):
        assert env.count(r"\begin{tabular}") == env.count(r"\end{tabular}") == 1
        for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
            assert env.count(rule) == 1
        assert _unescaped("{", env) == _unescaped("}", env)
        body = env.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
        header = env.split(r"\toprule")[1].split(r"\midrule")[0].strip()
        ncols = 2 + len(table.columns)
        assert len(body) == len(table.rows)
        for line in [header, *body]:
            assert _unescaped("&", line) == ncols - 1, line
            assert line.endswith(r"\\")
            assert _unescaped("$", line) % 2 == 0, line
        assert re.search(r"\\begin\{tabular\}\{lp\{[0-9.]+cm\}r+\}", env)
    assert r"\textbf{71.00 $\pm$ 1.41 (n=2)}" in text
    for line in text.splitlines():  # comment lines start with %, every other % is escaped
        if not line.startswith("%"):
            assert _unescaped("%", line) == 0, line


def test_csv_parses_back_to_the_numbers(report):
    frame = pd.read_csv(io.StringIO(render(report, "csv")))
    cells = [(t, i, j, c) for t in report.tables for (i, j), c in sorted(t.cells.items())]
    assert len(frame) == len(cells)
    for (_, row), (t, i, j, cell) in zip(frame.iterrows(), cells):
        assert row["table"] == t.family and row["column"] == t.columns[j].label
        assert row["value"] == pytest.approx(cell.value, rel=1e-9)
        if cell.std is None:
            assert pd.isna(row["std"])
        else:
            assert row["std"] == pytest.approx(cell.std, rel=1e-9)
        assert bool(row["best"]) == cell.best
        assert row["kind"] == t.rows[i].kind
    assert list(frame.columns) == list(cells_frame(report).columns)


_NUMBER = re.compile(r"^(-?[0-9.]+)(?: ± ([0-9.]+))?(?: \((?:s\.e\. ([0-9.]+), )?n=(\d+)\))?"
                     r"(?: \[[0-9,]+\])?$")


def test_html_parses_back_to_the_numbers(report):
    html = render(report, "html", "summary")
    assert html.startswith("<!DOCTYPE html>") and html.count("<table") == len(report.tables)
    frames = pd.read_html(io.StringIO(html))
    assert len(frames) == len(report.tables)
    for frame, table in zip(frames, report.tables):
        assert list(frame.columns)[:2] == ["Method", "Source"]
        for (i, j), cell in table.cells.items():
            text = str(frame.iat[i, 2 + j])
            m = _NUMBER.match(text)
            assert m, text
            assert float(m.group(1)) == pytest.approx(cell.value, abs=0.006)
            if cell.std is not None:
                assert float(m.group(2)) == pytest.approx(cell.std, abs=0.006)
            if cell.stderr is not None:
                assert float(m.group(3)) == pytest.approx(cell.stderr, abs=0.0006)
            if cell.n_seeds is not None:
                assert int(m.group(4)) == cell.n_seeds


def test_markdown_bold_arrows_and_footnotes(report, table):
    t = table(report, "deepfashion")
    frame = table_frame(t, "md")
    assert list(frame.columns) == ["Method", "Source", "PCK ↑"]
    assert frame.iloc[2].tolist() == ["latent-keypoint-gan",
                                      "measured: celeba/step-0100000.pt [a]",
                                      "**71.00 ± 1.41 (n=2)**"]
    text = render(report, "md", "summary")
    assert "| Method" in text and "- [a] published: false" in text
    assert "- Sources: SEED-BM = benchmark-aggregator list" in text
    assert "No numbers yet: CUB-200-2011" in text


def test_markdown_escapes_pipes():
    from lkbench.report.formats import _STYLES
    assert _STYLES["md"].escape("a|b") == "a\\|b"
