"""The GAN-based landmark detection protocol end to end (``docs/protocols.md`` §2, §1, §0.1).

:func:`run_detect` — generated pairs → detector → predictions on the benchmark's real fit and
test images → regression → error, next to the baselines of :mod:`~lkbench.protocols.landmarks.baselines`:

1. load any :class:`~lkbench.models.KeypointGenerator` checkpoint (or, with ``direct``, a
   :class:`~lkbench.models.KeypointPredictor` such as a saved detector);
2. train the detector (:mod:`~lkbench.protocols.landmarks.detector`) on fresh pairs streamed from the
   generator, or reuse a saved one (``detector=PATH``);
3. predict on the fit and test splits (images resized to the detector's input size), one pass
   over the data for the model and every baseline;
4. :func:`~lkbench.protocols.landmarks.score.score_and_predict` each; append one
   :class:`~lkbench.records.ResultRecord` per row to ``<results>/landmarks.jsonl``;
5. write ``predictions.npz`` (``fit``/``test`` raw detections in the project convention —
   exactly what ``lkbench score`` reads, so the number can be recomputed), ``detector.pt``,
   ``config.toml`` and ``detection.png`` to the output folder (default ``<results>/<run_id>``).

:func:`run_score` scores a user's own predictions file the same way (``lkbench score``).
Records are never marked ``published``: lkbench's detector is a stand-in for LKG's (spec §2).

One module (about 470 lines) because it is one pipeline: benchmark split → predictions →
:func:`~.score.score_and_predict` → records, figure, predictions file. The two runners differ only
in where the predictions come from (a trained detector or a file) and share everything after
that (``_Eval``, ``_rows``, ``_finish``); the pieces with a job of their own already live apart
(detector training in :mod:`.detector`, baselines in :mod:`.baselines`, files in
:mod:`.predictions`, the figure in :mod:`.plot`, seeds in :mod:`.seeds`).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from lkbench.atomic import PathLike, atomic_write
from lkbench.checkpoint import build_model, load_checkpoint, require_generator
from lkbench.shipped import resolve_checkpoint
from lkbench.config import to_dict, write_config
from lkbench.errors import CheckpointError, DataError
from lkbench.models import KeypointPredictor
from lkbench.records import (RecordStore, results_dir, ResultRecord, SCHEMA_VERSION, collect_provenance,
                             new_run_id, sha256_file, utc_now_iso)

from .baselines import BASELINES, Candidate, Context
from .benchmarks import BENCHMARKS, BenchmarkData, BenchmarkSpec
from .solvers import SOLVERS
from .config import DetectConfig
from .plot import save_detection_figure
from .detector import (build_detector, generated_pairs, load_detector, resize_images,
                       save_detector, train_detector)
from .predictions import benchmark_data, load_predictions
from .results import Score
from .score import score_and_predict
from .uncertainty import LEVEL, REPLICATES, bootstrap_interval

__all__ = ["PROTOCOL", "PROTOCOL_VERSION", "RECORDS_FILE", "Row", "DetectionRun",
           "run_detect", "run_score", "summary_lines", "interval_text"]

PROTOCOL = "landmarks"
PROTOCOL_VERSION = "1"
RECORDS_FILE = "landmarks.jsonl"
_SEED_PURPOSES = ("latents", "init", "order", "supervised-init")


@dataclass(frozen=True)
class Row:
    """One scored entry: the model or a baseline, its score and its record."""
    name: str
    label: str
    score: Score
    wall_time_s: float
    record: ResultRecord


@dataclass(frozen=True)
class DetectionRun:
    """What a run wrote: its rows (model first), the records file and the output files."""
    run_id: str
    benchmark: str
    rows: tuple[Row, ...]
    records_path: Path
    out_dir: Path
    figure: Path
    predictions: Path
    wall_time_s: float
    detector: "Path | None" = None


@dataclass
class _Eval:
    """The benchmark side of a run: spec, data binding, split datasets and ground truth."""
    name: str
    spec: BenchmarkSpec
    data: BenchmarkData
    sets: dict
    gt: dict = field(default_factory=dict)
    groups: "np.ndarray | None" = None
    """One label per test image (H3.6M activities) for the error formula, or ``None``."""

    @classmethod
    def load(cls, benchmark: str, root: "PathLike | None",
             options: "Mapping[str, Any] | None" = None) -> "_Eval":
        name, data = benchmark_data(benchmark)
        data = data.with_options(options)
        sets = {role: data.load(role, root) for role in ("fit", "test")}
        gt = {}
        for role, ds in sets.items():
            kp, vis = ds.landmarks(range(len(ds)))
            gt[role] = (kp.numpy().astype(np.float64), vis.numpy())
        groups = None if data.groups is None else np.asarray(getattr(sets["test"], data.groups))
        return cls(name, BENCHMARKS.get(name), data, sets, gt, groups)


def _seeds(root: int) -> dict[str, int]:
    return {p: int(np.random.SeedSequence([root, i]).generate_state(1)[0])
            for i, p in enumerate(_SEED_PURPOSES)}


def _json_float(v: float) -> "float | None":
    return None if v is None or not math.isfinite(v) else float(v)


# ==================== predictions on real images
def _predict_all(ev: _Eval, cands: Sequence[Candidate], image_size: int, batch_size: int,
                 device: torch.device) -> None:
    """Fill ``fit``/``test`` of every candidate with a predictor: one pass over the data."""
    active = [c for c in cands if c.predictor is not None]
    for role, ds in ev.sets.items():
        chunks: dict[str, list[np.ndarray]] = {c.name: [] for c in active}
        for start in range(0, len(ds), batch_size):
            images = ds.batch(range(start, min(start + batch_size, len(ds)))).images
            images = resize_images(images, image_size).to(device)
            for c in active:
                t = time.perf_counter()
                with torch.no_grad():
                    out = c.predictor.predict(images)
                if out.dim() != 3 or out.shape[0] != images.shape[0] or out.shape[2] != 2:
                    raise DataError(f"{c.label}: predict() returned shape {tuple(out.shape)}; a "
                                    f"KeypointPredictor must return [N,K,2] (N={images.shape[0]})")
                chunks[c.name].append(out.float().cpu().numpy().astype(np.float64))
                c.seconds += time.perf_counter() - t
        for c in active:
            setattr(c, role, np.concatenate(chunks[c.name]))


def _score(ev: _Eval, c: Candidate, solver: str, center: bool, masks: Mapping[str, Any]
           ) -> tuple[Score, np.ndarray]:
    t = time.perf_counter()
    (fit_gt, fit_vis), (test_gt, test_vis) = ev.gt["fit"], ev.gt["test"]
    if masks.get("fit") is not None:
        fit_vis = fit_vis & masks["fit"]
    if masks.get("test") is not None:
        test_vis = test_vis & masks["test"]
    options = dict(c.options)
    if ev.groups is not None:
        options.setdefault("groups", ev.groups)
    result = score_and_predict(ev.name, c.fit, fit_gt, c.test, test_gt, fit_vis, test_vis,
                               center=center, solver=c.solver or solver, **options)
    c.seconds += time.perf_counter() - t
    return result


def _check_k(ev: _Eval, k: int, strict_k: bool, regression: "str | None") -> None:
    allowed = ev.spec.num_keypoints
    if regression != "none" and strict_k and allowed is not None and k not in allowed:
        raise DataError(f"benchmark {ev.name!r} is published for K in {list(allowed)} keypoints "
                        f"but the model has K={k}; pass --any-k to score it anyway (the number "
                        "is then not comparable with published ones)")
    if regression == "none" and k != ev.spec.num_landmarks:
        raise DataError(f"--no-regression scores the K={k} predictions as the benchmark's "
                        f"L={ev.spec.num_landmarks} landmarks, so K must equal L; drop "
                        "--no-regression to regress them")


# ==================== records and outputs
@dataclass(frozen=True)
class _RunInfo:
    run_id: str
    started_at: str
    config: dict[str, Any]
    seed: "int | None"
    provenance: dict[str, Any]
    checkpoint: "str | None"
    checkpoint_sha256: "str | None"
    extra: dict[str, Any]


def _rows(ev: _Eval, cands: Sequence[Candidate], info: _RunInfo, solver: str, center: bool,
          masks: "Mapping[str, Any] | None" = None) -> tuple[list[Row], np.ndarray]:
    rows, model_pred = [], None
    for c in cands:
        s, pred = _score(ev, c, solver, center, masks or {})
        model_pred = pred if model_pred is None else model_pred
        is_model = c.name == "model"
        extra = {**info.extra, "role": "model" if is_model else "baseline", "entry": c.name,
                 "regression": s.regression, "formula": s.formula, "solver": s.solver,
                 "center": s.center, "settings": {k: v for k, v in s.settings},
                 **({"by_group": dict(s.by_group)} if s.by_group else {}),
                 "notes": list(s.notes), "min_norm": s.min_norm, "num_keypoints": c.test.shape[1],
                 "fit_n": len(ev.sets["fit"]), "test_n": len(ev.sets["test"]),
                 "per_landmark": {n: _json_float(v) for n, v in
                                  zip(ev.sets["test"].landmark_names, s.per_landmark)},
                 **c.extra}
        if s.per_image is not None:
            # how far the number moves with the test images drawn; per-image terms let a later
            # report pair two rows without rerunning anything (lkbench.protocols.landmarks.uncertainty)
            extra["ci95"] = list(bootstrap_interval(s.per_image))
            extra["bootstrap"] = {"over": "test images", "method": "percentile",
                                  "replicates": REPLICATES, "level": LEVEL, "seed": 0}
            extra["per_image"] = s.per_image.encode()
        if c.train is not None:
            extra["train"] = {"steps": c.train.steps, "samples": c.train.samples,
                              "final_loss": _json_float(c.train.final_loss),
                              "samples_per_s": _json_float(c.train.samples_per_s)}
        record = ResultRecord(
            schema=SCHEMA_VERSION, run_id=info.run_id, protocol=PROTOCOL,
            protocol_version=PROTOCOL_VERSION, benchmark=s.benchmark, metric=s.formula,
            value=s.value, unit=s.unit, higher_is_better=s.higher_is_better, n=s.n,
            model=c.label, checkpoint=info.checkpoint if is_model else None,
            checkpoint_sha256=info.checkpoint_sha256 if is_model else None,
            config=info.config, seed=info.seed, provenance=info.provenance,
            started_at=info.started_at, wall_time_s=c.seconds, published=False, extra=extra)
        rows.append(Row(c.name, c.label, s, c.seconds, record))
    return rows, model_pred


def _finish(ev: _Eval, rows: list[Row], model_pred: np.ndarray, cands: Sequence[Candidate],
            out_dir: Path, results: Path, cfg_plot: int, title_model: str,
            write_predictions: bool) -> tuple[Path, Path, Path]:
    """Write predictions, the figure and the records (in that order: records point at files)."""
    pred_path = out_dir / "predictions.npz"
    if write_predictions:
        model = cands[0]
        with atomic_write(pred_path) as fh:
            np.savez(fh, fit=model.fit.astype(np.float32), test=model.test.astype(np.float32))
    n = min(cfg_plot, len(ev.sets["test"]))
    images = ev.sets["test"].batch(range(n)).images
    test_gt, test_vis = ev.gt["test"]
    main = rows[0].score
    bars = {r.label.removeprefix("baseline:") if r.name != "model" else title_model:
            r.score.per_landmark for r in rows}
    figure = save_detection_figure(
        out_dir / "detection.png", images, test_gt[:n], model_pred[:n], test_vis[:n],
        names=ev.sets["test"].landmark_names, bars=bars, unit=main.unit,
        title=f"{ev.name}: {main.value:.3g} {main.unit} ({interval_text(rows[0].record)}, "
              f"n={main.n}) for {title_model}; first {n} test images",
        regressed=rows[0].record.extra.get("regression") != "none")
    store = RecordStore(results / RECORDS_FILE)
    for r in rows:
        store.append(r.record)
    return pred_path, figure, store.path


# ==================== lkbench detect
def _load_model(checkpoint: PathLike, direct: bool) -> tuple[Any, Any]:
    ckpt = load_checkpoint(checkpoint)
    model = build_model(ckpt)
    if direct and not isinstance(model, KeypointPredictor):
        raise CheckpointError(f"--direct needs a checkpoint of a keypoint predictor (with "
                              f"predict()); {checkpoint} holds a {type(model).__name__}: drop "
                              "--direct to train a detector on its generated pairs")
    if not direct:
        require_generator(model, checkpoint, "it predicts keypoints itself: add --direct"
                          if isinstance(model, KeypointPredictor) else None)
    return ckpt, model


def _to(model: Any, device: torch.device) -> Any:
    """``model`` on ``device`` in eval mode (predictors that are not modules pass through)."""
    return model.to(device).eval() if isinstance(model, torch.nn.Module) else model


CPU_PAIRS_HINT = 100_000
"""Above this many training pairs on a CPU, ``detect`` says how to get a result in minutes."""


def run_detect(cfg: DetectConfig, *, benchmark: str, checkpoint: PathLike, direct: bool = False,
               regression: bool = True, detector: "PathLike | None" = None,
               baselines: bool = False, strict_k: bool = True, root: "PathLike | None" = None,
               results: "PathLike | None" = None, out: "PathLike | None" = None,
               progress: bool = True, say: Callable[[str], None] = lambda _m: None,
               argv: "Sequence[str] | None" = None) -> DetectionRun:
    """Run the detection protocol on ``benchmark`` for the model in ``checkpoint``.

    Args:
        cfg: settings (:class:`~lkbench.protocols.landmarks.config.DetectConfig`).
        benchmark: benchmark name or alias (see ``BENCHMARKS``); ``cfg.data`` holds
            its dataset's options.
        checkpoint: a generator checkpoint (a predictor's with ``direct=True``).
        direct: the checkpoint predicts keypoints itself; no pairs, no detector training.
        regression: False scores raw predictions as the landmarks (``K == L``).
        detector: reuse this saved detector instead of training one.
        baselines: also run ``cfg.baselines``.
        strict_k: require a published ``K`` on benchmarks that define one.
        root: dataset folder for real benchmarks.
        results: records folder (:func:`results_dir`); out: output folder (default
            ``<results>/<run_id>``).
        progress: tqdm bars on stderr; say: receives one line per stage.
        argv: command line for the records' provenance.

    Returns:
        :class:`DetectionRun`.
    """
    checkpoint = resolve_checkpoint(checkpoint)          # a shipped name, e.g. "demo"
    threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        return _run_detect(cfg, benchmark, checkpoint, direct, regression, detector, baselines,
                           strict_k, root, results, out, progress, say, argv)
    finally:
        torch.set_num_threads(threads)


def _run_detect(cfg: DetectConfig, benchmark: str, checkpoint: PathLike, direct: bool,
                regression: bool, detector: "PathLike | None", baselines: bool, strict_k: bool,
                root: "PathLike | None", results: "PathLike | None", out: "PathLike | None",
                progress: bool, say: Callable[[str], None], argv: "Sequence[str] | None"
                ) -> DetectionRun:
    t0, started, run_id = time.perf_counter(), utc_now_iso(), new_run_id()
    from lkbench.device import choose_device

    device = choose_device(cfg.device)
    solver = SOLVERS.resolve(cfg.solver)
    names = [BASELINES.resolve(b) for b in cfg.baselines] if baselines else []
    ev = _Eval.load(benchmark, root, cfg.data)
    ckpt, model = _load_model(checkpoint, direct)
    model = _to(model, device)
    reg = None if regression else "none"
    seeds = _seeds(cfg.seed)
    results = results_dir(results)
    out_dir = Path(out) if out else results / run_id
    k = int(model.num_keypoints)
    size = int(getattr(model, "image_size", ev.data.image_size))
    _check_k(ev, k, strict_k, reg)
    extra: dict[str, Any] = {"pipeline": "direct" if direct else "detect"}
    if isinstance(ckpt.extra.get("run_config"), dict):
        # how the model was trained (e.g. KeypointGAN's variant and perceptual-loss choice)
        extra["trained_with"] = ckpt.extra["run_config"]
    predictor, train_stats, det_path = model, None, None
    if not direct:
        if detector is None:
            if device.type == "cpu" and cfg.train.total_pairs > CPU_PAIRS_HINT:
                say(f"note: the detector trains on {cfg.train.total_pairs:,} pairs (GANSeg's "
                    "budget unless a preset or --set changes it): on a CPU that is half an hour "
                    "(32 px) to hours per detector; --preset demo (16,384 pairs) takes minutes "
                    "on the synthetic benchmark")
            predictor, train_stats = _train_on_pairs(cfg, model, k, size, seeds, device,
                                                     progress, say)
            det_path = save_detector(
                out_dir / "detector.pt", predictor, steps=train_stats.steps,
                extra={"generator_checkpoint": str(Path(checkpoint).resolve()),
                       "pairs_seen": train_stats.samples, "seed": cfg.seed})
        else:
            predictor, det_path = _reuse_detector(detector, k, size), Path(detector).resolve()
        extra["detector"] = {"checkpoint": str(det_path), "config": predictor.config}
    main = Candidate("model", ckpt.model, predictor=_to(predictor, device),
                     options={"strict_k": strict_k, **({"regression": reg} if reg else {})},
                     train=train_stats, seconds=train_stats.wall_time_s if train_stats else 0.0)
    ctx = Context(cfg, ev.spec, ev.sets, ev.gt, k, size, device, reg, seeds, progress)
    cands = [main]
    for name in names:
        say(f"baseline {name}")
        cands.append(BASELINES.get(name).prepare(ctx))
    say(f"predicting {len(ev.sets['fit'])} fit + {len(ev.sets['test'])} test images")
    _predict_all(ev, cands, size, cfg.predict_batch_size, device)
    ckpt_path = str(Path(checkpoint).resolve())
    extra.update(input_size=size, predictions=str(out_dir / "predictions.npz"),
                 figure=str(out_dir / "detection.png"),
                 dataset={"name": ev.data.dataset, "image_size": ev.data.image_size,
                          "options": dict(ev.data.options)})
    info = _RunInfo(run_id, started, {**to_dict(cfg), "benchmark": ev.name, "direct": direct,
                                      "regression": regression, "strict_k": strict_k,
                                      "with_baselines": baselines},
                    cfg.seed, collect_provenance(argv, device), ckpt_path, sha256_file(checkpoint),
                    extra)
    rows, model_pred = _rows(ev, cands, info, solver, cfg.center)
    write_config(cfg, out_dir)
    pred_path, figure, records = _finish(ev, rows, model_pred, cands, out_dir, results,
                                         cfg.plot_images, ckpt.model, True)
    return DetectionRun(run_id, ev.name, tuple(rows), records, out_dir, figure, pred_path,
                        time.perf_counter() - t0, det_path)


def _train_on_pairs(cfg: DetectConfig, generator: Any, k: int, size: int, seeds: dict,
                    device: torch.device, progress: bool, say: Callable[[str], None]):
    """A fresh detector trained on ``cfg.train`` pairs streamed from ``generator``."""
    train = cfg.train
    say(f"training the detector on {train.epochs} x {train.pairs_per_epoch} fresh pairs")
    det = build_detector(k, size, cfg.detector.arch, cfg.detector.options(), seeds["init"])
    latents = torch.Generator(device=device).manual_seed(seeds["latents"])
    epochs = (generated_pairs(generator, train.pairs_per_epoch, train.batch_size, latents)
              for _ in range(train.epochs))  # lazily: each epoch's pairs are drawn fresh
    stream = ((p.images, p.keypoints, None) for epoch in epochs for p in epoch)
    stats = train_detector(det, stream, lr=train.lr, total=train.total_pairs, device=device,
                           progress=progress, desc="detector")
    return det, stats


def _reuse_detector(path: PathLike, k: int, size: int):
    det = load_detector(path)
    if (det.num_keypoints, det.image_size) != (k, size):
        raise CheckpointError(f"--detector {path} has K={det.num_keypoints} at {det.image_size} "
                              f"px but the generator has K={k} at {size} px; drop --detector "
                              "to train a detector for this generator")
    return det


# ==================== lkbench score
def run_score(benchmark: str, predictions: PathLike, *, convention: str = "lkbench",
              pixel_size: "int | None" = None, solver: str = "exact", center: bool = False,
              regression: bool = True, strict_k: bool = True, name: "str | None" = None,
              root: "PathLike | None" = None, results: "PathLike | None" = None,
              out: "PathLike | None" = None, plot_images: int = 16,
              argv: "Sequence[str] | None" = None,
              data_options: "Mapping[str, Any] | None" = None) -> DetectionRun:
    """Score a predictions ``.npz`` on ``benchmark`` (see :mod:`~lkbench.protocols.landmarks.predictions`)
    and write the same record and figure as :func:`run_detect` (``model`` = ``name``, default
    the file's stem). ``data_options`` are the benchmark dataset's options (e.g.
    ``{"compat": "alk-swap"}``; see :meth:`~lkbench.protocols.landmarks.predictions.BenchmarkData.
    with_options`)."""
    t0, started, run_id = time.perf_counter(), utc_now_iso(), new_run_id()
    solver = SOLVERS.resolve(solver)
    ev = _Eval.load(benchmark, root, data_options)
    reg = None if regression else "none"
    preds = load_predictions(predictions, benchmark=ev.name, num_fit=len(ev.sets["fit"]),
                             num_test=len(ev.sets["test"]), num_landmarks=ev.spec.num_landmarks,
                             convention=convention, pixel_size=pixel_size, need_fit=regression)
    _check_k(ev, preds.test.shape[1], strict_k, reg)
    label = name or Path(predictions).stem
    c = Candidate("model", label, fit=preds.fit, test=preds.test,
                  options={"strict_k": strict_k, **({"regression": reg} if reg else {})})
    results = results_dir(results)
    out_dir = Path(out) if out else results / run_id
    config = {"benchmark": ev.name, "convention": convention, "pixel_size": pixel_size,
              "solver": solver, "center": center, "regression": regression,
              "strict_k": strict_k}
    extra = {"pipeline": "score", "ignored_arrays": list(preds.ignored),
             "user_masks": [k for k in ("fit_visible", "test_visible")
                            if getattr(preds, k) is not None],
             "figure": str(out_dir / "detection.png"),
             "dataset": {"name": ev.data.dataset, "image_size": ev.data.image_size,
                         "options": dict(ev.data.options)}}
    path = str(Path(predictions).resolve())
    info = _RunInfo(run_id, started, config, None, collect_provenance(argv, "cpu"), path,
                    sha256_file(predictions), extra)
    rows, model_pred = _rows(ev, [c], info, solver, center,
                             {"fit": preds.fit_visible, "test": preds.test_visible})
    _, figure, records = _finish(ev, rows, model_pred, [c], out_dir, results, plot_images,
                                 label, False)
    return DetectionRun(run_id, ev.name, tuple(rows), records, out_dir, figure,
                        Path(predictions), time.perf_counter() - t0)


def interval_text(record: ResultRecord) -> str:
    """``95% CI [a, b]`` of a record (empty when it has none)."""
    ci = record.extra.get("ci95")
    return f"95% CI [{ci[0]:.4g}, {ci[1]:.4g}]" if isinstance(ci, list) and len(ci) == 2 else ""


def summary_lines(run: DetectionRun) -> list[str]:
    """One line per row (benchmark, entry, value, unit, its 95 % bootstrap interval over test
    images, n, wall time), then where files went."""
    width = max(len(r.label) for r in run.rows)
    lines = [f"{run.benchmark}  {r.label:<{width}}  {r.score.value:9.4f} {r.score.unit}  "
             f"{interval_text(r.record)}  n={r.score.n}  {r.wall_time_s:7.1f} s"
             for r in run.rows]
    lines.append(f"total {run.wall_time_s:.1f} s; records appended to {run.records_path}; "
                 f"figure {run.figure}")
    return lines
