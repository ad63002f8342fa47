"""The ``lkbench`` command line: a thin click group.

Commands parse options, build a config, call the library and print. User mistakes raise
:class:`~lkbench.errors.LkbenchError`; :func:`main` turns those into exit code 2 with a one-line
message and no traceback. Only implemented commands are registered here.
"""
from __future__ import annotations

import sys

import click

from . import __version__
from .datasets_cli import cache, check, dataset_kwargs
from .detect_cli import detect, score
from .edit_cli import edit
from .edit_eval_cli import edit_eval
from .export_cli import export
from .errors import LkbenchError
from .report_cli import report
from .gen_eval_cli import cpd, fid
from .serve_cli import serve


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
            from .atomic import write_error

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


@cli.group()
def datasets() -> None:
    """List the registered datasets and look at their images and landmarks."""


@datasets.command("list")
def datasets_list() -> None:
    """Print every registered dataset with a one-line description."""
    from .data import DATASETS

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
@click.option("--preset", default=None, help="Config preset to start from (smoke, demo).")
@click.option("--config", "config_files", multiple=True, type=click.Path(dir_okay=False),
              help="TOML file with [data] settings; may be repeated, later files win.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override one data setting, e.g. --set image_size=128 --set difficulty=hard; "
              "a dataset's own options as --set options.KEY=VALUE (e.g. options.crop=none).")
@click.option("--root", type=click.Path(file_okay=False), default=None,
              help="Data root of real datasets, one folder per dataset (default: $LKBENCH_DATA).")
def datasets_show(name: str, out_path: str, split: "str | None", num_images: int, nrow: int,
                  preset: "str | None", config_files: tuple[str, ...],
                  overrides: tuple[str, ...], root: "str | None") -> None:
    """Write a PNG grid of NAME's first images with their landmarks drawn on them."""
    import torch

    from .config import DataConfig, resolve
    from .data import DATASETS, get_dataset
    from .plots import save_keypoint_grid

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


def _train_epilog() -> str:
    from .trainers.loop import TRAINERS

    lines = ["Presets (--preset NAME):"]
    for model in TRAINERS.names():
        lines.append(f"  {model}:")
        for name, doc in getattr(TRAINERS.get(model), "presets", {}).items():
            lines.append(f"    {name:<24} {doc}")
    lines.append("Run folder: config.toml, stats.jsonl, samples/step-N.png, ckpt/step-N.pt.")
    return "\n".join(lines)


class _EpilogCommand(click.Command):
    """A command whose epilog is built when help is shown (it needs the trainer registry)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_paragraph()
        for line in _train_epilog().splitlines():
            formatter.write(line + "\n")


@cli.command(cls=_EpilogCommand)
@click.option("--model", required=True, help="Model to train, e.g. latent-keypoint-gan.")
@click.option("--dataset", default=None, help="Training dataset (`lkbench datasets list`); "
              "default: the preset's (synthetic).")
@click.option("--attribute", default=None, help="Attribute-editing models (l2m-gan): the binary "
              "attribute to edit, e.g. smiling; sets data.attribute.")
@click.option("--preset", default=None, help="Settings to start from (see the list below).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Run folder; must not hold another run unless --resume is given.")
@click.option("--config", "config_files", multiple=True, type=click.Path(dir_okay=False),
              help="TOML file with [model], [optim], [loop], [data] tables; repeatable, later "
              "files win over earlier ones and over the preset.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override one setting, e.g. --set model.num_keypoints=8 --set loop.steps=500 "
              "(wins over --config).")
@click.option("--resume", default=None, metavar="auto|PATH",
              help="Continue a run: 'auto' takes the newest checkpoint in --out (or starts "
              "fresh if there is none); PATH names a checkpoint file.")
@click.option("--device", default=None, help="auto (CUDA if available), cpu, cuda or cuda:N; "
              "default: the config's loop.device (auto).")
@click.option("--seed", type=int, default=None, help="Root seed (model init, noise, data "
              "order); default: the config's loop.seed (0).")
@click.option("--variant", default=None, help="keypoint-gan: ablation variant (full, "
              "bottleneck, conditional, cyclegan, cyclegan-cycle); sets model.variant.")
@click.option("--prior-size", type=click.IntRange(1), default=None, help="keypoint-gan: use "
              "only the first N poses of the prior split (e.g. 5000, 500, 50); sets "
              "data.prior_size.")
@click.option("--vgg-weights", default=None, metavar="PATH|download", help="keypoint-gan: "
              "torchvision VGG state dict for the perceptual loss ('download' fetches it "
              "online); sets loss.vgg_weights.")
@click.option("--dry-run", is_flag=True, help="Print the resolved config and exit.")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Show the progress bar.")
def train(model: str, dataset: "str | None", attribute: "str | None", preset: "str | None",
          out_dir: str,
          config_files: tuple[str, ...], overrides: tuple[str, ...], resume: "str | None",
          device: "str | None", seed: "int | None", variant: "str | None",
          prior_size: "int | None", vgg_weights: "str | None", dry_run: bool,
          progress: bool) -> None:
    """Train a keypoint generator and write checkpoints, stats and sample grids to --out.

    Example: lkbench train --model latent-keypoint-gan --dataset synthetic --preset demo
    --out runs/demo. Launch with `torchrun --nproc_per_node N -m lkbench.cli train ...` for
    data-parallel training (each process takes loop.batch_size images per step). Ctrl-C saves a
    checkpoint; --resume auto continues from it.
    """
    import json

    import tomli_w

    from .trainers.run import resolve_run_config, run_training

    sets = [*((f"data.name={dataset}",) if dataset else ()),
            *((f'data.attribute="{attribute}"',) if attribute else ()),
            *((f"loop.device={device}",) if device else ()),
            *((f"loop.seed={seed}",) if seed is not None else ()),
            *((f"model.variant={json.dumps(variant)}",) if variant else ()),
            *((f"data.prior_size={prior_size}",) if prior_size is not None else ()),
            *((f"loss.vgg_weights={json.dumps(vgg_weights)}",) if vgg_weights else ()),
            *overrides]
    trainer_cls, cfg = resolve_run_config(model, preset, config_files, sets)
    if dry_run:
        from .config import to_dict
        click.echo(tomli_w.dumps(to_dict(cfg)), nl=False)
        return
    result = run_training(trainer_cls, cfg, out_dir, resume=resume, progress=progress)
    click.echo(f"trained {trainer_cls.model_name} to step {result.step} in "
               f"{result.wall_time_s:.1f} s; checkpoint {result.checkpoint}")


datasets.add_command(check)
cli.add_command(cache)
cli.add_command(edit)
cli.add_command(edit_eval)
cli.add_command(export)
cli.add_command(detect)
cli.add_command(score)
cli.add_command(report)
cli.add_command(cpd)
cli.add_command(fid)
cli.add_command(serve)


def main(argv: "list[str] | None" = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="lkbench")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
