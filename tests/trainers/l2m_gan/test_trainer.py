"""Training the L2M-GAN-style editor on the shared loop: steps, checkpoints, CLI, presets."""
from __future__ import annotations

import copy

import pytest
import torch
from click.testing import CliRunner

from lkbench.checkpoint import load_checkpoint, load_model
from lkbench.cli import cli
from lkbench.config import resolve
from lkbench.data import get_dataset
from lkbench.errors import ConfigError, DataError
from lkbench.trainers.distributed import RunContext
from lkbench.trainers.l2m_gan import L2MEditor, L2MRunConfig, L2MTrainer
from lkbench.trainers.loop import train
from lkbench.trainers.run import resolve_run_config


def smoke_config(*overrides: str) -> L2MRunConfig:
    return resolve(L2MRunConfig, preset="smoke", overrides=overrides)


def test_presets_resolve_and_record_the_perceptual_network():
    for preset in ("smoke", "demo", "paper-celeba-hq"):
        cfg = resolve(L2MRunConfig, preset=preset)
        assert cfg.loss.perceptual_net in ("tiny_random", "resnet18")
    paper = resolve(L2MRunConfig, preset="paper-celeba-hq")
    assert (paper.model.image_size, paper.model.style_dim, paper.loop.batch_size,
            paper.loop.steps) == (256, 64, 8, 100_000)
    assert (paper.optim.lr, paper.optim.betas, paper.optim.weight_decay,
            paper.optim.ema_decay) == (1e-4, (0.0, 0.99), 1e-4, 0.999)
    w = paper.loss
    assert (w.adv, w.r1, w.cycle, w.style, w.perceptual, w.ort) == (1, 1, 1, 2, 2, 1)
    # "auto" resolves to the network actually used, so config.toml records it
    assert resolve(L2MRunConfig).loss.perceptual_net == "tiny_random"
    auto = resolve(L2MRunConfig, overrides=["loss.perceptual_weights=/x/resnet18.pth"])
    assert auto.loss.perceptual_net == "resnet18"


def test_one_step_changes_every_network_and_losses_are_finite():
    cfg = smoke_config("optim.weight_decay=0.0")
    ctx = RunContext.create("cpu", amp=False)
    torch.manual_seed(0)
    trainer = L2MTrainer(cfg, ctx)
    before = {name: copy.deepcopy(m.state_dict()) for name, m in
              [("G", trainer.G), ("D", trainer.D)]}
    ema_before = copy.deepcopy(trainer.G_ema.state_dict())
    real = get_dataset("synthetic", split="train", image_size=32, size=8).batch(range(4)).images
    losses = trainer.step(real, torch.tensor([0, 1, 1, 0]), step=0)
    assert set(losses) == {"r1", "loss_d", "loss_g", "style", "cycle", "perceptual", "ort"}
    assert all(torch.isfinite(v) for v in losses.values())
    groups = {"generator": "G", "style.trunk": "G", "style.heads.0": "G", "style.heads.1": "G",
              "manipulator.irrelevant": "G", "manipulator.transform.0": "G",
              "manipulator.transform.1": "G", "trunk": "D", "head": "D"}
    mods = {"G": trainer.G, "D": trainer.D}
    for prefix, owner in groups.items():
        now = {k: v for k, v in mods[owner].state_dict().items() if k.startswith(prefix + ".")}
        assert now, prefix
        assert any(not torch.equal(v, before[owner][k]) for k, v in now.items()), \
            f"{prefix} did not change"
    assert any(not torch.equal(v, ema_before[k]) for k, v in trainer.G_ema.state_dict().items())
    assert not any(p.requires_grad for p in trainer.psi.parameters())


def test_self_reconstruction_term_is_the_l1_of_g_on_its_own_code():
    trainer = L2MTrainer(smoke_config("loss.rec=3"), RunContext.create("cpu", amp=False))
    real = get_dataset("synthetic", split="train", image_size=32, size=8).batch(range(4)).images
    y = torch.tensor([0, 1, 1, 0])
    with torch.no_grad():      # G before the step: the D step does not touch it
        code = trainer.G.style(real, y)
        expected = (trainer.G.generator(real, code) - real).abs().mean()
    losses = trainer.step(real, y, step=0)
    assert torch.allclose(losses["rec"], expected, atol=1e-6)
    with pytest.raises(ValueError, match="loss.rec"):
        smoke_config("loss.rec=-1")


def test_mismatch_term_is_bce_of_real_images_under_the_other_domains_head():
    trainer = L2MTrainer(smoke_config("loss.mismatch=2"), RunContext.create("cpu", amp=False))
    off = L2MTrainer(smoke_config(), RunContext.create("cpu", amp=False))
    for name in ("G", "D"):
        getattr(off, name).load_state_dict(getattr(trainer, name).state_dict())
    real = get_dataset("synthetic", split="train", image_size=32, size=8).batch(range(4)).images
    y = torch.tensor([0, 1, 1, 0])
    with torch.no_grad():      # D before its step
        p = torch.sigmoid(trainer.D(real, 1 - y))
        expected = -torch.log(1 - p).mean()
    losses = trainer.step(real, y, step=0)
    assert torch.allclose(losses["mismatch"], expected, atol=1e-5)
    assert "mismatch" not in off.step(real, y, step=0)
    # the term reaches D's update: same start, same batch, different D afterwards
    assert any(not torch.equal(a, b) for a, b in zip(trainer.D.parameters(), off.D.parameters()))
    with pytest.raises(ValueError, match="loss.mismatch"):
        smoke_config("loss.mismatch=-1")


def test_smoke_run_checkpoint_rebuilds_the_editor_and_resumes(tmp_path):
    cfg = smoke_config()
    out = tmp_path / "run"
    result = train(L2MTrainer, cfg, out, progress=False)
    assert result.step == 4
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt.model == "l2m-gan" and ckpt.extra["generator_key"] == "G_ema"
    assert set(ckpt.state) == {"G", "D", "G_ema", "opt_G", "opt_D"}
    editor = load_model(result.checkpoint)
    assert isinstance(editor, L2MEditor) and not editor.training
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    y = torch.tensor([1, 0])
    ema = L2MEditor(editor.cfg)
    ema.load_state_dict(ckpt.state["G_ema"])
    with torch.no_grad():
        assert torch.equal(editor.edit(x, y), ema.eval().edit(x, y))
    assert (out / "samples" / "step-0000004.png").is_file()
    lines = (out / "stats.jsonl").read_text().splitlines()
    assert len(lines) == 4
    # resuming from step 2 gives the same final weights as the straight run
    again = tmp_path / "again"
    train(L2MTrainer, smoke_config("loop.steps=2"), again, progress=False)
    resumed = train(L2MTrainer, cfg, again, resume="auto", progress=False)
    final = load_checkpoint(resumed.checkpoint)
    for key in ("G", "D", "G_ema"):
        for name, value in ckpt.state[key].items():
            assert torch.equal(value, final.state[key][name]), (key, name)


def test_attribute_errors(tmp_path):
    with pytest.raises(DataError, match="did you mean 'smiling'"):
        train(L2MTrainer, smoke_config('data.attribute="smilling"'), tmp_path / "a",
              progress=False)
    with pytest.raises(ConfigError, match="num_domains must be 2"):
        L2MTrainer(smoke_config("model.num_domains=3"), RunContext.create("cpu", amp=False))


def test_cli_train_with_attribute(tmp_path):
    out = tmp_path / "cli"
    res = CliRunner().invoke(cli, ["train", "--model", "l2m-gan", "--dataset", "synthetic",
                                   "--attribute", "mouth_open", "--preset", "smoke", "--out",
                                   str(out), "--no-progress", "--set", "loop.steps=1"])
    assert res.exit_code == 0, res.output
    assert 'attribute = "mouth_open"' in (out / "config.toml").read_text()
    assert "trained l2m-gan to step 1" in res.output
    res = CliRunner().invoke(cli, ["train", "--help"])
    assert "--attribute" in res.output and "paper-celeba-hq" in res.output
    _, cfg = resolve_run_config("l2m-gan", "demo", [], ['data.attribute="hair"'])
    assert cfg.data.attribute == "hair" and cfg.data.name == "synthetic"


def test_monitor_reports_whether_d_tells_the_domains_apart():
    from lkbench.trainers.images import TrainImages
    cfg = smoke_config()
    trainer = L2MTrainer(cfg, RunContext.create("cpu", amp=False))
    assert trainer.monitor() == {}                      # before attach_data
    data = TrainImages(cfg.data, 32, 4, 0, False)
    trainer.attach_data(data)
    labels = data.dataset.attributes(range(len(data.dataset)))[
        :, data.dataset.attribute_index("smiling")]
    with torch.no_grad():                               # head 1 always wins: right on label 1
        trainer.D.head.weight.zero_()
        trainer.D.head.bias.copy_(torch.tensor([-1.0, 1.0]))
    assert trainer.monitor()["d_attr_acc"] == pytest.approx(float(labels.float().mean()))
    with torch.no_grad():                               # a tie is never "right"
        trainer.D.head.bias.zero_()
    assert trainer.monitor() == {"d_attr_acc": 0.0}
