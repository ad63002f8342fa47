"""``lkbench datasets check`` and ``lkbench cache info|clear``: real-dataset housekeeping."""
from __future__ import annotations

import sys
from typing import Any

import click


def dataset_kwargs(factory: Any, split: str, image_size: int, root: "str | None",
                   extra: "dict[str, Any]", options: "dict[str, Any] | None" = None
                   ) -> dict[str, Any]:
    """Keyword arguments for ``factory``: split, size, ``root`` if given, those of ``extra``
    (synthetic-only settings such as ``difficulty``) that the factory takes, and ``options``,
    every one of which it must take.

    Raises:
        ConfigError: an option the dataset does not take (the message lists those it does).
    """
    import inspect

    from .errors import ConfigError

    params = inspect.signature(factory).parameters
    kwargs: dict[str, Any] = {"split": split, "image_size": image_size}
    if root is not None:
        kwargs["root"] = root
    kwargs.update({k: v for k, v in extra.items() if k in params})
    fixed = {"self", "split", "image_size", "root"}
    takes = sorted(k for k, p in params.items() if k not in fixed
                   and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
    unknown = sorted(set(options or {}) - set(takes))
    if unknown:
        raise ConfigError(f"dataset option(s) {', '.join(unknown)} not taken by this dataset; "
                          f"its options: {', '.join(takes) or 'none'}")
    kwargs.update(options or {})
    return kwargs


@click.command("check")
@click.argument("name")
@click.option("--root", type=click.Path(file_okay=False), default=None,
              help="Data root holding one folder per dataset (default: $LKBENCH_DATA).")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Show a progress bar while images are decoded.")
@click.option("--strict-counts", is_flag=True,
              help="Also fail when a split's list size differs from the published count.")
def check(name: str, root: "str | None", progress: bool, strict_counts: bool) -> None:
    """Verify a download of real dataset NAME: every file present and readable, every image
    decodable, annotations well formed and inside the image, split sizes against the published
    counts. Prints a report; exits 1 naming each missing or corrupt file and malformed line.

    Example: lkbench datasets check celeba-wild --root ~/data
    """
    from .data.check import check_dataset

    report = check_dataset(name, root, progress=progress)
    for line in report.lines():
        click.echo(line)
    if not report.ok or (strict_counts and report.count_mismatches):
        sys.exit(1)


@click.group("cache")
def cache() -> None:
    """Inspect or empty the preprocessed-dataset cache ($LKBENCH_CACHE_DIR, default
    ~/.cache/lkbench)."""


_CACHE_DIR = click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
                          help="Cache root (default: $LKBENCH_CACHE_DIR, else ~/.cache/lkbench).")
_DATASET = click.option("--dataset", default=None,
                        help="Only this dataset's entries (default: all).")


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


@cache.command("info")
@_CACHE_DIR
@_DATASET
def cache_info(cache_dir: "str | None", dataset: "str | None") -> None:
    """List the cache entries: dataset, entry, split, image size, size on disk."""
    from .data.cache import cache_root, dataset_folder, list_entries

    dataset = None if dataset is None else dataset_folder(dataset, cache_dir)
    entries = list_entries(cache_dir, dataset)
    click.echo(f"cache root: {cache_root(cache_dir)}")
    for e in entries:
        size = e.key.get("image_size", "-")
        click.echo(f"  {e.dataset:<16} {e.name:<24} split={e.key.get('split', '?'):<6} "
                   f"size={size!s:<5} {_mb(e.bytes):>10}")
    click.echo(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, "
               f"{_mb(sum(e.bytes for e in entries))}")


@cache.command("clear")
@_CACHE_DIR
@_DATASET
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def cache_clear(cache_dir: "str | None", dataset: "str | None", yes: bool) -> None:
    """Delete cache entries (they are rebuilt from the downloads when next needed)."""
    from .data.cache import cache_root, clear, dataset_folder

    dataset = None if dataset is None else dataset_folder(dataset, cache_dir)
    what = f"the {dataset} entries" if dataset else "every entry"
    if not yes:
        click.confirm(f"delete {what} under {cache_root(cache_dir)}?", abort=True)
    click.echo(f"freed {_mb(clear(cache_dir, dataset))}")
