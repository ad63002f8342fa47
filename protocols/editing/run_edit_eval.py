"""``lkbench edit-eval``: attribute-edit metrics for an editor checkpoint or the identity edit.

Steps (metrics in :mod:`lkbench.protocols.editing.metrics`):

1. the editor: an ``l2m-gan`` checkpoint (its ``G_ema``), or the identity baseline; the
   dataset, difficulty and image size default to the checkpoint's training run;
2. the judges, each trained once and cached under ``<results>/cache/`` (keyed by a hash of
   everything that determines it), or loaded from a user path: an
   :class:`~lkbench.protocols.editing.judge.AttributeClassifier` trained on the real
   labels of the ``classifier_split``, and a keypoint detector
   (:class:`~lkbench.protocols.landmarks.detector.KeypointDetector`) trained on the annotated landmarks
   of the ``detector_split``;
3. edit the first ``num_images`` images of ``split`` towards the other attribute value, render
   their exact counterfactuals where the dataset has them, measure;
4. append one :class:`~lkbench.records.ResultRecord` per metric to ``<results>/editing.jsonl``
   (benchmark = the dataset, ``extra.attribute``, ``extra.references``), write ``config.toml``,
   ``metrics.json`` and ``edit_grid.png`` (source, edit, counterfactual, |edit − counterfactual|)
   to the output folder (default ``<results>/<run_id>``).
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from lkbench.atomic import PathLike, atomic_write
from lkbench.checkpoint import build_model, load_checkpoint
from lkbench.config import register_preset, to_dict, write_config
from lkbench.data import LandmarkSet, get_dataset
from .plots import save_edit_grid
from lkbench.errors import CheckpointError, ConfigError
from lkbench.records import (RecordStore, results_dir, ResultRecord, SCHEMA_VERSION, collect_provenance,
                             new_run_id, sha256_file, utc_now_iso)
from lkbench.shipped import resolve_checkpoint
from lkbench.device import choose_device

from .judge import (AttributeClassifier, labelled_attribute_batches,
                                   load_classifier, save_classifier, train_classifier)
from lkbench.protocols.landmarks.detector import build_detector, labelled_batches, load_detector, save_detector, \
    train_detector
from .metrics import METRICS, EditMeasurements, IdentityEditor
from .fid import TaskStats, metric_name

PROTOCOL = "editing"
PROTOCOL_VERSION = "1"
RECORDS_FILE = "editing.jsonl"


@dataclass(frozen=True)
class EditEvalConfig:
    """Settings of ``lkbench edit-eval`` (presets ``smoke``, ``demo``).

    Attributes:
        dataset: dataset name; empty = the checkpoint's training dataset (``synthetic``).
        difficulty: synthetic only; empty = the checkpoint's (``easy``).
        image_size: evaluation size; 0 = the editor's own (identity: 32).
        split: images that are edited (labelled, with counterfactuals on ``synthetic``).
        num_images: how many (the first ones of ``split``).
        batch_size: images per forward pass.
        alpha: edit strength α (1 = the trained edit, 0 = no change).
        control: also measure the editor at α = 0, its re-synthesis of the source without an
            edit; the references then carry ``control_<metric>`` for every metric but FID, and
            the control's values are also recorded as their own rows (editor ``<label> α=0
            control``, ``extra.alpha`` 0, ``extra.control_of`` the editor). The part of an
            edit's accuracy that the control reaches too comes from re-synthesis, not from the
            edit: images a generator merely degrades pull a weak classifier towards chance,
            which beats the identity edit's accuracy whenever the classifier is right on the
            sources. Skipped for the identity edit (its control is itself).
        grid_images: rows of ``edit_grid.png``.
        seed: root seed of the judges' initialisation and data order.
        device: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``.
        classifier_split, classifier_samples, classifier_batch, classifier_lr: training of the
            attribute classifier (real images and labels).
        detector_split, detector_samples, detector_batch, detector_lr: training of the
            keypoint detector (real images and annotated landmarks).
        fid_features: ``""`` (no FID), ``inception`` (FID of edits against real target-domain
            images of ``classifier_split``, per task and averaged; Inception weights from
            ``inception_weights``, ``$LKBENCH_INCEPTION_WEIGHTS`` or the lkbench cache) or
            ``random-conv`` (a fixed random network: a named Fréchet distance, never "FID").
        fid_mode: clean-fid mode, ``clean`` | ``legacy_tensorflow``.
        fid_real: real images (the first ones of ``classifier_split``) for the reference.
        inception_weights: path of clean-fid's ``inception-2015-12-05.pt``.
    """
    dataset: str = ""
    difficulty: str = ""
    image_size: int = 0
    split: str = "test"
    num_images: int = 500
    batch_size: int = 100
    alpha: float = 1.0
    control: bool = True
    grid_images: int = 8
    seed: int = 0
    device: str = "auto"
    classifier_split: str = "train"
    classifier_samples: int = 120_000
    classifier_batch: int = 64
    classifier_lr: float = 2e-3
    detector_split: str = "fit"
    detector_samples: int = 12_000
    detector_batch: int = 32
    detector_lr: float = 1e-3
    fid_features: str = ""
    fid_mode: str = "clean"
    fid_real: int = 2000
    inception_weights: str = ""

    def __post_init__(self) -> None:
        for name in ("num_images", "batch_size", "grid_images", "classifier_samples",
                     "classifier_batch", "detector_samples", "detector_batch", "fid_real"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.image_size < 0 or self.seed < 0:
            raise ValueError("image_size and seed must be >= 0")


register_preset("smoke", EditEvalConfig, {
    "num_images": 16, "batch_size": 16, "grid_images": 4, "classifier_samples": 128,
    "classifier_batch": 32, "detector_samples": 64, "detector_batch": 16})
register_preset("demo", EditEvalConfig, {})

PRESET_HELP = {"smoke": "16 images, judges trained on ~100 samples (seconds; tests)",
               "demo": "500 test images; attribute classifier trained on 120 000 samples, "
                       "keypoint detector on 12 000 (minutes on a CPU)"}


@dataclass
class EditEvalRun:
    """What :func:`run_edit_eval` produced."""
    run_id: str
    editor: str
    attribute: str
    summary: dict[str, tuple[float, float]]
    references: dict[str, float]
    records: list[ResultRecord]
    records_path: Path
    grid: Path
    out_dir: Path
    n: int
    wall_time_s: float


# ==================== editor and data
def _load_editor(checkpoint: "PathLike | None") -> tuple[Any, str, dict[str, Any], Any]:
    """(editor, label, the checkpoint's training data settings, checkpoint or None)."""
    if checkpoint is None:
        return IdentityEditor(), IdentityEditor.label, {}, None
    ckpt = load_checkpoint(checkpoint)      # a path or a shipped name (l2m-demo)
    model = build_model(ckpt)
    if not callable(getattr(model, "edit", None)) or not hasattr(model, "num_domains"):
        raise CheckpointError(f"{checkpoint} holds a {type(model).__name__}, not an attribute "
                              "editor; give a checkpoint of `lkbench train --model l2m-gan`")
    data = dict((ckpt.extra.get("run_config") or {}).get("data") or {})
    return model, ckpt.model, data, ckpt


def _dataset(cfg: EditEvalConfig, trained: dict[str, Any], split: str, size: int
             ) -> LandmarkSet:
    name = cfg.dataset or trained.get("name") or "synthetic"
    opts: dict[str, Any] = {"split": split, "image_size": size}
    difficulty = cfg.difficulty or trained.get("difficulty") or ""
    if name == "synthetic":
        if difficulty:
            opts["difficulty"] = difficulty
        if int(trained.get("seed", -1)) >= 0 and not cfg.dataset:
            opts["seed"] = int(trained["seed"])
    return get_dataset(name, **opts)


def _digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# ==================== the judges
def _classifier(cfg: EditEvalConfig, ds: LandmarkSet, attribute: str, path: "PathLike | None",
                cache: Path, device: torch.device, say: Callable[[str], None]
                ) -> tuple[AttributeClassifier, Path]:
    if path is not None:
        return load_classifier(path, attribute).to(device), Path(path)
    key = {"dataset": repr(ds), "attribute": attribute, "samples": cfg.classifier_samples,
           "batch": cfg.classifier_batch, "lr": cfg.classifier_lr, "seed": cfg.seed,
           "arch": AttributeClassifier(attribute, ds.image_size).config}
    target = cache / f"attribute-classifier-{ds.name}-{attribute}-{_digest(key)}.pt"
    if target.is_file():
        say(f"reusing the attribute classifier {target}")
        return load_classifier(target, attribute).to(device), target
    say(f"training an attribute classifier for {attribute!r} on {cfg.classifier_samples} "
        f"{ds.name}/{ds.split} images")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = AttributeClassifier(attribute, ds.image_size)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    stats = train_classifier(model, labelled_attribute_batches(
        ds, attribute, cfg.classifier_samples, cfg.classifier_batch, gen),
        lr=cfg.classifier_lr, device=device)
    save_classifier(target, model, steps=stats.steps, extra={"trained_on": key,
                                                             "stats": asdict(stats)})
    return model, target


def _detector(cfg: EditEvalConfig, ds: LandmarkSet, path: "PathLike | None", cache: Path,
              device: torch.device, say: Callable[[str], None]):
    if path is not None:
        return load_detector(path).to(device).eval(), Path(path)
    key = {"dataset": repr(ds), "samples": cfg.detector_samples, "batch": cfg.detector_batch,
           "lr": cfg.detector_lr, "seed": cfg.seed, "arch": "compact"}
    target = cache / f"keypoint-detector-{ds.name}-{_digest(key)}.pt"
    if target.is_file():
        say(f"reusing the keypoint detector {target}")
        return load_detector(target).to(device).eval(), target
    say(f"training a keypoint detector on {cfg.detector_samples} annotated "
        f"{ds.name}/{ds.split} images")
    det = build_detector(ds.num_landmarks, ds.image_size, "compact", {}, cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed + 2)
    batches = ((im, kp, vis) for im, kp, vis in labelled_batches(
        ds, cfg.detector_samples, cfg.detector_batch, ds.image_size, gen))
    stats = train_detector(det, batches, lr=cfg.detector_lr, total=cfg.detector_samples,
                           device=device, progress=False)
    save_detector(target, det, steps=stats.steps, extra={"trained_on": key,
                                                         "final_loss": stats.final_loss})
    return det.eval(), target


# ==================== the run
def run_edit_eval(cfg: EditEvalConfig, *, attribute: str, checkpoint: "PathLike | None" = None,
                  classifier: "PathLike | None" = None, detector: "PathLike | None" = None,
                  results: "PathLike | None" = None, out: "PathLike | None" = None,
                  say: Callable[[str], None] = lambda _m: None,
                  argv: "Sequence[str] | None" = None) -> EditEvalRun:
    """Evaluate edits of ``attribute`` by the editor in ``checkpoint`` (None: identity edit).

    Raises:
        CheckpointError: the checkpoint is not an attribute editor, or a given classifier is
            of another attribute.
        DataError: the dataset has no such attribute, or no labelled ``split``.
    """
    t0, started, run_id = time.perf_counter(), utc_now_iso(), new_run_id()
    if checkpoint is not None:
        checkpoint = resolve_checkpoint(checkpoint)
    editor, label, trained, ckpt = _load_editor(checkpoint)
    if ckpt is not None and trained.get("attribute") not in (None, attribute):
        raise ConfigError(f"{checkpoint} was trained to edit {trained['attribute']!r}, not "
                          f"{attribute!r}; pass --attribute {trained['attribute']}")
    size = cfg.image_size or getattr(editor, "image_size", 0) or 32
    device = choose_device(cfg.device)
    results_path = results_dir(results)
    out_dir = Path(out) if out is not None else results_path / run_id
    cache = results_path / "cache"
    ds = _dataset(cfg, trained, cfg.split, size)
    col = ds.attribute_index(attribute)
    if not ds.labelled:
        raise ConfigError(f"split {cfg.split!r} of {ds.name!r} has no landmarks to normalise "
                          "keypoint displacement; use --set split=test")
    judge = _classifier(cfg, _dataset(cfg, trained, cfg.classifier_split, size), attribute,
                        classifier, cache, device, say)
    det = _detector(cfg, _dataset(cfg, trained, cfg.detector_split, size), detector, cache,
                    device, say)
    if isinstance(editor, torch.nn.Module):
        editor = editor.to(device).eval()
    fid = _fid_stats(cfg, device) if cfg.fid_features else None
    has_cf = callable(getattr(ds, "counterfactual", None))
    n = min(cfg.num_images, len(ds))
    say(f"editing {n} {ds.name}/{ds.split} images ({attribute}, α = {cfg.alpha:g}) with {label}")

    control = cfg.control and not isinstance(editor, IdentityEditor)
    parts, controls, grid_rows = [], [], None
    for start in range(0, n, cfg.batch_size):
        idx = range(start, min(start + cfg.batch_size, n))
        batch = ds.batch(idx)
        labels = ds.attributes(idx)[:, col]
        src = batch.images.to(device)
        with torch.no_grad():
            edits = editor.edit(src, labels.long().to(device), alpha=cfg.alpha).clamp(-1, 1)
        cf = ds.counterfactual(idx, attribute).images.to(device) if has_cf else None
        m = EditMeasurements.measure(src, edits, labels.to(device), batch.keypoints.to(device),
                                     ds.meta, judge[0].predict, det[0].predict, cf)
        parts.append(m)
        if control:
            with torch.no_grad():
                again = editor.edit(src, labels.long().to(device), alpha=0.0).clamp(-1, 1)
            controls.append(EditMeasurements.measure(
                src, again, labels.to(device), batch.keypoints.to(device), ds.meta,
                judge[0].predict, det[0].predict, cf))
        if fid is not None:
            fid.add_edits(edits, (~labels.bool()).long())
        if grid_rows is None:
            grid_rows = (src, edits, cf, det[0].predict(src), det[0].predict(edits),
                         None if cf is None else det[0].predict(cf))
    meas = EditMeasurements.concat(parts)
    summary, refs = meas.summary(), meas.references()
    ctrl_meas = EditMeasurements.concat(controls) if controls else None
    ctrl = ctrl_meas.summary() if ctrl_meas is not None else {}
    refs.update({f"control_{name}": value for name, (value, _se) in ctrl.items()})
    fid_extra: dict[str, Any] = {}
    if fid is not None:
        real = _dataset(cfg, trained, cfg.classifier_split, size)
        say(f"{metric_name(cfg.fid_features)}: features of {min(cfg.fid_real, len(real))} real "
            f"{real.name}/{real.split} images")
        fid.add_real(_labelled(real, col, min(cfg.fid_real, len(real)), cfg.batch_size))
        value, per_task, counts = fid.distance()
        summary[metric_name(cfg.fid_features)] = (value, float("nan"))
        fid_extra = {"per_task": {str(t): v for t, v in per_task.items()},
                     "counts_edits_real": {str(t): list(c) for t, c in counts.items()},
                     "features": fid.extractor.name, "mode": cfg.fid_mode,
                     "weights_sha256": fid.extractor.weights_sha256}

    run_cfg = {"protocol": PROTOCOL, **to_dict(cfg), "attribute": attribute, "image_size": size,
               "dataset": repr(ds), "editor": label,
               "classifier": str(judge[1]), "detector": str(det[1])}
    out_dir.mkdir(parents=True, exist_ok=True)
    write_config(cfg, out_dir)
    grid = _save_grid(out_dir / "edit_grid.png", grid_rows, cfg.grid_images, attribute, label,
                      summary)
    wall = time.perf_counter() - t0
    provenance = collect_provenance(argv, device)
    sha = sha256_file(checkpoint) if checkpoint is not None else None

    def rows(model: str, values: dict[str, tuple[float, float]], counts: dict[str, int],
             alpha: float, more: dict[str, Any]) -> list[ResultRecord]:
        return [ResultRecord(
            schema=SCHEMA_VERSION, run_id=run_id, protocol=PROTOCOL,
            protocol_version=PROTOCOL_VERSION, benchmark=ds.name, metric=name, value=value,
            unit=METRICS[name].unit if name in METRICS else "frechet_distance",
            higher_is_better=METRICS[name].higher_is_better if name in METRICS else False,
            n=counts.get(name, len(meas)),
            model=model, checkpoint=str(checkpoint) if checkpoint is not None else None,
            checkpoint_sha256=sha, config=run_cfg, seed=cfg.seed, provenance=provenance,
            started_at=started, wall_time_s=wall, stderr=se if se == se else None,
            published=False,
            extra={"attribute": attribute, "alpha": alpha, "split": ds.split,
                   "editor_step": ckpt.step if ckpt is not None else None,
                   "references": refs, "grid": str(grid), **more,
                   **({"fid": fid_extra} if name not in METRICS else {})})
            for name, (value, se) in values.items() if value == value]

    records = rows(label, summary, meas.counts(), cfg.alpha, {})
    if ctrl_meas is not None:
        records += rows(f"{label} α=0 control", ctrl, ctrl_meas.counts(), 0.0,
                        {"control_of": label})
    with atomic_write(out_dir / "metrics.json") as fh:
        fh.write(json.dumps({"editor": label, "attribute": attribute, "n": len(meas),
                             "metrics": {k: {"value": v if v == v else None,
                                             "stderr": se if se == se else None}
                                         for k, (v, se) in summary.items()},
                             "references": {k: v for k, v in refs.items() if v == v}},
                            indent=1, allow_nan=False).encode())
    store = RecordStore(results_path / RECORDS_FILE)
    for r in records:
        store.append(r)
    return EditEvalRun(run_id, label, attribute, summary, refs, records, store.path, grid,
                       out_dir, len(meas), wall)


def _fid_stats(cfg: EditEvalConfig, device: torch.device) -> TaskStats:
    from lkbench.protocols.generation.inception import build_extractor

    extractor = build_extractor(cfg.fid_features, cfg.fid_mode, device,
                                weights=cfg.inception_weights or None)
    return TaskStats(extractor, cfg.fid_mode, device)


def _labelled(ds: LandmarkSet, col: int, n: int, batch_size: int):
    for start in range(0, n, batch_size):
        idx = range(start, min(start + batch_size, n))
        yield ds.batch(idx).images, ds.attributes(idx)[:, col]


def _save_grid(path: Path, rows, count: int, attribute: str, label: str,
               summary: dict[str, tuple[float, float]]) -> Path:
    """Columns: source, edit, counterfactual (keypoints: the detector's), |edit − cf| × 4."""
    src, edits, cf, kp_src, kp_edit, kp_cf = rows
    n = min(count, src.shape[0])
    none = torch.zeros(n, 0, 2)
    cols = [("source", src[:n].cpu(), kp_src[:n].cpu(), None),
            ("edit", edits[:n].cpu(), kp_edit[:n].cpu(), None)]
    if cf is not None:
        diff = ((edits[:n] - cf[:n]).abs().mean(1, keepdim=True) * 4 - 1).clamp(-1, 1)
        cols += [("counterfactual", cf[:n].cpu(), kp_cf[:n].cpu(), None),
                 ("|edit - cf| x4", diff.expand(-1, 3, -1, -1).cpu(), none, None)]
    else:
        diff = ((edits[:n] - src[:n]).abs().mean(1, keepdim=True) * 4 - 1).clamp(-1, 1)
        cols.append(("|edit - source| x4", diff.expand(-1, 3, -1, -1).cpu(), none, None))
    acc = summary["attribute_accuracy"][0]
    title = f"{label} {attribute}: acc {acc:.2f}"
    if "counterfactual_correctness_error" in summary:
        title += (f", cf error changed {summary['counterfactual_correctness_error'][0]:.3f}"
                  f" kept {summary['counterfactual_preservation_error'][0]:.3f}")
    else:
        title += f", kp {summary['keypoint_displacement'][0]:.3f}"
    return save_edit_grid(path, cols, title=title)
