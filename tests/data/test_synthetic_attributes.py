"""Attributes and exact counterfactuals of the ``synthetic`` faces (``face_attributes.py``).

That adding attributes and counterfactuals changed no image or keypoint is pinned by the committed
reference content in ``test_synthetic_reference.py``.
"""
from __future__ import annotations

import pytest
import torch

from lkbench.data import get_dataset
from lkbench.data.cartoon import NUM_SLOTS, render_faces
from lkbench.data.face_attributes import FACE_ATTRIBUTES
from lkbench.data.synthetic import VERSION
from lkbench.errors import DataError
from lkbench.keypoints import to_pixels

ATTRIBUTES = ("smiling", "mouth_open", "hair", "dark_hair", "dark_skin")


def make(split="test", size=64, difficulty="easy", n=None):
    return get_dataset("synthetic", split=split, image_size=size, difficulty=difficulty, seed=0,
                       size=n)


def test_names_and_shapes():
    ds = make()
    assert ds.attribute_names == ATTRIBUTES == tuple(FACE_ATTRIBUTES)
    a = ds.attributes(range(7))
    assert a.shape == (7, 5) and a.dtype == torch.bool
    assert ds.attributes([]).shape == (0, 5)
    assert torch.equal(ds.attributes([3, 1]), a[[3, 1]])
    assert ds.attribute_index("hair") == 2
    with pytest.raises(DataError, match="did you mean 'smiling'"):
        ds.attribute_index("smilling")
    with pytest.raises(DataError, match="keypoints only"):
        make("prior").counterfactual([0], "smiling")
    assert make("prior").attributes([0]).shape == (1, 5)   # labels need no images


@pytest.mark.parametrize("difficulty,counts", [
    ("easy", [9916, 9926, 12097, 9852, 9936]),
    ("hard", [9916, 9926, 17041, 9852, 9936]),
])
def test_labels_are_balanced_as_documented(difficulty, counts):
    """Counts on the full 20 000-image train split; expected shares ½ (hair: hair_prob)."""
    ds = make("train", 32, difficulty)
    a = ds.attributes(range(len(ds)))
    assert a.sum(0).tolist() == counts
    share = a.float().mean(0)
    expected = torch.tensor([0.5, 0.5, ds.style.hair_prob, 0.5, 0.5])
    assert (share - expected).abs().max() < 0.01
    # the attributes are drawn independently: no pair is correlated
    corr = torch.corrcoef(a.T.float()) - torch.eye(5)
    assert corr.abs().max() < 0.02


def test_labels_follow_the_face_parameters():
    ds = make("fit", n=400)
    p, a = ds.params(range(400)), ds.attributes(range(400))
    assert torch.equal(a[:, 0], p.smile >= 0.025 - 1e-12)
    assert torch.equal(a[:, 1], p.mouth_open >= 0.015 - 1e-12)
    assert torch.equal(a[:, 2], p.hair == 1)
    # dark hair: palette entries 0-2 (black, dark brown, brown) are all darker than 3-5
    lum = (p.hair_rgb * torch.tensor([0.3, 0.59, 0.11], dtype=p.hair_rgb.dtype)).sum(1)
    assert lum[a[:, 3]].max() < 0.47 and lum[~a[:, 3]].min() > 0.27
    tone_dark = (p.skin.max(1).values[a[:, 4]]).max()
    tone_light = (p.skin.max(1).values[~a[:, 4]]).min()
    assert tone_dark < tone_light + 0.05          # darker half = darker skin (up to warmth)


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_counterfactual_flips_one_label_and_keeps_the_rest(attribute):
    ds = make(n=64)
    col = ds.attribute_index(attribute)
    src, cf = ds.batch(range(24)), ds.counterfactual(range(24), attribute)
    # labels: the counterfactual's labels from its flipped uniforms
    u = ds._uniforms(ds.check_indices(range(24)), 0, NUM_SLOTS)
    flipped_u, cf_params = ds.flip(u, ds.params(range(24)), attribute)
    from lkbench.data.face_attributes import attribute_labels
    before, after = ds.attributes(range(24)), attribute_labels(flipped_u, ds.style)
    assert torch.equal(after[:, col], ~before[:, col])
    others = [c for c in range(5) if c != col]
    assert torch.equal(after[:, others], before[:, others])
    # the rendered counterfactual is exactly the flipped parameters, and keypoints never move
    assert torch.equal(cf.images, render_faces(cf_params, 64, ds.style.background))
    assert torch.equal(cf.keypoints, src.keypoints)
    changed = (cf.images - src.images).abs().amax((1, 2, 3))
    assert (changed > 0.05).all(), "every counterfactual must differ visibly from its source"


@pytest.mark.parametrize("attribute", ["smiling", "mouth_open"])
def test_mouth_attributes_change_only_the_mouth(attribute):
    """Every changed pixel lies near the mouth; the eyes (and everything above the nose tip)
    stay byte-identical."""
    ds = make(n=32)
    src, cf = ds.batch(range(32)), ds.counterfactual(range(32), attribute)
    diff = (cf.images != src.images).any(1)                               # [N,R,R]
    px = to_pixels(src.keypoints, 64)                                     # [N,5,2] (x, y)
    rows = torch.arange(64, dtype=torch.float32)[None, :, None]
    cols = torch.arange(64, dtype=torch.float32)[None, None, :]
    nose_y = px[:, 2, 1][:, None, None]
    assert not (diff & (rows < nose_y)).any(), "a pixel above the nose tip changed"
    left, right = px[:, 3, 0][:, None, None], px[:, 4, 0][:, None, None]
    assert not (diff & ((cols < left - 3) | (cols > right + 3))).any(), \
        "a pixel beside the mouth changed"
    assert diff.flatten(1).any(1).all()


@pytest.mark.parametrize("difficulty", ["easy", "hard"])
@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_flipping_twice_returns_the_source_bytes(difficulty, attribute):
    ds = make("train", 48, difficulty, n=40)
    idx = ds.check_indices(range(40))
    u = ds._uniforms(idx, 0, NUM_SLOTS)
    p0 = ds.params(idx)
    u1, p1 = ds.flip(u, p0, attribute)
    u2, p2 = ds.flip(u1, p1, attribute)
    assert torch.equal(p2.flat(), p0.flat())
    once = render_faces(p1, 48, ds.style.background)
    twice = render_faces(p2, 48, ds.style.background)
    assert twice.numpy().tobytes() == ds.batch(idx).images.numpy().tobytes()
    assert not torch.equal(once, twice)


def test_counterfactual_changes_only_its_own_parameters():
    ds = make(n=16)
    p0 = ds.params(range(16))
    changed = {}
    for attribute in ATTRIBUTES:
        p1 = ds.counterfactual_params(range(16), attribute)
        changed[attribute] = sorted(f for f in p0.__dataclass_fields__
                                    if not torch.equal(getattr(p0, f), getattr(p1, f)))
    assert changed == {"smiling": ["smile"], "mouth_open": ["mouth_open"], "hair": ["hair"],
                       "dark_hair": ["hair_rgb"], "dark_skin": ["lips", "skin"]}
