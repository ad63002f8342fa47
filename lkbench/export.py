"""Export a trained generator for sharing: the evaluation state only, optionally in float16.

A training checkpoint holds G, D, the EMA copy, both optimisers and the RNG state; to evaluate
or edit with a model only its evaluation state (``G_ema``, else ``G``) is needed. The export is
an ordinary lkbench checkpoint (``lkbench.load_generator`` reads it; float16 tensors load into
the float32 modules), with a JSON manifest beside it and the run's config, statistics and
training curves copied next to it::

    <stem>.pt               the checkpoint (model, config, step, one state entry)
    <stem>.json             manifest: sha256, size, step, wall time, dtype, source, command
    <stem>-config.toml      the run's resolved config (from <run>/config.toml)
    <stem>-stats.jsonl      the run's per-step statistics
    <stem>-curves.png       the statistics plotted against the step
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from .atomic import PathLike, atomic_write
from .checkpoint import _state_key, latest_checkpoint, load_checkpoint, save_checkpoint
from .errors import CheckpointError

DTYPES = {"float16": torch.float16, "float32": torch.float32}


@dataclass(frozen=True)
class Export:
    """What :func:`export_generator` wrote."""
    checkpoint: Path
    manifest: Path
    extras: tuple[Path, ...]


def sha256(path: PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_generator(src: PathLike, dst: PathLike, *, dtype: str = "float16",
                     command: str | None = None) -> Export:
    """Write ``src``'s evaluation state to ``dst`` with its manifest and run files.

    Args:
        src: a training checkpoint (``<run>/ckpt/step-N.pt``) or a run folder (its newest
            checkpoint); the run folder's ``config.toml``, ``stats.jsonl`` and ``curves.png``
            are copied when present.
        dst: the ``.pt`` file to write; the other files take its stem.
        dtype: ``float16`` (half the size; floating tensors only) or ``float32``.
        command: the command that trained ``src``, recorded in the manifest.

    Raises:
        CheckpointError: for an unknown dtype or a checkpoint without a generator state.
    """
    if dtype not in DTYPES:
        raise CheckpointError(f"unknown export dtype {dtype!r}; choose one of {sorted(DTYPES)}")
    if Path(src).is_dir():
        newest = latest_checkpoint(src)
        if newest is None:
            raise CheckpointError(f"{src}: no checkpoint in this run folder ({src}/ckpt/*.pt)")
        src = newest
    ckpt = load_checkpoint(src)
    key = _state_key(ckpt, None)
    state = {k: (v.to(DTYPES[dtype]) if torch.is_tensor(v) and v.is_floating_point() else v)
             for k, v in ckpt.state[key].items()}
    dst = Path(dst)
    storage = f"{key} only, {dtype}" + (" (loads into float32 modules)"
                                        if dtype != "float32" else "")
    extra = {"wall_time_s": ckpt.extra.get("wall_time_s"), "storage": storage}
    if "run_config" in ckpt.extra:
        extra["run_config"] = ckpt.extra["run_config"]
    save_checkpoint(dst, model=ckpt.model, config=ckpt.config, state={key: state},
                    step=ckpt.step, extra=extra)
    run = Path(ckpt.path).resolve().parent.parent
    extras = []
    for name, suffix in (("config.toml", "-config.toml"), ("stats.jsonl", "-stats.jsonl"),
                         ("curves.png", "-curves.png")):
        if (run / name).is_file():
            target = dst.with_name(dst.stem + suffix)
            shutil.copyfile(run / name, target)
            extras.append(target)
    manifest = {
        "file": dst.name, "sha256": sha256(dst), "bytes": dst.stat().st_size,
        "model": ckpt.model, "step": ckpt.step, "wall_time_s": extra["wall_time_s"],
        "storage": storage, "source": str(Path(ckpt.path).resolve()),
        "lkbench_version": ckpt.lkbench_version, "command": command,
        "files": [p.name for p in extras],
    }
    manifest_path = dst.with_suffix(".json")
    with atomic_write(manifest_path) as fh:
        fh.write((json.dumps(manifest, indent=2) + "\n").encode())
    return Export(dst, manifest_path, tuple(extras))
