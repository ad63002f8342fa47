"""``lkbench detect`` and ``lkbench score``: the landmark detection protocol on the command line.

Thin: parse, resolve the config, call :mod:`lkbench.protocols.landmarks.run_detect`, print.
Importing this module, or showing either command's help, does not import torch (the lists in
the help come from :mod:`.catalog`; choices are checked against the registries when a command
runs).
"""
from __future__ import annotations

import click

from . import options
from .catalog import CATALOG
from .types import LazyChoice, parse_data_options


def _solvers() -> list[str]:
    from ..protocols.landmarks.solvers import SOLVERS
    return SOLVERS.names()


def _conventions() -> list[str]:
    from ..protocols.landmarks.predictions import CONVENTIONS
    return CONVENTIONS.names()


def _detect_epilog() -> list[str]:
    return [*options.listing("Presets (--preset NAME); without one, GANSeg's budget with the "
                             "compact detector (GPU)", CATALOG["detect_presets"], 8),
            *options.listing("Baselines (--baselines)", CATALOG["baselines"], 16)]


def _score_epilog() -> list[str]:
    return options.listing("Conventions (--convention NAME)", CATALOG["conventions"], 14)


_COMPAT_HELP = ("Least-squares solver: exact (float64, lkbench default) or alk (the float32 "
                "normal equations + ridge fallback of the AutoLink/GANSeg code, to reproduce "
                "published numbers).")


# Options of detect and score only (the ones other commands share are in .options).
_ANY_K = click.option("--any-k", is_flag=True, help="Score a K the benchmark's published "
                      "protocol does not use (the number is then not comparable with published "
                      "ones).")
_RECORDS = "the records file landmarks.jsonl"


@click.command("detect", cls=options.epilog_command(_detect_epilog))
@options.benchmark("Benchmark to evaluate on (e.g. synthetic); aliases accepted.",
                   old_name="--dataset")
@options.checkpoint("Generator checkpoint (from lkbench train, or 'demo' for the shipped demo "
                    "generator); with --direct, a keypoint predictor's checkpoint (e.g. a "
                    "detector.pt).")
@options.preset("Settings to start from: smoke, demo or paper (see below).")
@options.config_files("TOML file with [detector], [train] tables and top-level keys; "
                      "repeatable, later files win.")
@options.overrides("Override one setting, e.g. --set train.epochs=2 --set "
                   "detector.widths=[16,32,64]; the benchmark dataset's options as --set "
                   "data.KEY=VALUE (e.g. data.compat=alk-swap).")
@click.option("--baselines", is_flag=True, help="Also score the baselines (mean-shape, "
              "random-detector, supervised) into the same records and summary.")
@click.option("--direct", is_flag=True, help="The checkpoint predicts keypoints itself: skip "
              "pair generation and detector training.")
@click.option("--no-regression", is_flag=True, help="Score the raw predictions as the "
              "landmarks (needs K == L and semantic outputs).")
@click.option("--detector", "detector_path", default=None, type=click.Path(dir_okay=False),
              help="Reuse a detector saved by an earlier run (its detector.pt) instead of "
              "training one.")
@click.option("--compat", default=None,
              type=LazyChoice(_solvers, "solver", CATALOG["solvers"]),
              help=_COMPAT_HELP + " Default: the config's solver (exact).")
@_ANY_K
@options.root()
@options.results(_RECORDS)
@options.run_out("detection.png, predictions.npz, detector.pt and config.toml")
@options.device(config_key="device")
@options.seed("Root seed (latents, detector init, data order)", config_key="seed")
@click.option("--seeds", "num_seeds", type=int, default=1, show_default=True,
              help="Repeat the detector training with N root seeds (--seed, --seed+1, ...): one "
              "record and one <out>/seed-<s> folder each, then mean ± std over the seeds "
              "(--baselines run with the first seed only).")
@options.progress()
def detect(benchmark: str, checkpoint: str, preset: "str | None", config_files: tuple[str, ...],
           overrides: tuple[str, ...], baselines: bool, direct: bool, no_regression: bool,
           detector_path: "str | None", compat: "str | None", any_k: bool, root: "str | None",
           results: "str | None", out_dir: "str | None", device: "str | None",
           seed: "int | None", num_seeds: int, progress: bool) -> None:
    """Train a detector on a generator's image-keypoint pairs and score it on a benchmark.

    Generates fresh pairs from CHECKPOINT's generator, trains the detector, predicts on the
    benchmark's fit and test images, regresses onto the annotated landmarks and prints one line
    per entry (benchmark, value, unit, its 95% bootstrap interval over test images, n, wall
    time); with --seeds N, that for each seed and then mean ± std over the seeds. Records are
    appended to <results>/landmarks.jsonl; the figure, the predictions (re-score them with
    lkbench score) and the detector go to --out.

    Example: lkbench detect --benchmark synthetic --checkpoint runs/demo/ckpt/step-0006000.pt
    --preset demo --baselines
    """
    import sys

    from ..config import resolve
    from ..protocols.landmarks.run_detect import summary_lines
    from ..protocols.landmarks.config import DetectConfig
    from ..protocols.landmarks.seeds import run_detect_seeds, seeds_summary_lines

    sets = [*((f"device={device}",) if device else ()),
            *((f"seed={seed}",) if seed is not None else ()),
            *((f"solver={compat}",) if compat else ()), *overrides]
    cfg = resolve(DetectConfig, preset=preset, files=config_files, overrides=sets)
    runs = run_detect_seeds(cfg, num_seeds, benchmark=benchmark, checkpoint=checkpoint,
                            direct=direct, regression=not no_regression, detector=detector_path,
                            baselines=baselines, strict_k=not any_k, root=root, results=results,
                            out=out_dir, progress=progress,
                            say=lambda m: click.echo(m, err=True), argv=sys.argv)
    for run in runs:
        for line in summary_lines(run):
            click.echo(line)
    for line in seeds_summary_lines(runs):
        click.echo(line)


@click.command("score", cls=options.epilog_command(_score_epilog))
@options.benchmark("Benchmark to score on (e.g. synthetic).")
@click.option("--predictions", default=None, type=click.Path(dir_okay=False),
              help="An .npz with arrays fit and test, [N,K,2] each, in the benchmark's image "
              "order (optional fit_visible/test_visible, bool [N,L], restrict what is scored).")
@click.option("--export-order", default=None, type=click.Path(dir_okay=False),
              help="Instead of scoring, write the image order the npz must follow to this CSV "
              "(columns array,index,image_id).")
@click.option("--convention", default="lkbench", show_default=True,
              type=LazyChoice(_conventions, "convention", list(CATALOG["conventions"])),
              help="How the coordinates are written (see below).")
@click.option("--pixel-size", type=click.IntRange(2), default=None,
              help="Side S in pixels of the images the coordinates refer to; required by the "
              "pixel and align-corners conventions.")
@click.option("--compat", default="exact", show_default=True,
              type=LazyChoice(_solvers, "solver", CATALOG["solvers"]), help=_COMPAT_HELP)
@click.option("--center", is_flag=True, help="Fit bias-free regressions in the image-centred "
              "frame (Zhang et al., StableKeypoints) instead of top-left (AutoLink/GANSeg).")
@click.option("--no-regression", is_flag=True, help="Score the predictions as the landmarks "
              "themselves (K == L); the fit array is then not needed.")
@_ANY_K
@options.overrides("Set one option of the benchmark's dataset, e.g. --set "
                   "data.compat=alk-swap (celeba-wild) or --set data.background=keep "
                   "(h36m-simplified).", metavar="data.KEY=VALUE")
@click.option("--name", default=None, help="Name of your detector in the records; default: the "
              "npz file's stem.")
@options.root()
@options.results(_RECORDS)
@options.run_out("detection.png")
def score(benchmark: str, predictions: "str | None", export_order: "str | None",
          convention: str, pixel_size: "int | None", compat: str, center: bool,
          no_regression: bool, any_k: bool, overrides: tuple[str, ...], name: "str | None",
          root: "str | None", results: "str | None", out_dir: "str | None") -> None:
    """Score your own detector's predictions with a benchmark's published protocol.

    Example: lkbench score --benchmark synthetic --predictions preds.npz --convention
    pixels-xy --pixel-size 64
    """
    import sys

    from ..errors import ConfigError

    if (predictions is None) == (export_order is None):
        raise ConfigError("give exactly one of --predictions FILE.npz (score it) or "
                          "--export-order FILE.csv (write the image order the npz must follow)")
    data_options = parse_data_options(overrides, "score")
    if export_order is not None:
        from ..protocols.landmarks.predictions import export_order as write_order

        path = write_order(benchmark, export_order, root, data_options)
        click.echo(f"wrote the image order of benchmark {benchmark} to {path}: np.savez(..., "
                   "fit=[rows with array=fit], test=[rows with array=test]) in that order")
        return
    from ..protocols.landmarks.run_detect import run_score, summary_lines

    run = run_score(benchmark, predictions, convention=convention, pixel_size=pixel_size,
                    solver=compat, center=center, regression=not no_regression,
                    strict_k=not any_k, name=name, root=root, results=results, out=out_dir,
                    argv=sys.argv, data_options=data_options)
    for line in summary_lines(run):
        click.echo(line)
