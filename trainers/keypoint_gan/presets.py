"""Named starting points for ``lkbench train --model keypoint-gan --preset NAME``.

* ``smoke``: ``docs/models.md`` §4.2 — 32 px, K = 5 (the synthetic landmarks and their 6-edge
  skeleton), b = 8, a 2-scale × 2-layer pose discriminator with ndf 8, the ``tiny-random``
  perceptual net, batch 4, pool 4; 2 η pre-training steps + 2 main steps (seconds on a CPU).
* ``demo``: the built-in synthetic faces with video pairs (difficulty ``pose``: ``easy``'s
  appearance, a wide pose law, the second frame a new pose of the same face; issue 26 showed
  that ``easy``'s pairs barely move and its faces barely vary in pose, so Ψ never needed the
  skeleton) on a 2-core CPU: plain frame pairs (no TPS), the synthetic ``prior`` split (same
  law) as the pose prior, 32 px, b = 8, 20 000 training pairs; pixel L1 as the reconstruction
  loss (no ImageNet weights; ``tiny-random`` gave a template that barely follows the face) and
  the pose adversary at weight 1 (at 10, on ``easy``, its gradient on Φ was 15–50× the
  reconstruction's); 300 η + 6 500 main steps, learning rates decayed over the last 2 000; ~0.25–0.7 s per main
  step on one shared core. The shipped ``keypoint-gan-demo`` encoder is this preset's run.
* ``paper-h36m`` (Simplified Human3.6M) / ``paper-300w``: the released settings
  (docs/models.md §2.2–2.9: 128 px, b = 32, 3-scale PatchGAN, VGG-19 perceptual loss — needs
  ``--vgg-weights``, batch 16, Adam 2e-4 (0.5, 0.999), η pre-trained 580 k iterations as the
  released human regressor, then 200 k main iterations [L]); K = 32 (Simplified Human3.6M,
  frame pairs) and K = 68 (300-W, TPS pairs). GPU runs; the datasets must be installed.
"""
from __future__ import annotations

from lkbench.config import register_preset

from .trainer import KGRunConfig, KGTrainer


def _add(name: str, help_line: str, values: dict) -> None:
    register_preset(name, KGRunConfig, values)
    KGTrainer.presets[name] = help_line


_add("smoke", "seconds on a CPU: 32 px, K=5, b=8, 2 eta pre-training + 2 main steps (tests)", {
    "model": {"image_size": 32, "num_keypoints": 5, "width": 8, "d_ndf": 8, "d_layers": 2,
              "d_scales": 2},
    "loss": {"perceptual": "tiny-random"},
    "optim": {"regressor_pretrain_steps": 2, "pool_size": 4},
    "loop": {"steps": 4, "batch_size": 4, "log_every": 1, "sample_every": 4, "ckpt_every": 2,
             "num_samples": 8},
    "data": {"difficulty": "easy", "size": 64, "prior_size": 64},
})

_add("demo", "synthetic video pairs (difficulty pose) on a 2-core CPU: 32 px, K=5, b=8, "
     "pixel L1, adversary weight 1, 300 eta + 6500 main steps (~30-75 min)", {
    "model": {"image_size": 32, "num_keypoints": 5, "width": 8, "d_ndf": 16, "d_layers": 2,
              "d_scales": 2},
    "loss": {"perceptual": "l1", "adv_weight": 1.0},
    "optim": {"regressor_pretrain_steps": 300, "pool_size": 50, "lr_decay_steps": 2000},
    "loop": {"steps": 6800, "batch_size": 16, "log_every": 25, "sample_every": 500,
             "ckpt_every": 250, "keep_ckpts": 3, "num_samples": 8},
    "data": {"difficulty": "pose", "size": 20000, "pairs": "frames"},
    "monitor": {"every": 200},
})

_PAPER = {"loss": {"perceptual": "vgg19"},
          "optim": {"regressor_pretrain_steps": 580_000},
          "loop": {"steps": 780_000, "batch_size": 16, "log_every": 100, "sample_every": 5000,
                   "ckpt_every": 5000}}

_add("paper-h36m", "released settings on Simplified Human3.6M: 128 px, K=32, "
     "frame pairs, VGG-19 (needs --vgg-weights) (GPU)", {
    **_PAPER, "model": {"image_size": 128, "num_keypoints": 32},
    "data": {"name": "h36m-simplified", "pairs": "frames"}})
_add("paper-300w", "released settings on 300-W: 128 px, K=68, TPS pairs, VGG-19 (needs "
     "--vgg-weights) (GPU)", {
    **_PAPER, "model": {"image_size": 128, "num_keypoints": 68},
    "data": {"name": "300w", "pairs": "tps"}})
