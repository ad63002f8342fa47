"""The shared LandmarkSet behaviour, exercised through a tiny in-memory dataset."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from lkbench.data import (SPLIT_PRIOR, SPLITS, FramePair, IndexOutOfRange, KeypointMeta,
                          LandmarkBatch, LandmarkSample, LandmarkSet)
from lkbench.errors import DataError

META = KeypointMeta(names=("a", "b", "c"), flip_pairs=((0, 1),), normaliser=("a", "b"),
                    edges=((0, 2),))


class Tiny(LandmarkSet):
    """Image i is filled with value i/10; keypoint (l) of image i is (i/10, l/10); c invisible."""
    name = "tiny"
    meta = META

    def __init__(self, split: str = "fit", n: int = 7):
        super().__init__(split, 8, labelled=True, has_images=split != SPLIT_PRIOR)
        self.n = n

    def __len__(self) -> int:
        return self.n

    def _landmarks(self, indices):
        i = torch.as_tensor(indices, dtype=torch.float32)[:, None].expand(-1, 3)
        kp = torch.stack([i / 10, torch.arange(3.0).expand_as(i) / 10], -1)
        kp[:, 2] = float("nan")
        vis = torch.tensor([True, True, False]).expand(len(indices), 3).clone()
        return kp, vis

    def _batch(self, indices):
        images = torch.as_tensor(indices, dtype=torch.float32)[:, None, None, None] / 10
        return LandmarkBatch(images.expand(-1, 3, 8, 8).clone(), *self._landmarks(indices))


def test_meta():
    assert META.num_landmarks == 3 and META.index("b") == 1
    with pytest.raises(DataError, match="did you mean 'a'"):
        META.index("aa")
    with pytest.raises(DataError, match="unique"):
        KeypointMeta(names=("a", "a"))
    with pytest.raises(DataError, match="out of range"):
        KeypointMeta(names=("a", "b"), flip_pairs=((0, 2),))
    with pytest.raises(DataError, match="normaliser"):
        KeypointMeta(names=("a", "b"), normaliser=("a", "z"))


def test_batch_getitem_and_indices():
    ds = Tiny()
    assert ds.num_landmarks == 3 and ds.landmark_names == ("a", "b", "c")
    images, kp, vis = ds.batch([3, -1, np.int64(0)])
    assert images.shape == (3, 3, 8, 8) and kp.shape == (3, 3, 2) and vis.shape == (3, 3)
    assert images[:, 0, 0, 0].tolist() == pytest.approx([0.3, 0.6, 0.0])
    for idx in (range(2, 5), slice(2, 5), torch.tensor([2, 3, 4]), np.array([2, 3, 4])):
        assert torch.equal(ds.batch(idx).images, ds.batch([2, 3, 4]).images)
    sample = ds[-2]
    assert isinstance(sample, LandmarkSample) and sample.image.shape == (3, 8, 8)
    assert torch.equal(sample.keypoints[:2], ds.batch([5]).keypoints[0, :2])
    assert len(list(ds)) == len(ds) == 7


def test_empty_batch_shapes():
    ds = Tiny()
    images, kp, vis = ds.batch([])
    assert images.shape == (0, 3, 8, 8) and kp.shape == (0, 3, 2) and vis.dtype == torch.bool
    kp, vis = ds.landmarks(np.zeros(0, dtype=np.int64))
    assert kp.shape == (0, 3, 2)


@pytest.mark.parametrize("bad", [7, -8, [0, 9]])
def test_out_of_range_is_data_and_index_error(bad):
    ds = Tiny()
    with pytest.raises(IndexOutOfRange, match="out of range for 7 samples") as info:
        ds.batch(bad)
    assert isinstance(info.value, IndexError) and isinstance(info.value, DataError)


@pytest.mark.parametrize("bad", [[0.5], [True, False], np.zeros((2, 2), dtype=int), ["1"]])
def test_non_integer_indices(bad):
    with pytest.raises(DataError, match="indices must be integers"):
        Tiny().batch(bad)


def test_getitem_rejects_non_int():
    with pytest.raises(DataError, match="takes one int"):
        Tiny()[[1, 2]]


def test_unknown_split_suggests():
    with pytest.raises(DataError, match="unknown split 'tset'; did you mean 'test'"):
        Tiny("tset")
    assert set(SPLITS) == {"train", "fit", "test", "prior"}


def test_keypoint_only_split():
    ds = Tiny(SPLIT_PRIOR)
    assert not ds.has_images
    kp, vis = ds.landmarks([1, 2])
    assert kp.shape == (2, 3, 2)
    for call in (lambda: ds.batch([0]), lambda: ds[0], lambda: ds.pairs([0])):
        with pytest.raises(DataError, match="keypoints only"):
            call()


def test_pairs_unsupported_by_default():
    with pytest.raises(DataError, match="has no frame pairs"):
        Tiny().pairs([0])
    empty = Tiny().pairs([])
    assert isinstance(empty, FramePair) and empty.first.images.shape[0] == 0


def test_dataloader_collates_samples():
    batch = next(iter(DataLoader(Tiny(), batch_size=4)))
    assert isinstance(batch, LandmarkSample)
    assert batch.image.shape == (4, 3, 8, 8) and batch.visible.shape == (4, 3)


def test_shuffled_passes_visit_every_index_once_per_pass_in_a_fresh_order():
    import torch

    from lkbench.data.base import shuffled_passes

    batches = list(shuffled_passes(5, 12, 2, torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [2, 2, 1, 2, 2, 1, 2]     # no batch spans two passes
    flat = torch.cat(batches).tolist()
    assert sorted(flat[:5]) == sorted(flat[5:10]) == list(range(5))
    assert flat[:5] != flat[5:10]                                 # each pass reshuffled
    again = torch.cat(list(shuffled_passes(5, 12, 2, torch.Generator().manual_seed(0)))).tolist()
    assert again == flat
