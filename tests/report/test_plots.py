"""Charts: a bar chart per column and error vs step, as non-empty PNG and PDF files."""
from __future__ import annotations

from PIL import Image

from lkbench.report import write_plots


def test_bar_and_step_charts_are_written(report, tmp_path):
    tables = [t for t in report.tables if t.family in ("celeba", "synthetic")]
    files = write_plots(tables, tmp_path)
    names = {p.name for p in files}
    assert names == {f"{stem}.{ext}" for ext in ("png", "pdf") for stem in (
        "bars-celeba-k-8", "bars-celeba-k-4", "bars-synthetic-error", "steps-synthetic-error")}
    assert not any(n.startswith("steps-celeba") for n in names)  # one checkpoint only
    for path in files:
        assert path.stat().st_size > 1000, path
    with Image.open(tmp_path / "steps-synthetic-error.png") as im:
        assert im.width > 300 and im.height > 200
    assert (tmp_path / "bars-synthetic-error.pdf").read_bytes().startswith(b"%PDF")
