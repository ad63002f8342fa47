"""Annotation pickles are read without running code (issue 25): the official Taichi tables load
through the allow-listed unpickler, a crafted one is refused before anything in it runs."""
from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from lkbench.cli import cli
from lkbench.data import get_dataset
from lkbench.data.files import AnnotationError
from lkbench.data.safe_pickle import UnsafePickleError, load_dataframe_pickle

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "taichi" / "landmarks"
# The full release files, where the project's shared data is laid out beside the checkout.
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "taichi"


class _Payload:
    """Unpickling this calls ``os.system`` (what a malicious annotation file would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _crafted(path: Path, marker: Path) -> Path:
    """A DataFrame pickle whose ``value`` column smuggles the payload in."""
    table = pd.DataFrame({"file_name": pd.Series(["00001.png"], dtype=object),
                          "value": [_Payload(marker)]})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(table))
    return path


@pytest.mark.parametrize("split", ["train", "test"])
def test_official_fixture_tables_load(split):
    table = load_dataframe_pickle(FIXTURE / f"taichi_{split}_gt.pkl")
    reference = pd.read_pickle(FIXTURE / f"taichi_{split}_gt.pkl")   # trusted: our fixture
    pd.testing.assert_frame_equal(table, reference)


@pytest.mark.skipif(not SHARED.is_dir(), reason="the full Taichi landmark files are not here")
def test_full_release_files_load():
    # written by an older pandas/numpy (numpy.core, pandas.core.internals.BlockManager)
    test = load_dataframe_pickle(SHARED / "taichi_test_gt.pkl")
    assert len(test) == 300 and list(test.columns[:1]) == ["file_name"]
    assert test["value"][0].shape == (18, 2)


def test_crafted_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "MARKER"
    path = _crafted(tmp_path / "evil.pkl", marker)
    with pytest.raises(UnsafePickleError, match=r"evil\.pkl is not a plain annotation table: "
                                                r"it asks to load posix\.system"):
        load_dataframe_pickle(path)
    assert not marker.exists()


def test_crafted_taichi_files_never_run_under_any_command(tmp_path):
    marker = tmp_path / "MARKER"
    root = tmp_path / "data"
    for split in ("train", "test"):
        _crafted(root / "taichi" / "landmarks" / f"taichi_{split}_gt.pkl", marker)
    with pytest.raises(UnsafePickleError):
        len(get_dataset("taichi", split="test", root=root, cache_dir=tmp_path / "cache"))
    env = {"LKBENCH_CACHE_DIR": str(tmp_path / "cache")}
    res = CliRunner(env=env).invoke(cli, ["datasets", "check", "taichi", "--root", str(root),
                                          "--no-progress"])
    assert res.exit_code == 1 and "could run code" in res.output
    res = CliRunner(env=env).invoke(cli, ["score", "--benchmark", "taichi", "--root", str(root),
                                          "--export-order", str(tmp_path / "order.csv")])
    assert res.exit_code == 2 and "could run code" in res.output
    assert not marker.exists()


def test_a_table_the_pinned_pandas_writes_loads(tmp_path):
    import numpy as np

    table = pd.DataFrame({"file_name": ["a.png", "b.png"], "frame_number": [0, 1],
                          "value": [np.zeros((18, 2)), np.ones((18, 2))]})
    table.to_pickle(tmp_path / "new.pkl")
    pd.testing.assert_frame_equal(load_dataframe_pickle(tmp_path / "new.pkl"), table)


def test_garbled_and_foreign_pickles_are_annotation_errors(tmp_path):
    good = (FIXTURE / "taichi_test_gt.pkl").read_bytes()
    (tmp_path / "cut.pkl").write_bytes(good[: len(good) // 2])
    with pytest.raises(AnnotationError, match="cannot read .*cut.pkl as a pandas pickle"):
        load_dataframe_pickle(tmp_path / "cut.pkl")
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(AnnotationError, match="holds a list, not a pandas DataFrame"):
        load_dataframe_pickle(tmp_path / "list.pkl")
    shutil.copy(FIXTURE / "taichi_test_gt.pkl", tmp_path / "ok.pkl")
    assert len(load_dataframe_pickle(tmp_path / "ok.pkl")) == 3
