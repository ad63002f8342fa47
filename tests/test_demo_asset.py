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


def test_shipped_name_resolves_to_the_asset_unless_a_file_of_that_name_exists(tmp_path,
                                                                             monkeypatch):
    from lkbench.shipped import resolve_checkpoint

    monkeypatch.chdir(tmp_path)
    assert resolve_checkpoint("demo") == ASSETS / "demo-generator.pt"
    assert load_checkpoint("demo").path == ASSETS / "demo-generator.pt"
    (tmp_path / "demo").write_bytes(b"not a checkpoint")
    assert resolve_checkpoint("demo") == Path("demo")
    assert resolve_checkpoint("other.pt") == Path("other.pt")


def test_missing_checkpoint_message_names_the_shipped_names(tmp_path):
    import pytest

    from lkbench.errors import CheckpointError

    with pytest.raises(CheckpointError, match="shipped name: demo"):
        load_checkpoint(tmp_path / "nothere.pt")


def test_demo_manifest_matches_the_shipped_files():
    import hashlib
    import json

    manifest = json.loads((ASSETS / "demo-generator.json").read_text())
    data = (ASSETS / manifest["file"]).read_bytes()
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["bytes"] == len(data) <= 5 * 2 ** 20
    ckpt = load_checkpoint(ASSETS / manifest["file"])
    assert manifest["step"] == ckpt.step and manifest["model"] == ckpt.model
    assert manifest["wall_time_s"] == ckpt.extra["wall_time_s"]
    assert all((ASSETS / f).is_file() for f in manifest["files"])
    assert "lkbench train" in manifest["command"] and "--preset demo" in manifest["command"]
