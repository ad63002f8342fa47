"""Ship a trained KeypointGAN as a keypoint predictor: Φ, η and β only, with its run files.

``lkbench detect --direct`` needs only the read-out η(Φ(x)); the generator Ψ and the
discriminators stay behind. The result is an ordinary lkbench checkpoint (model
``keypoint-gan``, its model config with ``predictor_only = true``, one state ``G`` in float32)
plus a JSON manifest and the run's config, statistics and curves beside it, as
:func:`lkbench.export.export_generator` writes them for generators::

    python -m lkbench.trainers.keypoint_gan.export RUN/ckpt/step-N.pt OUT.pt "training command"
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from lkbench.atomic import PathLike, atomic_write
from lkbench.checkpoint import load_checkpoint, save_checkpoint
from lkbench.errors import CheckpointError
from lkbench.export import sha256

from .model import MODEL_NAME, PREDICTOR_ONLY

PARTS = ("encoder.", "regressor.", "renderer.")
"""State-dict prefixes a predictor-only checkpoint keeps (Φ, η, β)."""

RUN_FILES = (("config.toml", "-config.toml"), ("stats.jsonl", "-stats.jsonl"),
             ("curves.png", "-curves.png"))


def export_predictor(src: PathLike, dst: PathLike, command: str,
                     extra: "dict | None" = None) -> Path:
    """Write ``src``'s Φ, η and β to ``dst`` (``.pt``), the manifest ``dst.json`` and the run
    files; returns the manifest's path.

    Args:
        src: a KeypointGAN training checkpoint (``<run>/ckpt/step-N.pt``).
        dst: the ``.pt`` file to write (its stem names the other files).
        command: the command that trained ``src``, recorded in the manifest.
        extra: more manifest entries (e.g. the measured read-out).

    Raises:
        CheckpointError: ``src`` is not a KeypointGAN checkpoint.
    """
    ckpt = load_checkpoint(src)
    if ckpt.model != MODEL_NAME or "G" not in ckpt.state:
        raise CheckpointError(f"{src} is a {ckpt.model!r} checkpoint; export_predictor takes a "
                              f"{MODEL_NAME!r} training checkpoint")
    dst = Path(dst)
    state = {k: v for k, v in ckpt.state["G"].items() if k.startswith(PARTS)}
    save_checkpoint(dst, model=ckpt.model, config={**ckpt.config, PREDICTOR_ONLY: True},
                    state={"G": state}, step=ckpt.step,
                    extra={"wall_time_s": ckpt.extra.get("wall_time_s"),
                           "storage": "Φ, η and β of G only, float32",
                           **({"run_config": ckpt.extra["run_config"]}
                              if "run_config" in ckpt.extra else {})})
    run = Path(ckpt.path).resolve().parent.parent
    files = []
    for name, suffix in RUN_FILES:
        if (run / name).is_file():
            target = dst.with_name(dst.stem + suffix)
            with open(run / name, "rb") as fin, atomic_write(target) as fout:
                shutil.copyfileobj(fin, fout)
            files.append(target.name)
    manifest = {"file": dst.name, "sha256": sha256(dst), "bytes": dst.stat().st_size,
                "model": ckpt.model, "step": ckpt.step,
                "wall_time_s": ckpt.extra.get("wall_time_s"),
                "storage": "Φ, η and β of G only, float32 (a keypoint predictor: detect --direct)",
                "source": str(Path(ckpt.path).resolve()), "lkbench_version": ckpt.lkbench_version,
                "command": command, "files": files, **(extra or {})}
    path = dst.with_suffix(".json")
    with atomic_write(path) as fh:
        fh.write((json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())
    return path


if __name__ == "__main__":                                   # pragma: no cover (a one-liner)
    print(export_predictor(sys.argv[1], sys.argv[2], sys.argv[3]))
