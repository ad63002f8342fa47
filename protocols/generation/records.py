"""What the generation protocols (FID, FID_interp, CPD) share: loading a generator checkpoint,
naming the data it was trained on, and writing result records the way the detection protocol
does (same results folder: ``--results``, else ``$LKBENCH_RESULTS``, else ``./results/runs``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from lkbench.atomic import PathLike
from lkbench.checkpoint import Checkpoint, load_generator
from lkbench.errors import CheckpointError
from lkbench.device import choose_device
from lkbench.records import (RecordStore, results_dir, ResultRecord, SCHEMA_VERSION, collect_provenance,
                             new_run_id, sha256_file, utc_now_iso)


__all__ = ["LoadedGenerator", "load_generator_checkpoint", "RunMeta", "start_run",
           "make_record", "append_records"]


@dataclass(frozen=True)
class LoadedGenerator:
    """A generator in eval mode on its device, with the checkpoint it came from."""
    model: Any
    ckpt: Checkpoint
    path: Path
    device: torch.device

    @property
    def training_data(self) -> "dict[str, Any] | None":
        """The ``[data]`` table of the run that trained it, when the checkpoint records one."""
        run = (self.ckpt.extra or {}).get("run_config") or {}
        data = run.get("data")
        return dict(data) if isinstance(data, dict) else None


def load_generator_checkpoint(path: PathLike, device: str) -> LoadedGenerator:
    """Load ``path`` and check it holds a :class:`~lkbench.models.KeypointGenerator`.

    Raises:
        CheckpointError: a missing/corrupt file or a model that is not a keypoint generator.
    """
    dev = choose_device(device)
    ckpt, model = load_generator(path, dev)
    return LoadedGenerator(model, ckpt, Path(ckpt.path).resolve(), dev)   # names resolved


@dataclass(frozen=True)
class RunMeta:
    """Identity of one protocol run, shared by all its records."""
    run_id: str
    started_at: str
    provenance: dict[str, Any]
    checkpoint: str
    checkpoint_sha256: str


def start_run(gen: LoadedGenerator, argv: "Sequence[str] | None") -> RunMeta:
    """A fresh run id, the start time, provenance and the checkpoint's hash."""
    return RunMeta(new_run_id(), utc_now_iso(), collect_provenance(argv, gen.device),
                   str(gen.path), sha256_file(gen.path))


def make_record(meta: RunMeta, gen: LoadedGenerator, *, protocol: str, protocol_version: str,
                benchmark: str, metric: str, value: float, unit: str, higher_is_better: bool,
                n: int, config: dict[str, Any], seed: "int | None", wall_time_s: float,
                published: bool = False, extra: "dict[str, Any] | None" = None) -> ResultRecord:
    """One :class:`~lkbench.records.ResultRecord` of a generation protocol."""
    if not math.isfinite(value):
        raise CheckpointError(f"{metric} came out as {value}; the generator's images are "
                              "probably not finite (NaN weights?)")
    return ResultRecord(
        schema=SCHEMA_VERSION, run_id=meta.run_id, protocol=protocol,
        protocol_version=protocol_version, benchmark=benchmark, metric=metric,
        value=float(value), unit=unit, higher_is_better=higher_is_better, n=int(n),
        model=gen.ckpt.model, checkpoint=meta.checkpoint,
        checkpoint_sha256=meta.checkpoint_sha256, config=config, seed=seed,
        provenance=meta.provenance, started_at=meta.started_at, wall_time_s=float(wall_time_s),
        published=published, extra=dict(extra or {}))


def append_records(results: "PathLike | None", file_name: str,
                   records: Sequence[ResultRecord]) -> Path:
    """Append ``records`` to ``<results>/<file_name>``; returns the file."""
    store = RecordStore(results_dir(results) / file_name)
    for r in records:
        store.append(r)
    return store.path
