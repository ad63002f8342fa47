"""The L2M-GAN demo editor shipped as ``l2m-demo`` (lkbench/assets/l2m-demo.*): manifest, name
resolution, what it was trained on, and that ``edit-eval`` takes it by name."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import lkbench
from lkbench.checkpoint import build_model, load_checkpoint
from lkbench.cli import cli
from lkbench.config import load_toml
from lkbench.data import get_dataset
from lkbench.shipped import SHIPPED, resolve_checkpoint

ASSETS = Path(lkbench.__file__).parent / "assets"


def test_manifest_matches_the_shipped_files():
    manifest = json.loads((ASSETS / "l2m-demo.json").read_text())
    data = (ASSETS / manifest["file"]).read_bytes()
    assert manifest["file"] == SHIPPED["l2m-demo"] == "l2m-demo.pt"
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["bytes"] == len(data) <= 2 * 2 ** 20
    ckpt = load_checkpoint(ASSETS / manifest["file"])
    assert manifest["step"] == ckpt.step and manifest["model"] == ckpt.model == "l2m-gan"
    assert all((ASSETS / f).is_file() for f in manifest["files"])
    assert "lkbench train --model l2m-gan" in manifest["command"]
    assert "--attribute dark_hair --preset demo" in manifest["command"]


def test_loads_by_name_float16_ema_editor_of_dark_hair_on_edit_faces(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                   # no file named l2m-demo here
    assert resolve_checkpoint("l2m-demo") == ASSETS / "l2m-demo.pt"
    ckpt = load_checkpoint("l2m-demo")
    assert set(ckpt.state) == {"G_ema"}
    assert {v.dtype for v in ckpt.state["G_ema"].values() if v.is_floating_point()} \
        == {torch.float16}
    data = ckpt.extra["run_config"]["data"]
    assert (data["difficulty"], data["attribute"]) == ("edit", "dark_hair")
    saved = load_toml(ASSETS / "l2m-demo-config.toml")
    assert {k: ckpt.config[k] for k in saved["model"]} == saved["model"]
    assert saved["data"]["attribute"] == "dark_hair"
    editor = build_model(ckpt).eval()
    faces = get_dataset("synthetic", split="test", image_size=32, difficulty="edit", size=4)
    x = faces.batch(range(4)).images
    y = faces.attributes(range(4))[:, faces.attribute_index("dark_hair")].long()
    with torch.no_grad():
        a, b = editor.edit(x, y), editor.edit(x, y)
        same = editor.edit(x, y, alpha=0.0)
    assert a.dtype == torch.float32 and a.shape == x.shape and torch.isfinite(a).all()
    assert torch.equal(a, b)
    assert float((a - same).abs().mean()) > 0     # the edit does something beyond re-synthesis


def test_edit_eval_takes_the_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["edit-eval", "--checkpoint", "l2m-demo", "--attribute",
                                   "dark_hair", "--preset", "smoke", "--results",
                                   str(tmp_path / "res"), "--out", str(tmp_path / "out"),
                                   "--device", "cpu"])
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["editor"] == "l2m-gan" and metrics["attribute"] == "dark_hair"
    assert "counterfactual_correctness_error" in metrics["metrics"]
    res = CliRunner().invoke(cli, ["edit-eval", "--checkpoint", "l2m-demo", "--attribute",
                                   "smiling", "--preset", "smoke", "--results",
                                   str(tmp_path / "res")])
    assert res.exit_code == 2 and "trained to edit 'dark_hair'" in res.output


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_name_has_its_file(name):
    assert (ASSETS / SHIPPED[name]).is_file()
