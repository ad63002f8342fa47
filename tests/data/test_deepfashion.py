"""deepfashion on real Lorenz rows (test json) with generated 256x256 images."""
from __future__ import annotations

import json

import pytest

from lkbench.data import get_dataset
from lkbench.data.files import AnnotationError, MissingDataError


@pytest.fixture
def fashion(data_root, image_writer):
    root, copy = data_root
    tree = copy("deepfashion")
    for stem in ("train", "test"):
        for i, line in enumerate((tree / f"data_{stem}.csv").read_text().splitlines()[1:]):
            image_writer(tree / "images" / line.split(",")[1], 256, 256, seed=i)
    return root, tree


def test_splits_and_conversion(fashion):
    root, _ = fashion
    test = get_dataset("deepfashion", split="test", image_size=16, root=root, progress=False)
    assert test.image_ids[0] == "WOMEN/Blouses_Shirts/id_00001766/01_4_full.jpg"
    kp, vis = test.landmarks([0])
    # data_test.json entry 0, nose = (114.25, 21.75000762939453) px at 256
    assert kp[0, 0].tolist() == pytest.approx([229.5 / 256 - 1, 44.50001525878906 / 256 - 1],
                                              abs=1e-6)
    assert vis.all() and len(test) == 3
    fit = get_dataset("deepfashion", split="fit", image_size=16, root=root, progress=False)
    fkp, _ = fit.landmarks([1])
    assert (fkp[0, 0] - kp[0, 0]).tolist() == pytest.approx([4 / 256, 4 / 256], abs=1e-6)
    train = get_dataset("deepfashion", split="train", image_size=16, root=root, progress=False)
    assert train.image_ids == fit.image_ids and not train.landmarks([0])[1].any()
    assert test.batch([2]).images.shape == (1, 3, 16, 16)


def test_missing_train_json_is_named(fashion):
    root, tree = fashion
    (tree / "data_train.json").unlink()
    assert len(get_dataset("deepfashion", split="train", root=root)) == 3  # csv only
    with pytest.raises(MissingDataError, match=r"data_train.json.*not in the public Lorenz "
                                               r"release"):
        len(get_dataset("deepfashion", split="fit", root=root))


def test_malformed_entry(fashion):
    root, tree = fashion
    entries = json.loads((tree / "data_test.json").read_text())
    entries[2]["keypoints"] = entries[2]["keypoints"][:16]
    (tree / "data_test.json").write_text(json.dumps(entries))
    with pytest.raises(AnnotationError, match=r"data_test.json: entry 2: keypoints must be 17"):
        len(get_dataset("deepfashion", split="test", root=root))
