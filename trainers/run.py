"""From command-line words to a training run: trainer lookup, config layers, input checks."""
from __future__ import annotations

import json
from typing import Any, Sequence

from lkbench.config import PRESETS, resolve
from lkbench.errors import ConfigError
from lkbench.registry import did_you_mean

from .loop import TRAINERS, Trainer, TrainResult, train


def resolve_run_config(model: str, preset: "str | None", files: Sequence[str],
                       overrides: Sequence[str]) -> tuple[type[Trainer], Any]:
    """The trainer class of ``model`` and its run config from preset < files < overrides.

    Raises:
        UnknownNameError: unknown model (with suggestions).
        ConfigError: a preset that does not exist for this model, bad keys or values, or a
            keypoint count the dataset's benchmark does not use.
    """
    trainer_cls = TRAINERS.get(model)
    cls = trainer_cls.config_class
    if preset is not None:
        own = [n for n in PRESETS.names() if cls.__name__ in PRESETS.get(n)]
        if preset not in own:
            raise ConfigError(did_you_mean(preset, own, f"preset for {trainer_cls.model_name}"))
    cfg = resolve(cls, preset=preset, files=files, overrides=overrides)
    if getattr(cfg.model, "num_keypoints", None) is not None:   # attribute editors have none
        check_keypoints(cfg.data.name, cfg.model.num_keypoints)
    from lkbench.data import DATASETS
    DATASETS.resolve(cfg.data.name)          # an unknown dataset fails before any model is built
    check_dataset_options(cfg.data, preset, trainer_cls.model_name)
    return trainer_cls, cfg


def check_dataset_options(data: Any, preset: "str | None", model: str) -> None:
    """Refuse ``[data]`` settings the chosen dataset does not take (a synthetic-only
    ``difficulty``/``size``/``seed`` from a synthetic preset, an unknown ``options`` key), with
    the ``--set`` that clears each one.
    """
    import dataclasses
    import inspect

    from lkbench.data import DATASETS

    opts = getattr(data, "dataset_options", None)
    if opts is None:
        return
    params = inspect.signature(DATASETS.get(data.name)).parameters
    unknown = [k for k in opts() if k not in params and k not in ("split", "image_size")]
    if not unknown:
        return
    defaults = {f.name: f.default for f in dataclasses.fields(data)
                if f.default is not dataclasses.MISSING}
    fixes = []
    for k in unknown:
        if k in defaults and k not in data.options:
            fixes.append(f"--set data.{k}={json.dumps(defaults[k])}")
        else:
            fixes.append(f"(drop data.options.{k})")
    name = DATASETS.resolve(data.name)
    source = f" (preset {preset!r} sets them for the synthetic faces)" if preset else ""
    paper = f"paper-{name}"
    alt = f", or start from --preset {paper}" if paper in PRESETS and any(
        data_cls in PRESETS.get(paper) for data_cls in _config_class_names(model)) else ""
    taken = ", ".join(k for k in params if k not in ("split", "image_size", "root",
                                                     "cache_dir", "progress")) or "none"
    raise ConfigError(f"dataset {name!r} does not take data.{', data.'.join(unknown)}"
                      f"{source}; clear them with {' '.join(fixes)}{alt} (its own options, "
                      f"as --set data.options.KEY=VALUE: {taken})")


def _config_class_names(model: str) -> list[str]:
    return [TRAINERS.get(model).config_class.__name__]


def check_keypoints(dataset: str, num_keypoints: int) -> None:
    """Refuse a K that the published numbers of ``dataset``'s benchmark never use.

    A generator trained with another K cannot be compared with the published rows of that
    benchmark (``docs/protocols.md`` §1), so training it is almost always a mistake.
    """
    from lkbench.protocols.landmarks.benchmarks import BENCHMARKS

    if dataset not in BENCHMARKS:
        return
    spec = BENCHMARKS.get(dataset)
    if spec.num_keypoints is not None and num_keypoints not in spec.num_keypoints:
        allowed = " or ".join(str(k) for k in spec.num_keypoints)
        raise ConfigError(f"dataset {dataset!r} is benchmarked with K = {allowed} keypoints, "
                          f"not {num_keypoints}; use --set model.num_keypoints="
                          f"{spec.num_keypoints[0]} (or a paper-{spec.name} preset)")


def run_training(trainer_cls: type[Trainer], cfg: Any, out_dir: str, *,
                 resume: "str | None" = None, progress: bool = True) -> TrainResult:
    """:func:`lkbench.trainers.loop.train`; Ctrl-C and divergence surface as LkbenchErrors."""
    return train(trainer_cls, cfg, out_dir, resume=resume, progress=progress)
