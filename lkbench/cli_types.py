"""Click parameter types shared by the command modules."""
from __future__ import annotations

from typing import Callable

import click


class LazyChoice(click.ParamType):
    """A choice whose names come from a registry, read only when parsing or showing help
    (``click.Choice`` would read them, and so import torch, when the command module loads)."""

    def __init__(self, names: Callable[[], list[str]], metavar: str):
        self._names, self.name = names, metavar

    def get_metavar(self, param: click.Parameter, ctx: "click.Context | None" = None) -> str:
        return "[" + "|".join(self._names()) + "]"

    def convert(self, value, param, ctx):
        names = self._names()
        if value in names:
            return value
        self.fail(f"{value!r} is not one of {', '.join(map(repr, names))}.", param, ctx)
