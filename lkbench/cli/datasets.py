"""``lkbench datasets list|show|check`` and ``lkbench cache info|clear``: look at the registered
datasets, verify a real download, inspect or empty the preprocessed cache."""
from __future__ import annotations

import sys
from typing import Any

import click

from . import options


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

    from ..errors import ConfigError

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


@click.group("datasets")
def datasets() -> None:
    """List the registered datasets and look at their images and landmarks."""


@datasets.command("list")
def datasets_list() -> None:
    """Print every registered dataset with a one-line description."""
    from ..data import DATASETS

    for name in DATASETS.names():
        doc = (DATASETS.get(name).__doc__ or "").strip().splitlines()
        aliases = DATASETS.aliases_of(name)
        extra = f" (aliases: {', '.join(aliases)})" if aliases else ""
        click.echo(f"{name:<16} {doc[0] if doc else ''}{extra}")


@datasets.command("show")
@click.argument("name")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="PNG file to write the grid of images with their landmarks to.")
@click.option("--split", default=None, help="Split to draw from (synthetic: train, fit, test, "
              "prior; keypoint-only splits are drawn on grey). Default: the config's split.")
@click.option("--num", "num_images", default=16, show_default=True, type=click.IntRange(1, 256),
              help="Number of images in the grid.")
@click.option("--nrow", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Images per row of the grid.")
@options.preset("Config preset to start from (smoke, demo).")
@options.config_files("TOML file with [data] settings; may be repeated, later files win.")
@options.overrides("Override one data setting, e.g. --set image_size=128 --set "
                   "difficulty=hard; a dataset's own options as --set options.KEY=VALUE (e.g. "
                   "options.crop=none).")
@options.root()
def datasets_show(name: str, out_path: str, split: "str | None", num_images: int, nrow: int,
                  preset: "str | None", config_files: tuple[str, ...],
                  overrides: tuple[str, ...], root: "str | None") -> None:
    """Write a PNG grid of NAME's first images with their landmarks drawn on them."""
    import torch

    from ..config import DataConfig, resolve
    from ..data import DATASETS, get_dataset
    from ..plots import save_keypoint_grid

    sets = [f"name={name}", *(f"split={split}",) * (split is not None), *overrides]
    cfg = resolve(DataConfig, preset=preset, files=config_files, overrides=sets)
    ds = get_dataset(cfg.name, **dataset_kwargs(DATASETS.get(cfg.name), cfg.split, cfg.image_size,
                                                root, {"difficulty": cfg.difficulty,
                                                       "seed": cfg.seed}, cfg.options))
    n = min(num_images, len(ds))
    if ds.has_images:
        images, keypoints, visible = ds.batch(range(n))
    else:  # keypoint-only split (e.g. a pose prior): draw the points on a mid-grey canvas
        keypoints, visible = ds.landmarks(range(n))
        images = torch.zeros(n, 3, cfg.image_size, cfg.image_size)
    path = save_keypoint_grid(out_path, images, keypoints, visible, nrow=nrow,
                              names=ds.landmark_names)
    click.echo(f"wrote {n} {cfg.name}/{cfg.split} images at {cfg.image_size} px with "
               f"{keypoints.shape[1]} landmarks ({', '.join(ds.landmark_names)}) to {path}")


@datasets.command("check")
@click.argument("name")
@options.root()
@options.progress("Show a progress bar while images are decoded.")
@click.option("--strict-counts", is_flag=True,
              help="Also fail when a split's list size differs from the published count.")
def check(name: str, root: "str | None", progress: bool, strict_counts: bool) -> None:
    """Verify a download of real dataset NAME: every file present and readable, every image
    decodable, annotations well formed and inside the image, split sizes against the published
    counts. Prints a report; exits 1 naming each missing or corrupt file and malformed line.

    Example: lkbench datasets check celeba-wild --root ~/data
    """
    from ..data.check import check_dataset

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
# --dataset stays: the cache holds datasets' preprocessed images (any dataset, benchmark or not).
_DATASET = click.option("--dataset", default=None,
                        help="Only this dataset's entries (default: all).")


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


@cache.command("info")
@_CACHE_DIR
@_DATASET
def cache_info(cache_dir: "str | None", dataset: "str | None") -> None:
    """List the cache entries: dataset, entry, split, image size, size on disk."""
    from ..data.cache import cache_root, dataset_folder, list_entries

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
    from ..data.cache import cache_root, clear, dataset_folder

    dataset = None if dataset is None else dataset_folder(dataset, cache_dir)
    what = f"the {dataset} entries" if dataset else "every entry"
    if not yes:
        click.confirm(f"delete {what} under {cache_root(cache_dir)}?", abort=True)
    click.echo(f"freed {_mb(clear(cache_dir, dataset))}")
