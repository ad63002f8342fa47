"""Baselines of the detection protocol: a number is only meaningful next to these.

Each baseline turns the run's :class:`Context` into a :class:`Candidate` — predictions on the fit
and test splits (or a predictor that makes them) and how to score them — and is registered in
:data:`BASELINES`:

* ``mean-shape`` — regression from a constant: every image gets the same detection, one point,
  and the benchmark's own regression maps it to landmarks. A least-squares fit on a constant
  input predicts the fit split's mean of each landmark (over its visible images), so this is the
  fit-set mean shape scored exactly as the model is (solved with the exact solver: the ``alk``
  ridge fallback would shrink it). Without regression, the mean shape itself is scored.
* ``random-detector`` — the model's detector architecture at its random initialisation (the
  same seed the trained detector started from), then the benchmark's regression.
* ``supervised`` — the same architecture with ``L`` outputs trained on the fit split's ground
  truth for the same number of samples as the detector saw pairs: the ceiling, like the papers'
  "fully supervised" rows (scored through the benchmark's regression, or raw with
  ``--no-regression``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import torch

from lkbench.data import LandmarkSet
from lkbench.models import KeypointPredictor
from lkbench.registry import Registry

from .benchmarks import BenchmarkSpec
from .config import DetectConfig
from .detector import TrainStats, build_detector, labelled_batches, train_detector

__all__ = ["Context", "Candidate", "Baseline", "BASELINES"]


@dataclass
class Context:
    """What a baseline may use.

    Attributes:
        cfg: the run's settings.
        spec: the benchmark.
        sets: ``{"fit": LandmarkSet, "test": LandmarkSet}``.
        gt: ``{"fit": (keypoints [N,L,2], visible [N,L]), "test": ...}`` as numpy.
        num_keypoints: ``K`` of the evaluated model.
        image_size: side the detectors see.
        device: where to train and predict.
        regression: the score option ``"none"`` or ``None`` (the benchmark's default).
        seeds: purpose → seed (``init``, ``order``, ``supervised-init``).
        progress: show progress bars.
    """
    cfg: DetectConfig
    spec: BenchmarkSpec
    sets: Mapping[str, LandmarkSet]
    gt: Mapping[str, tuple[np.ndarray, np.ndarray]]
    num_keypoints: int
    image_size: int
    device: torch.device
    regression: "str | None"
    seeds: Mapping[str, int]
    progress: bool = True

    def score_options(self) -> dict[str, Any]:
        """Score options of a baseline: any K, and the run's regression choice."""
        return {"strict_k": False, **({"regression": self.regression} if self.regression
                                      else {})}


@dataclass
class Candidate:
    """One row of the comparison: the model or a baseline.

    Attributes:
        name: ``"model"`` or the baseline's name.
        label: the record's ``model`` field (the checkpoint's model, ``baseline:<name>``).
        predictor: runs on the images (filled into ``fit``/``test`` by the pipeline), or None.
        fit, test: ``[N,K,2]`` predictions in [-1, 1] (set directly for constant baselines).
        options: keyword options of :func:`~lkbench.protocols.landmarks.score.score`.
        solver: least-squares solver name, or None for the run's.
        train: training statistics, when something was trained.
        seconds: wall time spent on this candidate alone (training, prediction, scoring).
        extra: facts for the record's ``extra``.
    """
    name: str
    label: str
    predictor: "KeypointPredictor | None" = None
    fit: "np.ndarray | None" = None
    test: "np.ndarray | None" = None
    options: dict[str, Any] = field(default_factory=dict)
    solver: "str | None" = None
    train: "TrainStats | None" = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Baseline:
    """``prepare(ctx) -> Candidate`` and a one-line description."""
    prepare: Callable[[Context], Candidate]
    description: str


def _mean_shape(ctx: Context) -> Candidate:
    start = time.perf_counter()
    n_fit, n_test = (len(ctx.sets[r]) for r in ("fit", "test"))
    if ctx.regression == "none":
        kp, vis = ctx.gt["fit"]
        count = vis.sum(axis=0)[:, None]
        mean = np.where(vis[..., None], np.nan_to_num(kp), 0.0).sum(axis=0) / np.maximum(count, 1)
        fit, test = (np.broadcast_to(mean, (n, *mean.shape)).copy() for n in (n_fit, n_test))
        how = "the fit split's mean landmark shape, scored directly"
    else:
        fit, test = np.ones((n_fit, 1, 2)), np.ones((n_test, 1, 2))
        how = ("one constant detection (1, 1) per image through the benchmark's regression, "
               "which predicts the fit split's mean shape")
    return Candidate("mean-shape", "baseline:mean-shape", fit=fit, test=test,
                     options=ctx.score_options(), solver="exact",
                     seconds=time.perf_counter() - start, extra={"how": how})


def _random_detector(ctx: Context) -> Candidate:
    start = time.perf_counter()
    det = build_detector(ctx.num_keypoints, ctx.image_size, ctx.cfg.detector.arch,
                         ctx.cfg.detector.options(), ctx.seeds["init"]).to(ctx.device).eval()
    return Candidate("random-detector", "baseline:random-detector", predictor=det,
                     options=ctx.score_options(), seconds=time.perf_counter() - start,
                     extra={"how": "the detector at its random initialisation (seed "
                            f"{ctx.seeds['init']}), eval mode"})


def _supervised(ctx: Context) -> Candidate:
    train = ctx.cfg.train
    det = build_detector(ctx.spec.num_landmarks, ctx.image_size, ctx.cfg.detector.arch,
                         ctx.cfg.detector.options(), ctx.seeds["supervised-init"])
    order = torch.Generator().manual_seed(ctx.seeds["order"])
    batches = labelled_batches(ctx.sets["fit"], train.total_pairs, train.batch_size,
                               ctx.image_size, order)
    stats = train_detector(det, batches, lr=train.lr, total=train.total_pairs,
                           device=ctx.device, progress=ctx.progress,
                           desc="supervised baseline")
    return Candidate("supervised", "baseline:supervised", predictor=det,
                     options=ctx.score_options(), train=stats, seconds=stats.wall_time_s,
                     extra={"how": f"the detector with L={ctx.spec.num_landmarks} outputs trained "
                            f"on the fit split's ground truth ({train.total_pairs} samples)"})


BASELINES: Registry[Baseline] = Registry("baselines")
BASELINES.add("mean-shape", Baseline(_mean_shape, "the fit split's mean landmark shape "
                                     "(regression from a constant)"))
BASELINES.add("random-detector", Baseline(_random_detector, "the detector at random init, then "
                                          "the benchmark's regression"))
BASELINES.add("supervised", Baseline(_supervised, "the detector trained on the fit split's "
                                     "ground truth (the ceiling)"))
