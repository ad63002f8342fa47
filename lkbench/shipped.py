"""Checkpoints that ship with lkbench as package data, loadable by name.

``lkbench.load_generator("demo")`` and every command's ``--checkpoint demo`` resolve a name here
to the file under ``lkbench/assets/``; anything else is taken as a path. A file of the same name
in the current directory wins, so a name never hides a user's own checkpoint.

* ``demo``: the LatentKeypointGAN demo generator (``lkbench/assets/README.md``);
* ``l2m-demo``: the L2M-GAN demo editor of ``dark_hair`` on the ``edit`` synthetic faces
  (``lkbench edit-eval --checkpoint l2m-demo --attribute dark_hair --preset demo``);
* ``keypoint-gan-demo``: the KeypointGAN ``full`` encoder (Φ and η only) of the ``demo`` preset
  on the ``pose`` synthetic video pairs (``lkbench detect --benchmark synthetic-pose --checkpoint
  keypoint-gan-demo --direct --no-regression``; ``lkbench/assets/keypoint-gan-demo.md``).
"""
from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).with_name("assets")

SHIPPED: dict[str, str] = {
    # name: file under lkbench/assets/ (its manifest and README sit beside it)
    "demo": "demo-generator.pt",
    "l2m-demo": "l2m-demo.pt",
    "keypoint-gan-demo": "keypoint-gan-demo.pt",
}


def resolve_checkpoint(path: "str | Path") -> Path:
    """The file a ``--checkpoint`` value names: a shipped name's asset, otherwise ``path``."""
    p = Path(path)
    if str(path) in SHIPPED and not p.exists():
        return ASSETS / SHIPPED[str(path)]
    return p


def shipped_names() -> str:
    """``"demo"``-style list of the shipped names, for messages and ``--help``."""
    return ", ".join(sorted(SHIPPED))
