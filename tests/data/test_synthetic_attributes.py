"""Attributes and exact counterfactuals of the ``synthetic`` faces (``face_attributes.py``).

The first test pins the bytes of every split as they were *before* attributes existed: adding
attributes and counterfactuals must not change one image or keypoint (the dataset version stays).
"""
from __future__ import annotations

import hashlib

import pytest
import torch

from lkbench.data import get_dataset
from lkbench.data.cartoon import NUM_SLOTS, render_faces
from lkbench.data.face_attributes import FACE_ATTRIBUTES
from lkbench.data.synthetic import VERSION
from lkbench.errors import DataError
from lkbench.keypoints import to_pixels

# sha256 of images + keypoints (+ the second view of 8 frame pairs) of the first 48 samples,
# recorded from the code before attributes were added (git 3c17466).
BYTES_BEFORE_ATTRIBUTES = {
    "easy/train/32": "b524d92c55c1f857c86e45e8f6b137931c0286b6a2607a51d011c6a8a6ab7c2c",
    "easy/train/64": "2e58fd6d70bb7b8a5d455a51a3eb8ef06ac333716dbc0b395cd990121ef228ef",
    "easy/fit/32": "683c7ea187367a6beb72a58cdac462cc408e40f07ab9c8bed72df668487877d7",
    "easy/fit/64": "d458705e6258101d071e82fc5c9275eb98bb6f5af1053211690f65063d3e90b3",
    "easy/test/32": "e91c2ce146cc68862a1323c72ea0a21d6b3519c4ed76281684134a4691754063",
    "easy/test/64": "197741bdd2adfe44591bcd1161013b1e0a2d0bb628419391f1b241232c56bf26",
    "easy/prior/32": "d64790a30e5e4c94432c67d3d7c4626a93bdc5da56f4f94cb91442e6b1f7ee1c",
    "easy/prior/64": "d64790a30e5e4c94432c67d3d7c4626a93bdc5da56f4f94cb91442e6b1f7ee1c",
    "hard/train/32": "1704d8057a0a29ba9ccefa9862b5bf557ee1a4b19aeefdd3274b21c2c1913d2e",
    "hard/train/64": "c3c588d4e5d528a0c61f9e426bccee688d480c85a6b13b6e729d428b088f6f66",
    "hard/fit/32": "caee4d709b8266448bb9b19c02e4ab35f8654b3c8974bce020496264b3014aa9",
    "hard/fit/64": "cba791c9b401cdf11984758a2727476f795464c2227bc78c5941fffd1da53760",
    "hard/test/32": "1f24ef5b845ec0315ef80d8acea90013975d7e869335048b970811a1ff848fd2",
    "hard/test/64": "ca0c56186fef941b1475cf094d16ec51dfb62bddb2845c8eb4495aab7721d6a5",
    "hard/prior/32": "7491c254c57bb68441c6816111686aa431f0f331b4aa478770d682f00cd27ef4",
    "hard/prior/64": "7491c254c57bb68441c6816111686aa431f0f331b4aa478770d682f00cd27ef4",
}
ATTRIBUTES = ("smiling", "mouth_open", "hair", "dark_hair", "dark_skin")


def make(split="test", size=64, difficulty="easy", n=None):
    return get_dataset("synthetic", split=split, image_size=size, difficulty=difficulty, seed=0,
                       size=n)


@pytest.mark.parametrize("key", sorted(BYTES_BEFORE_ATTRIBUTES))
def test_existing_samples_are_byte_identical(key):
    difficulty, split, size = key.split("/")
    ds = make(split, int(size), difficulty, n=48)
    h = hashlib.sha256()
    if split == "prior":
        h.update(ds.landmarks(range(48))[0].numpy().tobytes())
    else:
        b = ds.batch(range(48))
        h.update(b.images.numpy().tobytes())
        h.update(b.keypoints.numpy().tobytes())
        second = ds.pairs(range(8)).second
        h.update(second.images.numpy().tobytes())
        h.update(second.keypoints.numpy().tobytes())
    assert h.hexdigest() == BYTES_BEFORE_ATTRIBUTES[key]
    assert VERSION == "1"


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
