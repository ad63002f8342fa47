"""The ``lkbench`` command line: a thin click group.

Commands parse options, build a config, call the library and print. User mistakes raise
:class:`~lkbench.errors.LkbenchError`; :func:`main` turns those into exit code 2 with a one-line
message and no traceback. Only implemented commands are registered here; each lives in its own
module of this package (``train``, ``detect`` with ``score``, ``generation`` with ``fid`` and
``cpd``, ``edit``, ``edit_eval``, ``serve``, ``report``, ``datasets`` with ``cache``,
``export``), the options several commands share in :mod:`.options`. Importing the package, and
``lkbench --help`` or ``lkbench COMMAND --help``, imports no torch: the lists in the help pages
come from :mod:`.catalog`.
"""
from __future__ import annotations

import click

from .. import __version__
from ..errors import LkbenchError
# The command modules, not their commands: ``lkbench.cli.serve`` stays the module (tests patch
# names in it), the commands are reached as ``serve.serve`` etc.
from . import datasets, detect, edit, edit_eval, export, generation, report, serve, train


class _Group(click.Group):
    """A click group that reports :class:`LkbenchError` as a usage-style error (exit 2), and so
    a file-system refusal (read-only, disk full, permission) that reaches it."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LkbenchError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)
        except (OSError, RuntimeError) as exc:
            # A writer that did not name its path (an append, a folder being created): the same
            # one-line message as lkbench.atomic.writing gives, naming the file the OS names.
            from ..atomic import write_error

            err = write_error(exc, verb="write")
            if err is None:
                raise
            click.echo(f"Error: {err}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="lkbench")
def cli() -> None:
    """lkbench: train keypoint-conditioned generators and benchmark them the way the papers do.

    Run `lkbench COMMAND --help` for the options of each command.
    """


for _command in (datasets.datasets, datasets.cache, detect.detect, detect.score, edit.edit,
                 edit_eval.edit_eval, export.export, generation.cpd, generation.fid,
                 report.report, serve.serve, train.train):
    cli.add_command(_command)
del _command


def main(argv: "list[str] | None" = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="lkbench")


