"""Perceptual loss choices and VGG-weight checks, LSGAN terms, the image pool, the prior."""
import pytest
import torch

from lkbench.config import resolve
from lkbench.errors import CheckpointError, ConfigError, DataError
from lkbench.trainers.keypoint_gan import KGLossConfig, KGRunConfig
from lkbench.trainers.keypoint_gan.data import PairImages, prior_poses
from lkbench.trainers.keypoint_gan.losses import ImagePool, lsgan, lsgan_d
from lkbench.trainers.keypoint_gan.perceptual import PerceptualLoss


def _pair():
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 3, 32, 32, generator=g)


def test_missing_vgg_weights_name_the_option_and_the_weight_free_alternatives():
    with pytest.raises(ConfigError, match="--vgg-weights PATH.*random-vgg"):
        PerceptualLoss(KGLossConfig(perceptual="vgg19"))
    with pytest.raises(ConfigError, match="do not exist"):
        PerceptualLoss(KGLossConfig(perceptual="vgg16", vgg_weights="/no/such/vgg16.pth"))


def test_corrupt_or_foreign_vgg_weights_are_refused(tmp_path):
    bad = tmp_path / "vgg19.pth"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="could not be read.*--vgg-weights"):
        PerceptualLoss(KGLossConfig(perceptual="vgg19", vgg_weights=str(bad)))
    other = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, other)
    with pytest.raises(CheckpointError, match="do not fit torchvision's vgg16"):
        PerceptualLoss(KGLossConfig(perceptual="vgg16", vgg_weights=str(other)))


def test_vgg_weights_from_a_file_are_loaded_and_used(tmp_path):
    from torchvision.models import vgg as tv_vgg

    torch.manual_seed(0)      # torchvision's vgg16 trunk, saved under its "features." names
    trunk = tv_vgg.make_layers(tv_vgg.cfgs["D"])
    state = {f"features.{k}": v for k, v in trunk.state_dict().items()}
    path = tmp_path / "vgg16.pth"
    torch.save(state, path)
    loss = PerceptualLoss(KGLossConfig(perceptual="vgg16", vgg_weights=str(path)))
    assert torch.equal(loss.net.features[0].weight, state["features.0.weight"])
    assert torch.equal(loss.net.features[26].weight, state["features.26.weight"])  # conv5_2
    assert len(loss.net.taps) == 5                           # conv1_2 … conv5_2
    fake, real = _pair()
    value = loss(fake, real).item()
    # each of the 6 terms is divided by its own first value (1 each; a random trunk may leave a
    # deep ReLU'd layer all zero, and 0/0 counts as 0)
    live = loss.norm.running > 0
    assert live.shape == (6,) and live[:4].all()
    assert value == pytest.approx(live.float().mean().item())


def test_normalised_terms_follow_their_running_means():
    loss = PerceptualLoss(KGLossConfig(perceptual="tiny-random", norm_momentum=0.5))
    fake, real = _pair()
    assert loss(fake, real).item() == pytest.approx(1.0)
    first = loss.norm.running.clone()
    assert first.shape == (4,) and (first > 0).all()         # pixels + 3 stages
    same = loss(real, real)                                   # zero error now
    assert same.item() == 0.0
    assert torch.allclose(loss.norm.running, 0.5 * first)    # EMA towards 0
    loss.eval()
    loss(fake, real)
    assert torch.allclose(loss.norm.running, 0.5 * first)    # eval mode leaves it alone


def test_l1_is_the_mean_absolute_pixel_error():
    fake, real = _pair()
    assert PerceptualLoss(KGLossConfig(perceptual="l1"))(fake, real).item() == pytest.approx(
        (fake - real).abs().mean().item())


def test_lsgan_terms():
    ones, zeros = [torch.ones(2, 1, 3, 3)], [torch.zeros(2, 1, 2, 2)]
    assert lsgan(ones, 1.0) == 0 and lsgan(zeros, 1.0) == 1
    assert lsgan([torch.full((1, 1, 2, 2), 3.0), torch.zeros(1, 1, 1, 1)], 1.0) == 2.5
    assert lsgan_d(ones, zeros) == 0 and lsgan_d(zeros, ones) == 1


def test_image_pool_fills_then_swaps_with_probability_one_half():
    pool = ImagePool(3, (1, 1, 1))
    gen = torch.Generator().manual_seed(0)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first, gen), first) and int(pool.count) == 3
    new = torch.full((200, 1, 1, 1), 9.0)
    out = pool.query(new, gen)
    swapped = (out != 9).sum().item()
    assert 0 < swapped < 200 and set(out.flatten().tolist()) <= {0.0, 1.0, 2.0, 9.0}
    assert torch.equal(pool.images.flatten(), torch.full((3,), 9.0))
    assert torch.equal(ImagePool(0, (1, 1, 1)).query(new, gen), new)


def test_prior_size_takes_the_first_poses_of_the_prior_split():
    cfg = resolve(KGRunConfig, preset="smoke", overrides=["data.prior_size=10"])
    from lkbench.data import get_dataset

    full, _ = get_dataset("synthetic", split="prior", image_size=32).landmarks(range(10))
    assert torch.equal(prior_poses(cfg.data, 32, 5), full)
    big = resolve(KGRunConfig, preset="smoke", overrides=["data.prior_size=6000"])
    with pytest.raises(DataError, match="holds 5000 poses"):
        prior_poses(big.data, 32, 5)
    with pytest.raises(ConfigError, match="num_keypoints=5"):
        prior_poses(cfg.data, 32, 4)
    with pytest.raises(ConfigError, match="unpaired"):
        resolve(KGRunConfig, overrides=["data.prior_split=train"])


def test_batches_hold_frame_pairs_or_single_images_and_prior_poses():
    cfg = resolve(KGRunConfig, preset="smoke", overrides=["data.size=8", "data.prior_size=20"])
    data = PairImages(cfg.data, 32, 4, 0, 5)
    b = data.batch(1)
    assert set(b) == {"image", "appearance", "prior"}
    assert b["image"].shape == b["appearance"].shape == (4, 3, 32, 32)
    assert b["prior"].shape == (4, 5, 2)
    assert not torch.equal(b["image"], b["appearance"])      # same face, another pose
    assert all(torch.equal(b[k], data.batch(1)[k]) for k in b)   # a function of the step
    tps = resolve(KGRunConfig, preset="smoke", overrides=["data.size=8", "data.pairs=tps"])
    assert set(PairImages(tps.data, 32, 4, 0, 5).batch(0)) == {"image", "prior"}
