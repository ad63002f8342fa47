"""``lkbench edit``: apply the editing operations of ``docs/models.md`` §1.12 to samples of a
trained generator and draw the results as a labelled grid.

Importing this module, or showing the command's help, does not import torch (the ops the help
lists come from :mod:`.catalog`; the op registry is read when the command runs).
"""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import ConfigError, LkbenchError
from . import options
from .catalog import CATALOG
from .types import LazyChoice


def _edit_ops() -> dict:
    from ..trainers.latent_keypoint_gan.edit_ops import EDIT_OPS
    return EDIT_OPS


def _edit_epilog() -> list[str]:
    ops = {name: text + (" [donor]" if needs_donor else "")
           for name, (text, needs_donor) in CATALOG["edit_ops"].items()}
    ops["all"] = "every operation, one PNG each"
    ops["render"] = ("no edit: the source images alone, a plain PNG at the model's resolution "
                     "(side by side), e.g. to replay --latents exactly")
    return options.listing("Operations (--op NAME)", ops, 16)


# The ranges lkbench serve accepts for the same settings (lkbench.serve.ops.OpParams): a value
# outside them, or NaN/inf, is refused here as it is there (422), before anything renders.
BOUNDS = {"dx": (-4.0, 4.0), "dy": (-4.0, 4.0), "scale": (0.05, 20.0), "factor": (0.05, 20.0)}


class _FiniteRange(click.ParamType):
    """A float in ``[lo, hi]``; NaN and inf are refused (click.FloatRange lets NaN through)."""
    name = "float"

    def __init__(self, lo: float, hi: float):
        self.lo, self.hi = lo, hi

    def get_metavar(self, param: click.Parameter, ctx: "click.Context | None" = None) -> str:
        return f"FLOAT {self.lo:g}..{self.hi:g}"

    def convert(self, value, param, ctx):
        import math

        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number.", param, ctx)
        if not math.isfinite(number) or not self.lo <= number <= self.hi:
            self.fail(f"{value!r} is not a finite number in [{self.lo:g}, {self.hi:g}] (the "
                      "range lkbench serve accepts too).", param, ctx)
        return number


def _parse_parts(text: "str | None") -> tuple[int, ...]:
    if text is None or not text.strip():
        return ()
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--parts must be comma-separated part indices such as 0,2; got "
                          f"{text!r}") from None


def _out_paths(out: Path, names: list[str], every: bool) -> dict[str, Path]:
    """Where each op's grid goes: ``--out`` itself for one op (``OUT/<op>.png`` when OUT is a
    folder); for ``all``, ``<stem>-<op>.png`` beside a ``.png`` OUT, else ``OUT/<op>.png``."""
    if not every:
        return {names[0]: out / f"{names[0]}.png" if out.is_dir() else out}
    if out.suffix.lower() == ".png":
        return {n: out.with_name(f"{out.stem}-{n}.png") for n in names}
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; with --op all give a folder or a .png name "
                          "whose stem prefixes each op's file")
    return {n: out / f"{n}.png" for n in names}


@click.command("edit", cls=options.epilog_command(_edit_epilog))
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option("--op", required=True,
              type=LazyChoice(lambda: [*_edit_ops(), "all", "render"], "op",
                              [*CATALOG["edit_ops"], "all", "render"]),
              help="Edit to apply, or 'all' for one PNG per edit (list below).")
@click.option("--out", "out_path", required=True, type=click.Path(),
              help="PNG to write; with --op all, a folder (files OUT/<op>.png) or a .png name "
              "(files <its stem>-<op>.png beside it).")
@click.option("--num", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Number of samples (grid rows).")
@options.seed("Seed of the source samples; donors use seed + 1.")
@click.option("--part", default=0, show_default=True, type=int,
              help="Part index for move, remove, add (the part copied), resize, and "
              "swap-parts without --parts.")
@click.option("--parts", default=None, metavar="J,J,...",
              help="Comma-separated part indices whose appearance swap-parts takes from the "
              "donor (default: --part).")
@click.option("--dx", default=0.3, show_default=True, type=_FiniteRange(*BOUNDS["dx"]),
              help="Horizontal offset for move and add, normalised units (image width = 2).")
@click.option("--dy", default=0.0, show_default=True, type=_FiniteRange(*BOUNDS["dy"]),
              help="Vertical offset (down) for move and add, normalised units.")
@click.option("--scale", default=1.3, show_default=True, type=_FiniteRange(*BOUNDS["scale"]),
              help="move-all: scale factor of the keypoint layout about its centroid.")
@click.option("--factor", default=2.0, show_default=True, type=_FiniteRange(*BOUNDS["factor"]),
              help="resize: factor on the part's heatmap width tau (radius grows as sqrt).")
@click.option("--steps", default=5, show_default=True, type=click.IntRange(2, 32),
              help="interpolate: number of columns, t evenly spaced in [0, 1].")
@options.device()
@click.option("--latents", "latents_path", default=None, type=click.Path(dir_okay=False),
              help="Latents JSON saved by lkbench serve ('Download latents'): edit these "
              "instead of sampling --num samples from --seed; donor ops use the donor saved "
              "with them, if any. With --op render, writes the editor's image exactly.")
def edit(checkpoint: str, op: str, out_path: str, num: int, seed: int, part: int,
         parts: "str | None", dx: float, dy: float, scale: float, factor: float, steps: int,
         device: str, latents_path: "str | None" = None) -> None:
    """Edit samples of the generator in CHECKPOINT and draw source | donor | result grids.

    Each row is one sample; columns show the source, the donor (for ops that take appearance
    from another sample) and the edited result, with keypoints drawn in their part's colour
    (removed parts are not drawn, added parts take the colour of the part they copy).

    CHECKPOINT is a file from lkbench train or 'demo' (the shipped demo generator).

    Example: lkbench edit demo --op move --part 2 --dx 0.3 --out move.png
    """
    import torch

    from ..checkpoint import load_generator
    from lkbench.protocols.editing.plots import save_edit_grid
    from ..finite import check_images_finite
    from ..device import choose_device
    from ..trainers.latent_keypoint_gan.edit_ops import EditParams

    ops = _edit_ops()
    names = list(ops) if op == "all" else [op]
    params = EditParams(part=part, parts=_parse_parts(parts) or (part,), dx=dx, dy=dy,
                        scale=scale, factor=factor, steps=steps)
    paths = _out_paths(Path(out_path), names, op == "all")
    dev = choose_device(device)
    _, G = load_generator(checkpoint, dev)
    saved = saved_donor = None
    if latents_path is not None:
        from ..serve.codec import (checkpoint_mismatch, file_sha256, latents_to, load_document,
                                  spec_of)

        spec = spec_of(G, type(G).__name__, max_samples=1024, max_added_parts=1024)
        doc, saved, saved_donor = load_document(latents_path, spec)
        from ..shipped import resolve_checkpoint

        on_disk = resolve_checkpoint(checkpoint)
        warning = checkpoint_mismatch(doc, file_sha256(on_disk)) if on_disk.is_file() else None
        if warning:
            click.echo(f"Warning: {warning}", err=True)
        num = len(saved)
        saved, saved_donor = (None if t is None else latents_to(t, dev)
                              for t in (saved, saved_donor))

    def sample(s: int):
        return G.sample_latents(num, torch.Generator(device=dev).manual_seed(s))

    with torch.no_grad():
        src = sample(seed) if saved is None else saved
        if op == "render":
            from ..plots import images_to_uint8, save_png

            images = G.render(src).images
            check_images_finite(images, f"the generator in {checkpoint}")
            save_png(paths[op], torch.cat(list(images_to_uint8(images)), dim=2))
            where = f"latents from {latents_path}" if saved is not None else f"seed {seed}"
            click.echo(f"wrote {num} rendered image(s) ({where}) to {paths[op]}")
            return
        donor = (saved_donor if saved_donor is not None else sample(seed + 1)) if any(
            ops[n].needs_donor for n in names) else None
        edits = {}
        for n in names:  # every edit before any rendering: bad options fail fast
            try:
                edits[n] = ops[n].apply(src, donor if ops[n].needs_donor else None, params)
            except LkbenchError as exc:
                raise type(exc)(f"--op {n}: {exc}") from exc

        def column(label, lat, images=None):
            images = G.render(lat).images if images is None else images
            check_images_finite(images, f"the generator in {checkpoint}")
            return (label, images, lat.keypoints, lat.active, lat.slots)

        base = [column("source", src)]
        if donor is not None:
            donor_col = column(f"donor (seed {seed + 1})", donor)
        legend = [f"part {j}" for j in range(src.num_parts)]
        grids = {}   # every image is rendered and checked before any file is written
        for n in names:
            cols = base + ([donor_col] if ops[n].needs_donor else [])
            grids[n] = cols + [column(label, lat) for label, lat in edits[n]]
        for n in names:
            save_edit_grid(paths[n], grids[n], names=legend,
                           title=f"{ops[n].describe(params)}  (seed {seed})")
    if op == "all":
        where = (f"{paths[names[0]].parent}/{Path(out_path).stem}-<op>.png"
                 if Path(out_path).suffix.lower() == ".png" else f"{out_path}/<op>.png")
        click.echo(f"wrote {len(names)} edit grids ({', '.join(names)}) of {num} samples "
                   f"to {where}")
    else:
        click.echo(f"wrote {op} edit of {num} samples (seed {seed}) to {paths[op]}")
