"""``lkbench export``: a trained generator's evaluation state, small, with a manifest."""
from __future__ import annotations

import click


@click.command("export")
@click.argument("checkpoint", type=click.Path())
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--dtype", type=click.Choice(["float16", "float32"]), default="float16",
              show_default=True, help="Storage type of the floating tensors (float16 halves "
              "the file; the model still computes in float32).")
@click.option("--command", "command", default=None,
              help="The command that trained CHECKPOINT, recorded in the manifest.")
@click.option("--force", is_flag=True, help="Replace OUT (and its manifest and run files) "
              "if they exist. The export never writes onto its own input.")
def export(checkpoint: str, out: str, dtype: str, command: "str | None", force: bool) -> None:
    """Write CHECKPOINT's generator (G_ema, else G) alone to OUT, for sharing or shipping.

    CHECKPOINT is a training checkpoint or a run folder (its newest checkpoint).

    Beside OUT go a JSON manifest (sha256, size, step, wall time, source, command) and, when
    CHECKPOINT sits in a run folder (<run>/ckpt/step-N.pt), the run's config.toml,
    stats.jsonl and curves.png under OUT's stem. OUT loads with lkbench.load_generator and
    every --checkpoint option. Existing files are replaced only with --force.

    Example: lkbench export runs/demo/ckpt/step-0006000.pt demo-generator.pt
    """
    from ..export import export_generator

    result = export_generator(checkpoint, out, dtype=dtype, command=command, force=force)
    size = result.checkpoint.stat().st_size / 2 ** 20
    click.echo(f"wrote {result.checkpoint} ({size:.1f} MB), manifest {result.manifest}"
               + "".join(f", {p.name}" for p in result.extras))
