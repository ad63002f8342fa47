"""Golden outputs: the exact Markdown and CSV of the fixed records (tests/report/conftest.py)
beside the tests' published numbers.

After an intended change of the output, regenerate them with
``LKBENCH_UPDATE_GOLDEN=1 python -m pytest tests/report/test_golden.py`` and review the diff.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from lkbench.report import render

GOLDEN = Path(__file__).with_name("golden")
SUMMARY = "Golden test: fixed records and published numbers."


@pytest.mark.parametrize("fmt, name", [("md", "report.md"), ("csv", "report.csv")])
def test_golden_output(report, fmt, name):
    text = render(report, fmt, SUMMARY)
    path = GOLDEN / name
    if os.environ.get("LKBENCH_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from the golden file; if the change is intended, regenerate it "
        "(see this module's docstring)")
