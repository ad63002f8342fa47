"""The options several commands share, each defined once: same name, same meaning, same help.

Each is a function returning a click decorator, so a command can say what its records, its
config or its checkpoint are while the option itself stays one thing::

    @options.checkpoint()
    @options.results("the records file landmarks.jsonl")
    @options.device(config_key="device")
    @options.progress()
    def detect(...): ...

A benchmark is always ``--benchmark`` (:func:`benchmark`); an older spelling still parses as a
hidden alias.
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping

import click

_DEVICE = "auto (CUDA if available), cpu, cuda or cuda:N"

GENERATOR_CHECKPOINT = ("Generator checkpoint (from lkbench train, or 'demo' for the shipped demo "
                        "generator).")


def results(records: str) -> Callable:
    """``--results DIR``: the folder a command appends its records to (``records`` names them)."""
    return click.option("--results", default=None, type=click.Path(file_okay=False),
                        help=f"Folder of {records}; default $LKBENCH_RESULTS or ./results/runs.")


def run_out(contents: str) -> Callable:
    """``--out DIR``: a run's own folder (figures, config), default ``<results>/<run id>``."""
    return click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
                        help=f"Folder for {contents}; default <results>/<run_id>.")


def device(config_key: "str | None" = None) -> Callable:
    """``--device``: with ``config_key``, unset means the config's setting (which is auto);
    without, the default is ``auto``."""
    if config_key is None:
        return click.option("--device", default="auto", show_default=True, help=f"{_DEVICE}.")
    return click.option("--device", default=None,
                        help=f"{_DEVICE}; default: the config's {config_key} (auto).")


def seed(what: str, config_key: "str | None" = None) -> Callable:
    """``--seed N``: ``what`` says what it seeds; with ``config_key``, unset means the
    config's setting (which is 0), else the default is 0."""
    if config_key is None:
        return click.option("--seed", default=0, show_default=True, type=int, help=what)
    return click.option("--seed", type=int, default=None,
                        help=f"{what}; default: the config's {config_key} (0).")


def progress(help: str = "Show progress bars on stderr.") -> Callable:
    """``--progress/--no-progress`` (default on)."""
    return click.option("--progress/--no-progress", default=True, show_default=True, help=help)


def root() -> Callable:
    """``--root DIR``: the data root of the real datasets."""
    return click.option("--root", default=None, type=click.Path(file_okay=False),
                        help="Data root of the real datasets, one folder per dataset (default: "
                        "$LKBENCH_DATA); synthetic datasets need none.")


def checkpoint(help: str = GENERATOR_CHECKPOINT, required: bool = True) -> Callable:
    """``--checkpoint FILE``: by default a generator's (a file, or a shipped name like demo)."""
    return click.option("--checkpoint", required=required, default=None,
                        type=click.Path(dir_okay=False), help=help)


def preset(help: str) -> Callable:
    """``--preset NAME``: settings to start from (``help`` says which exist)."""
    return click.option("--preset", default=None, help=help)


def config_files(help: str) -> Callable:
    """``--config FILE`` (repeatable): TOML files, later ones win."""
    return click.option("--config", "config_files", multiple=True,
                        type=click.Path(dir_okay=False), help=help)


def overrides(help: str, metavar: str = "KEY=VALUE", dest: str = "overrides") -> Callable:
    """``--set KEY=VALUE`` (repeatable): one setting each, winning over files and presets."""
    return click.option("--set", dest, multiple=True, metavar=metavar, help=help)


class _AliasedOption(click.Option):
    """An option that also takes its value from a hidden alias option (``alias``, the alias's
    parameter name): the value counts as given on the command line, so ``required`` and the
    help's ``[required]`` keep their meaning. Both given, with different values, is a usage
    error."""

    def __init__(self, *args, alias: str, alias_flag: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.alias, self.alias_flag = alias, alias_flag

    def consume_value(self, ctx: click.Context, opts):
        if self.alias in opts:
            old = opts[self.alias]
            if self.name in opts and opts[self.name] != old:
                raise click.UsageError(f"{self.opts[0]} and {self.alias_flag} are the same "
                                       f"option (give {self.opts[0]} only); got "
                                       f"{opts[self.name]!r} and {old!r}", ctx)
            opts = {**opts, self.name: old}
        return super().consume_value(ctx, opts)


def benchmark(help: str, *, required: bool = True, multiple: bool = False,
              dest: str = "benchmark", old_name: "str | None" = None) -> Callable:
    """``--benchmark NAME``: the benchmark a command scores on (or, ``multiple``, filters by).

    ``old_name`` (e.g. ``--dataset``, detect's spelling before it was --benchmark) is accepted
    as a hidden alias: it does not show in ``--help`` and fills the same parameter.
    """
    if old_name is None:
        return click.option("--benchmark", dest, required=required, multiple=multiple,
                            metavar="NAME", help=help)
    alias = f"{dest}_old_spelling"
    main = click.option("--benchmark", dest, cls=_AliasedOption, alias=alias,
                        alias_flag=old_name, required=required, multiple=multiple,
                        metavar="NAME", help=help)
    hidden = click.option(old_name, alias, multiple=multiple, hidden=True, expose_value=False,
                          metavar="NAME")
    return lambda f: main(hidden(f))


def listing(title: str, entries: Mapping[str, str], width: int) -> list[str]:
    """Help lines ``title:`` then ``  name  text`` per entry, names padded to ``width``."""
    return [f"{title}:"] + [f"  {name:<{width}} {text}" for name, text in entries.items()]


def epilog_command(build: Callable[[], Iterable[str]]) -> type[click.Command]:
    """A ``click.Command`` class whose epilog (lines from ``build()``, e.g. the presets of
    :mod:`.catalog`) is made only when help is shown, below the options."""

    class _Command(click.Command):
        def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
            formatter.write_paragraph()
            for line in build():
                formatter.write(line + "\n")

    return _Command
