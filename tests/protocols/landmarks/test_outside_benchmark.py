"""A benchmark added from outside lkbench's files: one ``registered_benchmark`` call (spec, dataset
factory, published number) is all ``lkbench score`` and ``lkbench report`` need.

The benchmark is registered through the public API only, its dataset is three dots per image
read from a file written in ``tmp_path``; nothing in the repository is edited. Predictions are
the ground truth (fit) and the ground truth shifted by SHIFT (test), so the number is the
shift's length, worked out here by hand.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from lkbench.cli import cli
from lkbench.data import DATASETS, LandmarkBatch, LandmarkSet
from lkbench.data.base import KeypointMeta
from lkbench.errors import UnknownNameError
from lkbench.protocols.landmarks.benchmarks import (
    BENCHMARKS, BenchmarkData, BenchmarkSpec, PublishedNumber, registered_benchmark,
)
from lkbench.records import RecordStore

SHIFT = np.array([0.02, -0.03])   # [-1, 1] units: (0.01, -0.015) of the image side
EXPECTED = 100 * math.hypot(0.01, 0.015)   # % of image size: 1.8028
SIZES = {"fit": 20, "test": 10}


class Dots(LandmarkSet):
    """Three annotated dots per grey image, keypoints read from ``<root>/dots.npz``."""

    name = "dots-data"
    splits = ("fit", "test")
    meta = KeypointMeta(names=("left", "middle", "right"))

    def __init__(self, split: str = "test", image_size: int = 32, root: "str | None" = None):
        super().__init__(split, image_size, labelled=True)
        with np.load(f"{root}/dots.npz") as z:
            self.kp = torch.from_numpy(z[split]).float()

    def __len__(self) -> int:
        return self.kp.shape[0]

    def _landmarks(self, indices):
        idx = torch.from_numpy(indices)
        return self.kp[idx], torch.ones(len(idx), 3, dtype=torch.bool)

    def _batch(self, indices):
        kp, vis = self._landmarks(indices)
        return LandmarkBatch(torch.zeros(len(indices), 3, self.image_size, self.image_size),
                             kp, vis)


SPEC = BenchmarkSpec(
    name="dots", num_landmarks=3, num_keypoints=None, regressions=("joint",),
    error="visible_l2_error", unit="pct_image_size", higher_is_better=False,
    description="three dots on grey images", source="tests/protocols/landmarks",
    data=BenchmarkData("dots-data", image_size=32), label="Three dots",
    published=(PublishedNumber("Dot Paper", "4.50", source="dot paper, Table 1",
                               num_keypoints=3),))


@pytest.fixture
def root(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    data.mkdir()
    gt = {s: rng.uniform(-0.8, 0.8, size=(n, 3, 2)) for s, n in SIZES.items()}
    np.savez(data / "dots.npz", **gt)
    np.savez(tmp_path / "preds.npz", fit=gt["fit"], test=gt["test"] + SHIFT)
    return data


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_registered_benchmark_is_scored_and_reported(tmp_path, root, monkeypatch):
    monkeypatch.setenv("LKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    results = tmp_path / "results"
    with registered_benchmark(SPEC, "three-dots", dataset=Dots):
        res = invoke("score", "--benchmark", "three-dots", "--root", str(root),
                     "--predictions", str(tmp_path / "preds.npz"), "--name", "my-dots",
                     "--results", str(results))
        assert res.exit_code == 0, res.output
        assert "1.8028" in res.output
        (record,) = RecordStore(results / "landmarks.jsonl").read(strict=True)
        assert (record.benchmark, record.metric, record.unit, record.model) == (
            "dots", "visible_l2_error", "pct_image_size", "my-dots")
        assert record.value == pytest.approx(EXPECTED, abs=1e-5)  # float32 ground truth
        assert record.extra["dataset"] == {"name": "dots-data", "image_size": 32,
                                           "options": {}}

        res = invoke("report", "--results", str(results), "--format", "md")
        assert res.exit_code == 0, res.output
        section = res.output[res.output.index("Three dots"):]
        section = section[:section.find("\n#", 1) if "\n#" in section[1:] else None]
        mine = [line for line in section.splitlines() if "my-dots" in line]
        paper = [line for line in section.splitlines() if "Dot Paper" in line]
        assert len(mine) == 1 and "1.80" in mine[0], section
        assert len(paper) == 1 and "4.50" in paper[0], section

        res = invoke("report", "--results", str(results), "--format", "csv")
        assert "dots" in res.output and "Other results" not in res.output

    # gone again: the benchmark, its alias and its dataset
    assert "dots" not in BENCHMARKS and "three-dots" not in BENCHMARKS
    assert "dots-data" not in DATASETS
    res = CliRunner().invoke(cli, ["score", "--benchmark", "dots", "--predictions",
                                   str(tmp_path / "preds.npz"), "--results", str(results)])
    assert res.exit_code == 2 and "unknown benchmark 'dots'" in res.output
    res = invoke("report", "--results", str(results), "--format", "md")
    assert "Dot Paper" not in res.output and "Other results: dots" in res.output


def test_registration_is_undone_when_a_name_is_taken():
    taken = BenchmarkSpec(**{**SPEC.__dict__, "name": "dots", "published": ()})
    with pytest.raises(Exception, match="already registered"):
        with registered_benchmark(taken, "celeba", dataset=Dots):
            pass  # pragma: no cover
    assert "dots" not in BENCHMARKS and "dots-data" not in DATASETS
    with pytest.raises(UnknownNameError):
        BENCHMARKS.get("dots")


def test_defaults_come_from_the_name():
    spec = BenchmarkSpec(name="mine", num_landmarks=3, num_keypoints=None,
                         regressions=("joint",), error="visible_l2_error",
                         unit="pct_image_size", higher_is_better=False)
    assert (spec.data, spec.label, spec.family) == (BenchmarkData("mine"), "mine", "mine")
