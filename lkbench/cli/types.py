"""Click parameter types and option parsing shared by the command modules."""
from __future__ import annotations

from typing import Callable

import click


class LazyChoice(click.ParamType):
    """A choice whose names come from a registry, read only when a value is parsed
    (``click.Choice`` would read them, and so import torch, when the command module loads).

    ``shown``, the names the help lists, comes from :mod:`.catalog` so that ``--help`` imports
    no torch (a test keeps the catalog equal to the registries).
    """

    def __init__(self, names: Callable[[], list[str]], metavar: str, shown: "list[str]"):
        self._names, self.name, self._shown = names, metavar, list(shown)

    def get_metavar(self, param: click.Parameter, ctx: "click.Context | None" = None) -> str:
        return "[" + "|".join(self._shown) + "]"

    def convert(self, value, param, ctx):
        names = self._names()
        if value in names:
            return value
        self.fail(f"{value!r} is not one of {', '.join(map(repr, names))}.", param, ctx)


def parse_data_options(overrides: "tuple[str, ...]", command: str) -> dict:
    """``--set data.KEY=VALUE`` items → ``{KEY: VALUE}``, values read as TOML (``data.size=20``
    is an int, ``data.crop=none`` a string), for commands whose only settings are the dataset's.

    Raises:
        ConfigError: an item that is not ``data.KEY=VALUE`` (the message shows the form).
    """
    from ..config import deep_merge, parse_override
    from ..errors import ConfigError

    layer: dict = {}
    for text in overrides:
        value = parse_override(text)
        if set(value) != {"data"} or not isinstance(value["data"], dict):
            raise ConfigError(f"lkbench {command} --set takes the dataset's options as "
                              f"data.KEY=VALUE (e.g. data.compat=alk-swap), got {text!r}")
        layer = deep_merge(layer, value)
    return layer.get("data", {})
