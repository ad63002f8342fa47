"""The ``pose`` difficulty's video pairs: same face, a new pose drawn from the law."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from lkbench.data import get_dataset
from lkbench.data.cartoon import PAIR_MODES, REDRAW_SLOTS, face_keypoints
from lkbench.data.synthetic import DIFFICULTIES
from lkbench.keypoints import to_pixels

POSE_FIELDS = {"yaw_cos", "yaw_sin", "roll_cos", "roll_sin", "pitch", "cx", "cy", "scale",
               "smile", "mouth_open"}


def make(split="train", image_size=32, size=2000):
    return get_dataset("synthetic", split=split, image_size=image_size, difficulty="pose",
                       size=size)


def test_pose_is_easy_appearance_with_a_wider_law_and_video_pairs():
    easy, pose = DIFFICULTIES["easy"], DIFFICULTIES["pose"]
    assert (pose.background, pose.hair_prob, pose.pitch) == (easy.background, easy.hair_prob,
                                                             easy.pitch)
    assert pose.yaw_deg > easy.yaw_deg and pose.roll_deg > easy.roll_deg
    assert pose.max_shift > easy.max_shift and pose.head_scale[0] < easy.head_scale[0]
    assert pose.pair_mode == "redraw" and easy.pair_mode == "jitter"
    assert set(PAIR_MODES) == {"jitter", "redraw"}


def test_second_view_keeps_identity_and_redraws_every_pose_field():
    ds = make(size=64)
    p, q = ds.pair_params(range(64))
    for f in dataclasses.fields(p):
        a, b = getattr(p, f.name), getattr(q, f.name)
        if f.name in POSE_FIELDS:
            assert (a != b).float().mean() > 0.9, f.name        # a new draw, almost surely
        else:
            assert torch.equal(a, b), f.name                    # identity, colours, background
    pair = ds.pairs(range(64))
    # The background is fixed in the image: a top corner no head reaches is unchanged.
    corner = (slice(None), slice(None), slice(0, 2), slice(0, 2))
    assert torch.equal(pair.first.images[corner], pair.second.images[corner])
    assert torch.equal(pair.first.images, ds.batch(range(64)).images)


def test_second_view_poses_are_independent_draws_within_the_law():
    """The second views' pose is distributed like the first views' (the style's law), within
    its bounds, and uncorrelated with the first view's pose."""
    ds = make(size=4000)
    style = ds.style
    p, q = ds.pair_params(np.arange(4000))
    for view in (p, q):
        assert view.scale.min() >= style.head_scale[0] and view.scale.max() <= style.head_scale[1]
        assert view.cx.abs().max() <= style.max_shift and view.cy.abs().max() <= style.max_shift
        yaw = torch.atan2(view.yaw_sin, view.yaw_cos).abs().max()
        roll = torch.atan2(view.roll_sin, view.roll_cos).abs().max()
        assert yaw <= math.radians(style.yaw_deg) + 1e-9
        assert roll <= math.radians(style.roll_deg) + 1e-9
        assert view.pitch.abs().max() <= style.pitch
    # same law: means and spreads of the two views agree to a few standard errors (n = 4000)
    for name in ("cx", "cy", "scale", "yaw_sin", "roll_sin", "pitch", "smile"):
        a, b = getattr(p, name), getattr(q, name)
        se = math.sqrt(float(a.var() + b.var()) / 4000)
        assert abs(float(a.mean() - b.mean())) < 4 * se, name
        assert abs(float(a.std() / b.std()) - 1) < 0.06, name
        r = float(torch.corrcoef(torch.stack([a, b]))[0, 1])
        assert abs(r) < 4 / math.sqrt(4000), name               # independent draws
    # the second view is exactly a first view of the law with the pose slots redrawn
    assert len(REDRAW_SLOTS) == PAIR_MODES["redraw"].width


def test_pose_dominates_the_difference_between_frames():
    """Several pixels of landmark motion at 32 px between frames (easy: under one)."""
    ds = make(size=2000)
    p, q = ds.pair_params(np.arange(2000))
    motion = (face_keypoints(p) - face_keypoints(q)).norm(dim=-1) / (2 / 32)
    assert float(motion.mean()) > 3.0 and float((motion < 1).float().mean()) < 0.1


def test_keypoints_follow_the_rendered_face_in_both_frames():
    """At 128 px each eye landmark is the centre of its drawn pupil to under a pixel."""
    size = 128
    pair = make(image_size=size, size=40).pairs(range(40))
    for view in (pair.first, pair.second):
        lum = view.images.mean(1)
        px = to_pixels(view.keypoints, size)
        for i in range(len(lum)):
            for k in (0, 1):
                cx, cy = px[i, k].round().long().tolist()
                h = 4
                win = lum[i, cy - h:cy + h + 1, cx - h:cx + h + 1]
                dark = (win < -0.88).float()          # the pupil (iris and hair are lighter)
                assert dark.sum() >= 1
                ys, xs = torch.meshgrid(torch.arange(cy - h, cy + h + 1.0),
                                        torch.arange(cx - h, cx + h + 1.0), indexing="ij")
                centre = torch.stack([(dark * xs).sum(), (dark * ys).sum()]) / dark.sum()
                assert float((centre - px[i, k]).norm()) < 1.0


def test_fit_and_test_splits_are_far_from_the_mean_shape():
    fit_kp, _ = make("fit", size=2000).landmarks(range(2000))
    test_kp, _ = make("test", size=500).landmarks(range(500))
    iod = (test_kp[:, 0] - test_kp[:, 1]).norm(dim=-1)
    err = ((fit_kp.mean(0) - test_kp).norm(dim=-1).mean(1) / iod).mean() * 100
    assert 55 < float(err) < 70                      # measured 63.2 % of the inter-ocular distance
