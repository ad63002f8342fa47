"""The KeypointGAN demo encoder shipped as ``keypoint-gan-demo`` (lkbench/assets/keypoint-gan-demo.*):
manifest, name resolution, Φ and η only, and its direct read-out on ``synthetic-pose``."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

import lkbench
from lkbench.checkpoint import build_model, load_checkpoint
from lkbench.config import load_toml
from lkbench.models import KeypointPredictor
from lkbench.protocols.landmarks.detector import resize_images
from lkbench.protocols.landmarks.predictions import benchmark_data
from lkbench.shipped import SHIPPED, resolve_checkpoint

ASSETS = Path(lkbench.__file__).parent / "assets"
MANIFEST = json.loads((ASSETS / "keypoint-gan-demo.json").read_text())


def test_manifest_matches_the_shipped_files():
    data = (ASSETS / MANIFEST["file"]).read_bytes()
    assert MANIFEST["file"] == SHIPPED["keypoint-gan-demo"] == "keypoint-gan-demo.pt"
    assert MANIFEST["sha256"] == hashlib.sha256(data).hexdigest()
    assert MANIFEST["bytes"] == len(data) <= 2 * 2 ** 20
    ckpt = load_checkpoint(ASSETS / MANIFEST["file"])
    assert MANIFEST["step"] == ckpt.step and MANIFEST["model"] == ckpt.model == "keypoint-gan"
    assert all((ASSETS / f).is_file() for f in MANIFEST["files"])
    assert "lkbench train --model keypoint-gan" in MANIFEST["command"]
    run = load_toml(ASSETS / "keypoint-gan-demo-config.toml")
    assert run["data"]["difficulty"] == "pose" and run["model"]["variant"] == "full"
    assert {k: ckpt.config[k] for k in run["model"] if k != "edges"} == {
        k: v for k, v in run["model"].items() if k != "edges"}


def test_loads_by_name_as_a_predictor_without_the_generator(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                   # no file named keypoint-gan-demo here
    assert resolve_checkpoint("keypoint-gan-demo") == ASSETS / "keypoint-gan-demo.pt"
    ckpt = load_checkpoint("keypoint-gan-demo")
    assert {k.split(".")[0] for k in ckpt.state["G"]} == {"encoder", "regressor", "renderer"}
    model = build_model(ckpt)
    assert isinstance(model, KeypointPredictor) and model.generator is None


def test_direct_read_out_reproduces_the_recorded_number():
    """The recorded number (``lkbench detect --direct --no-regression``) recomputed: the model's
    read-out on the benchmark's test images resized to 32 px, mean point error / IOD."""
    test = benchmark_data("synthetic-pose")[1].load("test", None)
    images, gt, _ = test.batch(range(len(test)))
    model = build_model(load_checkpoint(ASSETS / MANIFEST["file"]))
    with torch.no_grad():
        pred = model.predict(resize_images(images, 32)).double()
    gt = gt.double()
    iod = (gt[:, 0] - gt[:, 1]).norm(dim=-1)
    err = float(((pred - gt).norm(dim=-1).mean(1) / iod).mean() * 100)
    recorded = MANIFEST["direct_read_out"]
    # other CPUs' float kernels move predictions by far less than 1e-3 of the IOD on average
    assert err == pytest.approx(recorded["model_pct_iod"], abs=0.05)
    assert err < 0.8 * recorded["mean_shape_pct_iod"]
