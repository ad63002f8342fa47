"""``lkbench report``: leaderboard tables (and charts) from result records and published numbers.

Thin: read the inputs
(:mod:`lkbench.report.load`), build the tables (:mod:`lkbench.report.tables`), write them
(:mod:`lkbench.report.formats`, :mod:`lkbench.report.plots`). It never reruns anything and
does not import torch.
"""
from __future__ import annotations

from pathlib import Path

import click

from . import options


@click.command("report")
# Not options.results: here --results is what is read (repeatable, folders or .jsonl files), not
# the one folder a command appends to.
@click.option("--results", "sources", multiple=True, type=click.Path(),
              help="Folder of result records (*.jsonl, not recursive) or one .jsonl file; "
              "repeatable. Default: $LKBENCH_RESULTS or ./results/runs, where lkbench detect "
              "writes.")
@click.option("--published", "published_path", default=None, type=click.Path(dir_okay=False),
              help="Published numbers CSV; default: the table that ships with lkbench "
              "(results/published.csv in the repository).")
@click.option("--format", "fmt", default="md", show_default=True,
              type=click.Choice(["md", "csv", "latex", "html"]),
              help="md: Markdown tables; csv: one row per cell with the numbers as numbers; "
              "latex: booktabs table environments; html: a standalone page.")
@options.benchmark("Only this benchmark (aliases accepted); repeatable.", required=False,
                   multiple=True, dest="benchmarks")
@click.option("--out", "out_path", default=None, type=click.Path(dir_okay=False),
              help="Write the report to this file (atomically) instead of standard output.")
@click.option("--plots", "plots_dir", default=None, type=click.Path(file_okay=False),
              help="Also write charts (PNG and PDF) here: a bar chart per benchmark column, "
              "and error vs training step where a run's checkpoints were scored at several "
              "steps.")
@click.option("--all-checkpoints", is_flag=True,
              help="A row per scored checkpoint (default: the newest checkpoint of each run).")
def report(sources: tuple[str, ...], published_path: "str | None", fmt: str,
           benchmarks: tuple[str, ...], out_path: "str | None", plots_dir: "str | None",
           all_checkpoints: bool) -> None:
    """Print one leaderboard table per benchmark family: published numbers (with their
    sources) beside the numbers lkbench measured (mean ± std over seeds).

    Reads only the published numbers and the result records; never reruns anything. Records
    whose settings differ (protocol version, solver, regression frame, FID mode, sample count,
    features, non-published settings, ...) are never averaged together: they get their own row
    with a footnote saying what differs.

    Example: lkbench report --format latex --out leaderboard.tex --plots plots/
    """
    from ..atomic import atomic_write
    from ..errors import UnknownNameError
    from ..protocols.landmarks.benchmarks import BENCHMARKS, UNSCORED_BENCHMARKS
    from ..registry import did_you_mean
    from ..report.formats import render
    from ..report.load import NO_RECORDS_HINT, default_results_dir, read_published, read_records
    from ..report.tables import build_report

    places = [Path(s) for s in sources]
    if not places:
        default = default_results_dir()
        places = [default] if default.exists() else []
        if not places:
            click.echo(f"note: no results folder at {default}; {NO_RECORDS_HINT}. Showing "
                       "published numbers only.", err=True)
    inputs = read_records(places)
    for warning in inputs.warnings:
        click.echo(f"warning: {warning}", err=True)
    if places and not inputs.records:
        click.echo("note: no readable result records; the tables show published numbers "
                   "only.", err=True)
    published = read_published(published_path)
    known = set(BENCHMARKS.names(include_aliases=True)) | set(UNSCORED_BENCHMARKS) | {
        r.benchmark for r in inputs.records}
    for name in benchmarks:
        if name not in known:
            raise UnknownNameError(did_you_mean(name, sorted(known), "benchmark"))
    result = build_report(published, inputs.records, benchmarks=benchmarks,
                          all_checkpoints=all_checkpoints)
    pub_name = Path(published_path).name if published_path else "results/published.csv"
    summary = (f"Published numbers: {result.num_published} rows of {pub_name}. Measured: "
               f"{result.num_records} result records from {len(inputs.files)} file(s).")
    text = render(result, fmt, summary)
    if out_path:
        with atomic_write(out_path) as fh:
            fh.write(text.encode("utf-8"))
        click.echo(f"wrote {len(result.tables)} tables ({fmt}) to {out_path}", err=True)
    else:
        click.echo(text, nl=False)
    if plots_dir:
        from ..report.plots import write_plots

        files = write_plots(result.tables, plots_dir)
        click.echo(f"wrote {len(files)} chart files (PNG and PDF) to {plots_dir}", err=True)
