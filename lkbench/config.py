"""Typed, frozen dataclass configs: presets, TOML files and ``--set a.b=value`` overrides.

Precedence (lowest to highest): the dataclass defaults < a named preset < ``--config`` TOML
files (in order) < ``--set`` overrides. Every layer is a nested ``dict``; layers are merged and
the result is validated once by :func:`from_dict`, which rejects unknown keys (with a
did-you-mean suggestion) and values of the wrong type. A ``False`` given on the command line
overrides a ``True`` from a file (unlike lm-eval's ``from_cli``).

The resolved config is written next to every output with :func:`write_config`, so a result can
always be traced to the exact settings that produced it.
"""
from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import types
import typing
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import tomli_w

from .atomic import atomic_write
from .errors import ConfigError
from .registry import Registry, did_you_mean

C = TypeVar("C")


# --------------------------------------------------------------------------- validation
def _type_name(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; return it in canonical form.

    Ints are accepted for floats; lists for tuples. Nothing else is converted silently.
    """
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arm in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arm, where)
            except ConfigError as exc:
                errors.append(str(exc))
        finite = [e for e in errors if "not a finite number" in e]
        if finite:   # say what is wrong with the value, not which types it is not
            raise ConfigError(finite[0])
        raise ConfigError(f"{where}: {value!r} is not {' or '.join(_type_name(a) for a in args)}")
    if origin is Literal:
        if value in args and type(value) in {type(a) for a in args}:
            return value
        raise ConfigError(f"{where}: {value!r} is not {_type_name(tp)}")
    if is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table of settings, got {value!r}")
        return _from_dict(tp, value, prefix=where + ".")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
            items = [_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args))]
        else:
            item_tp = args[0] if args else Any
            items = [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return dict(value)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(float(value)):   # TOML reads nan, inf and -inf
                raise ConfigError(f"{where}: {value!r} is not a finite number; give a finite "
                                  "value")
            return float(value)
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"{where}: {value!r} is not a valid {_type_name(tp)}")


def _from_dict(cls: type[C], data: dict[str, Any], prefix: str = "") -> C:
    hints = typing.get_type_hints(cls)
    known = [f.name for f in fields(cls) if f.init]
    for key in data:
        if key not in known:
            raise ConfigError(did_you_mean(prefix + key, [prefix + k for k in known],
                                           "config key") + f" (in {cls.__name__})")
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:  # __post_init__ checks raise ValueError
        raise ConfigError(f"{cls.__name__}: {exc}") from exc


def from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Build config ``cls`` from a nested dict; unknown keys and wrong types raise ConfigError."""
    return _from_dict(cls, data)


def to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain-data dict of a config (tuples become lists, as TOML and JSON store them)."""
    def plain(v):
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return plain(dataclasses.asdict(cfg))


# --------------------------------------------------------------------------- layers
def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` merged into a copy of ``base``; nested tables merge, other values replace."""
    out = dict(base)
    for k, v in update.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_toml(path: "str | os.PathLike[str]") -> dict[str, Any]:
    """Read a TOML config file; a missing or malformed file raises ConfigError naming it."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p} (check the --config path)")
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from exc


def parse_override(text: str, example: str = "loop.steps=500") -> dict[str, Any]:
    """``"a.b=value"`` → ``{"a": {"b": value}}``.

    The value is read as a TOML value (``3``, ``0.5``, ``true``, ``"x"``, ``[1, 2]``); a bare word
    that is not valid TOML is taken as a string, so ``--set dataset=cub`` works without quotes.
    ``example`` is a valid ``KEY=VALUE`` of the command at hand, shown when ``text`` is not one.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set expects KEY=VALUE (e.g. --set {example}), got {text!r}")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


# --------------------------------------------------------------------------- presets
PRESETS: Registry[dict[str, Any]] = Registry("presets")
"""Preset name → ``{config class name: nested override dict}``."""


def register_preset(name: str, cls: type, values: dict[str, Any]) -> None:
    """Add (or extend) preset ``name`` with ``values`` for config class ``cls``."""
    if name in PRESETS:
        entry = PRESETS.get(name)
        if cls.__name__ in entry:
            raise ConfigError(f"preset {name!r} already sets {cls.__name__}")
        entry[cls.__name__] = values
    else:
        PRESETS.add(name, {cls.__name__: values})


def resolve(cls: type[C], *, preset: "str | None" = None,
            files: "typing.Sequence[str | os.PathLike[str]]" = (),
            overrides: typing.Sequence[str] = ()) -> C:
    """Resolve config ``cls`` from all layers (see module docstring for precedence)."""
    layer: dict[str, Any] = {}
    if preset is not None:
        layer = deep_merge(layer, PRESETS.get(preset).get(cls.__name__, {}))
    for f in files:
        layer = deep_merge(layer, load_toml(f))
    for o in overrides:
        layer = deep_merge(layer, parse_override(o, example_setting(cls)))
    return from_dict(cls, layer)


def example_setting(cls: type) -> str:
    """A valid ``KEY=VALUE`` of config ``cls`` with its default value, for messages: the first
    plain setting, dotted under its table for nested configs (``loop.steps=30000``)."""
    def plain(c: type, prefix: str) -> "str | None":
        for f in fields(c):
            if f.default is not dataclasses.MISSING and isinstance(f.default, (int, float)) \
                    and not isinstance(f.default, bool):
                return f"{prefix}{f.name}={f.default}"
        return None

    if not is_dataclass(cls):
        return "loop.steps=500"
    hints = typing.get_type_hints(cls)
    for f in fields(cls):   # nested configs: the first table with a number in it
        if is_dataclass(hints.get(f.name)):
            found = plain(hints[f.name], f"{f.name}.")
            if found:
                return found
    return plain(cls, "") or "KEY=VALUE"


def write_config(cfg: Any, out_dir: "str | os.PathLike[str]", name: str = "config.toml") -> Path:
    """Write the resolved config as TOML next to outputs, atomically; returns the path."""
    out = Path(out_dir) / name
    data = {k: v for k, v in to_dict(cfg).items() if v is not None}  # TOML has no null
    with atomic_write(out) as fh:
        tomli_w.dump(data, fh)
    return out


# --------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class DataConfig:
    """Which dataset to read and how.

    Attributes:
        name: dataset registry name (``lkbench datasets list``).
        split: split name (``train`` | ``fit`` | ``test`` | ``prior`` for ``synthetic``).
        image_size: side of the square images fed to models, in pixels.
        difficulty: ``easy`` | ``hard`` (synthetic only).
        seed: dataset seed (synthetic only; real datasets ignore it).
        options: any other keyword option of the dataset's loader (its docstring lists them),
            e.g. ``--set options.crop=none`` for ``celeba-aligned``; an option the dataset
            does not take is an error.
    """
    name: str = "synthetic"
    split: str = "train"
    image_size: int = 64
    difficulty: str = "easy"
    seed: int = 0
    options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 32 <= self.image_size <= 256:
            raise ValueError(f"image_size must be in [32, 256] pixels, got {self.image_size}; "
                             "e.g. --set image_size=128")


register_preset("smoke", DataConfig, {"image_size": 32})
register_preset("demo", DataConfig, {"image_size": 64, "difficulty": "easy"})
