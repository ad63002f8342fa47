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
from .errors import CheckpointError, ConfigError

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
                     command: str | None = None, force: bool = False) -> Export:
    """Write ``src``'s evaluation state to ``dst`` with its manifest and run files.

    Args:
        src: a training checkpoint (``<run>/ckpt/step-N.pt``) or a run folder (its newest
            checkpoint); the run folder's ``config.toml``, ``stats.jsonl`` and ``curves.png``
            are copied when present.
        dst: the ``.pt`` file to write; the other files take its stem.
        dtype: ``float16`` (half the size; floating tensors only) or ``float32``.
        command: the command that trained ``src``, recorded in the manifest.
        force: replace files that already exist at ``dst`` and beside it. Never one of the
            export's own inputs, even with ``force``.

    Raises:
        CheckpointError: for an unknown dtype, a checkpoint without a generator state, or
            weights that do not fit ``dtype`` (float16 overflows to inf).
        ConfigError: ``dst`` (or a file written beside it) is one of the inputs, already
            exists without ``force``, or is a folder.
        FileWriteError: the file system refused a write.
    """
    if dtype not in DTYPES:
        raise CheckpointError(f"unknown export dtype {dtype!r}; choose one of {sorted(DTYPES)}")
    if Path(src).is_dir():
        newest = latest_checkpoint(src)
        if newest is None:
            raise CheckpointError(f"{src}: no checkpoint in this run folder ({src}/ckpt/*.pt)")
        src = newest
    ckpt = load_checkpoint(src)
    dst = Path(dst)
    run = Path(ckpt.path).resolve().parent.parent
    copies = [(run / name, dst.with_name(dst.stem + suffix))
              for name, suffix in (("config.toml", "-config.toml"), ("stats.jsonl", "-stats.jsonl"),
                                   ("curves.png", "-curves.png")) if (run / name).is_file()]
    manifest_path = dst.with_suffix(".json")
    _check_targets([Path(ckpt.path)] + [source for source, _ in copies],
                   [dst, manifest_path] + [target for _, target in copies], force)
    key = _state_key(ckpt, None)
    state = {k: (v.to(DTYPES[dtype]) if torch.is_tensor(v) and v.is_floating_point() else v)
             for k, v in ckpt.state[key].items()}
    overflow = [k for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point()
                and not bool(torch.isfinite(v).all())]
    if overflow:
        broken = [k for k in overflow if not bool(torch.isfinite(ckpt.state[key][k]).all())]
        why = ("holds NaN or infinite values: its training diverged; export an earlier "
               "checkpoint" if broken else f"does not fit {dtype} (values beyond its range "
               "would become inf); export with --dtype float32")
        raise CheckpointError(f"{ckpt.path}: state {key!r} tensor "
                              f"{(broken or overflow)[0]} {why}")
    storage = f"{key} only, {dtype}" + (" (loads into float32 modules)"
                                        if dtype != "float32" else "")
    extra = {"wall_time_s": ckpt.extra.get("wall_time_s"), "storage": storage}
    if "run_config" in ckpt.extra:
        extra["run_config"] = ckpt.extra["run_config"]
    save_checkpoint(dst, model=ckpt.model, config=ckpt.config, state={key: state},
                    step=ckpt.step, extra=extra)
    extras = []
    for source, target in copies:
        with open(source, "rb") as fin, atomic_write(target) as fout:
            shutil.copyfileobj(fin, fout)
        extras.append(target)
    manifest = {
        "file": dst.name, "sha256": sha256(dst), "bytes": dst.stat().st_size,
        "model": ckpt.model, "step": ckpt.step, "wall_time_s": extra["wall_time_s"],
        "storage": storage, "source": str(Path(ckpt.path).resolve()),
        "lkbench_version": ckpt.lkbench_version, "command": command,
        "files": [p.name for p in extras],
    }
    with atomic_write(manifest_path) as fh:
        fh.write((json.dumps(manifest, indent=2) + "\n").encode())
    return Export(dst, manifest_path, tuple(extras))


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return a.resolve() == b.resolve()


def _check_targets(inputs: list[Path], targets: list[Path], force: bool) -> None:
    """Refuse to write onto an input (ever) or onto an existing file (unless ``force``)."""
    for target in targets:
        for source in inputs:
            if _same(target, source) or target.resolve() == source.resolve():
                raise ConfigError(f"export would overwrite its own input {source}; choose an "
                                  "OUT outside the run folder (e.g. exports/generator.pt)")
    if targets[0].is_dir():
        raise ConfigError(f"OUT {targets[0]} is a folder; give the file to write, e.g. "
                          f"{targets[0] / 'generator.pt'}")
    existing = [t for t in targets if t.exists()]
    for t in existing:
        if t.is_dir():
            raise ConfigError(f"{t} is a folder where export writes a file; choose another OUT")
    if existing and not force:
        names = ", ".join(str(t) for t in existing)
        raise ConfigError(f"{names} already exist{'s' if len(existing) == 1 else ''}; pass "
                          "--force to replace, or choose another OUT")
