"""``lkbench detect --seeds N``: the detection protocol repeated with N seeds, and its summary.

The number a GAN-based detection run prints depends on the detector's random init, the order of
the generated pairs and the latents drawn (one root seed, ``DetectConfig.seed``). Repeating the
run with seeds ``seed, seed + 1, …`` measures that spread; each repetition is an ordinary run
(its own records, output folder ``<out>/seed-<s>`` and figure), so ``lkbench report`` averages
them as seeds of one row (mean ± std) and can pair them with other rows. Baselines
(``baselines=True``) run with the first seed only: they are references that do not depend on
the generator, and the repetition is about the model's spread.
"""
from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path
from typing import Any, Callable

from lkbench.errors import ConfigError

from .run_detect import DetectionRun, interval_text, run_detect
from .config import DetectConfig

__all__ = ["run_detect_seeds", "seeds_summary_lines"]


def run_detect_seeds(cfg: DetectConfig, seeds: int, *, out: "str | Path | None" = None,
                     say: Callable[[str], None] = lambda _m: None, **kwargs: Any
                     ) -> list[DetectionRun]:
    """:func:`~lkbench.protocols.landmarks.run_detect.run_detect` with root seeds ``cfg.seed + i``,
    ``i < seeds``; with ``out``, run ``i`` writes to ``<out>/seed-<seed>``.

    Raises:
        ConfigError: ``seeds`` < 1, or ``seeds`` > 1 with ``detector=`` or ``direct`` (no
            detector is trained, so nothing depends on the seed).
    """
    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    if seeds > 1 and (kwargs.get("detector") is not None or kwargs.get("direct")):
        raise ConfigError("--seeds repeats the detector training; with --detector or --direct "
                          "no detector is trained, so there is nothing to repeat: drop --seeds")
    runs = []
    for i in range(seeds):
        seed = cfg.seed + i
        if seeds > 1:
            say(f"seed {seed} ({i + 1} of {seeds})")
        run_out = None if out is None else (Path(out) / f"seed-{seed}" if seeds > 1 else out)
        with_baselines = bool(kwargs.get("baselines")) and i == 0
        runs.append(run_detect(dataclasses.replace(cfg, seed=seed), out=run_out, say=say,
                               **{**kwargs, "baselines": with_baselines}))
    return runs


def seeds_summary_lines(runs: list[DetectionRun]) -> list[str]:
    """Per entry that every run scored (the model; baselines ran once): ``mean ± std (min, max)
    over N seeds``, then each seed's value with its 95 % interval over test images. Empty for a
    single run."""
    if len(runs) < 2:
        return []
    lines = [f"over {len(runs)} seeds (mean ± sample std; the 95% CI of each seed is over "
             "test images):"]
    for j, row in enumerate(runs[0].rows[:len(runs[-1].rows)]):   # rows of every seed
        values = [run.rows[j].score.value for run in runs]
        seeds = [run.rows[j].record.seed for run in runs]
        lines.append(f"  {row.label}: {statistics.fmean(values):.4f} ± "
                     f"{statistics.stdev(values):.4f} {row.score.unit} "
                     f"(min {min(values):.4f}, max {max(values):.4f})")
        for seed, run in zip(seeds, runs):
            r = run.rows[j]
            lines.append(f"    seed {seed}: {r.score.value:.4f}  {interval_text(r.record)}")
    return lines
