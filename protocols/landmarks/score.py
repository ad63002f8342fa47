"""``score``: ties a benchmark name (:data:`~lkbench.protocols.landmarks.benchmarks.BENCHMARKS`)
to its regression variant (:mod:`.regressions`) and error formula (:mod:`.errors`), after
checking the caller's arrays (shapes, N/K/L, NaN/inf, masks) with a one-line error and its fix.

Coordinates. Inputs follow the project convention of :mod:`lkbench.keypoints`: float ``[N,K,2]``
detections and ``[N,L,2]`` ground truth, ``(x, y)`` in ``[-1, 1]`` with the image edges at ±1.
Regressions run in the protocols' "[0, 1] frame" ``u = (v + 1)/2`` (top-left origin, the LKG
authors' own code ALK/GSG); ``center=True`` subtracts 0.5 from detections *and* ground truth first
(image-centre origin, as ZHG and SKP do). Only the bias-free variants depend on that choice.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

from lkbench.errors import ConfigError, DataError, UnknownNameError
from lkbench.keypoints import from_unit, to_unit
from lkbench.registry import did_you_mean
from .benchmarks import BENCHMARKS, BenchmarkSpec
from .errors import ERRORS, _require_visible
from .regressions import REGRESSIONS
from .results import Fitted, Score
from .solvers import DEFAULT_SOLVER, SOLVERS, Solve, get_solver

__all__ = ["score", "score_and_predict"]


# ==================== input checks
def _as_float64(name: str, a: object) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be a numeric array (torch tensor or numpy); "
                        f"could not convert it: {exc}") from exc


def _points(name: str, a: object, axis_name: str) -> np.ndarray:
    """Validate ``[N,P,2]`` points and return them as float64."""
    if a is None:
        raise DataError(f"{name} is missing (None); pass a [N,{axis_name},2] array")
    arr = _as_float64(name, a)
    if arr.ndim != 3:
        raise DataError(f"{name} must have shape [N,{axis_name},2] (images, points, (x, y)); "
                        f"got ndim={arr.ndim}, shape {tuple(arr.shape)}; reshape flat "
                        "coordinates with .reshape(N, -1, 2)")
    if arr.shape[-1] != 2:
        raise DataError(f"{name} must have (x, y) in its last axis, i.e. shape [N,{axis_name},2]; "
                        f"got last dimension {arr.shape[-1]} (shape {tuple(arr.shape)}); pass "
                        "visibility separately as *_visible")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{name} is empty (shape {tuple(arr.shape)}); nothing to score")
    return arr


def _visible(name: str, v: object, shape: tuple[int, int]) -> np.ndarray:
    """Validate a ``[N,L]`` mask (bool, or 0/1 numbers); ``None`` means all visible."""
    if v is None:
        return np.ones(shape, dtype=bool)
    arr = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
    if arr.shape != shape:
        raise DataError(f"{name} must have shape [N,L] = {shape} to match the ground truth; "
                        f"got {tuple(arr.shape)}")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise DataError(f"{name} must be boolean (True = visible) or 0/1; got other values")
        arr = arr.astype(bool)
    return arr


def _check_finite(name: str, arr: np.ndarray, where: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(arr).all(axis=-1) & where
    if bad.any():
        n, p = np.argwhere(bad)[0]
        raise DataError(f"{name} contains {int(bad.sum())} non-finite point(s) (NaN or inf), first "
                        f"at image {n}, {what} {p}; drop those images, fix the producer, or mark "
                        "missing ground truth with visible=False")


@dataclass(frozen=True)
class _Split:
    """A validated split: float64 arrays in ``[-1, 1]``; invisible GT entries set to 0."""

    pred: np.ndarray     # [N,K,2]
    gt: np.ndarray       # [N,L,2]
    visible: np.ndarray  # [N,L] bool


def _split(prefix: str, pred: object, gt: object, visible: object) -> _Split:
    p = _points(f"{prefix}_pred", pred, "K")
    g = _points(f"{prefix}_gt", gt, "L")
    if p.shape[0] != g.shape[0]:
        raise DataError(f"{prefix}_pred has N={p.shape[0]} images but {prefix}_gt has "
                        f"N={g.shape[0]}; detections and ground truth must list the same images "
                        "in the same order")
    v = _visible(f"{prefix}_visible", visible, g.shape[:2])
    _check_finite(f"{prefix}_pred", p, np.ones(p.shape[:2], dtype=bool), "keypoint")
    _check_finite(f"{prefix}_gt", g, v, "visible landmark")
    # Values at invisible entries are never read; zeroing makes NaN markers of missing GT harmless.
    return _Split(p, np.where(v[..., None], g, 0.0), v)

# ==================== score
_GENERAL_OPTIONS = ("regression", "strict_k")


@dataclass(frozen=True)
class _Options:
    regression: str
    strict_k: bool
    error_kwargs: Mapping[str, object]


def _resolve_options(spec: BenchmarkSpec, options: Mapping[str, object]) -> _Options:
    formula = ERRORS.get(spec.error)
    allowed = _GENERAL_OPTIONS + formula.options
    for name in options:
        if name not in allowed:
            raise UnknownNameError(f"{did_you_mean(name, list(allowed), 'score option')} "
                                   f"(options of benchmark {spec.name!r}, formula {spec.error!r})")
    regression = REGRESSIONS.resolve(str(options.get("regression", spec.regression)))
    if regression not in spec.regressions:
        raise ConfigError(f"benchmark {spec.name!r} does not use regression {regression!r}; "
                          f"allowed: {', '.join(spec.regressions)}")
    error_kwargs = {**spec.error_params,
                    **{k: v for k, v in options.items() if k in formula.options}}
    return _Options(regression, bool(options.get("strict_k", True)), error_kwargs)


def _check_sizes(spec: BenchmarkSpec, opts: _Options, test: _Split, fit: "_Split | None") -> None:
    for s, prefix in ((test, "test"), (fit, "fit")):
        if s is not None and s.gt.shape[1] != spec.num_landmarks:
            raise DataError(f"benchmark {spec.name!r} has L={spec.num_landmarks} ground-truth "
                            f"landmarks but {prefix}_gt has L={s.gt.shape[1]}; pass that "
                            "benchmark's annotation or pick the benchmark that matches it")
    k = test.pred.shape[1]
    if fit is not None and fit.pred.shape[1] != k:
        raise DataError(f"fit_pred has K={fit.pred.shape[1]} keypoints but test_pred has K={k}; "
                        "use the same detector for both splits")
    if opts.regression == "none" and k != spec.num_landmarks:
        raise DataError(f"regression 'none' scores the detections directly, so K must equal "
                        f"L={spec.num_landmarks}; got K={k}. Use regression="
                        f"{spec.regressions[0]!r} to map K points onto the landmarks")
    if (opts.regression != "none" and opts.strict_k and spec.num_keypoints is not None
            and k not in spec.num_keypoints):
        raise DataError(f"benchmark {spec.name!r} is defined for K in {list(spec.num_keypoints)} "
                        f"detected keypoints, got K={k}; pass strict_k=False to score another K "
                        "(the number is then not comparable with published ones)")


def _to_frame(kp: np.ndarray, center: bool) -> np.ndarray:
    """``[-1, 1]`` → the regression frame: [0, 1] (top-left origin) or centred ([−½, ½])."""
    u = to_unit(kp)
    return u - 0.5 if center else u


def _from_frame(u: np.ndarray, center: bool) -> np.ndarray:
    """Inverse of :func:`_to_frame`."""
    return from_unit(u + 0.5 if center else u)


def _regress(spec: BenchmarkSpec, name: str, fit: "_Split | None", test: _Split,
             center: bool, solve: Solve) -> Fitted:
    variant = REGRESSIONS.get(name)
    extra = {f: getattr(spec, f) for f in variant.spec_fields}
    if variant.needs_fit:
        extra["solve"] = solve
    fit_args = ((None, None, None) if fit is None
                else (_to_frame(fit.pred, center), _to_frame(fit.gt, center), fit.visible))
    return variant.fn(*fit_args, _to_frame(test.pred, center), **extra)


def score(benchmark: str, fit_pred: object, fit_gt: object, test_pred: object, test_gt: object,
          fit_visible: object = None, test_visible: object = None, *, center: bool = False,
          solver: str = DEFAULT_SOLVER, **options: object) -> Score:
    """Score detections on a landmark benchmark with its published protocol.

    Maps detections to landmarks with the benchmark's regression variant fitted on the fit split,
    then applies its error formula to the test split (spec §0.1, §1; see :data:`BENCHMARKS`).

    Args:
        benchmark: benchmark name or alias (``"celeba-wild"``, ``"cub"``, ``"h36m"``, …).
        fit_pred: float ``[N,K,2]`` detections on the fit split, ``(x, y)`` in ``[-1, 1]``
            (torch or numpy). May be ``None`` with ``regression="none"``.
        fit_gt: float ``[N,L,2]`` ground truth of the fit split, same convention.
        test_pred: float ``[M,K,2]`` detections on the test split.
        test_gt: float ``[M,L,2]`` ground truth of the test split.
        fit_visible: optional bool ``[N,L]`` (True = annotated); default all visible.
        test_visible: optional bool ``[M,L]``; invisible entries are not scored.
        center: fit bias-free regressions in the centred frame (ZHG/SKP) instead of the
            top-left [0, 1] frame (ALK/GSG, the default).
        solver: ``"exact"`` (float64 least squares, default) or ``"alk"`` (the float32 normal
            equations and ridge fallback of the AutoLink/GANSeg code; see
            :mod:`lkbench.protocols.landmarks.solvers`).
        **options: ``regression`` (a variant the benchmark allows, e.g. ``"none"`` for 300-W or
            H3.6M models that output L points), ``strict_k`` (default True: K must be one the
            published protocol uses), and the error formula's options: ``normaliser`` (IOD
            benchmarks), ``threshold_px`` (PCK), ``groups`` / ``aggregation`` (H3.6M).

    Returns:
        :class:`Score`.

    Raises:
        UnknownNameError: unknown benchmark, solver, option, normaliser or aggregation.
        ConfigError: a regression the benchmark does not allow.
        DataError: malformed arrays (shape, N/K/L mismatch, NaN/inf, no visible landmark).
    """
    return score_and_predict(benchmark, fit_pred, fit_gt, test_pred, test_gt, fit_visible,
                             test_visible, center=center, solver=solver, **options)[0]


def score_and_predict(benchmark: str, fit_pred: object, fit_gt: object, test_pred: object,
                      test_gt: object, fit_visible: object = None, test_visible: object = None,
                      *, center: bool = False, solver: str = DEFAULT_SOLVER,
                      **options: object) -> tuple[Score, np.ndarray]:
    """:func:`score`, also returning the regressed test landmarks (for plots and exports).

    Returns:
        ``(Score, pred)`` with ``pred`` float64 ``[M,L,2]`` in ``[-1, 1]`` (project convention):
        the landmarks the error formula compared with ``test_gt``.
    """
    spec = BENCHMARKS.get(benchmark)
    solver = SOLVERS.resolve(solver)
    opts = _resolve_options(spec, options)
    test = _split("test", test_pred, test_gt, test_visible)
    needs_fit = REGRESSIONS.get(opts.regression).needs_fit
    fit = _split("fit", fit_pred, fit_gt, fit_visible) if needs_fit else None
    ignored = (("fit split not used: regression 'none' scores the detections directly",)
               if not needs_fit and fit_pred is not None else ())
    _check_sizes(spec, opts, test, fit)
    _require_visible(test.visible)
    fitted = _regress(spec, opts.regression, fit, test, center, get_solver(solver, spec.name))
    formula = ERRORS.get(spec.error)
    extra = {f: getattr(spec, f) for f in formula.spec_fields}
    pred = _from_frame(fitted.pred, center)
    err = formula.fn(pred, test.gt, test.visible, **extra, **opts.error_kwargs)
    # With solver "alk" a singular system takes the ridge fallback, which its note reports.
    min_norm = fitted.min_norm and solver == DEFAULT_SOLVER
    min_norm_note = (("minimum-norm least-squares solution used (the fit is rank-deficient, "
                      "e.g. a collapsed keypoint)",) if min_norm else ())
    result = Score(benchmark=spec.name, value=err.value, unit=spec.unit,
                   higher_is_better=spec.higher_is_better, n=err.n, formula=spec.error,
                   regression=opts.regression, min_norm=min_norm, center=center,
                   settings=err.settings, by_group=err.by_group,
                   notes=ignored + fitted.notes + min_norm_note, solver=solver,
                   per_landmark=err.per_landmark, per_image=err.per_image)
    return result, pred
