"""Thin-plate-spline warps through kornia (spec models.md §2.9)."""
import torch

from lkbench.trainers.keypoint_gan.tps import (TPSParams, control_grid, random_targets,
                                               random_tps, tps_warp)


def _images() -> torch.Tensor:
    return torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_zero_displacement_is_the_identity():
    x = _images()
    src = control_grid(10).expand(2, -1, -1)
    assert torch.allclose(tps_warp(x, src, src.clone()), x, atol=1e-4)


def test_a_pure_translation_moves_content_by_the_expected_pixels():
    x = torch.zeros(1, 1, 32, 32)
    x[0, 0, 16, 10] = 1.0
    src = control_grid(5)[None]
    # control points live on the padded 64-px canvas: a shift of 0.125 there is 4 pixels
    out = tps_warp(x, src, src + torch.tensor([0.125, -0.0625]))
    row, col = divmod(int(out[0, 0].argmax()), 32)
    assert (row, col) == (14, 14)
    assert out[0, 0, 14, 14] > 0.99


def test_random_warps_are_small_deterministic_and_differ_per_image():
    x = _images()
    a = random_tps(x, torch.Generator().manual_seed(3))
    b = random_tps(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, random_tps(x, torch.Generator().manual_seed(4)))
    src, dst = random_targets(4, TPSParams(), torch.Generator().manual_seed(0))
    assert src.shape == dst.shape == (4, 100, 2)
    moved = (dst - src).norm(dim=-1)
    assert 0 < moved.mean() < 0.3                  # [KG]'s magnitudes: a few pixels
    assert not torch.equal(dst[0], dst[1])
