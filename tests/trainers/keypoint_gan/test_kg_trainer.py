"""KeypointGAN on the shared loop: every variant steps, checkpoints round-trip, resume is
bit-exact, `lkbench train` runs end to end and `lkbench detect --direct` scores the result."""
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from lkbench.checkpoint import build_model, load_checkpoint
from lkbench.config import resolve
from lkbench.models import KeypointGenerator, KeypointPredictor
from lkbench.trainers.distributed import RunContext
from lkbench.trainers.keypoint_gan import VARIANTS, KGRunConfig, KGTrainer
from lkbench.trainers.keypoint_gan.config import Variant
from lkbench.trainers.loop import TRAINERS, step_generator, train

SMALL = ["data.size=8", "data.prior_size=16"]


def _trainer(variant: str) -> tuple[KGTrainer, KGRunConfig]:
    cfg = resolve(KGRunConfig, preset="smoke", overrides=[*SMALL, f"model.variant={variant}",
                                                          "optim.regressor_pretrain_steps=1"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return KGTrainer(cfg, RunContext(torch.device("cpu"))), cfg


def test_the_variant_registry_matches_the_config_choice():
    import typing
    assert sorted(VARIANTS.names()) == sorted(typing.get_args(Variant))
    assert TRAINERS.get("keypoint-gan") is KGTrainer


@pytest.mark.parametrize("variant", sorted(VARIANTS.names()))
def test_every_variant_pretrains_eta_then_steps_with_finite_losses(variant):
    trainer, cfg = _trainer(variant)
    spec = VARIANTS.get(variant)
    data = KGTrainer.training_data(cfg, False)
    before = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    d_before = [p.clone() for p in trainer.D.parameters()]
    pre = trainer.train_step(data.batch(0), step_generator(0, 0, 0, torch.device("cpu")), 0)
    assert set(pre) == {"loss_regressor"}
    after_pre = trainer.G.state_dict()
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after_pre[k])}
    assert changed == {"regressor"}                       # pre-training touches η only
    losses = trainer.train_step(data.batch(1), step_generator(0, 1, 0, torch.device("cpu")), 1)
    expected = {"loss_perc", "loss_adv", "loss_d", "loss_regressor"}
    if spec.second_cycle:
        expected |= {"loss_cycle", "loss_adv_img", "loss_d_img"}
    assert set(losses) == expected
    assert all(torch.isfinite(v) for v in losses.values())
    after = trainer.G.state_dict()
    for part in ("encoder", "generator", "regressor"):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(part))
    assert any(not torch.equal(a, b) for a, b in zip(d_before, trainer.D.parameters()))
    assert (trainer.D_img is not None) == spec.second_cycle
    assert (trainer.G.generator.appearance_encoder is not None) == spec.conditional


def test_the_bottleneck_decodes_from_the_re_rendered_skeleton():
    trainer, _ = _trainer("full")
    m = trainer.G.eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    raw, pose = m.pose_image(x)
    assert torch.equal(pose, m.renderer(m.regressor(raw)))
    raw_c, pose_c = _trainer("conditional")[0].G.eval().pose_image(x)
    assert torch.equal(raw_c, pose_c)                     # no bottleneck: Ψ sees Φ(x)


@pytest.mark.parametrize("pairs", ["tps", "frames+tps"])
def test_tps_modes_warp_the_appearance_image(pairs, monkeypatch):
    cfg = resolve(KGRunConfig, preset="smoke", overrides=[*SMALL, f"data.pairs={pairs}",
                                                          "optim.regressor_pretrain_steps=0"])
    trainer = KGTrainer(cfg, RunContext(torch.device("cpu")))
    batch = KGTrainer.training_data(cfg, False).batch(0)
    assert ("appearance" in batch) == (pairs == "frames+tps")
    seen = []
    generator = trainer.G.generator
    original = generator.forward
    monkeypatch.setattr(generator, "forward",
                        lambda skel, app=None: seen.append(app) or original(skel, app))
    losses = trainer.train_step(batch, step_generator(0, 0, 0, torch.device("cpu")), 0)
    assert all(torch.isfinite(v) for v in losses.values())
    source = batch.get("appearance", batch["image"])
    assert seen[0].shape == source.shape and not torch.equal(seen[0], source)   # warped
    assert (seen[0] - source).abs().mean() < 0.5                              # but mildly


def _states(path):
    ckpt = load_checkpoint(path)
    return ckpt, {k: v for k, v in ckpt.state.items()}


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        sa, sb = a[name], b[name]
        if name.startswith("opt_"):
            sa, sb = sa["state"], sb["state"]
            for i in sa:
                for k in sa[i]:
                    assert torch.equal(sa[i][k], sb[i][k]), (name, i, k)
            continue
        for k in sa:
            assert torch.equal(sa[k], sb[k]), (name, k)


def test_resume_is_bit_exact_and_runs_are_deterministic(tmp_path):
    sets = [*SMALL, "model.variant=bottleneck", "loop.ckpt_every=2", "loop.sample_every=100"]
    full_cfg = resolve(KGRunConfig, preset="smoke", overrides=sets)
    a = train(KGTrainer, full_cfg, tmp_path / "a", progress=False)
    b = train(KGTrainer, full_cfg, tmp_path / "b", progress=False)
    half = resolve(KGRunConfig, preset="smoke", overrides=[*sets, "loop.steps=3"])
    train(KGTrainer, half, tmp_path / "c", progress=False)      # stops after step 3
    c = train(KGTrainer, full_cfg, tmp_path / "c", resume="auto", progress=False)
    (ca, sa), (cb, sb), (cc, sc) = (_states(r.checkpoint) for r in (a, b, c))
    assert ca.step == cb.step == cc.step == 4
    assert {"G", "D", "D_img", "pool", "pool_img", "perceptual_norm", "opt_G", "opt_D",
            "opt_R"} == set(sa)
    _assert_same(sa, sb)                                  # same seed → same run
    _assert_same(sa, sc)                                  # 3 steps + resume → same as 4
    assert int(sa["pool"]["count"]) == 4                  # pool filled by the 2 main steps


def test_checkpoint_rebuilds_a_keypoint_predictor_with_the_same_outputs(tmp_path):
    cfg = resolve(KGRunConfig, preset="smoke", overrides=[*SMALL, "loop.steps=3",
                                                          "loop.sample_every=100"])
    res = train(KGTrainer, cfg, tmp_path / "run", progress=False)
    ckpt = load_checkpoint(res.checkpoint)
    model = build_model(ckpt)                               # state "G" through MODELS
    assert isinstance(model, KeypointPredictor) and not isinstance(model, KeypointGenerator)
    assert ckpt.model == "keypoint-gan" and ckpt.config["edges"][0] == [0, 1]
    trainer = KGTrainer(cfg, RunContext(torch.device("cpu")))
    trainer.load_state(ckpt)
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    trainer.G.eval()
    assert torch.equal(model.predict(x), trainer.G.predict(x))
    assert ckpt.extra["run_config"]["loss"]["perceptual"] == "tiny-random"


def test_lkbench_train_smoke_end_to_end_then_detect_direct(tmp_path):
    from lkbench.cli import cli
    from lkbench.records import RecordStore

    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", "--model", "keypoint-gan", "--preset", "smoke",
                                   "--variant", "full", "--prior-size", "50", "--out", str(out),
                                   "--no-progress", "--set", "data.size=8"])
    assert res.exit_code == 0, res.output
    assert "trained keypoint-gan to step 4" in res.output
    assert (out / "samples" / "step-0000004.png").is_file()
    assert 'variant = "full"' in (out / "config.toml").read_text()
    assert "prior_size = 50" in (out / "config.toml").read_text()
    ckpt_path = out / "ckpt" / "step-0000004.pt"

    results = tmp_path / "results"
    res = CliRunner().invoke(cli, ["detect", "--benchmark", "synthetic", "--checkpoint",
                                   str(ckpt_path), "--preset", "smoke", "--direct",
                                   "--no-regression", "--results", str(results),
                                   "--out", str(tmp_path / "det"), "--no-progress"])
    assert res.exit_code == 0, res.output
    rec = RecordStore(results / "landmarks.jsonl").read()[-1]
    assert rec.model == "keypoint-gan" and rec.extra["pipeline"] == "direct"
    assert rec.extra["trained_with"]["loss"]["perceptual"] == "tiny-random"
    assert rec.extra["trained_with"]["model"]["variant"] == "full"
    # the recorded error recomputed independently: the model's own read-out on the benchmark's
    # test images (resized to the model's 32 px) vs the ground truth, mean distance over the 5
    # landmarks / inter-ocular distance, in percent
    from lkbench.protocols.landmarks.detector import resize_images
    from lkbench.protocols.landmarks.predictions import benchmark_data
    test = benchmark_data("synthetic")[1].load("test", None)
    images, gt, _ = test.batch(range(len(test)))
    pred = build_model(load_checkpoint(ckpt_path)).predict(resize_images(images, 32)).double()
    gt = gt.double()
    iod = (gt[:, 0] - gt[:, 1]).norm(dim=-1)
    err = ((pred - gt).norm(dim=-1).mean(1) / iod).mean().item() * 100
    saved = np.load(tmp_path / "det" / "predictions.npz")["test"]
    assert np.allclose(saved, pred.numpy(), atol=1e-5)
    assert rec.value == pytest.approx(err, rel=1e-4)


def test_lkbench_train_explains_missing_vgg_weights_and_bad_variants(tmp_path):
    from lkbench.cli import cli

    base = ["train", "--model", "keypoint-gan", "--preset", "smoke", "--no-progress",
            "--set", "loss.perceptual=vgg19"]
    res = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "a")])
    assert res.exit_code == 2 and "--vgg-weights PATH" in res.output, res.output
    res = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "b"), "--vgg-weights",
                                   str(tmp_path / "missing.pth")])
    assert res.exit_code == 2 and "missing.pth do not exist" in res.output, res.output
    res = CliRunner().invoke(cli, ["train", "--model", "keypoint-gan", "--preset", "smoke",
                                   "--variant", "cyclegann", "--out", str(tmp_path / "c")])
    assert res.exit_code == 2 and "'cyclegan'" in res.output, res.output
    assert not (tmp_path / "a" / "ckpt").exists()


def test_pose_adversary_ramps_in_over_the_warmup_then_stays_at_its_weight():
    cfg = resolve(KGRunConfig, preset="smoke", overrides=[
        *SMALL, "optim.regressor_pretrain_steps=10", "loss.adv_weight=4",
        "loss.pose_adv_warmup=4"])
    trainer = KGTrainer(cfg, RunContext(torch.device("cpu")))
    # main steps 0..3 (global steps 10..13) get 1/4 … 4/4 of the weight, then all of it
    assert [trainer.pose_adv_weight(s) for s in range(10, 16)] == [1, 2, 3, 4, 4, 4]
    off = KGTrainer(resolve(KGRunConfig, preset="smoke", overrides=[*SMALL, "loss.adv_weight=4"]),
                    RunContext(torch.device("cpu")))
    assert off.pose_adv_weight(2) == 4
    with pytest.raises(ValueError, match="pose_adv_warmup"):
        resolve(KGRunConfig, preset="smoke", overrides=["loss.pose_adv_warmup=-1"])


def test_learning_rates_decay_linearly_over_the_last_steps_of_the_run():
    cfg = resolve(KGRunConfig, preset="smoke", overrides=[
        *SMALL, "loop.steps=6", "optim.regressor_pretrain_steps=1", "optim.lr_decay_steps=3",
        "optim.lr=0.4", "optim.lr_regressor=0.8"])
    # steps 0..2 at full rate; 3, 4, 5 at 3/4, 2/4, 1/4 (never 0 within the run)
    assert [cfg.optim.lr_factor(s, 6) for s in range(6)] == [1, 1, 1, 0.75, 0.5, 0.25]
    trainer = KGTrainer(cfg, RunContext(torch.device("cpu")))
    data = KGTrainer.training_data(cfg, False)
    seen = []
    for step in (0, 4):
        trainer.train_step(data.batch(step), step_generator(0, step, 0, torch.device("cpu")), step)
        seen.append([o.param_groups[0]["lr"] for o in trainer.optimizers().values()])
    assert seen == [pytest.approx([0.4, 0.4, 0.8]), pytest.approx([0.2, 0.2, 0.4])]
    constant = resolve(KGRunConfig, preset="smoke", overrides=SMALL).optim
    assert constant.lr_factor(3, 4) == 1.0
    with pytest.raises(ValueError, match="longer than the main phase"):
        resolve(KGRunConfig, preset="smoke", overrides=[
            *SMALL, "loop.steps=6", "optim.regressor_pretrain_steps=4", "optim.lr_decay_steps=3"])


def test_monitor_reports_keypoint_spread_and_spread_across_images():
    trainer, _ = _trainer("full")
    n = trainer._fixed[0].shape[0]
    rng = np.random.default_rng(0)
    kp = rng.uniform(-1, 1, (n, 5, 2)).astype(np.float32)
    trainer.G.predict = lambda images: torch.from_numpy(kp)
    stats = trainer.monitor()
    pairwise = np.linalg.norm(kp[:, :, None] - kp[:, None], axis=-1).sum((1, 2)) / (5 * 4)
    assert stats["kp_spread"] == pytest.approx(pairwise.mean(), abs=1e-5)
    assert stats["kp_std"] == pytest.approx(kp.std(0, ddof=1).mean(), abs=1e-5)
    assert stats["kp_mean"] == [[pytest.approx(v, abs=1e-4) for v in p] for p in kp.mean(0)]
    kp[:] = kp[:1]                                    # one skeleton for every image
    assert trainer.monitor()["kp_std"] == 0
