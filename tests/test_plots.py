"""Keypoint grids and their PNG files."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.utils import make_grid

from lkbench.errors import DataError
from lkbench.keypoints import from_pixels
from lkbench.plots import keypoint_grid, landmark_colour, save_keypoint_grid


def _inputs(n=5, size=40, k=3):
    images = torch.full((n, 3, size, size), -1.0)             # black
    px = torch.tensor([[8.0, 8.0], [20.0, 30.0], [31.0, 12.0]])[:k]
    return images, from_pixels(px, size).expand(n, k, 2).clone()


def test_grid_size_and_colours():
    images, kp = _inputs()
    grid = keypoint_grid(images, kp, nrow=3, padding=2)
    expected = make_grid(torch.zeros(5, 3, 40, 40), nrow=3, padding=2)
    assert grid.dtype == torch.uint8 and grid.shape == expected.shape
    # Tile (row 1, col 1) starts at (2 + 42, 2 + 42); each landmark has its own colour there.
    for j, (x, y) in enumerate([(8, 8), (20, 30), (31, 12)]):
        assert grid[:, 44 + y, 44 + x].tolist() == list(landmark_colour(j))
    assert grid[:, 44 + 20, 44 + 20].tolist() == [0, 0, 0]


def test_invisible_and_nan_points_are_skipped():
    images, kp = _inputs(n=1)
    kp[0, 2] = float("nan")
    visible = torch.tensor([[True, False, True]])
    grid = keypoint_grid(images, kp, visible, nrow=1, padding=0)
    assert grid[:, 8, 8].tolist() == list(landmark_colour(0))
    assert grid[:, 30, 20].tolist() == [0, 0, 0] and grid[:, 12, 31].tolist() == [0, 0, 0]


def test_legend_keeps_width_and_adds_rows():
    images, kp = _inputs()
    plain = keypoint_grid(images, kp, nrow=5)
    had_pyplot = "matplotlib.pyplot" in sys.modules
    with_names = keypoint_grid(images, kp, nrow=5, names=["eye", "nose", "mouth"])
    assert with_names.shape[2] == plain.shape[2] and with_names.shape[1] > plain.shape[1]
    assert torch.equal(with_names[:, :plain.shape[1]], plain)
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot     # no global matplotlib state


def test_save_writes_png_of_grid_size_atomically(tmp_path):
    images, kp = _inputs()
    path = save_keypoint_grid(tmp_path / "sub" / "grid.png", images, kp, nrow=2)
    grid = keypoint_grid(images, kp, nrow=2)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        assert im.size == (grid.shape[2], grid.shape[1])
        assert torch.equal(torch.from_numpy(np.array(im)).permute(2, 0, 1), grid)
    assert sorted(p.name for p in path.parent.iterdir()) == ["grid.png"]   # no temp files left


@pytest.mark.parametrize("images,kp,vis,message", [
    (torch.zeros(2, 1, 8, 8), torch.zeros(2, 3, 2), None, "images must be"),
    (torch.zeros(2, 3, 8, 8), torch.zeros(3, 3, 2), None, "keypoints must be"),
    (torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 2), torch.ones(2, 4, dtype=torch.bool), "visible"),
    (torch.zeros(0, 3, 8, 8), torch.zeros(0, 3, 2), None, "zero images"),
])
def test_bad_inputs(images, kp, vis, message):
    with pytest.raises(DataError, match=message):
        keypoint_grid(images, kp, vis)
    with pytest.raises(DataError, match="3 keypoints"):
        keypoint_grid(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 2), names=["a"])
