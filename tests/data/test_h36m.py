"""h36m-simplified on per-frame .mat fixtures (release layout) with generated frames and masks."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lkbench.data import get_dataset
from lkbench.data.check import check_dataset
from lkbench.data.files import AnnotationError, MissingDataError

COLOUR = (200, 100, 50)
GREETING = "S11/Greeting 2.54138969"


@pytest.fixture
def h36m(data_root):
    """The fixture tree with flat-colour 128x128 frames and masks that keep the left half."""
    root, copy = data_root
    tree = copy("h36m")
    for s in (6, 7, 8, 9):
        (tree / f"S{s}" / "Landmarks").mkdir(parents=True)
    mask = np.zeros((128, 128), np.uint8)
    mask[:, :64] = 255
    for mat in tree.glob("S*/Landmarks/*/*.mat"):
        subject, seq = mat.parts[-4], mat.parts[-2]
        for kind, suffix, pixels in (("WithBackground", ".jpg", np.full((128, 128, 3), COLOUR,
                                                                        np.uint8)),
                                     ("BackgroudMask", ".png", mask)):
            path = tree / subject / kind / seq / f"{mat.stem}{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path, quality=95)
    return root, tree


def ids(ds):
    return ds.image_ids


def test_splits_halve_training_sequences_in_numeric_frame_order(h36m):
    root, _ = h36m
    get = lambda split: get_dataset("h36m-simplified", split=split, image_size=16, root=root,
                                    progress=False)
    directions, walking = "S1/Directions 1.54138969", "S5/Walking 1.55011271"
    assert ids(get("train")) == [f"{directions}/0", f"{directions}/1", f"{walking}/0"]
    prior = get("prior")
    assert ids(prior) == [f"{directions}/2", f"{directions}/3", f"{walking}/2",
                          f"{walking}/10"]
    fit = get("fit")       # every training frame; Eating (not a protocol activity) is left out
    assert ids(fit) == [f"{directions}/{f}" for f in range(4)] + \
        [f"{walking}/{f}" for f in (0, 2, 10)]
    # the prior holds the second halves' keypoints, no images
    assert not prior.has_images and not prior.labelled and fit.labelled
    kp_prior, _ = prior.landmarks(slice(None))
    kp_fit, _ = fit.landmarks([2, 3, 5, 6])
    assert np.array_equal(kp_prior.numpy(), kp_fit.numpy())
    test = get("test")
    assert ids(test) == [f"{GREETING}/0", f"{GREETING}/1", "S11/Posing 1.55011271/0"]
    assert test.activities.tolist() == ["Greeting", "Greeting", "Posing"]


def test_normalised_keypoints_convert_with_from_unit(h36m):
    root, _ = h36m
    test = get_dataset("h36m-simplified", split="test", root=root, progress=False)
    kp, vis = test.landmarks([0])
    # hip (0.25, 0.75) of [0, 1] -> 2u - 1; r_hip (0.375, 0.5)
    assert kp[0, 0].tolist() == [-0.5, 0.5]
    assert kp[0, 1].tolist() == [-0.25, 0.0]
    assert vis.all() and kp.shape == (1, 32, 2)


def test_flip_pairs_are_the_benchmarks(h36m):
    from lkbench.protocols.landmarks.benchmarks import BENCHMARKS
    root, _ = h36m
    ds = get_dataset("h36m-simplified", split="test", root=root, progress=False)
    assert ds.meta.flip_pairs == BENCHMARKS.get("h36m-simplified").flip_pairs
    assert ds.landmark_names[17] == "l_shoulder" and ds.landmark_names[25] == "r_shoulder"


def test_background_mask_and_keep(h36m):
    root, _ = h36m
    masked = get_dataset("h36m-simplified", split="test", image_size=16, root=root,
                         progress=False).images_uint8()[0].astype(int)
    kept = get_dataset("h36m-simplified", split="test", image_size=16, root=root,
                       background="keep", progress=False).images_uint8()[0].astype(int)
    colour = np.asarray(COLOUR)[:, None, None]
    # mask = left half: columns 0-5 keep the colour, 10-15 are black (6-9 blend at 128 -> 16)
    assert np.abs(masked[:, :, :6] - colour).max() <= 3
    assert masked[:, :, 10:].max() == 0
    assert np.abs(kept - colour).max() <= 3
    with pytest.raises(Exception, match="background must be one of masked, keep"):
        get_dataset("h36m-simplified", split="test", root=root, background="none")


def test_missing_files_and_malformed_annotations(h36m):
    root, tree = h36m
    (tree / "S11" / "BackgroudMask" / "Posing 1.55011271" / "0.png").unlink()
    with pytest.raises(MissingDataError, match=r"missing mask .*Posing 1.55011271/0.png"):
        get_dataset("h36m-simplified", split="test", image_size=16, root=root,
                    progress=False).images_uint8()
    from scipy.io import savemat
    bad = tree / "S11" / "Landmarks" / "Greeting 2.54138969" / "1.mat"
    savemat(bad, {"keypoints_2d": np.zeros((17, 2))})
    with pytest.raises(AnnotationError, match=r"Greeting 2.54138969/1.mat: keypoints_2d must "
                                              r"be 32 finite \(x, y\) rows, got shape \(17, 2\)"):
        len(get_dataset("h36m-simplified", split="test", root=root))
    report = check_dataset("h36m-simplified", root, progress=False)
    assert not report.ok
    assert any("1.mat: keypoints_2d must be 32" in p for p in report.problems)
    assert any("missing mask" in p and "Posing 1.55011271/0.png" in p for p in report.problems)
    import shutil
    shutil.rmtree(tree / "S9")
    with pytest.raises(MissingDataError, match=r"missing folder .*S9/Landmarks"):
        len(get_dataset("h36m-simplified", split="fit", root=root))
