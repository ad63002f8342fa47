"""KeypointGAN networks: shapes, parameter counts (docs/models.md §2.12, §4.2, §4.4), soft-argmax
and η's pre-training on rendered prior poses."""
import pytest
import torch

from lkbench.config import resolve
from lkbench.data import get_dataset
from lkbench.trainers.keypoint_gan import KGRunConfig, KeypointGAN
from lkbench.trainers.keypoint_gan.networks import (CondGenerator, MultiScaleDiscriminator,
                                                    PoseEncoder, Regressor, batch_std_map,
                                                    num_params, soft_argmax)
from lkbench.trainers.keypoint_gan.trainer import resolved_model_config


def test_smoke_parameter_counts_match_the_spec():
    # docs/models.md §4.2: Φ 196 945, η 74 109, Ψ 304 011, D 21 874 (b = 8, K = 5, D 2 scales × 2 layers)
    assert num_params(PoseEncoder(8)) == 196_945
    assert num_params(Regressor(5, 8)) == 74_109
    assert num_params(CondGenerator(8)) == 304_011
    assert num_params(MultiScaleDiscriminator(1, 8, 2, 2)) == 21_874


def test_full_scale_parameter_counts_match_the_spec():
    # docs/models.md §2.12 / §4.4 at R = 128, K = 32, b = 32: Φ 3.12 M, η 1.18 M, Ψ 4.83 M, D 8.29 M
    counts = [num_params(PoseEncoder(32)), num_params(Regressor(32, 32)),
              num_params(CondGenerator(32)), num_params(MultiScaleDiscriminator(1, 64, 3, 3))]
    assert [round(c / 1e6, 2) for c in counts] == [3.12, 1.18, 4.83, 8.29]


def test_the_unconditional_generator_drops_the_appearance_encoder():
    assert num_params(CondGenerator(8)) - num_params(CondGenerator(8, conditional=False)) == (
        78_904 + 64 * 64 * 9)      # appearance NipsEncoder + the first decoder conv's extra input


def test_shapes_at_smoke_scale():
    x = torch.randn(2, 3, 32, 32)
    phi = PoseEncoder(8)(x)
    assert phi.shape == (2, 1, 32, 32)
    assert Regressor(5, 8).encoder(phi).shape == (2, 5, 4, 4)       # η maps at R/8
    assert Regressor(5, 8)(phi).shape == (2, 5, 2)
    assert CondGenerator(8)(phi, x).shape == (2, 3, 32, 32)
    assert [o.shape for o in MultiScaleDiscriminator(1, 8, 2, 2)(phi)] == [(2, 1, 6, 6),
                                                                         (2, 1, 2, 2)]


def test_soft_argmax_reads_a_sharp_peak_at_its_pixel_centre():
    maps = torch.zeros(1, 2, 4, 8)
    maps[0, 0, 1, 6] = 400.0       # row 1 of 4, column 6 of 8 (the marginals get 1/4, 1/8 of it)
    maps[0, 1, 3, 0] = 400.0
    kp = soft_argmax(maps)
    assert kp[0, 0].tolist() == pytest.approx([(2 * 6 + 1) / 8 - 1, (2 * 1 + 1) / 4 - 1])
    assert kp[0, 1].tolist() == pytest.approx([(2 * 0 + 1) / 8 - 1, (2 * 3 + 1) / 4 - 1])


def test_the_model_predicts_k_keypoints_and_rejects_other_image_sizes():
    cfg = resolved_model_config(resolve(KGRunConfig, preset="smoke"))
    assert cfg.edges == ((0, 1), (0, 2), (1, 2), (2, 3), (2, 4), (3, 4))    # synthetic skeleton
    model = KeypointGAN(cfg).eval()
    kp = model.predict(torch.zeros(3, 3, 32, 32))
    assert kp.shape == (3, 5, 2) and kp.abs().max() < 1
    with pytest.raises(ValueError, match="resize"):
        model.predict(torch.zeros(1, 3, 64, 64))


def test_regressor_pretraining_recovers_prior_poses_far_better_than_chance():
    """η trained on β(p̄) of the synthetic prior, scored on prior poses it never saw."""
    cfg = resolved_model_config(resolve(KGRunConfig, preset="smoke"))
    torch.manual_seed(0)
    model = KeypointGAN(cfg)
    prior, _ = get_dataset("synthetic", split="prior", image_size=32).landmarks(range(1100))
    train, held_out = prior[:1000], prior[1000:]
    opt = torch.optim.Adam(model.regressor.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(100):
        p = train[torch.randint(len(train), (16,), generator=gen)]
        loss = torch.nn.functional.mse_loss(model.regressor(model.renderer(p)), p)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = model.regressor(model.renderer(held_out))
    err = (pred - held_out).norm(dim=-1).mean()
    chance = (train.mean(0) - held_out).norm(dim=-1).mean()    # the best constant pose
    assert err < 0.5 * chance, (float(err), float(chance))


def test_batch_std_channel_is_the_per_pixel_spread_of_the_batch():
    a, b = torch.rand(1, 2, 8, 8), torch.rand(1, 2, 8, 8)
    got = batch_std_map(torch.cat([a, b]))
    # two samples: the population std is half their distance, then the channel mean
    want = ((a - b).abs() / 2).mean(1, keepdim=True)
    assert got.shape == (2, 1, 8, 8)
    assert torch.allclose(got[0], want[0], atol=1e-6) and torch.equal(got[0], got[1])
    assert torch.count_nonzero(batch_std_map(a.expand(4, -1, -1, -1))) == 0


def test_the_batch_std_discriminator_tells_a_constant_batch_from_a_varied_one():
    plain = MultiScaleDiscriminator(1, 8, 2, 2)
    with_std = MultiScaleDiscriminator(1, 8, 2, 2, batch_std=True)
    # one more input channel per scale: ndf · 4 · 4 weights each
    def count(d):
        return sum(p.numel() for p in d.parameters())
    extra = count(with_std) - count(plain)
    assert extra == 2 * 8 * 16
    varied = torch.rand(4, 1, 32, 32)
    same = varied[:1].expand(4, -1, -1, -1)
    # the first sample is the same image in both batches; only the batch around it differs
    assert not torch.allclose(with_std(varied)[0][0], with_std(same)[0][0])
    assert torch.allclose(plain(varied)[0][0], plain(same)[0][0])
