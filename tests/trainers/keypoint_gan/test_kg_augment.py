"""Random similarity augmentation of KeypointGAN's targets, appearance images and prior poses."""
import math

import pytest
import torch

from lkbench.config import resolve
from lkbench.keypoints import heatmap_grid
from lkbench.trainers.distributed import RunContext
from lkbench.trainers.keypoint_gan import KGRunConfig, KGTrainer
from lkbench.trainers.keypoint_gan.augment import (SimilarityAugment, random_similarity,
                                                   warp_images, warp_keypoints)
from lkbench.trainers.loop import step_generator

AUG = SimilarityAugment(rotation_deg=20.0, scale=0.15, shift=0.2)


def _blobs(kp: torch.Tensor, size: int, sigma: float = 0.05) -> torch.Tensor:
    """One Gaussian blob per keypoint, ``[B,K,size,size]``, on the project's pixel-centre grid."""
    grid = heatmap_grid(size, size)                                   # [size,size,2] (x, y)
    d2 = ((grid[None, None] - kp[:, :, None, None]) ** 2).sum(-1)
    return torch.exp(-d2 / (2 * sigma ** 2))


def _centroids(maps: torch.Tensor) -> torch.Tensor:
    grid = heatmap_grid(maps.shape[-2], maps.shape[-1])
    w = maps / maps.sum((-2, -1), keepdim=True)
    return (w[..., None] * grid).sum((-3, -2))


def test_zero_ranges_give_the_identity():
    theta = random_similarity(3, SimilarityAugment(), torch.Generator().manual_seed(0))
    assert torch.equal(theta, torch.tensor([[1.0, 0, 0], [0, 1, 0]]).expand(3, 2, 3))
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    assert torch.allclose(warp_images(x, theta), x, atol=1e-6)
    kp = torch.rand(3, 5, 2) * 2 - 1
    assert torch.allclose(warp_keypoints(kp, theta), kp, atol=1e-6)


def test_warped_keypoints_follow_the_warped_image():
    gen = torch.Generator().manual_seed(1)
    kp = (torch.rand(4, 3, 2, generator=gen) * 2 - 1) * 0.5          # well inside the frame
    theta = random_similarity(4, AUG, gen)
    moved = _centroids(warp_images(_blobs(kp, 96), theta))
    assert torch.allclose(moved, warp_keypoints(kp, theta), atol=0.01)   # < half a pixel
    assert (moved - kp).norm(dim=-1).mean() > 0.05                    # and it did move


def test_the_law_stays_within_its_ranges_and_is_seeded():
    theta = random_similarity(2000, AUG, torch.Generator().manual_seed(2))
    a, t = theta[..., :2], theta[..., 2]
    zoom = 1 / a.det().sqrt()                                         # det(A) = 1 / zoom²
    assert 1 - AUG.scale - 1e-5 <= zoom.min() and zoom.max() <= 1 + AUG.scale + 1e-5
    angle = torch.atan2(a[:, 0, 1], a[:, 0, 0]).abs()
    assert angle.max() <= math.radians(AUG.rotation_deg) + 1e-5
    shift = -(torch.linalg.inv(a) @ t[..., None]).squeeze(-1)         # content shift
    assert shift.abs().max() <= AUG.shift + 1e-5 and shift.abs().max() > 0.9 * AUG.shift
    assert torch.equal(theta, random_similarity(2000, AUG, torch.Generator().manual_seed(2)))


def test_bad_ranges_name_the_setting():
    with pytest.raises(ValueError, match="data.augment ranges"):
        resolve(KGRunConfig, preset="smoke", overrides=["data.augment_scale=1.5"])


def test_training_draws_independent_transforms_for_target_appearance_and_prior(monkeypatch):
    cfg = resolve(KGRunConfig, preset="smoke", overrides=[
        "data.size=8", "data.prior_size=16", "optim.regressor_pretrain_steps=0",
        "data.pairs=frames", "data.augment_rotation_deg=20", "data.augment_scale=0.1",
        "data.augment_shift=0.2"])
    trainer = KGTrainer(cfg, RunContext(torch.device("cpu")))
    batch = KGTrainer.training_data(cfg, False).batch(0)
    seen = {}
    monkeypatch.setattr(trainer, "_main_step",
                        lambda x, app, prior, gen, step:
                        seen.update(x=x, app=app, prior=prior) or {})
    trainer.train_step(batch, step_generator(0, 0, 0, torch.device("cpu")), 0)
    assert not torch.equal(seen["x"], batch["image"])
    assert not torch.equal(seen["app"], batch["appearance"])
    assert not torch.allclose(seen["prior"], batch["prior"])
    # the same transform for x and x′ would keep their difference as small as the frames'
    frames_gap = (batch["image"] - batch["appearance"]).abs().mean()
    assert (seen["x"] - seen["app"]).abs().mean() > 2 * frames_gap
    monkeypatch.undo()
    losses = trainer.train_step(batch, step_generator(0, 1, 0, torch.device("cpu")), 1)
    assert losses and all(torch.isfinite(v) for v in losses.values())
