"""Result records: schema validation, the append-only JSONL store under concurrency and
crashes, provenance and small helpers."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from lkbench import __version__
from lkbench import provenance, records
from lkbench.errors import RecordError
from lkbench.records import (SCHEMA_VERSION, RecordStore, ResultRecord, collect_provenance,
                             new_run_id, parse_utc, sha256_file, utc_now_iso)

BASE = {
    "schema": 1, "run_id": "20260105-101112-3fa9c1", "protocol": "landmarks",
    "protocol_version": "1", "benchmark": "cub", "metric": "forward_error", "value": 0.0542,
    "unit": "fraction_of_inter_ocular", "higher_is_better": False, "n": 2874,
    "model": "latent_keypoint_gan", "checkpoint": "ckpt/step-0200000.pt",
    "checkpoint_sha256": "ab" * 32, "config": {"num_keypoints": 10, "regressor": "linear"},
    "seed": 0, "provenance": {"lkbench": "0.1.0"}, "started_at": "2026-01-05T10:11:12Z",
    "wall_time_s": 812.4,
}


def record(**changes) -> ResultRecord:
    return ResultRecord.from_dict({**BASE, **changes})


# -- schema ----------------------------------------------------------------------------------

def test_round_trip_and_defaults():
    r = record(stderr=0.0007, extra={"split": "test"})
    assert ResultRecord.from_dict(json.loads(r.to_json())) == r
    assert list(r.to_dict()) == [f.name for f in dataclasses.fields(ResultRecord)]
    plain = record()
    assert (plain.stderr, plain.published, plain.extra) == (None, False, {})
    assert record(value=1).value == 1.0 and isinstance(record(value=1).value, float)
    assert SCHEMA_VERSION == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        plain.value = 2.0  # type: ignore[misc]


@pytest.mark.parametrize("changes, message", [
    ({"value": "0.05"}, "field 'value' must be float, got str"),
    ({"value": float("nan")}, "field 'value' must be a finite number"),
    ({"stderr": float("inf")}, "field 'stderr' must be a finite number"),
    ({"n": True}, "field 'n' must be int, got bool"),
    ({"n": 2.0}, "field 'n' must be int, got float"),
    ({"n": -1}, "field 'n' must not be negative"),
    ({"higher_is_better": 0}, "field 'higher_is_better' must be bool"),
    ({"seed": "0"}, "field 'seed' must be int or null"),
    ({"checkpoint": 3}, "field 'checkpoint' must be str or null"),
    ({"checkpoint_sha256": "ABC"}, "field 'checkpoint_sha256' must be 64 lowercase hex"),
    ({"config": [1]}, "field 'config' must be dict"),
    ({"config": {"x": float("nan")}}, "field 'config' must be plain JSON data"),
    ({"metric": " "}, "field 'metric' must not be empty"),
    ({"started_at": "2026-01-05 10:11"}, "field 'started_at' must be an ISO-8601 UTC time"),
    ({"started_at": "2026-01-05T10:11:12+02:00"}, "field 'started_at' must be an ISO-8601 UTC"),
    ({"started_at": "2026-01-05T10:11:12"}, "field 'started_at' must be an ISO-8601 UTC"),
    ({"schema": 0}, "field 'schema' must be between 1 and 1"),
    ({"schema": 2, "new_field": 1}, "schema 2 was written by a newer lkbench .* upgrade lkbench"),
    ({"metirc": "x"}, "unknown record field 'metirc'; did you mean 'metric'"),
])
def test_validation_names_the_field(changes, message):
    with pytest.raises(RecordError, match=message):
        record(**changes)


def test_missing_fields_and_non_object():
    data = {k: v for k, v in BASE.items() if k not in ("unit", "seed")}
    with pytest.raises(RecordError, match="missing field\\(s\\) 'unit', 'seed'"):
        ResultRecord.from_dict(data)
    with pytest.raises(RecordError, match="must be a JSON object, got list"):
        ResultRecord.from_dict([1, 2])  # type: ignore[arg-type]


def test_direct_construction_is_validated_too():
    with pytest.raises(RecordError, match="field 'value'"):
        ResultRecord(**{**BASE, "value": float("nan")})


# -- the store -------------------------------------------------------------------------------

def test_store_appends_and_reads_in_order(tmp_path):
    store = RecordStore(tmp_path / "results" / "runs" / "a.jsonl")  # folders are created
    assert store.read() == [] and list(store) == []
    written = [record(run_id=f"r{i}", value=i / 7, extra={"note": "ünïcode"}) for i in range(5)]
    for r in written:
        store.append(r)
    assert store.read(strict=True) == written and list(store) == written
    lines = store.path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5 and json.loads(lines[0])["run_id"] == "r0"
    with pytest.raises(RecordError, match="takes a ResultRecord, got dict"):
        store.append(BASE)  # type: ignore[arg-type]


def test_truncated_last_line_is_skipped_and_next_append_starts_fresh(tmp_path, caplog):
    store = RecordStore(tmp_path / "r.jsonl", fsync=False)
    for i in range(3):
        store.append(record(run_id=f"r{i}"))
    half = record(run_id="killed").to_json().encode()[:57]
    with open(store.path, "ab") as f:  # what a writer killed mid-write leaves behind
        f.write(half)

    with caplog.at_level(logging.WARNING, logger="lkbench.records"):
        assert [r.run_id for r in store.read(strict=True)] == ["r0", "r1", "r2"]
    assert "r.jsonl:4: skipped an incomplete last line" in caplog.text

    store.append(record(run_id="after"))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lkbench.records"):
        assert [r.run_id for r in store.read()] == ["r0", "r1", "r2", "after"]
    assert "r.jsonl:4: skipped an unreadable result record" in caplog.text
    # The sealed fragment is now an ordinary bad line, which strict mode reports.
    with pytest.raises(RecordError, match=r"r\.jsonl:4: unreadable result record"):
        store.read(strict=True)


def test_corrupt_middle_line_strict_and_lenient(tmp_path, caplog):
    path = tmp_path / "r.jsonl"
    good = record().to_json()
    future = json.dumps({**BASE, "schema": 2})
    path.write_text("\n".join([good, "{not json", good, future, "", good]) + "\n")
    store = RecordStore(path)
    with pytest.raises(RecordError, match=r"r\.jsonl:2: unreadable result record: Expecting"):
        store.read(strict=True)
    with caplog.at_level(logging.WARNING, logger="lkbench.records"):
        assert len(store.read()) == 3
    assert "r.jsonl:2:" in caplog.text and "r.jsonl:4:" in caplog.text
    assert "newer lkbench" in caplog.text and "r.jsonl:5" not in caplog.text  # blank: ignored
    path.write_bytes(good.encode() + b"\n\xff\xfe\n")
    with pytest.raises(RecordError, match=r"r\.jsonl:2: unreadable result record"):
        store.read(strict=True)


# Child processes are separate interpreters started with subprocess: multiprocessing's spawn
# would have to re-import this test module by name, which --import-mode=importlib does not
# guarantee. Each child appends `count` records (forever if negative) after a go signal.
CHILD = r"""
import json, sys
from lkbench.records import RecordStore, ResultRecord
path, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = json.loads(sys.stdin.readline())
store = RecordStore(path)
print("ready", flush=True)
sys.stdin.readline()
i = 0
while count < 0 or i < count:
    store.append(ResultRecord.from_dict({**base, "run_id": f"{tag}-{i}"}))
    i += 1
    if i == 1:
        print("appended", flush=True)
"""


def start_children(path: Path, tags: list[str], count: int, base: dict) -> list[subprocess.Popen]:
    env = {**os.environ, "PYTHONPATH": str(Path(records.__file__).parents[1])}
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(path), tag, str(count)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 env=env) for tag in tags]
    for child in children:
        child.stdin.write(json.dumps(base) + "\n")
        child.stdin.flush()
    for child in children:
        assert child.stdout.readline().strip() == "ready"
    for child in children:  # all are importing nothing any more: start them together
        child.stdin.write("go\n")
        child.stdin.flush()
    return children


def test_concurrent_appenders_never_interleave_or_lose_lines(tmp_path):
    path = tmp_path / "shared.jsonl"
    tags, count = ["a", "b", "c", "d"], 200
    # Lines far above the pipe/page sizes, so unlocked writers would visibly tear them.
    base = {**BASE, "extra": {"padding": "x" * 20_000}}
    children = start_children(path, tags, count, base)
    for child in children:
        child.stdin.close()
        assert child.wait(timeout=60) == 0

    lines = path.read_bytes().split(b"\n")
    assert lines.pop() == b"" and len(lines) == len(tags) * count
    got = RecordStore(path).read(strict=True)
    for tag in tags:  # each writer's records are all there, complete and in its order
        assert [r.run_id for r in got if r.run_id.startswith(f"{tag}-")] == \
            [f"{tag}-{i}" for i in range(count)]
    assert all(r.extra == base["extra"] for r in got)


def test_writer_killed_while_appending(tmp_path):
    path = tmp_path / "killed.jsonl"
    base = {**BASE, "extra": {"padding": "y" * 200_000}}  # big writes: a kill may cut one
    (child,) = start_children(path, ["k"], -1, base)
    assert child.stdout.readline().strip() == "appended"
    time.sleep(0.3)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    child.stdin.close()
    child.stdout.close()

    store = RecordStore(path)
    survived = store.read()
    assert len(survived) >= 1
    assert [r.run_id for r in survived] == [f"k-{i}" for i in range(len(survived))]
    store.append(record(run_id="after-kill"))
    after = store.read()
    assert after[:-1] == survived and after[-1].run_id == "after-kill"


# -- provenance and helpers ------------------------------------------------------------------

def test_collect_provenance_fields():
    prov = collect_provenance(argv=["lkbench", "detect", "--benchmark", "cub"], device="cpu")
    json.dumps(prov, allow_nan=False)  # goes into records as-is
    assert prov["lkbench"] == __version__
    assert prov["argv"] == ["lkbench", "detect", "--benchmark", "cub"]
    assert prov["device"] == "cpu" and isinstance(prov["device_name"], str)
    assert set(prov["versions"]) == {"python", "torch", "torchvision", "numpy", "scikit-learn",
                                     "clean-fid"}
    assert prov["versions"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert prov["versions"]["torch"]
    assert {"git_commit", "git_dirty", "cuda", "cudnn", "platform", "hostname"} <= set(prov)
    if prov["git_commit"] is not None:
        assert re.fullmatch(r"[0-9a-f]{40}", prov["git_commit"])
        assert isinstance(prov["git_dirty"], bool)
    assert collect_provenance()["argv"] == sys.argv and collect_provenance()["device"] is None


def test_provenance_never_fails_without_git(monkeypatch):
    def no_git(*args, **kwargs):
        raise subprocess.TimeoutExpired("git", 5)
    monkeypatch.setattr(provenance.subprocess, "run", no_git)
    prov = collect_provenance(device="cpu")
    assert prov["git_commit"] is None and prov["git_dirty"] is None
    monkeypatch.setattr(provenance.subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(OSError))
    assert collect_provenance()["git_commit"] is None


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_state_of_a_real_checkout(tmp_path):
    pkg = tmp_path / "repo" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("x = 1\n")
    assert provenance._git_state(pkg) == (None, None)  # not a repository

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       cwd=pkg.parent, check=True, capture_output=True)
    git("init", "-q")
    assert provenance._git_state(pkg) == (None, None)  # package not tracked: not its checkout
    git("add", ".")
    git("commit", "-qm", "init")
    commit, dirty = provenance._git_state(pkg)
    assert re.fullmatch(r"[0-9a-f]{40}", commit) and dirty is False
    (pkg / "__init__.py").write_text("x = 2\n")
    assert provenance._git_state(pkg) == (commit, True)


def test_sha256_file_streams(tmp_path):
    path = tmp_path / "blob"
    data = os.urandom(10_000)
    path.write_bytes(data)
    assert sha256_file(path, chunk_size=333) == hashlib.sha256(data).hexdigest()
    assert sha256_file(str(path)) == hashlib.sha256(data).hexdigest()


def test_run_ids_and_times():
    ids = {new_run_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", i) for i in ids)
    now = utc_now_iso()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now)
    assert abs((parse_utc(now) - datetime.now(timezone.utc)).total_seconds()) < 5
    assert record(started_at=now).started_at == now
    assert parse_utc("2026-01-05T10:11:12.5+00:00") is not None and parse_utc("soon") is None


def test_append_to_a_read_only_place_is_one_line_naming_the_records_file(tmp_path, monkeypatch):
    import errno

    from lkbench.atomic import FileWriteError

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")
    store = RecordStore(tmp_path / "landmarks.jsonl")
    monkeypatch.setattr("lkbench.records.os.open", refuse)
    with pytest.raises(FileWriteError, match="landmarks.jsonl") as info:
        store.append(record())
    assert "read-only" in str(info.value) and "\n" not in str(info.value)
