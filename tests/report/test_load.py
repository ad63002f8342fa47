"""Reading records: corrupt lines skipped with file:line warnings, helpful empty/missing cases."""
from __future__ import annotations

import pytest

from lkbench.errors import DataError
from lkbench.report.load import read_published, read_records


def test_corrupt_line_is_skipped_with_its_file_and_line(results_dir):
    inputs = read_records([results_dir])
    assert len(inputs.records) == 17 + 5 + 6 + 1
    assert [p.name for p in inputs.files] == ["editing.jsonl", "fid.jsonl", "landmarks.jsonl",
                                              "toy.jsonl"]
    (warning,) = inputs.warnings
    assert f"{results_dir / 'landmarks.jsonl'}:18: skipped an unreadable result record" in warning


def test_a_file_can_be_named_directly(results_dir):
    inputs = read_records([results_dir / "toy.jsonl"])
    assert [r.model for r in inputs.records] == ["toy-model"] and not inputs.warnings


def test_empty_folder_says_which_command_writes_records(tmp_path):
    inputs = read_records([tmp_path])
    assert inputs.records == [] and len(inputs.warnings) == 1
    assert "no result records in" in inputs.warnings[0]
    assert "lkbench detect" in inputs.warnings[0]


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(DataError, match="results folder or file not found"):
        read_records([tmp_path / "nope"])


def test_unreadable_file_is_skipped(tmp_path):
    (tmp_path / "dir.jsonl").mkdir()  # matches the pattern but cannot be read as a file
    (tmp_path / "bad.jsonl").write_bytes(b"\xff\xfe not json\n")
    inputs = read_records([tmp_path])
    assert inputs.records == [] and [p.name for p in inputs.files] == ["bad.jsonl"]
    assert any("bad.jsonl:1:" in w for w in inputs.warnings)


def test_published_keeps_file_order_and_written_values(published_csv):
    table = read_published(published_csv)
    assert list(table["line"]) == list(range(2, len(table) + 2))
    assert table.loc[table["variant"] == "walk", "value_text"].item() == "4.00"
