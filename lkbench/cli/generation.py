"""``lkbench cpd`` and ``lkbench fid``: the image-generation protocols on the command line.

Thin: parse, build the config, call :mod:`lkbench.protocols.generation.run_cpd` /
:mod:`lkbench.protocols.generation.run_fid`, print. Importing this module, or showing either
command's help, does not import torch.
"""
from __future__ import annotations

import click

from . import options
from .catalog import CATALOG
from .types import LazyChoice, parse_data_options


@click.command("cpd")
@options.checkpoint()
@click.option("--num-latents", default=2000, show_default=True, type=click.IntRange(4),
              help="Latents sampled (even); they form num-latents/2 pairs. Published: 2000.")
@click.option("--groups", default=None, metavar="NAME=J,J;NAME=J",
              help="Merge parts into semantic units, e.g. \"eyes=0,1;mouth=2,3\"; each group's "
              "edit swaps all its parts at once, parts in no group are left out. Default: every "
              "part is its own unit.")
@click.option("--background/--no-background", default=True, show_default=True,
              help="Include the background embedding as a unit (the paper drops it when "
              "comparing with GANLocalEditing).")
@click.option("--batch-size", default=50, show_default=True, type=click.IntRange(1),
              help="Pairs rendered at once (the result does not depend on it).")
@options.seed("Seed of the latents.")
@options.device()
@options.results("the records file cpd.jsonl")
@options.run_out("the heatmap cpd.png")
@options.progress()
def cpd(checkpoint: str, num_latents: int, groups: "str | None", background: bool,
        batch_size: int, seed: int, device: str, results: "str | None", out_dir: "str | None",
        progress: bool) -> None:
    """Correlation-based part disentanglement (CPD) of a keypoint generator.

    Swaps one part embedding (or group) at a time between random pairs, correlates the
    absolute difference maps of every two parts, and reports CPD = 1 - mean off-diagonal
    correlation (1 = each part changes only its own pixels). Appends a record to
    <results>/cpd.jsonl and writes the correlation heatmap.

    Example: lkbench cpd --checkpoint demo
    """
    import sys

    from ..protocols.generation.cpd import CPDConfig, parse_groups
    from ..protocols.generation.run_cpd import run_cpd

    cfg = CPDConfig(num_latents=num_latents, groups=parse_groups(groups), background=background,
                    batch_size=batch_size, seed=seed, device=device)
    run = run_cpd(cfg, checkpoint=checkpoint, results=results, out=out_dir, progress=progress,
                  say=lambda m: click.echo(m, err=True), argv=sys.argv)
    r = run.result
    names = ", ".join(u.name for u in r.units)
    click.echo(f"CPD {r.cpd:.4f} (Pearson; uncentred {r.cpd_uncentred:.4f})  ({r.num_pairs} "
               f"pairs, units: {names})  {run.wall_time_s:.1f} s")
    if r.constant_units:
        click.echo(f"note: these units never changed the image and were left out of the mean: "
                   f"{', '.join(r.constant_units)}")
    click.echo(f"record appended to {run.records_path}; heatmap {run.heatmap}")


def _check_dataset(name: str, options: dict) -> None:
    """Refuse an unknown dataset (did-you-mean) or an option its loader does not take, before
    the feature network or the generator is loaded."""
    import inspect

    from ..data import DATASETS
    from ..errors import ConfigError

    params = inspect.signature(DATASETS.get(name)).parameters
    unknown = sorted(k for k in options if k not in params)
    if unknown:
        takes = ", ".join(k for k in params if k not in ("split", "image_size", "progress"))
        raise ConfigError(f"dataset {DATASETS.resolve(name)!r} does not take "
                          f"{', '.join(unknown)} (--set data.KEY=VALUE); its options: {takes}")


def _features() -> list[str]:
    from ..protocols.generation.inception import FEATURES
    return FEATURES.names()


# --dataset stays: FID compares with the images of any dataset split (`lkbench datasets list`,
# e.g. its train split), which is not a benchmark of the landmark protocol.
@click.command("fid")
@options.checkpoint()
@click.option("--dataset", required=True, help="Dataset of the real images (lkbench datasets "
              "list), rendered at the generator's resolution.")
@click.option("--split", default="train", show_default=True,
              help="Split of the real images for the reference statistics.")
@options.overrides("One option of the dataset's loader, e.g. --set data.difficulty=hard or "
                   "--set data.root=~/data; repeatable.", metavar="data.KEY=VALUE",
                   dest="data_options")
@click.option("--num-gen", type=click.IntRange(2), default=None,
              help="Generated images; default 50000 for FID, the reference set's size for "
              "--interp.")
@click.option("--num-ref", type=click.IntRange(2), default=None,
              help="Real images (the first N of the split); default: the whole split.")
@click.option("--mode", default="clean", show_default=True,
              type=click.Choice(["clean", "legacy_tensorflow"]),
              help="clean-fid mode: clean (PIL bicubic resize to 299, float) or "
              "legacy_tensorflow (the network's own resize, as TF-FID).")
@click.option("--features", default="inception", show_default=True,
              type=LazyChoice(_features, "features", CATALOG["features"]),
              help="Feature network. inception = FID; random-conv is a fixed random network "
              "for tests and CPU demos whose distance is recorded as fd_random_conv, never FID.")
@click.option("--interp", is_flag=True, help="FID_interp (prior source): interpolate two full "
              "latent sets with one lambda ~ U(0,1) per pair.")
@click.option("--inception-weights", default=None, type=click.Path(dir_okay=False),
              help="Path of inception-2015-12-05.pt (else $LKBENCH_INCEPTION_WEIGHTS, the "
              "cache, or a download unless LKBENCH_OFFLINE=1).")
@click.option("--allow-small-n", is_flag=True, help="Compute even with fewer samples than "
              "feature dimensions (singular covariance; unreliable).")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1),
              help="Images per batch (the result does not depend on it).")
@options.seed("Seed of the latents (lambda uses seed + 1).")
@options.device()
@options.results("the records file fid.jsonl")
@options.progress()
def fid(checkpoint: str, dataset: str, split: str, data_options: tuple[str, ...],
        num_gen: "int | None", num_ref: "int | None", mode: str, features: str, interp: bool,
        inception_weights: "str | None", allow_small_n: bool, batch_size: int, seed: int,
        device: str, results: "str | None", progress: bool) -> None:
    """FID (or FID_interp) of a keypoint generator against a real split, through clean-fid.

    Images go from the generator to clean-fid's resize and feature network in memory (uint8
    rounding as a saved PNG). Reference statistics are cached under the lkbench cache root.
    Appends a record to <results>/fid.jsonl.

    Example: lkbench fid --checkpoint runs/demo/ckpt/step-0006000.pt --dataset synthetic
    """
    import sys

    from ..protocols.generation.fid import FIDConfig
    from ..protocols.generation.run_fid import run_fid

    options = parse_data_options(data_options, "fid")
    _check_dataset(dataset, options)   # a typo is named before any weights or model load
    cfg = FIDConfig(dataset=dataset, split=split, dataset_options=options,
                    num_gen=num_gen, num_ref=num_ref, mode=mode, features=features,
                    interp=interp, batch_size=batch_size, seed=seed, allow_small_n=allow_small_n,
                    device=device, inception_weights=inception_weights)
    run = run_fid(cfg, checkpoint=checkpoint, results=results, progress=progress,
                  say=lambda m: click.echo(m, err=True), argv=sys.argv)
    cached = "cached" if run.reference_cached else "computed"
    click.echo(f"{run.label} = {run.value:.4f}  (n_gen={run.num_gen}, n_ref={run.num_ref}, "
               f"reference {cached})  {run.wall_time_s:.1f} s")
    click.echo(f"record appended to {run.records_path}")
