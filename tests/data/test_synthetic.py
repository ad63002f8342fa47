"""The built-in ``synthetic`` dataset: determinism, splits, landmark geometry, errors, pairs."""
from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lkbench.data import DATASETS, DIFFICULTIES, IndexOutOfRange, SyntheticFaces, get_dataset
from lkbench.data.cartoon import render_faces
from lkbench.data.synthetic import VERSION, counter_uniforms
from lkbench.errors import DataError, UnknownNameError
from lkbench.keypoints import from_pixels, to_pixels


def make(split="fit", image_size=64, difficulty="easy", seed=0, size=None) -> SyntheticFaces:
    return get_dataset("synthetic", split=split, image_size=image_size, difficulty=difficulty,
                       seed=seed, size=size)


# -- registry, shapes, metadata -----------------------------------------------------------------
def test_registered_and_built_by_name():
    assert "synthetic" in DATASETS
    ds = get_dataset("synthetic")
    assert isinstance(ds, SyntheticFaces)
    assert (ds.split, ds.image_size, len(ds), ds.labelled) == ("train", 64, 20_000, False)
    assert ds.landmark_names == ("left_eye", "right_eye", "nose", "left_mouth", "right_mouth")
    assert ds.meta.normaliser == ("left_eye", "right_eye")
    with pytest.raises(UnknownNameError, match="did you mean 'synthetic'"):
        get_dataset("synthetc")
    with pytest.raises(DataError, match="does not take resolution; it accepts: split, image_size"):
        get_dataset("synthetic", resolution=64)


def test_splits_sizes_and_flags():
    sizes = {s: len(make(s)) for s in ("train", "fit", "test", "prior")}
    assert sizes == {"train": 20_000, "fit": 2_000, "test": 500, "prior": 5_000}
    assert len(make("test", size=7)) == 7
    assert make("fit").labelled and make("test").labelled and not make("train").labelled
    assert not make("prior").has_images and make("train").has_images


@pytest.mark.parametrize("difficulty", sorted(DIFFICULTIES))
def test_shapes_dtypes_ranges(difficulty):
    ds = make(difficulty=difficulty, image_size=48)
    images, kp, vis = ds.batch(range(6))
    assert images.shape == (6, 3, 48, 48) and images.dtype == torch.float32
    assert kp.shape == (6, 5, 2) and kp.dtype == torch.float32
    assert vis.shape == (6, 5) and vis.dtype == torch.bool and vis.all()
    assert images.min() >= -1 and images.max() <= 1 and images.std() > 0.2
    sample = ds[5]
    assert torch.equal(sample.image, images[5]) and torch.equal(sample.keypoints, kp[5])
    kp_only, _ = make("prior", difficulty=difficulty).landmarks(range(6))
    assert kp_only.shape == (6, 5, 2)


# -- determinism ---------------------------------------------------------------------------------
@pytest.mark.parametrize("difficulty,size", [("easy", 37), ("hard", 64)])
def test_same_seed_same_bytes_under_any_batching(difficulty, size):
    ds = make("train", size, difficulty, seed=3)
    ref = ds.batch(range(24))
    again = make("train", size, difficulty, seed=3)
    perm = np.random.default_rng(0).permutation(24)
    images = torch.empty_like(ref.images)
    for part in np.array_split(perm, 5):                  # shuffled, unequal batches
        images[part] = again.batch(part).images
    assert images.numpy().tobytes() == ref.images.numpy().tobytes()
    assert torch.equal(again[17].image, ref.images[17])
    assert torch.equal(again.batch([5, 5, 5]).images[2], ref.images[5])
    assert torch.equal(again.landmarks(perm)[0], ref.keypoints[perm])


def test_different_seed_differs():
    a, b = make(seed=0).batch(range(8)), make(seed=1).batch(range(8))
    assert not torch.equal(a.keypoints, b.keypoints)
    assert (a.images - b.images).abs().flatten(1).mean(1).min() > 0.05


def _digests(images: torch.Tensor) -> set[bytes]:
    return {hashlib.sha256(im.numpy().tobytes()).digest() for im in images}


def test_splits_are_disjoint():
    n = 300
    params = {s: make(s).params(range(n)).flat() for s in ("train", "fit", "test", "prior")}
    rows = torch.cat(list(params.values()))
    assert torch.unique(rows, dim=0).shape[0] == 4 * n, "a face occurs twice across splits"
    digests = [_digests(make(s, image_size=32).batch(range(200)).images)
               for s in ("train", "fit", "test")]
    assert sum(len(d) for d in digests) == len(set.union(*digests)) == 600


# -- landmark geometry ----------------------------------------------------------------------------
@pytest.mark.parametrize("difficulty", sorted(DIFFICULTIES))
def test_keypoints_inside_image_and_in_mafl_order(difficulty):
    kp, _ = make("test", difficulty=difficulty).landmarks(range(500))
    assert kp.abs().max() < 0.95
    le, re, nose, lm, rm = kp.unbind(1)
    # left = image-left: holds for every face here since |roll| <= 35 deg and |yaw| <= 30 deg.
    assert (le[:, 0] < re[:, 0]).all() and (lm[:, 0] < rm[:, 0]).all()
    # In the face's own frame (axis along the eyes, "down" perpendicular to it):
    # eyes above nose above mouth; nose horizontally between the eyes.
    across = F.normalize(re - le, dim=1)
    down = torch.stack([-across[:, 1], across[:, 0]], 1)
    eyes, mouth = (le + re) / 2, (lm + rm) / 2
    assert (((nose - eyes) * down).sum(1) > 0).all()
    assert (((mouth - nose) * down).sum(1) > 0).all()
    t = ((nose - le) * across).sum(1) / (re - le).norm(dim=1)
    assert ((t > 0) & (t < 1)).all()
    if difficulty == "easy":   # near-frontal, nearly upright
        assert (le[:, 1] < nose[:, 1]).all() and (nose[:, 1] < lm[:, 1]).all()


def _darkest_offset(images, kp, k, half_w, half_h):
    """Distance (px) from keypoint k to the darkest pixel in a window around it, per image."""
    size = images.shape[-1]
    lum = images.mean(1)
    px = to_pixels(kp[:, k], size)
    out = []
    for i in range(len(images)):
        cx, cy = px[i].round().long().tolist()
        win = lum[i, cy - half_h:cy + half_h + 1, cx - half_w:cx + half_w + 1]
        j = int(win.argmin())
        y, x = cy - half_h + j // win.shape[1], cx - half_w + j % win.shape[1]
        out.append(float(torch.hypot(x - px[i, 0], y - px[i, 1])))
    return np.array(out)


def test_eye_and_nose_keypoints_sit_on_drawn_features():
    images, kp, _ = make("test", 64, "easy").batch(range(100))
    # Eye: the black pupil is the darkest pixel of a 5x3 window (brows and lids lie outside it).
    for k in (0, 1):
        assert _darkest_offset(images, kp, k, 2, 1).max() <= 1.0
    # Nose tip: the nostrils just below it are the darkest pixels nearby.
    assert _darkest_offset(images, kp, 2, 2, 2).max() <= 2.0
    hard_images, hard_kp, _ = make("test", 128, "hard").batch(range(60))
    for k in (0, 1):
        assert _darkest_offset(hard_images, hard_kp, k, 3, 2).max() <= 1.5


def _colour_at(image, points_px, size):
    grid = from_pixels(points_px, size).view(1, 1, -1, 2)
    return F.grid_sample(image[None], grid, align_corners=False)[0, :, 0].T


def test_mouth_keypoints_are_the_lip_corners():
    """1.5 px beyond a corner is still skin; 2 px inside it the lips begin."""
    size = 64
    images, kp, _ = make("test", size, "easy").batch(range(100))
    px = to_pixels(kp, size)
    for i in range(len(images)):
        for corner, other in ((px[i, 3], px[i, 4]), (px[i, 4], px[i, 3])):
            out = F.normalize(corner - other, dim=0)
            normal = torch.stack([-out[1], out[0]])
            skin = _colour_at(images[i], (corner + 3 * out)[None], size)
            beyond = _colour_at(images[i], (corner + 1.5 * out)[None], size)
            inside = _colour_at(images[i], torch.stack(
                [corner - 2 * out + s * normal for s in torch.linspace(-3, 3, 13)]), size)
            assert (beyond - skin).abs().max() < 0.06
            assert (inside - skin).abs().max() > 0.16


def test_keypoints_and_content_do_not_depend_on_image_size():
    kps = [make(image_size=r).batch(range(8)).keypoints for r in (32, 64, 128)]
    assert torch.equal(kps[0], kps[1]) and torch.equal(kps[1], kps[2])
    big = make(image_size=128).batch(range(8)).images
    small = make(image_size=64).batch(range(8)).images
    assert (F.avg_pool2d(big, 2) - small).abs().flatten(1).mean(1).max() < 0.01


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,message", [
    ({"image_size": 31}, "image_size must be in \\[32, 256\\], got 31"),
    ({"image_size": 257}, "image_size must be in \\[32, 256\\]"),
    ({"image_size": 64.0}, "image_size must be an integer"),
    ({"image_size": True}, "image_size must be an integer"),
    ({"difficulty": "hrad"}, "unknown difficulty 'hrad'; did you mean 'hard'"),
    ({"split": "val"}, "unknown split 'val'.*available: fit, prior, test, train"),
    ({"seed": -1}, "seed must be in"),
    ({"seed": 2**63}, "seed must be in"),
    ({"size": 0}, "size must be in"),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises(DataError, match=message):
        make(**kwargs)


def test_invalid_indices_and_prior_images():
    ds = make("test", size=10)
    with pytest.raises(IndexOutOfRange, match="index 10 is out of range for 10 samples"):
        ds.batch([0, 10])
    with pytest.raises(IndexError):
        ds[-11]
    with pytest.raises(DataError, match="integers"):
        ds.batch([1.5])
    with pytest.raises(DataError, match="keypoints only; use .landmarks"):
        make("prior").batch([0])


# -- frame pairs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("difficulty", sorted(d for d, s in DIFFICULTIES.items()
                                        if s.pair_mode == "jitter"))
def test_pairs_same_identity_small_pose_change(difficulty):
    ds = make("train", difficulty=difficulty)
    idx = list(range(40))
    first, second = ds.pairs(idx)
    assert torch.equal(first.images, ds.batch(idx).images)
    assert torch.equal(first.keypoints, ds.batch(idx).keypoints)
    assert second.images.shape == first.images.shape
    move = (second.keypoints - first.keypoints).norm(dim=-1)
    assert move.max() < 0.2 and move.mean(1).min() > 1e-3
    p, q = ds.pair_params(idx)
    pose = {"yaw_cos", "yaw_sin", "roll_cos", "roll_sin", "pitch", "cx", "cy", "scale", "smile"}
    for f in dataclasses.fields(p):
        same = torch.equal(getattr(p, f.name), getattr(q, f.name))
        assert same != (f.name in pose), f.name
    # The background is fixed in the image: the top corners (never covered by a face) are equal.
    corners = (slice(None), slice(None), slice(0, 3), slice(0, 3))
    assert torch.equal(first.images[corners], second.images[corners])
    assert torch.equal(ds.pairs(idx[::-1]).second.images, second.images.flip(0))


# -- renderer internals --------------------------------------------------------------------------
@pytest.mark.parametrize("difficulty,size", [("easy", 48), ("hard", 256)])
def test_feature_window_changes_no_pixel(difficulty, size):
    """Features are drawn only in a window around the face; outside it they must cover nothing."""
    ds = make("train", size, difficulty)
    for params in ds.pair_params(range(12)):
        fast = render_faces(params, size, ds.style.background)
        full = render_faces(params, size, ds.style.background, windowed=False)
        assert torch.equal(fast, full)


def test_known_answer_of_version_2():
    """Pins the generator and the face geometry: if this fails, the dataset changed — bump
    ``lkbench.data.synthetic.VERSION`` and update these numbers (version 2 quantised the images
    to uint8 levels; its keypoints are version 1's)."""
    assert VERSION == "2"
    u = counter_uniforms((0, 2, 0), np.array([0, 1]), 3)
    assert u.tolist() == [[0.7678143551554737, 0.30776302626567487, 0.2210101803251161],
                          [0.6911811711288548, 0.9594269350576065, 0.7804030957345551]]
    kp, _ = make("test").landmarks([0])
    expected = [[-0.243083, -0.110412], [0.157943, -0.115561], [-0.048473, 0.134557],
                [-0.175670, 0.285865], [0.101762, 0.282303]]
    assert torch.allclose(kp[0], torch.tensor(expected), rtol=0, atol=2e-6)
    assert make("test").config.to_dict() == {"name": "synthetic", "version": "2", "split": "test",
                                             "image_size": 64, "difficulty": "easy", "seed": 0,
                                             "size": 500}
