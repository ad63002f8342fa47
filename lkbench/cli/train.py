"""``lkbench train``: train a keypoint generator (or attribute editor) into a run folder."""
from __future__ import annotations

import click

from . import options


def _train_epilog() -> list[str]:
    from importlib.metadata import entry_points

    from .catalog import CATALOG

    presets = CATALOG["train_presets"]
    lines = ["Presets (--preset NAME):"]
    for model, docs in presets.items():
        lines.append(f"  {model}:")
        for name, doc in docs.items():
            lines.append(f"    {name:<24} {doc}")
    plugins = sorted({ep.name for ep in entry_points(group="lkbench.trainers")} - set(presets))
    for model in plugins:   # a trainer from another package: its presets are its own
        lines.append(f"  {model}: (a plugin; see its documentation for presets)")
    lines.append("Run folder: config.toml, stats.jsonl, samples/step-N.png, ckpt/step-N.pt.")
    return lines


# --dataset stays: train reads a training dataset (any of `lkbench datasets list`, splits train
# and prior), not a benchmark.
@click.command("train", cls=options.epilog_command(_train_epilog))
@click.option("--model", required=True, help="Model to train, e.g. latent-keypoint-gan.")
@click.option("--dataset", default=None, help="Training dataset (`lkbench datasets list`); "
              "default: the preset's (synthetic).")
@click.option("--attribute", default=None, help="Attribute-editing models (l2m-gan): the binary "
              "attribute to edit, e.g. smiling; sets data.attribute.")
@options.preset("Settings to start from (see the list below).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Run folder; must not hold another run unless --resume is given.")
@options.config_files("TOML file with [model], [optim], [loop], [data] tables; repeatable, "
                      "later files win over earlier ones and over the preset.")
@options.overrides("Override one setting, e.g. --set model.num_keypoints=8 --set "
                   "loop.steps=500 (wins over --config).")
@click.option("--resume", default=None, metavar="auto|PATH",
              help="Continue a run: 'auto' takes the newest checkpoint in --out (or starts "
              "fresh if there is none); PATH names a checkpoint file.")
@options.device(config_key="loop.device")
@options.seed("Root seed (model init, noise, data order)", config_key="loop.seed")
@click.option("--variant", default=None, help="keypoint-gan: ablation variant (full, "
              "bottleneck, conditional, cyclegan, cyclegan-cycle); sets model.variant.")
@click.option("--prior-size", type=click.IntRange(1), default=None, help="keypoint-gan: use "
              "only the first N poses of the prior split (e.g. 5000, 500, 50); sets "
              "data.prior_size.")
@click.option("--vgg-weights", default=None, metavar="PATH|download", help="keypoint-gan: "
              "torchvision VGG state dict for the perceptual loss ('download' fetches it "
              "online); sets loss.vgg_weights.")
@click.option("--dry-run", is_flag=True, help="Print the resolved config and exit.")
@options.progress("Show the progress bar.")
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

    from ..trainers.run import resolve_run_config, run_training

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
        from ..config import to_dict
        click.echo(tomli_w.dumps(to_dict(cfg)), nl=False)
        return
    result = run_training(trainer_cls, cfg, out_dir, resume=resume, progress=progress)
    click.echo(f"trained {trainer_cls.model_name} to step {result.step} in "
               f"{result.wall_time_s:.1f} s; checkpoint {result.checkpoint}")
