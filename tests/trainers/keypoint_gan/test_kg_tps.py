"""Thin-plate-spline warps (docs/models.md §2.9), checked against scipy's thin-plate RBF."""
import pytest
import torch

from lkbench.trainers.keypoint_gan.tps import (TPSParams, control_grid, evaluate_tps,
                                               random_targets, random_tps, solve_tps, tps_warp)


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



def _scipy_reference(images: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """An independent warp: scipy's thin-plate RBF interpolant (float64) through ``f(dst) = src``
    evaluated at every pixel of the padded canvas, ``grid_sample``, then the centre crop."""
    import numpy as np
    import torch.nn.functional as F
    from scipy.interpolate import RBFInterpolator

    b, _, r, _ = images.shape
    pad = r // 2
    side = r + 2 * pad
    c = (2 * np.arange(side) + 1) / side - 1
    yy, xx = np.meshgrid(c, c, indexing="ij")
    pix = np.stack([xx.ravel(), yy.ravel()], -1)
    grids = [RBFInterpolator(dst[i].double().numpy(), src[i].double().numpy(),
                             kernel="thin_plate_spline", degree=1)(pix) for i in range(b)]
    grid = torch.from_numpy(np.stack(grids)).float().view(b, side, side, 2)
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    out = F.grid_sample(padded, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[..., pad:pad + r, pad:pad + r]


# The grids agree to ~1e-6 (float32 evaluation); pixel values change by up to 2 across one pixel
# (2/64 normalised units at 32 px), so values agree to ~1e-4.
ATOL = 2e-4


@pytest.mark.parametrize("size", [16, 32, 33])
def test_the_warp_equals_scipys_thin_plate_interpolant(size):
    x = torch.rand(3, 2, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    src, dst = random_targets(3, TPSParams(), torch.Generator().manual_seed(2))
    ours = tps_warp(x, src, dst)
    assert ours.shape == x.shape
    torch.testing.assert_close(ours, _scipy_reference(x, src, dst), rtol=0, atol=ATOL)
    # stronger warps, so that border pixels sample the replicated padding
    strong = TPSParams(rotation_deg=15, scale=0.15, translation=0.15, warp_large=0.015)
    src, big = random_targets(3, strong, torch.Generator().manual_seed(3))
    torch.testing.assert_close(tps_warp(x, src, big), _scipy_reference(x, src, big),
                               rtol=0, atol=ATOL)


def test_the_spline_interpolates_and_stays_bounded_where_kornias_solve_did_not():
    # on seed 0's batch kornia 0.9's get_tps_transform (measured 2026-12-06) moved a pixel of the
    # centre half by 101 canvas half-widths (kernel weights 1.5e4); the standard spline is exact
    # at its sites and moves nothing by more than a few pixels
    src, dst = random_targets(16, TPSParams(), torch.Generator().manual_seed(0))
    w, a = solve_tps(dst, src)
    torch.testing.assert_close(evaluate_tps(dst, dst, w, a), src, rtol=0, atol=1e-5)
    grid = torch.cartesian_prod(torch.linspace(-0.5, 0.5, 16), torch.linspace(-0.5, 0.5, 16))
    moved = evaluate_tps(grid.expand(16, -1, -1), dst, w, a) - grid
    assert moved.norm(dim=-1).max() < 0.4        # [KG]'s magnitudes: a few pixels, never wild
