"""The skeleton renderer β against hand-computed distance fields (docs/models.md §2.3)."""
import math

import pytest
import torch

from lkbench.trainers.keypoint_gan.skeleton import (SkeletonRenderer, pixel_centres,
                                                    render_skeleton)

EDGE = torch.tensor([[0, 1]])


def test_pixel_centres_follow_the_project_convention():
    g = pixel_centres(4)
    # pixel (row 1, col 3): x = (2*3+1)/4 - 1 = 0.75, y = (2*1+1)/4 - 1 = -0.25
    assert g[1, 3].tolist() == [0.75, -0.25]
    assert g.shape == (4, 4, 2)


def test_one_segment_matches_the_closed_form_distance_field_at_hand_picked_pixels():
    # Segment between the centres of pixels (row 1, col 1) and (row 1, col 2) of a 4×4 image:
    # (-0.25, -0.25) → (0.25, -0.25). σ = 1, so β = 2·exp(−d) − 1 with d = sqrt(dist² + 1e-6).
    kp = torch.tensor([[[-0.25, -0.25], [0.25, -0.25]]])
    img = render_skeleton(kp, EDGE, 4, sigma=1.0)[0, 0]

    def beta(dist: float) -> float:
        return 2 * math.exp(-math.sqrt(dist ** 2 + 1e-6)) - 1

    cases = {  # (row, col): distance worked out by hand
        (1, 1): 0.0,                  # on the segment (an endpoint)
        (1, 3): 0.5,                  # beyond the right end: distance to (0.25, -0.25)
        (3, 2): 1.0,                  # straight below the segment
        (0, 0): math.sqrt(0.5),       # diagonal to the left end
        (2, 1): 0.5,                  # below the left end
    }
    for (row, col), dist in cases.items():
        assert img[row, col].item() == pytest.approx(beta(dist), abs=1e-6), (row, col)


def test_sigma_scales_the_unsquared_distance_by_one_over_sigma_squared():
    kp = torch.tensor([[[-0.25, -0.25], [0.25, -0.25]]])
    img = render_skeleton(kp, EDGE, 4, sigma=0.2)[0, 0]
    d = math.sqrt(1.0 + 1e-6)                     # pixel (3, 2), one unit below
    assert img[3, 2].item() == pytest.approx(2 * math.exp(-d / 0.04) - 1, abs=1e-7)


def test_several_edges_take_the_pixelwise_maximum_and_undrawn_points_are_ignored():
    kp = torch.tensor([[[-0.6, -0.6], [0.6, -0.5], [0.1, 0.7], [0.9, 0.9]]])
    both = render_skeleton(kp, torch.tensor([[0, 1], [1, 2]]), 16, 0.3)
    first = render_skeleton(kp, torch.tensor([[0, 1]]), 16, 0.3)
    second = render_skeleton(kp, torch.tensor([[1, 2]]), 16, 0.3)
    assert torch.equal(both, torch.maximum(first, second))
    moved = kp.clone()
    moved[0, 3] = torch.tensor([-0.9, 0.2])       # keypoint 3 is on no edge
    assert torch.equal(both, render_skeleton(moved, torch.tensor([[0, 1], [1, 2]]), 16, 0.3))
    assert both.shape == (1, 1, 16, 16) and both.max() <= 1 and both.min() > -1


def test_gradients_reach_the_keypoints_of_drawn_edges_only_and_stay_finite():
    kp = torch.tensor([[[-0.5, 0.0], [0.5, 0.1], [0.2, 0.2], [0.0, 0.0]]], requires_grad=True)
    renderer = SkeletonRenderer(((0, 1), (2, 0)), 16, 0.2)
    img = renderer(kp)
    img[0, 0, 10:, :].sum().backward()            # pixels below the skeleton
    g = kp.grad[0]
    assert torch.isfinite(g).all()
    assert g[:3].abs().sum(-1).gt(0).all()         # 0, 1, 2 are drawn
    assert g[3].abs().sum() == 0                   # 3 is on no edge
    # Moving the skeleton down brightens the rows below it: dL/dy > 0 for the drawn points.
    assert (g[:3, 1] > 0).all()


def test_a_degenerate_edge_renders_a_point_with_finite_gradients():
    kp = torch.tensor([[[0.1, -0.2], [0.1, -0.2]]], requires_grad=True)
    img = render_skeleton(kp, EDGE, 8, 0.2)
    img.sum().backward()
    assert torch.isfinite(kp.grad).all()
    peak = img[0, 0].argmax()
    assert (int(peak) // 8, int(peak) % 8) == (3, 4)   # the pixel whose centre is nearest


def test_a_renderer_without_edges_is_refused():
    with pytest.raises(ValueError, match="at least one edge"):
        SkeletonRenderer((), 8, 0.2)
