"""Checkpoints: atomic save, safe load, model reconstruction, RNG capture and ``--resume auto``.

A checkpoint is one ``torch.save`` file holding only plain data and tensors::

    {"format": 1, "model": "<registry name>", "config": {...},
     "state": {"G": ..., "D": ..., "G_ema": ..., "opt_G": ..., "opt_D": ...},
     "step": N, "rng": {...}, "extra": {...}, "lkbench_version": "0.1.0"}

It is loaded with ``torch.load(weights_only=True, map_location="cpu")``, so loading never runs
code from the file, and the model is rebuilt from ``model`` + ``config`` through
:data:`lkbench.models.MODELS`; no module is ever pickled. Saving writes a temporary file in the
same folder and ``os.replace``-s it, so a crash leaves the previous checkpoint intact.

One concept (about 470 lines): the checkpoint file — what it holds (models, optimisers, RNG
states), how it is written and read back, and which one ``--resume auto`` picks.
"""
from __future__ import annotations

import logging
import pickle
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from . import __version__
from .atomic import PathLike, atomic_write
from .errors import CheckpointError, LkbenchError, UnknownNameError
from .models import MODELS, KeypointGenerator
from .shipped import resolve_checkpoint, shipped_names

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Layout version written by this lkbench; files with a larger one are refused."""


_REQUIRED_KEYS = ("format", "model", "config", "state", "step")
_DEFAULT_STATE_KEYS = ("G_ema", "G")  # the EMA generator is the one evaluated, when there is one
_FROM_TRAIN = ("lkbench checkpoints are written by `lkbench train` "
               "(lkbench.checkpoint.save_checkpoint)")

# What torch's weights_only unpickler accepts. Types are compared exactly: numpy scalars
# subclass float but are refused by the unpickler, so isinstance would let them through.
_JSON_LEAVES = (str, int, float, bool, type(None))
_TENSOR_LEAVES = _JSON_LEAVES + (bytes, complex, torch.Tensor, torch.nn.Parameter, torch.Size,
                                 torch.dtype, torch.device)
_CONTAINERS = (dict, OrderedDict, list, tuple)


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint; tensors are on the CPU.

    Attributes:
        path: the file it was read from.
        model: registry name of the model (:data:`lkbench.models.MODELS`).
        config: the model config the factory is called with; plain JSON data.
        state: name → state_dict, e.g. ``G``, ``D``, ``G_ema``, ``opt_G``, ``opt_D``.
        step: training step the checkpoint was taken after.
        rng: random-generator states from :func:`rng_state` (empty if none were saved).
        format: layout version of the file.
        lkbench_version: version of the lkbench that wrote it.
        extra: further trainer state (images seen, augmentation probability, ...).
    """
    path: Path
    model: str
    config: dict[str, Any]
    state: dict[str, Any]
    step: int
    rng: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT_VERSION
    lkbench_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# -- saving ---------------------------------------------------------------------------------

def checkpoint_path(run_dir: PathLike, step: int) -> Path:
    """Conventional file for ``step`` in a run directory: ``<run_dir>/ckpt/step-0000100.pt``.

    The name is for people; lkbench reads the step from inside the file.
    """
    return Path(run_dir) / "ckpt" / f"step-{step:07d}.pt"


def save_checkpoint(path: PathLike, *, model: str, config: Mapping[str, Any],
                    state: Mapping[str, Any], step: int, rng: Mapping[str, Any] | None = None,
                    extra: Mapping[str, Any] | None = None) -> Path:
    """Write a checkpoint atomically, creating parent folders.

    Args:
        path: destination file; an existing one is replaced only once the new one is complete.
        model: registry name of the model (an alias is stored as its canonical name).
        config: the config the model factory takes (e.g. ``dataclasses.asdict(cfg)``); plain
            JSON data (str keys; str, int, float, bool, None, list, tuple, dict values).
        state: name → state_dict (e.g. ``{"G": G.state_dict(), "opt_G": opt.state_dict()}``);
            tensors and plain data only.
        step: number of training steps done, >= 0.
        rng: generator states from :func:`rng_state`.
        extra: further plain-data trainer state.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        CheckpointError: for an unregistered model, a negative step, or contents that
            ``torch.load(weights_only=True)`` could not read back (naming the offending entry).
    """
    path = Path(path)
    payload = {
        "format": FORMAT_VERSION,
        "model": _canonical_model_name(model),
        "config": dict(config),
        "state": dict(state),
        "step": step,
        "rng": dict(rng or {}),
        "extra": dict(extra or {}),
        "lkbench_version": __version__,
    }
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise CheckpointError(f"cannot save checkpoint {path}: step must be an int >= 0, "
                              f"got {step!r}")
    _check_plain(payload["config"], "config", _JSON_LEAVES, json_keys=True)
    for key in ("state", "rng", "extra"):
        _check_plain(payload[key], key, _TENSOR_LEAVES, json_keys=False)
    _atomic_torch_save(payload, path)
    return path


def _canonical_model_name(model: str) -> str:
    try:
        return MODELS.resolve(model)
    except UnknownNameError as exc:
        raise CheckpointError(f"cannot save a checkpoint for {exc}; register the model in "
                              "lkbench.models.MODELS so the checkpoint can be loaded") from exc


def _check_plain(obj: Any, where: str, leaves: tuple[type, ...], *, json_keys: bool) -> None:
    """Raise CheckpointError naming the first entry of ``obj`` whose type is not allowed."""
    kind = type(obj)
    if kind in leaves:
        return
    if kind not in _CONTAINERS:
        allowed = "plain JSON data" if json_keys else "tensors and plain data"
        raise CheckpointError(
            f"cannot save checkpoint: {where} is a {kind.__module__}.{kind.__qualname__}; "
            f"checkpoints hold only {allowed} so they load with torch.load(weights_only=True) "
            "and never run code. Convert it (e.g. float(x), x.tolist(), vars(args))")
    if isinstance(obj, dict):
        for key, value in obj.items():
            if json_keys and type(key) is not str:
                raise CheckpointError(f"cannot save checkpoint: {where} has the non-string key "
                                      f"{key!r}; config keys must be strings (JSON)")
            _check_plain(key, f"a key of {where}", leaves, json_keys=json_keys)
            _check_plain(value, f"{where}[{key!r}]", leaves, json_keys=json_keys)
    else:
        for i, value in enumerate(obj):
            _check_plain(value, f"{where}[{i}]", leaves, json_keys=json_keys)


def _atomic_torch_save(payload: dict[str, Any], path: Path) -> None:
    """``torch.save`` through :func:`lkbench.atomic.atomic_write`."""
    with atomic_write(path) as fh:
        torch.save(payload, fh)


# -- loading --------------------------------------------------------------------------------

def load_checkpoint(path: PathLike) -> Checkpoint:
    """Read and validate a checkpoint, mapping every tensor to the CPU.

    Raises:
        CheckpointError: naming the file, the problem and the fix, when the file is missing,
            truncated or corrupt, not an lkbench checkpoint, would need unpickling code,
            comes from a newer lkbench, or names a model that is not registered.
    """
    path = resolve_checkpoint(path)
    raw = _read(path)
    try:
        MODELS.resolve(raw["model"])
    except UnknownNameError as exc:
        raise CheckpointError(
            f"{path}: the checkpoint's model is not available: {exc}. If the model comes from "
            "a plugin, install the package that provides it (entry-point group "
            f"{MODELS.group})") from exc
    return Checkpoint(path=path, model=raw["model"], config=raw["config"], state=raw["state"],
                      step=raw["step"], rng=raw.get("rng", {}), format=raw["format"],
                      lkbench_version=raw.get("lkbench_version"), extra=raw.get("extra", {}))


def _read(path: Path, *, mmap: bool = False) -> dict[str, Any]:
    """The validated top-level dict of the checkpoint at ``path``.

    With ``mmap=True`` tensor data stays on disk until touched, so reading ``step`` is cheap.
    """
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}; check the path (a run's "
                              "checkpoints are in <run_dir>/ckpt/) or use a shipped name: "
                              f"{shipped_names()}")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file; pass one of its "
                              "ckpt/*.pt files (or --resume auto to pick the newest)")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except PermissionError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: permission denied") from exc
    except pickle.UnpicklingError as exc:
        if "weights only load failed" in str(exc).lower():
            raise CheckpointError(_unsafe_message(path, str(exc))) from exc
        raise CheckpointError(_corrupt_message(path, exc)) from exc
    except Exception as exc:  # zip, EOF, OS and unpickler errors all mean unreadable bytes
        raise CheckpointError(_corrupt_message(path, exc)) from exc
    _validate(raw, path)
    return raw


def _corrupt_message(path: Path, exc: BaseException) -> str:
    detail = str(exc).split(". ")[0].strip() or type(exc).__name__
    return (f"cannot read checkpoint {path}: the file is truncated or corrupt ({detail}); "
            "re-save it, or use an earlier checkpoint")


def _unsafe_message(path: Path, torch_message: str) -> str:
    found = re.search(r"GLOBAL (\S+)", torch_message)
    what = f" (it contains a pickled {found.group(1)})" if found else ""
    return (f"{path} is not an lkbench checkpoint: loading it would require unpickling "
            f"arbitrary Python objects{what}, and lkbench will not unpickle code from files. "
            f"{_FROM_TRAIN} and hold only tensors and plain data")


def _validate(raw: Any, path: Path) -> None:
    """Raise CheckpointError unless ``raw`` has the layout of a format-1 checkpoint."""
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path} is not an lkbench checkpoint: it holds a "
                              f"{type(raw).__name__}, not a dict; {_FROM_TRAIN}")
    fmt = raw.get("format")
    # Checked before the keys: a newer format may have renamed them.
    if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer lkbench (format {fmt}, this "
                              f"lkbench reads <= {FORMAT_VERSION}); upgrade lkbench")
    missing = [k for k in _REQUIRED_KEYS if k not in raw]
    if missing:
        keys = [repr(k) for k in list(raw)[:5]] + (["..."] if len(raw) > 5 else [])
        raise CheckpointError(
            f"{path} is not an lkbench checkpoint: missing key(s) "
            f"{', '.join(map(repr, missing))} (it has {', '.join(keys) or 'no keys'}). "
            f"{_FROM_TRAIN}; a bare state_dict can be wrapped with save_checkpoint(path, "
            "model=NAME, config=CONFIG, state={'G': state_dict}, step=0)")
    expected = {"format": int, "model": str, "config": dict, "state": dict, "step": int,
                "rng": dict, "extra": dict, "lkbench_version": (str, type(None))}
    for key, types in expected.items():
        if key in raw and (not isinstance(raw[key], types) or isinstance(raw[key], bool)):
            raise CheckpointError(f"{path} is a malformed lkbench checkpoint: {key!r} is a "
                                  f"{type(raw[key]).__name__}; re-save it, or use an earlier "
                                  "checkpoint")
    if fmt < 1 or raw["step"] < 0:
        raise CheckpointError(f"{path} is a malformed lkbench checkpoint (format {fmt}, step "
                              f"{raw['step']}); re-save it, or use an earlier checkpoint")


# -- rebuilding models ----------------------------------------------------------------------

def load_model(path: PathLike, key: str | None = None) -> torch.nn.Module:
    """Rebuild the model saved at ``path`` in eval mode; see :func:`build_model`."""
    return build_model(load_checkpoint(path), key)


def build_model(ckpt: Checkpoint, key: str | None = None) -> torch.nn.Module:
    """Rebuild ``MODELS.get(ckpt.model)(ckpt.config)`` and load one of its saved states.

    Args:
        ckpt: a loaded checkpoint.
        key: which entry of ``ckpt.state`` to load; by default ``G_ema``, else ``G``.

    Returns:
        The model on the CPU, in eval mode.

    Raises:
        CheckpointError: if the state entry is absent, holds NaN or infinite values, the
            factory rejects the config, or the state does not fit the rebuilt model
            (missing/unexpected keys, shapes).
    """
    key = _state_key(ckpt, key)
    try:
        model = MODELS.get(ckpt.model)(dict(ckpt.config))
    except (TypeError, ValueError, KeyError, LkbenchError) as exc:
        raise CheckpointError(f"{ckpt.path}: could not rebuild model {ckpt.model!r} from the "
                              f"checkpoint's config ({exc}); the model code may have changed "
                              f"since lkbench {ckpt.lkbench_version} wrote it") from exc
    if not isinstance(model, torch.nn.Module):
        raise CheckpointError(f"model factory {ckpt.model!r} returned a "
                              f"{type(model).__name__}, not a torch.nn.Module")
    state = ckpt.state[key]
    from .finite import check_state_finite
    check_state_finite(state, ckpt.path, key)      # a diverged run's NaN weights render NaN
    problem = _state_mismatch(model.state_dict(), state)
    if problem is None:
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            problem = str(exc)
    if problem is not None:
        raise CheckpointError(
            f"{ckpt.path}: checkpoint state {key!r} does not match model {ckpt.model!r} built "
            f"from its config: {problem}. Either the model code changed since lkbench "
            f"{ckpt.lkbench_version} wrote the checkpoint (load it with that version), or the "
            "state was saved with a different config than the one stored with it")
    return model.eval()


def require_generator(model: Any, path: PathLike, fix: "str | None" = None) -> None:
    """Raise the one "not a keypoint generator" error unless ``model`` is a
    :class:`~lkbench.models.KeypointGenerator` (has ``sample_latents``/``render``).

    Args:
        fix: what to do instead, when the caller knows better than the default advice.
    """
    if not isinstance(model, KeypointGenerator):
        fix = fix or ("pass a generator checkpoint written by lkbench train (e.g. --model "
                      "latent-keypoint-gan) or a shipped name such as demo")
        raise CheckpointError(f"{path} holds a {type(model).__name__}, not a keypoint generator "
                              f"(sample_latents/render); {fix}")


def load_generator(path: PathLike, device: "torch.device | str" = "cpu",
                   key: str | None = None) -> "tuple[Checkpoint, Any]":
    """The keypoint generator saved at ``path`` (a file or a shipped name), on ``device``
    (``auto``/``cpu``/``cuda[:N]``, see :func:`lkbench.device.choose_device`), in eval mode.

    Every verb that takes a generator checkpoint loads it here, so all give the same errors.

    Returns:
        ``(checkpoint, model)``.

    Raises:
        CheckpointError: missing, corrupt or foreign file, or a model that is not a generator.
        ConfigError: an unknown or unavailable device.
    """
    from .device import choose_device

    dev = choose_device(device)
    ckpt = load_checkpoint(path)
    model = build_model(ckpt, key)
    require_generator(model, path)
    return ckpt, model.to(dev).eval()


def _state_key(ckpt: Checkpoint, key: str | None) -> str:
    if key is not None and key in ckpt.state:
        return key
    if key is None:
        for default in _DEFAULT_STATE_KEYS:
            if default in ckpt.state:
                return default
    wanted = repr(key) if key is not None else " or ".join(map(repr, _DEFAULT_STATE_KEYS))
    raise CheckpointError(f"{ckpt.path} has no {wanted} state (it has "
                          f"{', '.join(map(repr, ckpt.state)) or 'none'}); pass key= one of them")


def _state_mismatch(expected: Mapping[str, Any], given: Any, limit: int = 5) -> str | None:
    """Describe how ``given`` differs from the model's ``expected`` state_dict, or None."""
    if not isinstance(given, Mapping):
        return f"the state is a {type(given).__name__}, not a state_dict"

    def some(names: list[str]) -> str:
        more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
        return ", ".join(names[:limit]) + more

    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    shapes = [f"{k} (checkpoint {list(given[k].shape)}, model {list(v.shape)})"
              for k, v in expected.items()
              if k in given and isinstance(given[k], torch.Tensor) and given[k].shape != v.shape]
    parts = [f"{label}: {some(names)}" for label, names in
             (("missing keys", missing), ("unexpected keys", unexpected),
              ("shape mismatch", shapes)) if names]
    return "; ".join(parts) or None


# -- random state ---------------------------------------------------------------------------

def rng_state(generators: Mapping[str, torch.Generator], *,
              include_global: bool = False) -> dict[str, Any]:
    """Capture generator states for a checkpoint's ``rng`` entry (tensors and strs only).

    Args:
        generators: the run's per-purpose generators, by name (e.g. ``{"z": g_z}``).
        include_global: also capture torch's global CPU generator, which code that takes no
            ``generator=`` argument (dropout, noise injection) draws from.

    Returns:
        ``{"generators": {name: {"device": "cpu", "state": uint8 tensor}}}``, plus
        ``"torch_cpu": uint8 tensor`` with ``include_global``.
    """
    out: dict[str, Any] = {"generators": {
        name: {"device": str(g.device), "state": g.get_state()} for name, g in generators.items()
    }}
    if include_global:
        out["torch_cpu"] = torch.get_rng_state()
    return out


def restore_rng(state: Mapping[str, Any], generators: Mapping[str, torch.Generator]) -> None:
    """Put each of ``generators`` back into the state :func:`rng_state` captured.

    Sampling then continues exactly as it would have without the interruption (bit for bit
    on the CPU). The global CPU generator is restored too if it was captured.

    Raises:
        CheckpointError: if a generator's state was not saved or was saved for another device
            type.
    """
    saved = state.get("generators", {})
    for name, gen in generators.items():
        if name not in saved:
            raise CheckpointError(f"the checkpoint has no random state for generator {name!r} "
                                  f"(it has {', '.join(map(repr, saved)) or 'none'}); resume "
                                  "with the generators the run was started with")
        device = saved[name]["device"]
        if torch.device(device).type != gen.device.type:
            raise CheckpointError(f"generator {name!r} was saved on {device} but is being "
                                  f"restored on {gen.device}; resume on the same device type")
        try:
            gen.set_state(saved[name]["state"])
        except RuntimeError as exc:  # e.g. a state from a different generator implementation
            raise CheckpointError(f"cannot restore generator {name!r}: {exc}") from exc
    unused = sorted(set(saved) - set(generators))
    if unused:
        log.warning("checkpoint random state for %s not restored (no such generator)",
                    ", ".join(unused))
    if "torch_cpu" in state:
        torch.set_rng_state(state["torch_cpu"])


# -- resume ---------------------------------------------------------------------------------

def latest_checkpoint(run_dir: PathLike) -> Path | None:
    """The checkpoint with the largest stored ``step`` in ``run_dir/ckpt`` or ``run_dir``.

    Used by ``--resume auto``. Unreadable candidates are skipped with a warning, so a run whose
    newest checkpoint was damaged resumes from the one before it.

    Returns:
        The path, or None when there is no readable checkpoint (nothing to resume).
    """
    # The step is read from inside each file, never from its name. Loading with mmap=True
    # reads only the small pickle, not the tensor data, so this stays cheap even for large
    # checkpoints; an index file was rejected because it can disagree with the files present
    # (checkpoints deleted, copied in, or written by an older lkbench).
    run_dir = Path(run_dir)
    best: tuple[int, int, str] | None = None
    best_path: Path | None = None
    for candidate in _candidates(run_dir):
        try:
            step = _read(candidate, mmap=True)["step"]
        except CheckpointError as exc:
            log.warning("skipping checkpoint %s while looking for the latest: %s", candidate, exc)
            continue
        rank = (step, candidate.stat().st_mtime_ns, candidate.name)
        if best is None or rank > best:
            best, best_path = rank, candidate
    return best_path


def _candidates(run_dir: Path) -> list[Path]:
    """``*.pt`` files in ``run_dir/ckpt`` and ``run_dir``; dot-files are in-progress saves."""
    folders = [d for d in (run_dir / "ckpt", run_dir) if d.is_dir()]
    return [p for d in folders for p in sorted(d.glob("*.pt"))
            if p.is_file() and not p.name.startswith(".")]
