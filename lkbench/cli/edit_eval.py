"""``lkbench edit-eval``: attribute-edit metrics on the command line.

Thin: parse, resolve the config, call
:func:`lkbench.protocols.editing.run_edit_eval.run_edit_eval`, print. Importing this module, or
showing the command's help, does not import torch.
"""
from __future__ import annotations

import click

from . import options
from .catalog import CATALOG


def _edit_eval_epilog() -> list[str]:
    metrics = {name: f"{unit} ({'higher' if higher_is_better else 'lower'} is better)"
               for name, (unit, higher_is_better) in CATALOG["metrics"].items()}
    return [*options.listing("Presets (--preset NAME)", CATALOG["edit_eval_presets"], 8),
            *options.listing("Metrics (records in <results>/editing.jsonl)", metrics, 31)]


@click.command("edit-eval", cls=options.epilog_command(_edit_eval_epilog))
@options.checkpoint("Attribute-editor checkpoint (lkbench train --model l2m-gan), or "
                    "'l2m-demo' for the shipped dark_hair demo editor.", required=False)
@click.option("--identity", is_flag=True, help="Evaluate the identity edit (returns each "
              "source unchanged) instead of a checkpoint: the baseline an editor must beat.")
@click.option("--attribute", required=True, help="Attribute to edit, e.g. smiling (synthetic: "
              "smiling, mouth_open, hair, dark_hair, dark_skin).")
@options.preset("Settings to start from: smoke or demo (below).")
@options.overrides("Override one setting, e.g. --set num_images=200 --set alpha=0.5.")
@click.option("--classifier", default=None, type=click.Path(dir_okay=False),
              help="Use this saved attribute classifier instead of training (or reusing the "
              "cached) one.")
@click.option("--detector", default=None, type=click.Path(dir_okay=False),
              help="Use this saved keypoint detector (e.g. a detector.pt of lkbench detect) "
              "instead of training (or reusing the cached) one.")
@options.results("the records file editing.jsonl and of the judges' cache")
@options.run_out("config.toml, metrics.json and edit_grid.png")
@options.device(config_key="device")
def edit_eval(checkpoint: "str | None", identity: bool, attribute: str, preset: "str | None",
              overrides: tuple[str, ...], classifier: "str | None", detector: "str | None",
              results: "str | None", out_dir: "str | None", device: "str | None") -> None:
    """Measure attribute edits against the exact counterfactuals of the synthetic faces.

    Reports attribute accuracy (a classifier trained on real labels), keypoint displacement
    and image distance between source and edit, and on synthetic the counterfactual errors
    (distance between each edit and the face re-rendered with the attribute flipped).

    Example: lkbench edit-eval --checkpoint runs/l2m/ckpt/step-0003000.pt --attribute smiling
    --preset demo
    """
    import sys

    from ..config import PRESETS, resolve
    from ..errors import ConfigError
    from ..protocols.editing.run_edit_eval import EditEvalConfig, run_edit_eval
    from ..registry import did_you_mean

    if (checkpoint is None) == (not identity):
        raise ConfigError("give either --checkpoint CKPT or --identity (not both, not neither)")
    own = [n for n in PRESETS.names() if EditEvalConfig.__name__ in PRESETS.get(n)]
    if preset is not None and preset not in own:
        raise ConfigError(did_you_mean(preset, own, "edit-eval preset"))
    sets = [*((f'device="{device}"',) if device else ()), *overrides]
    cfg = resolve(EditEvalConfig, preset=preset, overrides=sets)
    run = run_edit_eval(cfg, attribute=attribute, checkpoint=checkpoint, classifier=classifier,
                        detector=detector, results=results, out=out_dir,
                        say=lambda m: click.echo(m, err=True), argv=sys.argv)
    click.echo(f"{run.editor} on {attribute} (n={run.n}, {run.wall_time_s:.1f} s):")
    for name, (value, se) in run.summary.items():
        click.echo(f"  {name:<33} {value:.4f}" + (f" ± {se:.4f}" if se == se else ""))
    for name, value in run.references.items():
        click.echo(f"  ({name} {value:.4f})")
    click.echo(f"records appended to {run.records_path}; grid {run.grid}")
