"""Named starting points for ``lkbench train --model keypoint-gan --preset NAME``.

* ``smoke``: spec ``models.md`` §4.2 — 32 px, K = 5 (the synthetic landmarks and their 6-edge
  skeleton), b = 8, a 2-scale × 2-layer pose discriminator with ndf 8, the ``tiny-random``
  perceptual net, batch 4, pool 4; 2 η pre-training steps + 2 main steps (seconds on a CPU).
* ``demo``: the built-in synthetic faces (``easy``) on a 2-core CPU — frame pairs from
  ``LandmarkSet.pairs`` with the appearance frame TPS-warped as well (``frames+tps``: the easy
  pairs change pose so little that Ψ copied x′ and the pose encoder collapsed to one constant
  pose in a first demo run), the synthetic ``prior`` split as the pose prior, 32 px, b = 8 (sized
  from ``benchmarks/bench_keypointgan.py``: ~0.4 s per main step on one busy core); no ImageNet
  weights, so ``perceptual = tiny-random`` (recorded with every result).
* ``paper-h36m`` (Simplified Human3.6M) / ``paper-300w``: the released settings
  (spec §2.2–2.9: 128 px, b = 32, 3-scale PatchGAN, VGG-19 perceptual loss — needs
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

_add("demo", "synthetic easy faces on a 2-core CPU: 32 px, K=5, b=8, TPS-warped frame pairs, "
     "tiny-random perceptual net, 300 eta + 1500 main steps (~15 min)", {
    "model": {"image_size": 32, "num_keypoints": 5, "width": 8, "d_ndf": 16, "d_layers": 2,
              "d_scales": 2},
    "loss": {"perceptual": "tiny-random"},
    "optim": {"regressor_pretrain_steps": 300, "pool_size": 50},
    "loop": {"steps": 1800, "batch_size": 16, "log_every": 25, "sample_every": 300,
             "ckpt_every": 300, "keep_ckpts": 2, "num_samples": 8},
    "data": {"difficulty": "easy", "size": 4000, "pairs": "frames+tps"},
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
