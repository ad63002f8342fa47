"""Shipping a KeypointGAN as a predictor (Φ, η, β only) and options reaching the networks."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from lkbench.checkpoint import build_model, load_checkpoint, save_checkpoint
from lkbench.config import resolve
from lkbench.errors import CheckpointError
from lkbench.export import sha256
from lkbench.models import KeypointPredictor
from lkbench.trainers.distributed import RunContext
from lkbench.trainers.keypoint_gan import KGRunConfig, KGTrainer
from lkbench.trainers.keypoint_gan.export import export_predictor
from lkbench.trainers.keypoint_gan.networks import MultiScaleDiscriminator, num_params
from lkbench.trainers.loop import train

SMALL = ["data.size=8", "data.prior_size=16", "data.difficulty=pose"]


def test_the_exported_predictor_keeps_phi_and_eta_and_predicts_the_same(tmp_path):
    cfg = resolve(KGRunConfig, preset="smoke", overrides=[*SMALL, "loop.steps=3",
                                                          "loop.sample_every=100"])
    res = train(KGTrainer, cfg, tmp_path / "run", progress=False)
    manifest = export_predictor(res.checkpoint, tmp_path / "kg.pt", "the command",
                                extra={"note": 1})
    full, small = load_checkpoint(res.checkpoint), load_checkpoint(tmp_path / "kg.pt")
    assert {k.split(".")[0] for k in small.state["G"]} == {"encoder", "regressor", "renderer"}
    assert any(k.startswith("generator.") for k in full.state["G"])
    model = build_model(small)
    assert isinstance(model, KeypointPredictor) and model.generator is None
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    assert torch.equal(model.predict(x), build_model(full).predict(x))   # same kernels, same bits
    info = json.loads(manifest.read_text())
    assert info["sha256"] == sha256(tmp_path / "kg.pt") and info["command"] == "the command"
    assert info["step"] == 3 and info["note"] == 1
    assert (tmp_path / "kg-config.toml").read_text() == (tmp_path / "run/config.toml").read_text()
    assert (tmp_path / "kg-stats.jsonl").is_file()
    assert small.extra["run_config"]["data"]["difficulty"] == "pose"

    from lkbench.cli import cli
    out = CliRunner().invoke(cli, ["detect", "--benchmark", "synthetic-pose", "--checkpoint",
                                   str(tmp_path / "kg.pt"), "--preset", "smoke", "--direct",
                                   "--no-regression", "--results", str(tmp_path / "res"),
                                   "--out", str(tmp_path / "det"), "--no-progress"])
    assert out.exit_code == 0, out.output
    assert "synthetic-pose" in out.output
    saved = np.load(tmp_path / "det" / "predictions.npz")["test"]
    assert saved.shape == (500, 5, 2)


def test_export_refuses_another_model(tmp_path):
    save_checkpoint(tmp_path / "x.pt", model="keypoint-detector", config={}, state={"G": {}},
                    step=1)
    with pytest.raises(CheckpointError, match="export_predictor takes a 'keypoint-gan'"):
        export_predictor(tmp_path / "x.pt", tmp_path / "y.pt", "cmd")


@pytest.mark.parametrize("over,ndf,layers,scales", [
    ([], 8, 2, 2),
    (["model.d_ndf=16", "model.d_layers=3", "model.d_scales=1"], 16, 3, 1),
    (["model.d_scales=3", "model.d_layers=1"], 8, 1, 3),
])
def test_discriminator_options_reach_the_network(over, ndf, layers, scales):
    cfg = resolve(KGRunConfig, preset="smoke", overrides=[*SMALL, *over])
    trainer = KGTrainer(cfg, RunContext(torch.device("cpu")))
    assert num_params(trainer.D) == num_params(MultiScaleDiscriminator(1, ndf, layers, scales))
    assert len(trainer.D.scales) == scales
    default = KGTrainer(resolve(KGRunConfig, preset="smoke", overrides=SMALL),
                        RunContext(torch.device("cpu")))
    assert (num_params(trainer.D) == num_params(default.D)) == (not over)


def test_image_size_and_adversarial_weight_reach_the_model():
    cfg = resolve(KGRunConfig, preset="smoke", overrides=[*SMALL, "model.image_size=64",
                                                          "loss.adv_weight=0.5"])
    trainer = KGTrainer(cfg, RunContext(torch.device("cpu")))
    assert trainer.G.renderer.size == 64 and trainer.G.image_size == 64
    assert trainer.pose_adv_weight(100) == 0.5
    x = torch.zeros(2, 3, 64, 64)
    assert trainer.G.predict(x).shape == (2, 5, 2)
    assert trainer._fixed[0].shape[-1] == 64                 # the training images follow
