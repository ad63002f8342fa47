"""The report's inputs: result records (``*.jsonl``) and the published numbers.

Reading never fails on one bad line: :class:`~lkbench.records.RecordStore` skips it, and this
module collects its warning (``file:line: skipped an unreadable result record: ...``) so the
command line can print it. A folder without records is not an error either: the report then
shows the published numbers and says where records are expected and which command writes them.
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import pandas as pd

from lkbench.atomic import PathLike
from lkbench.errors import DataError
from lkbench.published import DEFAULT_PATH, declared_rows, load_published
from lkbench.records import RecordStore, ResultRecord, results_dir

__all__ = ["RecordInputs", "default_results_dir", "find_record_files", "read_records",
           "read_published", "RECORD_PATTERN", "NO_RECORDS_HINT"]

RECORD_PATTERN = "*.jsonl"
NO_RECORDS_HINT = ("`lkbench detect` and `lkbench score` append landmark records to "
                   "<results>/landmarks.jsonl; the other protocols add their own *.jsonl files "
                   "there")


def default_results_dir() -> Path:
    """Where ``lkbench report`` reads by default: :func:`lkbench.records.results_dir`."""
    return results_dir()


@dataclass
class RecordInputs:
    """Records read from one or more places.

    Attributes:
        records: every readable record, file by file in name order, lines in file order.
        files: the record files read.
        warnings: one line per skipped line, unreadable file or empty place.
    """
    records: list[ResultRecord] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def find_record_files(sources: Sequence[PathLike]) -> tuple[list[Path], list[str]]:
    """The ``*.jsonl`` files of ``sources`` (folders, not recursive, or files) and a warning for
    each source that holds none.

    Raises:
        DataError: a source that does not exist.
    """
    files: list[Path] = []
    warnings: list[str] = []
    for source in map(Path, sources):
        if source.is_dir():
            found = sorted(p for p in source.glob(RECORD_PATTERN) if p.is_file())
            if not found:
                warnings.append(f"no result records in {source} (no {RECORD_PATTERN} files); "
                                f"{NO_RECORDS_HINT}")
            files += [p for p in found if p not in files]
        elif source.is_file():
            if source not in files:
                files.append(source)
        else:
            raise DataError(f"results folder or file not found: {source}; pass the folder "
                            f"lkbench wrote its records to ({NO_RECORDS_HINT})")
    return files, warnings


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _collect_warnings() -> Iterator[_Collect]:
    logger = logging.getLogger("lkbench.records")
    handler = _Collect()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def read_records(sources: Sequence[PathLike]) -> RecordInputs:
    """Read every record of ``sources`` (see :func:`find_record_files`).

    Corrupt lines and unreadable files are skipped; their warnings name the file and line.

    Raises:
        DataError: a source that does not exist.
    """
    files, warnings = find_record_files(sources)
    out = RecordInputs(warnings=warnings)
    with _collect_warnings() as collector:
        for path in files:
            try:
                records = RecordStore(path).read()
            except OSError as exc:
                out.warnings.append(f"{path}: could not read the records file: {exc}")
                continue
            out.records += records
            out.files.append(path)
    out.warnings += collector.messages
    return out


def read_published(path: "PathLike | None" = None) -> pd.DataFrame:
    """The published numbers (:func:`lkbench.published.load_published`), with a ``line`` column
    (the CSV line, for the tables' row order) and ``value_text`` (the value as written).

    Raises:
        DataError: the file is missing or invalid (see ``load_published``).
    """
    table = load_published(path)
    table["line"] = range(2, len(table) + 2)
    # The value as written ("4.00", "31.80"): tables show a paper's number with its digits;
    # the default table ends with the numbers registered benchmarks declare.
    raw = pd.read_csv(path if path is not None else DEFAULT_PATH, dtype=str,
                      keep_default_na=False)
    declared = [row["value"] for _, row in declared_rows()] if path is None else []
    table["value_text"] = list(raw["value"].str.strip()) + declared
    return table
