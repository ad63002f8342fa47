"""The benchmark registry: names, aliases, parameters and their links to the formulas."""
from __future__ import annotations

import dataclasses
import inspect

import pytest

from lkbench.errors import UnknownNameError
from lkbench.protocols.landmarks.benchmarks import (
    BENCHMARKS, H36M_FLIP_PAIRS, UNSCORED_BENCHMARKS, BenchmarkSpec, is_known_benchmark,
)
from lkbench.protocols.landmarks.errors import ERRORS, NORMALISERS
from lkbench.protocols.landmarks.regressions import REGRESSIONS

EXPECTED = {  # name: (L, allowed K, default regression, error formula)
    "synthetic": (5, None, "joint", "iod_error"),
    "synthetic-pose": (5, None, "joint", "iod_error"),
    "celeba-wild": (5, (4, 8), "joint", "iod_error"),
    "celeba-aligned": (5, (10,), "joint", "iod_error"),
    "cub-aligned": (15, (10,), "vis", "visible_l2_error"),
    "cub-001": (15, (4,), "vis", "visible_l2_error"),
    "cub-002": (15, (4,), "vis", "visible_l2_error"),
    "cub-003": (15, (4,), "vis", "visible_l2_error"),
    "cub-all": (15, (4,), "vis", "visible_l2_error"),
    "taichi": (18, None, "coord", "taichi_mae_sum"),
    "deepfashion": (17, None, "joint", "pck"),
    "h36m-simplified": (32, None, "h36m", "h36m_swap_error"),
    "300w": (68, None, "joint", "iod_error"),
}


def test_the_thirteen_benchmarks_are_registered_with_their_parameters():
    assert BENCHMARKS.names() == sorted(EXPECTED)
    for name, (num_landmarks, ks, regression, error) in EXPECTED.items():
        spec = BENCHMARKS.get(name)
        assert (spec.name, spec.num_landmarks, spec.num_keypoints, spec.regression,
                spec.error) == (name, num_landmarks, ks, regression, error)


@pytest.mark.parametrize("alias,name", [
    ("celeba", "celeba-wild"), ("mafl", "celeba-wild"), ("cub", "cub-aligned"),
    ("h36m", "h36m-simplified"), ("human36m", "h36m-simplified"), ("300-w", "300w"),
])
def test_aliases_resolve(alias, name):
    assert BENCHMARKS.get(alias) is BENCHMARKS.get(name)


def test_every_spec_links_to_existing_formulas_and_parameters():
    for name in BENCHMARKS:
        spec = BENCHMARKS.get(name)
        formula = ERRORS.get(spec.error)
        accepted = set(inspect.signature(formula.fn).parameters)
        assert set(spec.error_params) <= accepted, name
        assert set(formula.options) <= accepted
        for field in formula.spec_fields:
            assert hasattr(spec, field) and getattr(spec, field) not in (None, ()), name
        for regression in spec.regressions:
            variant = REGRESSIONS.get(regression)
            for field in variant.spec_fields:
                assert getattr(spec, field), name
        if "normaliser" in spec.error_params:
            assert spec.error_params["normaliser"] in NORMALISERS
        assert spec.source and spec.description and spec.unit


def test_units_and_directions():
    assert BENCHMARKS.get("deepfashion").higher_is_better
    assert BENCHMARKS.get("deepfashion").image_size == 256
    assert BENCHMARKS.get("taichi").image_size == 256
    assert not any(BENCHMARKS.get(n).higher_is_better for n in BENCHMARKS if n != "deepfashion")
    assert BENCHMARKS.get("300w").regressions == ("joint", "none")
    assert BENCHMARKS.get("300w").error_params["normaliser"] == "outer-corners"
    assert BENCHMARKS.get("h36m").flip_pairs == H36M_FLIP_PAIRS


def test_h36m_pairs_are_keypointgans_list():
    assert H36M_FLIP_PAIRS == ((6, 1), (7, 2), (8, 3), (9, 4), (10, 5), (16, 24), (17, 25),
                               (18, 26), (19, 27), (20, 28), (21, 29), (22, 30), (23, 31))


def test_specs_are_frozen():
    spec = BENCHMARKS.get("taichi")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.num_landmarks = 17  # type: ignore[misc]
    with pytest.raises(TypeError):
        BENCHMARKS.get("deepfashion").error_params["threshold_px"] = 5.0  # type: ignore[index]
    assert isinstance(spec, BenchmarkSpec)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UnknownNameError, match=r"unknown benchmark 'tai-chii'; did you mean "
                                               r"'tai-chi'"):
        BENCHMARKS.get("tai-chii")


def test_unscored_names_are_separate_and_known():
    assert not set(UNSCORED_BENCHMARKS) & set(BENCHMARKS.names(include_aliases=True))
    assert all(is_known_benchmark(n) for n in ("ffhq", "celeba-hq", "portraits", "h36m-original",
                                               "cub", "300w"))
    assert not is_known_benchmark("imagenet")


def test_dataset_bindings():
    from lkbench.data import DATASETS
    from lkbench.protocols.landmarks.benchmarks import BenchmarkData

    for name, difficulty in (("synthetic", "easy"), ("synthetic-pose", "pose")):
        assert BENCHMARKS.get(name).data == BenchmarkData(
            "synthetic", image_size=64, options={"difficulty": difficulty, "seed": 0},
            uses_root=False)
    assert BENCHMARKS.get("h36m").data == BenchmarkData("h36m-simplified", groups="activities")
    for name in set(EXPECTED) - {"synthetic", "synthetic-pose", "h36m-simplified"}:
        assert BENCHMARKS.get(name).data == BenchmarkData(name)  # the default: same name, 128 px
    assert all(BENCHMARKS.get(n).data.dataset in DATASETS for n in BENCHMARKS)


def test_report_families_and_labels():
    families = {n: BENCHMARKS.get(n).family for n in BENCHMARKS}
    assert families == {"synthetic": "synthetic", "synthetic-pose": "synthetic",
                        "celeba-wild": "celeba", "celeba-aligned": "celeba",
                        "cub-aligned": "cub", "cub-001": "cub", "cub-002": "cub",
                        "cub-003": "cub", "cub-all": "cub", "taichi": "taichi",
                        "deepfashion": "deepfashion", "h36m-simplified": "h36m", "300w": "300w"}
    assert BENCHMARKS.get("celeba-aligned").label == "MAFL aligned"
    assert BENCHMARKS.get("synthetic").label == "synthetic"
    assert not any(BENCHMARKS.get(n).published for n in BENCHMARKS)  # theirs are in the CSV


def test_the_family_imports_no_other_protocol_and_no_trainer():
    import pkgutil
    import subprocess
    import sys

    import lkbench.protocols.landmarks as family

    modules = [f"{family.__name__}.{m.name}" for m in pkgutil.iter_modules(family.__path__)]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m.startswith(('lkbench.trainers', "
            "'lkbench.protocols.generation', 'lkbench.protocols.editing'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert len(modules) > 10 and out.stdout.strip() == "[]", out.stdout
