"""Fixtures of the CUDA tests (``@pytest.mark.cuda``, issue 24).

Every test in ``tests/cuda`` carries the ``cuda`` marker. Where torch sees no CUDA device they
are collected and skipped, with the reason (a CPU-only torch build, or no visible device), so CI
lists them without running them. ``benchmarks/gpu_check.sh`` runs them on a GPU machine.

``LKBENCH_CUDA_TEST_LOG=FILE`` appends one JSON line per collected test and per finished test
phase (setup, call, teardown) to ``FILE`` as the run goes: ``gpu_check.sh`` reads it, so a run
cut off by its time limit still reports every test that finished.

``LKBENCH_CUDA_TESTS_ON_CPU=1`` runs them on the CPU instead, with bfloat16 autocast on the
CPU standing in for AMP and gloo for NCCL: a self-check of the test code for maintainers
without a GPU. It proves that the tests are written right, not that CUDA works.
"""
from __future__ import annotations

import contextlib
import json
import os
from types import SimpleNamespace

import pytest
import torch

ON_CPU = os.environ.get("LKBENCH_CUDA_TESTS_ON_CPU", "").strip().lower() not in ("", "0",
                                                                               "false", "no")


def skip_reason() -> "str | None":
    """Why the ``cuda`` tests cannot run here, or None when they can."""
    if ON_CPU or torch.cuda.is_available():
        return None
    if torch.version.cuda is None:
        return (f"needs a CUDA GPU: torch {torch.__version__} is a CPU-only build "
                "(benchmarks/gpu_check.sh runs these tests on a GPU machine)")
    return (f"needs a CUDA GPU: torch {torch.__version__} (CUDA {torch.version.cuda}) sees no "
            "CUDA device (benchmarks/gpu_check.sh runs these tests on a GPU machine)")


def pytest_collection_modifyitems(config, items):
    reason = skip_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


def _log(record: dict) -> None:
    path = os.environ.get("LKBENCH_CUDA_TEST_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


def pytest_collection_finish(session):
    for item in session.items:
        if item.get_closest_marker("cuda") is not None:
            _log({"nodeid": item.nodeid, "when": "collected"})


def pytest_runtest_logreport(report):
    if report.outcome == "passed":
        message = ""
    elif report.outcome == "skipped" and isinstance(report.longrepr, tuple):
        message = str(report.longrepr[2]).removeprefix("Skipped: ")
    else:
        text = report.longreprtext or ""
        errors = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
        message = " / ".join(errors[:3]) or (text.strip().splitlines() or [""])[-1]
    _log({"nodeid": report.nodeid, "when": report.when, "outcome": report.outcome,
          "duration_s": round(report.duration, 2), "message": message[:400]})


@pytest.fixture(scope="session")
def device() -> torch.device:
    """``cuda`` (``cpu`` under ``LKBENCH_CUDA_TESTS_ON_CPU``)."""
    return torch.device("cpu" if ON_CPU else "cuda")


def autocast(device: torch.device):
    """lkbench's AMP on ``device``: bfloat16 autocast (``RunContext.autocast`` on CUDA)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@pytest.fixture(scope="session", autouse=True)
def cpu_amp():
    """Under ``LKBENCH_CUDA_TESTS_ON_CPU``: let ``RunContext`` keep ``amp`` on the CPU and
    autocast there in bfloat16, so the AMP tests exercise mixed precision on the CPU too."""
    if not ON_CPU:
        yield
        return
    from lkbench.trainers.distributed import RunContext

    create = RunContext.create.__func__

    def create_keeping_amp(cls, device: str = "auto", amp: bool = True):
        ctx = create(cls, device, amp)
        ctx.amp = amp
        return ctx

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RunContext, "create", classmethod(create_keeping_amp))
        mp.setattr(RunContext, "autocast", lambda self: autocast(self.device) if self.amp
                   else contextlib.nullcontext())
        yield


@pytest.fixture
def no_tf32():
    """True float32 on CUDA for the duration of a test: convolutions there run in TF32 by
    default (``torch.backends.cudnn.allow_tf32``), which rounds inputs to 10 mantissa bits;
    comparisons with the CPU at float32 tolerances switch it (and matmul TF32) off."""
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """``‖a − b‖ / ‖b‖`` in float64 (``b`` the reference); 0 when both are 0."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    num, den = float((a - b).norm()), float(b.norm())
    return num / den if den > 0 else num


@pytest.fixture(scope="session")
def helpers() -> SimpleNamespace:
    """Small shared functions (test modules cannot import each other by name)."""
    return SimpleNamespace(autocast=autocast, rel_err=rel_err, on_cpu=ON_CPU)
