"""Published numbers (``docs/protocols.md`` §4), read from ``lkbench/published.csv``.

The table ships inside the package (package data, read through :mod:`importlib.resources`), so
an installed lkbench has it; the repository's ``results/published.csv`` is a link to that one
file, so there is a single copy to edit.

One row per (method, benchmark, metric, variant, num_keypoints). Landmark benchmarks use the
names of :data:`lkbench.protocols.landmarks.benchmarks.BENCHMARKS`, and their metric, unit and direction
must agree with the registry, so a leaderboard can put lkbench scores and published numbers in one
column. Generation and pixel-error benchmarks that lkbench does not score are listed in
:data:`lkbench.protocols.landmarks.benchmarks.UNSCORED_BENCHMARKS`.

A benchmark registered with published numbers of its own
(:attr:`~lkbench.protocols.landmarks.benchmarks.BenchmarkSpec.published`) adds them to the
shipped table (after its rows, checked the same way); a table given by path replaces both.
"""
from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import pandas as pd

from .errors import DataError
from .protocols.landmarks.benchmarks import BENCHMARKS, UNSCORED_BENCHMARKS
from .registry import did_you_mean

__all__ = ["load_published", "declared_rows", "DEFAULT_PATH", "COLUMNS", "KEY_COLUMNS"]

DEFAULT_PATH = Path(str(resources.files("lkbench") / "published.csv"))
"""The table that ships with lkbench (``results/published.csv`` in the repository links here)."""
COLUMNS = ("method", "benchmark", "metric", "variant", "value", "unit", "higher_is_better",
           "num_keypoints", "source", "notes")
KEY_COLUMNS = ("method", "benchmark", "metric", "variant", "num_keypoints")
_BOOLS = {"true": True, "false": False}


def _where(path: "Path | str", line: int, column: str) -> str:
    """A CSV file's line, or (``path`` a description) the n-th declared number."""
    place = f"{path} line {line}" if isinstance(path, Path) else f"{path}, number {line}"
    return f"{place}, column {column!r}"


def _benchmark(path: "Path | str", line: int, name: str) -> str:
    """Canonical benchmark name (aliases resolve); unknown names are an error."""
    if name in UNSCORED_BENCHMARKS:
        return name
    if name in BENCHMARKS:
        return BENCHMARKS.resolve(name)
    known = BENCHMARKS.names(include_aliases=True) + list(UNSCORED_BENCHMARKS)
    raise DataError(f"{_where(path, line, 'benchmark')}: {did_you_mean(name, known, 'benchmark')}")


def _value(path: "Path | str", line: int, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(f"{_where(path, line, 'value')}: {text!r} is not a finite number; "
                        "write one number per row (split 'a / b' cells into rows)")
    return value


def _bool(path: "Path | str", line: int, text: str) -> bool:
    if text.strip().lower() not in _BOOLS:
        raise DataError(f"{_where(path, line, 'higher_is_better')}: {text!r} is not a boolean; "
                        "write true or false")
    return _BOOLS[text.strip().lower()]


def _num_keypoints(path: "Path | str", line: int, text: str) -> "int | None":
    if text == "":
        return None
    if not text.isdigit() or int(text) == 0:
        raise DataError(f"{_where(path, line, 'num_keypoints')}: {text!r} is not a positive "
                        "integer; leave the cell empty where the source gives no K")
    return int(text)


def _check_against_registry(path: "Path | str", line: int, row: dict) -> None:
    """Metric, unit and direction of a scored benchmark must be the registry's."""
    if row["benchmark"] not in BENCHMARKS:
        return
    spec = BENCHMARKS.get(row["benchmark"])
    for column, expected in (("metric", spec.error), ("unit", spec.unit),
                             ("higher_is_better", spec.higher_is_better)):
        if row[column] != expected:
            raise DataError(f"{_where(path, line, column)}: {row[column]!r} disagrees with "
                            f"benchmark {spec.name!r}, which reports {expected!r}")


def _parse_row(path: "Path | str", line: int, raw: dict) -> dict:
    for column in ("method", "metric", "unit", "source"):
        if not raw[column].strip():
            raise DataError(f"{_where(path, line, column)}: empty; every row needs a {column}")
    row = dict(raw)
    row["benchmark"] = _benchmark(path, line, raw["benchmark"])
    row["value"] = _value(path, line, raw["value"])
    row["higher_is_better"] = _bool(path, line, raw["higher_is_better"])
    row["num_keypoints"] = _num_keypoints(path, line, raw["num_keypoints"].strip())
    _check_against_registry(path, line, row)
    return row


def _read_text_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        if path == DEFAULT_PATH:
            raise DataError(f"published numbers file not found: {path}; it ships inside the "
                            "lkbench package, so this install is incomplete: reinstall lkbench, "
                            "or give another copy with lkbench report --published FILE")
        what = "is a folder" if path.is_dir() else "not found"
        raise DataError(f"published numbers file {what}: {path}; check the --published path "
                        "(Python: path=), or leave it out to use the table that ships with "
                        "lkbench")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"could not parse {path} as CSV: {exc}") from exc
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; the header must contain "
                        f"{', '.join(COLUMNS)}")
    return table


def _check_unique(path: Path, frame: pd.DataFrame) -> None:
    dup = frame.duplicated(list(KEY_COLUMNS), keep="first")
    if dup.any():
        i = int(dup.to_numpy().argmax())
        raise DataError(f"{path} line {i + 2}: duplicate of an earlier row with the same "
                        f"{', '.join(KEY_COLUMNS)}; keep one row per published number")


def declared_rows() -> list[tuple[str, dict[str, str]]]:
    """The published numbers registered benchmarks declare, as ``(where, raw row)``: cells as
    text, as a CSV row would hold them, in registration order; ``where`` names the declaring
    benchmark for error messages."""
    rows = []
    for name, spec in BENCHMARKS.in_order():
        for p in spec.published:
            rows.append((f"published numbers of registered benchmark {name!r}", {
                "method": p.method, "benchmark": name, "metric": spec.error, "variant": p.variant,
                "value": str(p.value).strip(), "unit": spec.unit,
                "higher_is_better": str(spec.higher_is_better).lower(),
                "num_keypoints": "" if p.num_keypoints is None else str(p.num_keypoints),
                "source": p.source, "notes": p.notes}))
    return rows


def load_published(path: "str | Path | None" = None) -> pd.DataFrame:
    """Read and validate the table of published numbers.

    Args:
        path: CSV file; default the table that ships with lkbench (:data:`DEFAULT_PATH`)
            followed by the rows registered benchmarks declare (:func:`declared_rows`).

    Returns:
        DataFrame with the columns of :data:`COLUMNS` (extra columns kept): ``value`` float64,
        ``higher_is_better`` bool, ``num_keypoints`` nullable ``Int64``, the rest str; benchmark
        aliases are replaced by canonical names.

    Raises:
        DataError: the file is absent or unparsable, a required column is missing, or a row has
            an unknown benchmark, a non-numeric value, a non-boolean ``higher_is_better``, a
            metric/unit/direction that disagrees with the benchmark registry, or duplicates
            another row. Messages name the file line and the column.
    """
    declared = declared_rows() if path is None else []
    path = Path(path) if path is not None else DEFAULT_PATH
    table = _read_text_table(path)
    rows = [_parse_row(path, i + 2, raw) for i, raw in enumerate(table.to_dict("records"))]
    rows += [_parse_row(where, i + 1, {**dict.fromkeys(table.columns, ""), **raw})
             for i, (where, raw) in enumerate(declared)]
    frame = pd.DataFrame(rows, columns=list(table.columns))
    frame["value"] = frame["value"].astype("float64")
    frame["higher_is_better"] = frame["higher_is_better"].astype(bool)
    frame["num_keypoints"] = frame["num_keypoints"].astype("Int64")
    _check_unique(path, frame)
    return frame
