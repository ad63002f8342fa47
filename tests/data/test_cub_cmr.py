"""cub-all / cub-00c on CMR-format .mat fixtures with generated images."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from lkbench.data import get_dataset
from lkbench.data.cub_cmr import cmr_square_box
from lkbench.data.files import AnnotationError


@pytest.fixture
def cub(data_root, image_writer):
    root, copy = data_root
    tree = copy("cub")
    for i, line in enumerate((tree / "image_sizes.txt").read_text().splitlines()):
        rel, h, w = line.split()
        image_writer(tree / "CUB_200_2011" / "images" / rel, int(h), int(w), seed=i)
    return root, tree


def test_square_box_hand_worked():
    # (21, 11, 60, 50) 1-based -> 0-based (20, 10, 59, 49), 40x40, pad 2 -> (18, 8, 61, 51)
    assert cmr_square_box((21, 11, 60, 50)) == (18.0, 8.0, 62.0, 52.0)
    # (5, 5, 44, 30) -> (4, 4, 43, 29) w 40 h 26 -> pad (2, 2.7, 45, 30.3) -> round
    # (2, 3, 45, 30): w 44, h 28 -> square 44, y grows by round(16/2) = 8 at the top
    assert cmr_square_box((5, 5, 44, 30)) == (2.0, -5.0, 46.0, 39.0)


def test_splits_per_class(cub):
    root, _ = cub
    every = get_dataset("cub-all", split="test", image_size=16, root=root, progress=False)
    assert [i.split(".")[0] for i in every.image_ids] == ["001", "002", "003", "004"]
    for c in (1, 2, 3):
        for split in ("fit", "test"):
            ds = get_dataset(f"cub-00{c}", split=split, image_size=16, root=root)
            assert len(ds) == 1 and ds.image_ids[0].startswith(f"00{c}.")
            assert ds.index.listed == 1


def test_one_based_part_and_visibility(cub):
    root, _ = cub
    ds = get_dataset("cub-001", split="test", image_size=16, root=root, progress=False)
    kp, vis = ds.landmarks([0])
    # beak (30, 20) 1-based -> (29, 19) 0-based; box (18, 8)-(62, 52), side 44
    assert kp[0, 1].tolist() == pytest.approx([23 / 44 - 1, 23 / 44 - 1], abs=1e-6)
    assert vis[0].tolist() == [p % 3 != 2 for p in range(15)]
    assert math.isnan(kp[0, 2, 0])


def test_crop_pads_outside_the_image_with_black(cub):
    root, tree = cub
    ds = get_dataset("cub-002", split="fit", image_size=44, root=root, progress=False)
    image = ds.batch([0]).images[0]                       # box (2, -5, 46, 39), side 44
    assert torch.all(image[:, :5] == -1)                  # 5 rows above the image: black
    src = np.asarray(Image.open(tree / "CUB_200_2011" / "images" / ds.image_ids[0])
                     .convert("RGB"), dtype=np.float32)
    expect = torch.from_numpy(src[0:39, 2:46].transpose(2, 0, 1).copy()) / 127.5 - 1
    assert torch.allclose(image[:, 5:], expect, atol=1e-6)


def test_bad_parts_entry(cub, tmp_path):
    from scipy.io import loadmat, savemat
    root, tree = cub
    path = tree / "cachedir" / "cub" / "data" / "test_cub_cleaned.mat"
    raw = loadmat(path)
    raw["images"][0, 2]["parts"] = np.zeros((2, 15))
    savemat(path, {"images": raw["images"]})
    with pytest.raises(AnnotationError, match=r"test_cub_cleaned.mat: images\(3\): parts must "
                                              r"be 3x15"):
        len(get_dataset("cub-all", split="test", root=root))
