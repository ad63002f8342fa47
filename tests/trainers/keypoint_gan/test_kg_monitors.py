"""KeypointGAN's learning monitors against independent computations on tiny models."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from torch import nn

from lkbench.config import resolve
from lkbench.trainers.distributed import RunContext
from lkbench.trainers.keypoint_gan import KGRunConfig, KGTrainer
from lkbench.trainers.keypoint_gan.monitors import (FailureAlarm, gradient_ratio, readout_stats,
                                                    skeleton_swap)
from lkbench.trainers.keypoint_gan.perceptual import PerceptualLoss

L1 = PerceptualLoss(resolve(KGRunConfig, preset="smoke", overrides=["loss.perceptual=l1"]).loss)


def _skeletons(n=6, r=8):
    return torch.rand(n, 1, r, r, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_a_psi_that_ignores_its_skeleton_gives_zero_gap_and_zero_change():
    s = _skeletons()
    appearance = torch.rand(6, 3, 8, 8)
    out = skeleton_swap(lambda sk: appearance.clone(), s, appearance, L1)
    assert out == {"psi_swap_change": 0.0, "psi_gap": 0.0}


def test_a_psi_that_copies_its_skeleton_gives_a_positive_gap():
    s = _skeletons()
    copy = lambda sk: sk.expand(-1, 3, -1, -1)            # noqa: E731
    target = copy(s)
    out = skeleton_swap(copy, s, target, L1)
    swapped = s.roll(-1, 0).expand(-1, 3, -1, -1)
    assert out["psi_swap_change"] == pytest.approx(float((target - swapped).abs().mean()))
    assert out["psi_gap"] == pytest.approx(float((swapped - target).abs().mean()))
    assert out["psi_gap"] > 0.3


def test_gradient_ratio_is_the_ratio_of_the_two_terms_gradient_norms():
    w = nn.Parameter(torch.tensor([1.0, 2.0, -1.0]))
    x = torch.tensor([0.5, -1.0, 2.0])
    perc = 3 * (w * x).sum() ** 2            # ∇ = 6 (w·x) x
    adv = (w ** 2).sum()                     # ∇ = 2 w
    wd = w.detach()
    expected = np.linalg.norm(6 * float((wd * x).sum()) * x.numpy()) / np.linalg.norm(2 * wd)
    assert gradient_ratio([w], perc, adv) == pytest.approx(expected)
    assert w.grad is None                                 # training's gradients untouched
    assert gradient_ratio([w], perc, 0 * adv) is None


def _numpy_stats(pred, true, norm, mean_shape):
    n, k, _ = true.shape
    scale = 100 / norm[:, None]
    corr = np.corrcoef(pred.reshape(n, -1).T, true.reshape(n, -1).T)[:2 * k, 2 * k:]
    own_x = np.mean([corr[2 * j, 2 * j] for j in range(k)])
    own_y = np.mean([corr[2 * j + 1, 2 * j + 1] for j in range(k)])
    other = np.mean([corr[2 * a + c, 2 * b + c] for a in range(k) for b in range(k) if a != b
                     for c in (0, 1)])
    return {"readout_err": (np.linalg.norm(pred - true, axis=-1) * scale).mean(),
            "readout_err_x": (np.abs(pred - true)[..., 0] * scale).mean(),
            "readout_err_y": (np.abs(pred - true)[..., 1] * scale).mean(),
            "meanshape_err": (np.linalg.norm(mean_shape - true, axis=-1) * scale).mean(),
            "meanshape_err_x": (np.abs(mean_shape - true)[..., 0] * scale).mean(),
            "meanshape_err_y": (np.abs(mean_shape - true)[..., 1] * scale).mean(),
            "readout_corr_x": own_x, "readout_corr_y": own_y, "readout_corr_other": other,
            "readout_spread": (pred.std(0, ddof=1) / true.std(0, ddof=1)).mean()}


def test_readout_stats_match_numpy_and_expose_a_rigid_template():
    rng = np.random.default_rng(0)
    true = rng.normal(0, 0.2, (300, 5, 2))
    norm = np.linalg.norm(true[:, 0] - true[:, 1], axis=-1) + 0.3
    mean_shape = true.mean(0)
    noisy = true + rng.normal(0, 0.1, true.shape)
    t = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float64))     # noqa: E731
    got = readout_stats(t(noisy), t(true), t(norm), t(mean_shape))
    want = _numpy_stats(noisy, true, norm, mean_shape)
    assert got == {k: pytest.approx(v, rel=1e-6) for k, v in want.items()}
    perfect = readout_stats(t(true), t(true), t(norm), t(mean_shape))
    assert perfect["readout_err"] == 0 and perfect["readout_spread"] == pytest.approx(1)
    assert perfect["readout_corr_x"] == pytest.approx(1)
    # A template that follows only the head (every landmark = centre + fixed offset, damped):
    # it correlates as much with the other landmarks as with its own, and is too still.
    head = true.mean(1, keepdims=True) * 0.5
    template = head + mean_shape[None]
    stats = readout_stats(t(template), t(true), t(norm), t(mean_shape))
    assert stats["readout_spread"] < 0.6
    assert abs(stats["readout_corr_x"] - stats["readout_corr_other"]) < 0.1


def test_failure_alarm_says_so_once_after_patience_checks():
    buf = io.StringIO()
    alarm = FailureAlarm(patience=3, stream=buf)
    ok = {"psi_gap": 0.2, "readout_err": 40.0, "meanshape_err": 60.0}
    dead = {"psi_gap": 0.0, "readout_err": 59.0, "meanshape_err": 60.0}
    assert alarm.update(1, dead) == [] and alarm.update(2, dead) == []
    assert alarm.update(3, ok) == []                      # a good check resets the count
    assert alarm.update(4, dead) == [] and alarm.update(5, dead) == []
    lines = alarm.update(6, dead)
    assert len(lines) == 2 and "ignores the skeleton" in lines[0] and "mean shape" in lines[1]
    assert alarm.update(7, dead) == [] and buf.getvalue().count("failing") == 2


def _trainer(**over):
    cfg = resolve(KGRunConfig, preset="smoke", overrides=[
        "data.size=8", "data.prior_size=16", "optim.regressor_pretrain_steps=1",
        "monitor.every=2", "monitor.faces=12", "monitor.probe=4", "data.difficulty=pose",
        *[f"{k}={v}" for k, v in over.items()]])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        trainer = KGTrainer(cfg, RunContext(torch.device("cpu")))
    trainer.attach_data(KGTrainer.training_data(cfg, False))
    trainer.alarm.stream = io.StringIO()
    return trainer


def test_trainer_monitors_every_n_main_steps_against_an_independent_read_out():
    trainer = _trainer()
    trainer._step = 0                                     # the pre-training step: nothing yet
    assert "psi_gap" not in trainer.monitor()
    trainer._step = 3
    stats = trainer.monitor()
    for key in ("psi_swap_change", "psi_gap", "grad_ratio", "readout_err", "readout_corr_x",
                "readout_spread", "meanshape_err"):
        assert key in stats, key
    assert "psi_gap" not in trainer.monitor()             # same step: not due again
    from lkbench.data import get_dataset
    ds = get_dataset("synthetic", split="fit", image_size=32, difficulty="pose", size=12)
    b = ds.batch(range(12))
    trainer.G.eval()
    pred = trainer.G.predict(b.images)
    iod = (b.keypoints[:, 0] - b.keypoints[:, 1]).norm(dim=-1)
    err = float(((pred - b.keypoints).norm(dim=-1).mean(1) / iod).mean() * 100)
    assert stats["readout_err"] == pytest.approx(err, abs=1e-3)
    prior_mean = trainer.data.prior.mean(0)
    ms = float(((prior_mean - b.keypoints).norm(dim=-1).mean(1) / iod).mean() * 100)
    assert stats["meanshape_err"] == pytest.approx(ms, abs=1e-3)


def test_trainer_monitors_see_a_generator_that_ignores_or_copies_the_skeleton():
    trainer = _trainer(**{"loss.perceptual": "l1"})
    trainer._step = 3
    trainer.G.generator.forward = lambda skeleton, appearance=None: appearance
    stats = trainer.monitor()
    assert stats["psi_gap"] == 0 and stats["psi_swap_change"] == 0
    assert stats["grad_ratio"] == 0                       # no reconstruction gradient reaches Φ
    trainer._step = 5
    trainer.G.generator.forward = lambda skeleton, appearance=None: skeleton.expand(-1, 3, -1, -1)
    grey = lambda x: (x.mean(1, keepdim=True),) * 2        # noqa: E731 (Φ passes the image on)
    trainer.G.pose_image = grey
    stats = trainer.monitor()
    x = trainer._probe["x"]
    own, swapped = grey(x)[0].expand(-1, 3, -1, -1), grey(x.roll(-1, 0))[0].expand(-1, 3, -1, -1)
    assert stats["psi_swap_change"] == pytest.approx(float((own - swapped).abs().mean()), abs=1e-5)
    gap = float((swapped - x).abs().mean() - (own - x).abs().mean())
    assert stats["psi_gap"] == pytest.approx(gap, abs=1e-5) and gap > 0.05
