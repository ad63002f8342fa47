"""cub-aligned on real Lorenz rows with generated 300x300 images."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lkbench.data import get_dataset
from lkbench.data.files import AnnotationError


@pytest.fixture
def cub(data_root, image_writer):
    root, copy = data_root
    tree = copy("cub-aligned")
    for i, split in enumerate(("train", "test")):
        for line in (tree / f"{split}.csv").read_text().splitlines()[1:]:
            image_writer(tree / line.split(",")[1], 300, 300, seed=i)
    return root, tree


def test_splits_and_conversion(cub):
    root, tree = cub
    test = get_dataset("cub-aligned", split="test", image_size=16, root=root, progress=False)
    fit = get_dataset("cub-aligned", split="fit", image_size=16, root=root, progress=False)
    train = get_dataset("cub-aligned", split="train", image_size=16, root=root, progress=False)
    assert test.image_ids == ["images/test/00179.png", "images/test/00180.png",
                              "images/test/00183.png"]
    assert fit.image_ids == train.image_ids and len(fit) == 3
    assert fit.labelled and not train.labelled
    kp, vis = test.landmarks([0])
    # test_kp.npy row 0: nape (part 9) = (0.50764526, 0.10091743, 1) -> 2u - 1
    assert kp[0, 9].tolist() == pytest.approx([2 * 0.50764526 - 1, 2 * 0.10091743 - 1],
                                              abs=1e-6)
    # right eye (part 10) has visibility 0: invisible and NaN, not the (0.5, 0.5) placeholder
    assert not vis[0, 10] and not vis[0, 11] and vis[0, :10].all()
    assert math.isnan(kp[0, 10, 0]) and math.isnan(kp[0, 10, 1])
    raw = np.load(tree / "test_kp.npy")
    assert torch.equal(vis, torch.from_numpy(raw[:1, :, 2] == 1))
    images, _, _ = test.batch([0, 2])
    assert images.shape == (2, 3, 16, 16)


def test_kp_rows_must_match_csv(cub):
    root, tree = cub
    np.save(tree / "test_kp.npy", np.load(tree / "test_kp.npy")[:2])
    ds = get_dataset("cub-aligned", split="test", root=root)
    with pytest.raises(AnnotationError, match=r"test_kp.npy: expected an array \(N, 15, 3\) with "
                                              r"one row per line of test.csv \(3\), got \(2, 15, 3\)"):
        len(ds)


def test_malformed_csv_line(cub):
    root, tree = cub
    lines = (tree / "train.csv").read_text().splitlines()
    lines[2] = "1,images/train/00182.png"
    (tree / "train.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(AnnotationError, match=r"train.csv:3: malformed line"):
        len(get_dataset("cub-aligned", split="fit", root=root))
