"""The skeleton renderer β: keypoints → skeleton image (``docs/models.md`` §2.3).

For edges ``E`` (keypoint index pairs) and keypoints ``p`` (x, y) in [-1, 1], at the centre
``u`` of every pixel of the ``R×R`` grid (pixel i's centre at ``(2i + 1)/R − 1``, the project
convention of :mod:`lkbench.keypoints`)::

    t_e(u) = clamp(⟨u − p_a, p_b − p_a⟩ / max(‖p_b − p_a‖², 1e-6), 0, 1)    e = (a, b)
    d_e(u) = sqrt(‖u − (p_a + t_e(u)·(p_b − p_a))‖² + 1e-6)                 distance to segment
    β(p)(u) = 2 · max_e exp(−d_e(u) / σ²) − 1                               in (−1, 1]

Distances are in normalised units (the image spans 2), so σ = 0.2 gives a fall-off of
``exp(−25·d)``. Differentiable in ``p`` everywhere (the ``1e-6`` guards keep the square root and
the division smooth for degenerate edges). Keypoints on no edge are not drawn.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def pixel_centres(size: int, device=None, dtype=torch.float32) -> Tensor:
    """Grid ``[R,R,2]`` of pixel-centre coordinates (x, y) in [-1, 1]: ``G[i, j] = (c_j, c_i)``."""
    c = (2 * torch.arange(size, device=device, dtype=dtype) + 1) / size - 1
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xx, yy], dim=-1)


def segment_distance(points: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Distance from each of ``points`` ``[P,2]`` to the segments ``a→b`` ``[B,E,2]``: ``[B,E,P]``.

    Uses the guarded form of the module docstring (``sqrt(d² + 1e-6)``, so it is ≥ 1e-3).
    """
    ab = b - a                                                    # [B,E,2]
    ap = points[None, None] - a[:, :, None]                       # [B,E,P,2]
    denom = ab.pow(2).sum(-1).clamp_min(1e-6)[..., None]          # [B,E,1]
    t = ((ap * ab[:, :, None]).sum(-1) / denom).clamp(0, 1)       # [B,E,P]
    closest = a[:, :, None] + t[..., None] * ab[:, :, None]       # [B,E,P,2]
    return ((points[None, None] - closest).pow(2).sum(-1) + 1e-6).sqrt()


def render_skeleton(keypoints: Tensor, edges: Tensor, size: int, sigma: float) -> Tensor:
    """β: keypoints ``[B,K,2]`` (x, y) in [-1,1] → skeleton images ``[B,1,R,R]`` in (−1, 1].

    Args:
        keypoints: float ``[B,K,2]``.
        edges: long ``[E,2]`` keypoint index pairs (E ≥ 1).
        size: output side ``R`` in pixels.
        sigma: fall-off σ (normalised units).
    """
    if edges.numel() == 0:
        raise ValueError("render_skeleton needs at least one edge")
    bsz = keypoints.shape[0]
    grid = pixel_centres(size, keypoints.device, keypoints.dtype).reshape(-1, 2)
    a, b = keypoints[:, edges[:, 0]], keypoints[:, edges[:, 1]]   # [B,E,2]
    d = segment_distance(grid, a, b)                              # [B,E,R·R]
    image = torch.exp(-d / sigma ** 2).amax(dim=1)                # [B,R·R]
    return (2 * image - 1).reshape(bsz, 1, size, size)


class SkeletonRenderer(nn.Module):
    """β as a module: holds the edge list (a buffer, so it travels with checkpoints).

    Args:
        edges: keypoint index pairs.
        size: output side ``R``.
        sigma: fall-off σ.
    """

    def __init__(self, edges: "tuple[tuple[int, int], ...]", size: int, sigma: float):
        super().__init__()
        if not edges:
            raise ValueError("the skeleton renderer needs at least one edge; set model.edges "
                             "or train on a dataset whose meta lists skeleton edges")
        self.register_buffer("edges", torch.tensor(edges, dtype=torch.long).reshape(-1, 2))
        self.size, self.sigma = int(size), float(sigma)

    def forward(self, keypoints: Tensor) -> Tensor:
        """``[B,K,2]`` → ``[B,1,R,R]``."""
        return render_skeleton(keypoints.float(), self.edges, self.size, self.sigma)
