"""Result records: the schema, an append-only JSONL store, and the results-folder rule.

Every number lkbench measures becomes one :class:`ResultRecord`, written as one JSON line to a
``results/runs/*.jsonl`` file by :class:`RecordStore`. Files are only ever appended to; ``lkbench
report`` reads them (and ``results/published.csv``) and never reruns anything.

The store is safe for several processes appending to one file at once (an exclusive
``fcntl.flock`` around a single ``O_APPEND`` write per line) and for writers killed mid-write:
readers skip an incomplete last line with a warning, and the next append starts on a fresh line.

Provenance (:mod:`lkbench.provenance`) imports torch only when collected, so reading records stays
fast.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import os
import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import UnionType
from typing import Any, Iterator, Union, get_args, get_origin, get_type_hints

from .atomic import PathLike, writing
from .errors import RecordError
from .provenance import collect_provenance, sha256_file  # noqa: F401  (re-exported)
from .registry import did_you_mean


def results_dir(path: "PathLike | None" = None) -> Path:
    """The folder result records go to and are read from: ``path``, else ``$LKBENCH_RESULTS``,
    else ``results/runs`` under the current directory. Every protocol and ``lkbench report``
    use this one rule."""
    return Path(path or os.environ.get("LKBENCH_RESULTS") or Path.cwd() / "results" / "runs")

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; O_APPEND alone keeps whole lines together
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
"""Version of the record layout; bump it when a field is added, removed or changes meaning."""


_SHA256_RE = re.compile(r"[0-9a-f]{64}")
# Fields that identify what was measured: an empty string there would make the record ungroupable.
_NON_EMPTY = ("run_id", "protocol", "protocol_version", "benchmark", "metric", "model")


@dataclass(frozen=True)
class ResultRecord:
    """One measured value with everything needed to interpret and reproduce it.

    Attributes:
        schema: record layout version, :data:`SCHEMA_VERSION`.
        run_id: id of the run that produced the value (see :func:`new_run_id`).
        protocol: registry name of the evaluation protocol, e.g. ``"landmarks"``.
        protocol_version: the protocol's version; numbers of different versions never mix.
        benchmark: registry name of the benchmark (dataset + protocol settings), e.g. ``"cub"``.
        metric: what ``value`` is, e.g. ``"forward_error"``.
        value: the number; finite.
        unit: unit of ``value``, e.g. ``"fraction_of_inter_ocular"``.
        higher_is_better: direction of ``value`` for tables and plots.
        n: number of samples ``value`` was computed from.
        model: registry name of the evaluated model.
        checkpoint: path of the evaluated checkpoint, or None (e.g. a baseline).
        checkpoint_sha256: hex sha256 of that file (see :func:`sha256_file`), or None.
        config: the fully resolved protocol config, plain JSON data.
        seed: the run's root seed, or None when nothing was random.
        provenance: environment of the run, from :func:`collect_provenance`.
        started_at: ISO-8601 UTC start time, e.g. ``"2026-01-05T10:11:12Z"``.
        wall_time_s: seconds the measurement took.
        stderr: standard error of ``value``, or None when not estimated.
        published: True when the protocol settings are the published ones (not a smoke run).
        extra: further protocol-specific facts (split, reference-statistics id, ...).

    Raises:
        RecordError: on construction, naming the field, when a value has the wrong type or is
            out of range.
    """
    schema: int
    run_id: str
    protocol: str
    protocol_version: str
    benchmark: str
    metric: str
    value: float
    unit: str
    higher_is_better: bool
    n: int
    model: str
    checkpoint: str | None
    checkpoint_sha256: str | None
    config: dict[str, Any]
    seed: int | None
    provenance: dict[str, Any]
    started_at: str
    wall_time_s: float
    stderr: float | None = None
    published: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = _check_type(f.name, getattr(self, f.name), _field_types()[f.name])
            object.__setattr__(self, f.name, value)  # ints given for float fields become floats
        _check_values(self)

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON data, fields in schema order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ResultRecord":
        """Validate ``data`` (e.g. one parsed JSON line) and build a record from it.

        Raises:
            RecordError: naming the field, for missing or unknown keys, wrong types, non-finite
                numbers, or a schema newer than this lkbench reads.
        """
        if not isinstance(data, dict):
            raise RecordError(f"a result record must be a JSON object, got {type(data).__name__}")
        # Checked first: a newer schema's new fields would otherwise read as "unknown field".
        schema = data.get("schema")
        if isinstance(schema, int) and not isinstance(schema, bool) and schema > SCHEMA_VERSION:
            raise _future_schema(schema)
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in data if k not in names]
        if unknown:
            raise RecordError(did_you_mean(str(unknown[0]), names, "record field"))
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in data
                   and f.default is f.default_factory is dataclasses.MISSING]
        if missing:
            raise RecordError(f"record is missing field(s) {', '.join(map(repr, missing))}")
        return cls(**data)

    def to_json(self) -> str:
        """One line of strict JSON (no NaN/Infinity), without the trailing newline."""
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False)


@functools.lru_cache(maxsize=None)
def _field_types() -> dict[str, Any]:
    """Resolved annotations of :class:`ResultRecord` (strings under ``from __future__``)."""
    return get_type_hints(ResultRecord)


def _future_schema(schema: int) -> RecordError:
    return RecordError(f"record schema {schema} was written by a newer lkbench (this lkbench "
                       f"reads schema <= {SCHEMA_VERSION}); upgrade lkbench to read it")


def _check_type(name: str, value: Any, annotation: Any) -> Any:
    """``value`` if it matches ``annotation`` (ints widen to float), else RecordError."""
    allowed = get_args(annotation) if get_origin(annotation) in (Union, UnionType) \
        else (annotation,)
    for t in allowed:
        base = get_origin(t) or t  # dict[str, Any] -> dict
        if t is type(None) and value is None:
            return None
        if base is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if base is int and isinstance(value, bool):
            continue  # JSON true is not a count
        if base is not type(None) and isinstance(value, base):
            return value
    expected = " or ".join("null" if t is type(None) else (get_origin(t) or t).__name__
                           for t in allowed)
    raise RecordError(f"record field {name!r} must be {expected}, "
                      f"got {type(value).__name__} {value!r:.60}")


def _check_values(r: ResultRecord) -> None:
    """Range and format checks that types alone do not express."""
    def bad(name: str, why: str) -> RecordError:
        return RecordError(f"record field {name!r} {why}, got {getattr(r, name)!r:.80}")

    if r.schema > SCHEMA_VERSION:
        raise _future_schema(r.schema)
    if r.schema < 1:
        raise bad("schema", f"must be between 1 and {SCHEMA_VERSION}")
    for name in _NON_EMPTY:
        if not getattr(r, name).strip():
            raise bad(name, "must not be empty")
    for name in ("value", "wall_time_s", "stderr"):
        v = getattr(r, name)
        if v is not None and not math.isfinite(v):
            raise bad(name, "must be a finite number (NaN and infinity are not valid JSON)")
    for name in ("n", "wall_time_s", "stderr"):
        v = getattr(r, name)
        if v is not None and v < 0:
            raise bad(name, "must not be negative")
    if r.checkpoint_sha256 is not None and not _SHA256_RE.fullmatch(r.checkpoint_sha256):
        raise bad("checkpoint_sha256", "must be 64 lowercase hex digits")
    if parse_utc(r.started_at) is None:
        raise bad("started_at", "must be an ISO-8601 UTC time like '2026-01-05T10:11:12Z'")
    for name in ("config", "provenance", "extra"):
        try:
            json.dumps(getattr(r, name), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise RecordError(f"record field {name!r} must be plain JSON data: {exc}") from exc


# -- time and ids ---------------------------------------------------------------------------

def utc_now_iso() -> str:
    """Current UTC time as ISO-8601 to the second with a ``Z``: ``2026-01-05T10:11:12Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_utc(text: str) -> datetime | None:
    """The aware UTC datetime of an ISO-8601 string, or None if it is not one in UTC."""
    try:
        t = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    return t if t.utcoffset() is not None and t.utcoffset().total_seconds() == 0 else None


def new_run_id() -> str:
    """A sortable, practically unique run id: UTC timestamp plus a random suffix.

    Example: ``"20260105-101112-3fa9c1"``. Sorts by start time to the second; the 24 random
    bits keep runs started in the same second apart.
    """
    return f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


# -- the store ------------------------------------------------------------------------------

class RecordStore:
    """An append-only JSONL file of :class:`ResultRecord`, one record per line.

    Args:
        path: the ``.jsonl`` file; it and its parent folders are created on first append.
        fsync: flush each appended line to disk before returning (records are few and costly
            to recompute, so durability wins over the millisecond it takes).
    """

    def __init__(self, path: PathLike, *, fsync: bool = True):
        self.path = Path(path)
        self.fsync = fsync

    def __repr__(self) -> str:
        return f"RecordStore({str(self.path)!r})"

    def append(self, record: ResultRecord) -> None:
        """Append ``record`` as one line; safe against concurrent appenders and earlier crashes.

        Raises:
            RecordError: if ``record`` is not a :class:`ResultRecord`.
        """
        if not isinstance(record, ResultRecord):
            raise RecordError(f"RecordStore.append takes a ResultRecord, got "
                              f"{type(record).__name__}; build one with ResultRecord.from_dict")
        line = (record.to_json() + "\n").encode("utf-8")
        with writing(self.path, verb="append to"):   # read-only, full disk: one line, the path
            self._append(line)

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)  # Windows
        fd = os.open(self.path, flags, 0o644)
        try:
            with _locked(fd, exclusive=True):
                if not _ends_with_newline(fd):
                    # A writer was killed mid-line: seal its fragment so ours starts fresh.
                    line = b"\n" + line
                _write_all(fd, line)
                if self.fsync:
                    os.fsync(fd)
        finally:
            os.close(fd)

    def read(self, *, strict: bool = False) -> list[ResultRecord]:
        """All records in file order; a missing file reads as empty.

        An incomplete last line (its writer was killed) is skipped with a warning in both modes.
        Any other unreadable line is skipped with a warning, or, with ``strict=True``, raises;
        that includes such a fragment once a later append has sealed it with a newline.

        Raises:
            RecordError: in strict mode, naming ``file:line`` and the problem.
        """
        try:
            with open(self.path, "rb") as f, _locked(f.fileno(), exclusive=False):
                data = f.read()
        except FileNotFoundError:
            return []
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline, as every complete one does
        records = [r for i, raw in enumerate(lines, 1) if (r := self._parse(raw, i, strict))]
        if tail.strip():
            log.warning("%s:%d: skipped an incomplete last line (%d bytes; its writer was "
                        "probably killed mid-write)", self.path, len(lines) + 1, len(tail))
        return records

    def __iter__(self) -> Iterator[ResultRecord]:
        return iter(self.read())

    def _parse(self, raw: bytes, lineno: int, strict: bool) -> ResultRecord | None:
        if not raw.strip():
            return None
        try:
            return ResultRecord.from_dict(json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError, RecordError) as exc:
            where = f"{self.path}:{lineno}"
            if strict:
                raise RecordError(f"{where}: unreadable result record: {exc}. Records are only "
                                  "ever appended, so fix or delete this line by hand") from exc
            log.warning("%s: skipped an unreadable result record: %s", where, exc)
            return None


@contextmanager
def _locked(fd: int, *, exclusive: bool) -> Iterator[None]:
    """Hold an advisory ``flock`` on ``fd``; it is released on exit (or when the process dies)."""
    if fcntl is None:
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _ends_with_newline(fd: int) -> bool:
    if os.fstat(fd).st_size == 0:
        return True
    os.lseek(fd, -1, os.SEEK_END)  # O_APPEND writes still go to the end wherever we seek
    return os.read(fd, 1) == b"\n"


def _write_all(fd: int, data: bytes) -> None:
    """One ``os.write`` in practice; loops only if the kernel accepts part of it (disk full...)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
