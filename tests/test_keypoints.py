"""Hand-worked checks of THE coordinate convention (docs/architecture.md)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lkbench import keypoints as K


def test_edges_and_first_pixel_at_128():
    kp = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [-1 + 1 / 128, -1 + 1 / 128]])
    px = K.to_pixels(kp, 128)
    # left/top edge is half a pixel before pixel 0's centre, right/bottom edge half after 127's
    assert px.tolist() == [[-0.5, -0.5], [127.5, 127.5], [0.0, 0.0]]


def test_pixel_centre_formula():
    r = 64
    i = np.arange(r, dtype=np.float64)
    px = np.stack([i, i], axis=-1)
    np.testing.assert_allclose(K.from_pixels(px, r)[:, 0], (2 * i + 1) / r - 1, rtol=0, atol=1e-15)
    assert torch.equal(K.pixel_centers(r, dtype=torch.float64), torch.tensor((2 * i + 1) / r - 1))


def test_round_trips_are_exact_on_dyadic_values():
    # values on a 1/256 grid are exactly representable: the round trip must be bit-exact
    v = np.arange(-256, 257) / 256.0
    kp = np.stack([v, v[::-1]], -1)
    for size in (64, 128, 256):
        assert np.array_equal(K.from_pixels(K.to_pixels(kp, size), size), kp)
    px = np.stack([np.arange(256.0), np.arange(256.0)], -1)
    assert np.array_equal(K.to_pixels(K.from_pixels(px, 256), 256), px)


def test_non_square_size_is_height_width():
    # (H, W) = (100, 200): x scales with the width, y with the height
    px = K.to_pixels(np.array([1.0, 1.0]), (100, 200))
    assert px.tolist() == [199.5, 99.5]


def test_rowcol_swap_and_unit_frame():
    rc = torch.tensor([[3.0, 7.0]])
    assert K.rowcol_to_xy(rc).tolist() == [[7.0, 3.0]]
    assert K.xy_to_rowcol(K.rowcol_to_xy(rc)).tolist() == rc.tolist()
    assert K.to_unit(torch.tensor([-1.0, 0.0, 1.0])).tolist() == [0.0, 0.5, 1.0]
    assert K.from_unit(np.array([0.0, 0.25, 1.0])).tolist() == [-1.0, -0.5, 1.0]


def test_integer_input_is_promoted():
    assert K.to_pixels(np.array([0, 0]), 4).dtype == np.float64
    assert K.to_pixels(torch.tensor([0, 0]), 4).dtype == torch.float32


def test_heatmap_grid_matches_grid_sample_pixel_centres():
    # sampling an image at the grid's points with align_corners=False returns the image itself
    img = torch.arange(5 * 7, dtype=torch.float32).reshape(1, 1, 5, 7)
    grid = K.heatmap_grid(5, 7)
    assert grid.shape == (5, 7, 2)
    assert grid[0, 0].tolist() == pytest.approx([-1 + 1 / 7, -1 + 1 / 5])
    out = F.grid_sample(img, grid[None], mode="nearest", align_corners=False)
    assert torch.equal(out, img)
