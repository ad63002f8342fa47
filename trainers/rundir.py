"""Run-folder checks: which checkpoint ``--resume`` continues, and refusing to mix two runs.

A run folder belongs to one run config. Resuming compares the saved config with the new one and
refuses any difference except the settings in :data:`RESUMABLE_CHANGES`, which change how a run
is executed or logged but not what it computes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from lkbench import checkpoint as ckpt_io
from lkbench.config import load_toml, to_dict
from lkbench.errors import CheckpointError, ConfigError

# Settings that may change between a run and its resumption (they do not change the result).
RESUMABLE_CHANGES = {"loop": {"steps", "log_every", "sample_every", "ckpt_every", "keep_ckpts",
                              "device", "num_samples", "threads"},
                     "data": {"cache_mb"},
                     "monitor": {"every", "probe", "faces", "split"}}


def checkpoint_to_resume(out: Path, resume: "str | None", model_name: str,
                         cfg: Any) -> "ckpt_io.Checkpoint | None":
    """The checkpoint ``--resume`` names (``None``: fresh start), checked against the run.

    Raises:
        CheckpointError: unreadable, from another model, or not written by ``lkbench train``.
        ConfigError: it belongs to a run with other settings, or is past ``loop.steps``.
    """
    if resume is None:
        return None
    path = ckpt_io.latest_checkpoint(out) if resume == "auto" else Path(resume)
    if path is None:
        return None
    ckpt = ckpt_io.load_checkpoint(path)
    if ckpt.model != model_name:
        raise CheckpointError(
            f"{path} is a checkpoint of model {ckpt.model!r}, but this run trains "
            f"{model_name!r}; resume it with --model {ckpt.model}, or start a "
            "fresh run without --resume")
    saved = ckpt.extra.get("run_config")
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path} holds no run config (extra['run_config']); it was not "
                              "written by `lkbench train` and cannot be resumed")
    _compare_configs(saved, cfg, f"checkpoint {path}")
    if ckpt.step > cfg.loop.steps:
        raise ConfigError(f"checkpoint {path} is at step {ckpt.step}, past loop.steps = "
                          f"{cfg.loop.steps}; raise --set loop.steps to continue training")
    return ckpt


def check_run_dir(out: Path, cfg: Any, ckpt: "ckpt_io.Checkpoint | None",
                  resume: "str | None") -> None:
    """Refuse an ``--out`` that is a file, or that holds another run (or this one without
    ``--resume``)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder for the run")
    existing = ckpt_io.latest_checkpoint(out) if out.is_dir() else None
    config_file = out / "config.toml"
    if resume is None and (existing is not None or config_file.exists()):
        what = f"checkpoints up to {existing.name}" if existing else "a config.toml"
        raise ConfigError(f"--out {out} already holds a run ({what}); continue it with "
                          "--resume auto, or choose another --out")
    if ckpt is None and config_file.exists():
        _compare_configs(load_toml(config_file), cfg, f"{config_file}")


def _compare_configs(saved: dict[str, Any], cfg: Any, where: str) -> None:
    """Raise ConfigError listing how ``cfg`` differs from a run's ``saved`` config.

    A setting the saved run does not mention (added to lkbench since) counts as its default; a
    saved setting lkbench no longer has is ignored.
    """
    now, defaults = to_dict(cfg), to_dict(type(cfg)())
    diffs = []
    for section in sorted(now):
        a, b = saved.get(section, defaults[section]), now[section]
        if not isinstance(a, dict) or not isinstance(b, dict):
            if a != b:
                diffs.append(f"{section}: {a!r} (run) vs {b!r} (now)")
            continue
        for key in sorted(b):
            if key in RESUMABLE_CHANGES.get(section, ()):
                continue
            va, vb = a.get(key, defaults[section].get(key)), b[key]
            if isinstance(va, tuple):
                va = list(va)
            if va != vb:
                diffs.append(f"{section}.{key}: {va!r} (run) vs {vb!r} (now)")
    if diffs:
        raise ConfigError(f"{where} belongs to a different run: {'; '.join(diffs[:5])}"
                          + (f" (+{len(diffs) - 5} more)" if len(diffs) > 5 else "")
                          + ". Use the run's own settings to resume it, or choose another --out")
