"""``lkbench cpd`` end to end: load the generator, :func:`~lkbench.protocols.generation.cpd.compute_cpd`,
draw the correlation heatmap, append the record to ``<results>/cpd.jsonl``.
"""
from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from lkbench.atomic import PathLike, atomic_write
from lkbench.records import results_dir

from .cpd import CPDConfig, CPDResult, compute_cpd, json_matrix
from .records import append_records, load_generator_checkpoint, make_record, start_run

__all__ = ["PROTOCOL", "PROTOCOL_VERSION", "RECORDS_FILE", "CPDRun", "run_cpd",
           "save_cpd_heatmap"]

PROTOCOL = "cpd"
PROTOCOL_VERSION = "1"
RECORDS_FILE = "cpd.jsonl"


@dataclass(frozen=True)
class CPDRun:
    """What :func:`run_cpd` produced and wrote."""
    run_id: str
    result: CPDResult
    records_path: Path
    heatmap: Path
    wall_time_s: float


def save_cpd_heatmap(path: PathLike, result: CPDResult, title: str) -> Path:
    """The ``U×U`` correlation matrix as an annotated heatmap PNG (matplotlib Agg, atomic).

    Colours span [-1, 1] (blue negative, red positive); NaN cells (constant units) are grey.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    corr = result.correlation
    u = corr.shape[0]
    names = [f"{x.name}\n({','.join(map(str, x.parts))})" if len(x.parts) > 1 else x.name
             for x in result.units]
    side = max(4.0, 0.75 * u + 2.0)
    fig = Figure(figsize=(side + 1.2, side), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    masked = np.ma.masked_invalid(corr)
    from matplotlib import colormaps

    cmap = colormaps["RdBu_r"].with_extremes(bad="#bbbbbb")
    im = ax.imshow(masked, cmap=cmap, vmin=-1, vmax=1)
    ax.set_xticks(range(u), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(u), names, fontsize=8)
    for i in range(u):
        for j in range(u):
            v = corr[i, j]
            text = "n/a" if not np.isfinite(v) else f"{v:.2f}"
            colour = "white" if np.isfinite(v) and abs(v) > 0.6 else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="Pearson correlation")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    path = Path(path)
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())
    return path


def run_cpd(cfg: CPDConfig, *, checkpoint: PathLike, results: "PathLike | None" = None,
            out: "PathLike | None" = None, progress: bool = True,
            say: Callable[[str], None] = lambda _m: None,
            argv: "Sequence[str] | None" = None) -> CPDRun:
    """Measure CPD of the generator in ``checkpoint`` and record it.

    Args:
        cfg: settings (:class:`~lkbench.protocols.generation.cpd.CPDConfig`).
        checkpoint: a generator checkpoint.
        results: records folder (default ``$LKBENCH_RESULTS`` or ``./results/runs``).
        out: folder of ``cpd.png`` (default ``<results>/<run_id>``).
        progress: tqdm bar; say: receives one line per stage; argv: for provenance.
    """
    gen = load_generator_checkpoint(checkpoint, cfg.device)
    meta = start_run(gen, argv)
    say(f"CPD: {cfg.num_pairs} pairs of {gen.ckpt.model} ({gen.model.num_keypoints} parts) on "
        f"{gen.device}")
    result = compute_cpd(gen.model, cfg, progress=progress)
    out_dir = Path(out) if out else results_dir(results) / meta.run_id
    data = gen.training_data or {}
    benchmark = str(data.get("name") or "generation")
    title = (f"CPD = {result.cpd:.4f}  ({result.num_pairs} pairs, {gen.ckpt.model}, "
             f"{Path(meta.checkpoint).name})")
    heatmap = save_cpd_heatmap(out_dir / "cpd.png", result, title)
    config = {**asdict(cfg), "groups": {name: list(parts) for name, parts in cfg.groups}}
    extra = {"units": [{"name": n, "parts": list(p)} for n, p in
                       ((u.name, u.parts) for u in result.units)],
             "correlation": json_matrix(result.correlation),
             "cpd_uncentred": result.cpd_uncentred,
             "correlation_uncentred": json_matrix(result.correlation_uncentred),
             "constant_units": list(result.constant_units),
             "num_values": result.num_values, "num_latents": cfg.num_latents,
             "image_size": int(gen.model.image_size), "heatmap": str(heatmap),
             "training_data": data or None,
             "definition": "1 - mean off-diagonal Pearson correlation of mean-RGB |edit - "
                           "source| maps pooled over pairs and pixels (spec 3.3)"}
    record = make_record(meta, gen, protocol=PROTOCOL, protocol_version=PROTOCOL_VERSION,
                         benchmark=benchmark, metric="cpd", value=result.cpd, unit="score",
                         higher_is_better=True, n=result.num_pairs, config=config,
                         seed=cfg.seed, wall_time_s=result.wall_time_s,
                         published=cfg.num_latents == 2000 and not cfg.groups, extra=extra)
    path = append_records(results, RECORDS_FILE, [record])
    return CPDRun(meta.run_id, result, path, heatmap, result.wall_time_s)
