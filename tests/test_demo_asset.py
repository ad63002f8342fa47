"""The demo generator committed under lkbench/assets loads and renders deterministically."""
from pathlib import Path

import torch

import lkbench
from lkbench.checkpoint import load_checkpoint
from lkbench.config import load_toml

ASSETS = Path(lkbench.__file__).parent / "assets"


def test_demo_generator_loads_renders_deterministically_and_matches_its_config():
    path = ASSETS / "demo-generator.pt"
    ckpt = load_checkpoint(path)
    assert ckpt.step == 6000 and set(ckpt.state) == {"G_ema"}
    saved = load_toml(ASSETS / "demo-generator-config.toml")["model"]
    assert {k: ckpt.config[k] for k in saved} == saved
    g = lkbench.load_generator(path)
    assert g.num_keypoints == 8 and g.image_size == 32
    with torch.no_grad():
        a = g.render(g.sample_latents(4, torch.Generator().manual_seed(0)))
        b = g.render(g.sample_latents(4, torch.Generator().manual_seed(0)))
    assert torch.equal(a.images, b.images) and a.images.shape == (4, 3, 32, 32)
    assert a.images.dtype == torch.float32 and torch.isfinite(a.images).all()
