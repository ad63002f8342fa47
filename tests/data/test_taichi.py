"""taichi on real MSCS landmark rows with generated 256x256 frames."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from lkbench.data import get_dataset
from lkbench.data.files import AnnotationError, MissingDataError
from lkbench.keypoints import to_pixels


@pytest.fixture
def taichi(data_root, image_writer):
    root, copy = data_root
    tree = copy("taichi")
    for split in ("train", "test"):
        names = pd.read_pickle(tree / "landmarks" / f"taichi_{split}_gt.pkl")["file_name"]
        for i, name in enumerate(names):
            image_writer(tree / "eval_images" / "taichi-256" / split / name, 256, 256, seed=i)
    for v in ("v1", "v2"):
        for f in range(2):
            image_writer(tree / "train" / v / f"{f:04d}.png", 64, 96)
    return root, tree


def test_conversion_and_missing_joints(taichi):
    root, tree = taichi
    test = get_dataset("taichi", split="test", image_size=16, root=root, progress=False)
    assert test.image_ids == ["eval_images/taichi-256/test/00164.png",
                              "eval_images/taichi-256/test/00005.png",
                              "eval_images/taichi-256/test/00063.png"]
    kp, vis = test.landmarks([0])
    # 00164.png nose = (131, 78) px at 256: ((2*131+1)/256 - 1, (2*78+1)/256 - 1)
    assert kp[0, 0].tolist() == pytest.approx([263 / 256 - 1, 157 / 256 - 1], abs=1e-7)
    # joints 4, 14, 16 are (-1, -1): invisible and NaN
    assert [j for j in range(18) if not vis[0, j]] == [4, 14, 16]
    assert math.isnan(kp[0, 4, 0])
    # back to the file's pixels exactly
    raw = pd.read_pickle(tree / "landmarks" / "taichi_test_gt.pkl")["value"][0]
    back = to_pixels(kp[0].double(), 256)
    assert torch.equal(back[vis[0]], torch.tensor(raw, dtype=torch.float64)[vis[0]])
    images, _, _ = test.batch([1])
    assert images.shape == (1, 3, 16, 16)


def test_train_frames_and_fit(taichi):
    root, _ = taichi
    train = get_dataset("taichi", split="train", image_size=16, root=root, progress=False)
    assert train.image_ids == ["train/v1/0000.png", "train/v1/0001.png", "train/v2/0000.png",
                               "train/v2/0001.png"]
    _, vis = train.landmarks(range(4))
    assert not vis.any()
    assert train.batch([3]).images.shape == (1, 3, 16, 16)     # 64x96 frames resized whole
    fit = get_dataset("taichi", split="fit", image_size=16, root=root)
    assert [i.rsplit("/", 1)[1] for i in fit.image_ids] == ["00351.png", "02074.png",
                                                            "03196.png"]


def test_bad_rows_and_missing_pickle(taichi):
    root, tree = taichi
    path = tree / "landmarks" / "taichi_test_gt.pkl"
    table = pd.read_pickle(path)
    table.at[1, "value"] = [[1.0, 2.0]]
    table.to_pickle(path)
    with pytest.raises(AnnotationError, match=r"taichi_test_gt.pkl: row 1 \(00005.png\): value "
                                              r"must be 18 finite"):
        len(get_dataset("taichi", split="test", root=root))
    path.unlink()
    with pytest.raises(MissingDataError, match=r"landmarks/taichi_test_gt.pkl or .*landmark/"
                                               r"taichi_test_gt.pkl: part of the motion"):
        len(get_dataset("taichi", split="test", root=root))
