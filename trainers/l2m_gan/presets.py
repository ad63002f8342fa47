"""Named starting points for ``lkbench train --model l2m-gan --preset NAME``.

* ``smoke``: ``docs/models.md`` §4.3 (32 px, first width 8, max width 32, style 8, batch 4):
  G 24 323, E 45 016, D 44 554, M+T 648 parameters; 4 steps in seconds on a CPU (tests).
* ``demo``: ``dark_hair`` on the built-in synthetic faces of the ``edit`` difficulty (every
  face has hair, so the attribute recolours hair and brows on every face: about 150 of 1 024
  pixels at 32 px, against 9 for ``smiling``, which no discriminator of this size sees at CPU
  scale; background lightness independent of the skin) on a 2-core CPU: 32 px, widths 16–64,
  style 64, batch 16, Adam 2e-4 for both nets (twice the paper's rate: the run is short), EMA
  0.99, self-reconstruction 5 and the mismatch term 1 (lkbench additions), 5 000 steps. Of the
  reference's choices it keeps PyTorch's default init, the flipped target (every step trains
  the edit, the better use of a short run) and the frozen ``tiny_random`` perceptual stand-in
  (no ImageNet weights needed; ResNet-18 would also cost most of a CPU step at 32 px).
* ``paper-celeba-hq``: docs/models.md §3.3 (256 px, StarGAN v2 widths 64–512, style 64, batch 8, Adam
  1e-4, β = (0, 0.99), weight decay 1e-4, EMA 0.999, 100 000 steps, ImageNet ResNet-18
  perceptual network: give its weights with ``--set loss.perceptual_weights=PATH``), He init
  and the re-implementation's balanced target sampling; needs the ``celeba-hq`` dataset with
  attribute labels (real-datasets issue) and a GPU.
"""
from __future__ import annotations

from lkbench.config import register_preset

from .trainer import L2MRunConfig, L2MTrainer


def _add(name: str, help_line: str, values: dict) -> None:
    register_preset(name, L2MRunConfig, values)
    L2MTrainer.presets[name] = help_line


_add("smoke", "seconds on a CPU: 32 px, widths 8-32, style 8, 4 steps (tests)", {
    "model": {"image_size": 32, "first_width": 8, "max_width": 32, "style_dim": 8},
    "loss": {"perceptual_net": "tiny_random"},
    "optim": {"r1_every": 2, "ema_decay": 0.9},
    "loop": {"steps": 4, "batch_size": 4, "log_every": 1, "sample_every": 4, "ckpt_every": 2,
             "num_samples": 8},
    "data": {"difficulty": "easy", "size": 64, "attribute": "smiling"},
})

_add("demo", "synthetic edit faces (all with hair), dark_hair, on a 2-core CPU: 32 px, "
     "widths 16-64, style 64, batch 16, rec 5, mismatch 1, 5000 steps", {
    "model": {"image_size": 32, "first_width": 16, "max_width": 64, "style_dim": 64},
    "loss": {"perceptual_net": "tiny_random", "rec": 5.0, "mismatch": 1.0},
    "optim": {"lr": 2e-4, "lr_d": 2e-4, "ema_decay": 0.99},
    "loop": {"steps": 5000, "batch_size": 16, "log_every": 50, "sample_every": 500,
             "ckpt_every": 500, "keep_ckpts": 3, "threads": 1},
    "data": {"difficulty": "edit", "attribute": "dark_hair"},
})

_add("paper-celeba-hq", "spec settings on CelebA-HQ: 256 px, widths 64-512, style 64, batch 8, "
     "100k steps, ImageNet ResNet-18 perceptual net (GPU)", {
    "model": {"image_size": 256, "first_width": 64, "max_width": 512, "style_dim": 64,
              "init": "he"},
    "loss": {"perceptual_net": "resnet18"},
    "loop": {"steps": 100_000, "batch_size": 8, "log_every": 100, "sample_every": 1000,
             "ckpt_every": 1000},
    "data": {"name": "celeba-hq", "attribute": "Smiling", "target": "balanced"},
})
