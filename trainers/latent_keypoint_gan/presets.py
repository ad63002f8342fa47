"""Named starting points for ``lkbench train --model latent-keypoint-gan --preset NAME``.

* ``smoke``: ``docs/models.md`` §4.1 (32 px, K = 4, tiny widths): every component in seconds.
* ``demo``: the built-in synthetic faces (``easy``) on a 2-core CPU; sized from
  ``benchmarks/bench_lkg.py`` and the recipe of a CPU prototype (issue notes): 32 px, K = 8,
  lr 2e-4 for both nets, β = (0, 0.99), lazy R1 with γ = 0.1, keypoint divisor 5, EMA 0.99,
  and a spatially uniform start (``const_input = "uniform"``). With the learned 4×4 start the
  generator drew faces from its template and the keypoints stayed clustered off the features
  (step 2000 of a side-by-side run); with the uniform start the layout has to come from the
  heatmaps, and by step 1500 parts sat on the eyes and mouth and moved with their keypoints.
* ``paper-<benchmark>``: the published settings (docs/models.md §1.10: batch 64, Adam (0.5, 0.9),
  1e-4 / 4e-4, R1 γ = 10 every 16 steps, 30 000 steps) at each benchmark's K and 128 px; meant
  for GPUs (``torchrun`` for several).
"""
from __future__ import annotations

from lkbench.config import register_preset
from lkbench.protocols.landmarks.benchmarks import BENCHMARKS

from .trainer import LKGRunConfig, LKGTrainer


def _add(name: str, help_line: str, values: dict) -> None:
    register_preset(name, LKGRunConfig, values)
    LKGTrainer.presets[name] = help_line


_add("smoke", "seconds on a CPU: 32 px, K=4, tiny widths, 4 steps (tests)", {
    "model": {"image_size": 32, "num_keypoints": 4, "noise_dim": 16, "embed_dim": 8,
              "spade_hidden": 16, "g_channels": [32, 32, 16, 16], "d_channels": [32, 32, 16, 16]},
    "optim": {"d_reg_every": 2, "ema": True},
    "loop": {"steps": 4, "batch_size": 4, "log_every": 1, "sample_every": 4, "ckpt_every": 2,
             "num_samples": 8},
    "data": {"difficulty": "easy", "size": 64},
})

_add("demo", "synthetic easy faces on a 2-core CPU: 32 px, K=8, G 1.8 M + D 0.9 M "
     "params, 6000 steps", {
    "model": {"image_size": 32, "num_keypoints": 8, "noise_dim": 64, "embed_dim": 16,
              "spade_hidden": 32, "kp_tanh_divisor": 5.0, "tau": 0.01, "const_input": "uniform",
              "g_channels": [128, 128, 64, 32], "d_channels": [128, 128, 64, 32]},
    "optim": {"lr_g": 2e-4, "lr_d": 2e-4, "betas": [0.0, 0.99], "gp": "r1", "gp_weight": 0.1,
              "d_reg_every": 16, "ema": True, "ema_decay": 0.99},
    "loop": {"steps": 6000, "batch_size": 32, "log_every": 25, "sample_every": 250,
             "ckpt_every": 250, "keep_ckpts": 2},
    "data": {"difficulty": "easy"},
})

# K per benchmark as the published LatentKeypointGAN numbers use it (docs/protocols.md §1).
_PAPER_K = {"celeba-wild": 8, "celeba-aligned": 10, "cub-aligned": 10, "cub-001": 4,
            "cub-002": 4, "cub-003": 4, "cub-all": 4}
for _name in BENCHMARKS.names():
    if _name == "synthetic":
        continue
    _k = _PAPER_K.get(_name, 10)
    _add(f"paper-{_name}", f"published settings for {_name}: 128 px, K={_k}, batch 64, "
         "30k steps (GPU)", {
             "model": {"image_size": 128, "num_keypoints": _k},
             "loop": {"steps": 30_000, "batch_size": 64, "log_every": 100,
                      "sample_every": 1000, "ckpt_every": 1000},
             "data": {"name": _name},
         })
