"""Random thin-plate-spline warps for image-only datasets (``docs/models.md`` §2.9).

[KG]'s ``TPSRandomSampler``: pad the image by ``R/2`` on each side (replicate), place ``g×g``
control points on [-1,1]² of the padded image, move them by a random affine map (rotation
``N(0, 5°)``, scale ``1 + N(0, 0.05)``, translation ``N(0, 0.05)`` per axis) plus per-point
noise ``0.0005·N(0,1) + 0.005·m·N(0,1)`` with ``m ~ Bernoulli(0.5)``, warp with a TPS
(:func:`tps_warp`, ``grid_sample`` with half-pixel centres) and crop back. All randomness
comes from the caller's generator, so a step's warp is a function of (seed, step). [KG] keeps a cache of 1 000 grids
resampled with probability 0.01; lkbench samples fresh parameters every step [L].
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class TPSParams:
    """Magnitudes of the random warp (defaults: [KG]'s)."""
    grid: int = 10
    rotation_deg: float = 5.0
    scale: float = 0.05
    translation: float = 0.05
    warp_small: float = 0.0005
    warp_large: float = 0.005


def control_grid(g: int, device=None) -> Tensor:
    """``[g·g, 2]`` control points (x, y) evenly on [-1, 1]²."""
    c = torch.linspace(-1, 1, g, device=device)
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], -1)


def random_targets(n: int, params: TPSParams, gen: torch.Generator,
                   device=None) -> tuple[Tensor, Tensor]:
    """Control points ``[n,g·g,2]`` and their randomly moved targets ``[n,g·g,2]``."""
    src = control_grid(params.grid, device).expand(n, -1, -1)

    def normal(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=gen, device=device)

    angle = normal(n) * math.radians(params.rotation_deg)
    scale = 1 + normal(n) * params.scale
    shift = normal(n, 1, 2) * params.translation
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # [n,2,2]
    moved = src @ rot.transpose(1, 2) + shift
    mask = (torch.rand(n, src.shape[1], 1, generator=gen, device=device) < 0.5).float()
    noise = (params.warp_small * normal(n, src.shape[1], 2)
             + params.warp_large * mask * normal(n, src.shape[1], 2))
    return src, moved + noise


def tps_warp(images: Tensor, src: Tensor, dst: Tensor) -> Tensor:
    """Warp ``images`` ``[B,C,R,R]`` so content at control points ``src`` moves to ``dst``
    (both ``[B,N,2]``, coordinates of the padded ``2R`` canvas in [-1, 1]). Zero displacement
    (``dst == src``) returns the images unchanged up to float round-off.

    The backward map ``f`` (output pixel → where to sample the input) is the standard thin-plate
    spline with ``f(dst_i) = src_i``: kernel ``U(r) = r² log r`` centred at the interpolation sites
    ``dst`` plus an affine part (:func:`solve_tps`, the interpolant of scipy's
    ``RBFInterpolator(kernel="thin_plate_spline")``). It is evaluated for the kept ``R×R`` centre
    pixels only (a quarter of the canvas) with one matmul, then ``grid_sample`` (half-pixel
    centres, border padding) reads the replicate-padded image.

    Why not kornia's ``get_tps_transform``/``warp_image_tps`` (used before 2026-12-06): kornia
    centres the kernels at ``src`` but collocates at ``dst``, a non-symmetric system that is
    nearly singular for some draws: at [KG]'s default magnitudes 7.1 % of 4 000 warps moved some
    kept pixel by more than half the padded canvas (the standard spline: at most 0.32 of it,
    median 0.12 for both), with kernel weights up to ~1e5 (kornia PR #2690 reports the same
    erratic warps). It also built a
    ``[B, 4R², N, 2]`` temporary for the full padded canvas (``benchmarks/bench_tps.py``).
    """
    b, _, r, _ = images.shape
    pad = r // 2
    padded = F.pad(images.float(), (pad, pad, pad, pad), mode="replicate")
    kernel_w, affine = solve_tps(dst.float(), src.float())                # [B,N,2], [B,3,2]
    coords = _crop_coords(r, pad, images.device)                          # [P,2], P = R·R
    grid = evaluate_tps(coords.expand(b, -1, -1), dst.float(), kernel_w, affine)
    warped = F.grid_sample(padded, grid.view(b, r, r, 2), mode="bilinear",
                           padding_mode="border", align_corners=False)
    return warped.to(images.dtype)


def _rbf(points: Tensor, centres: Tensor) -> Tensor:
    """Thin-plate kernel ``r² log r = ½·d²·log d²`` (0 at d = 0) between ``points`` ``[...,P,2]``
    and ``centres`` ``[...,N,2]`` → ``[...,P,N]``."""
    d2 = (points[..., :, None, :] - centres[..., None, :, :]).pow(2).sum(-1)
    return torch.where(d2 > 0, 0.5 * d2 * torch.where(d2 > 0, d2, 1).log(), 0)


def solve_tps(sites: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
    """The thin-plate spline ``f`` with ``f(sites_i) = values_i``: kernel weights ``[B,N,2]``
    (centred at ``sites`` ``[B,N,2]``) and affine weights ``[B,3,2]`` (rows: constant, x, y),
    from the symmetric system ``[[K, P], [Pᵀ, 0]]`` (solved in float64, returned in the input's
    dtype)."""
    b, n, _ = sites.shape
    s = sites.double()
    p = torch.cat([torch.ones(b, n, 1, dtype=s.dtype, device=s.device), s], -1)   # [B,N,3]
    top = torch.cat([_rbf(s, s), p], -1)
    bottom = torch.cat([p.transpose(1, 2), torch.zeros(b, 3, 3, dtype=s.dtype, device=s.device)],
                       -1)
    rhs = torch.cat([values.double(), torch.zeros(b, 3, 2, dtype=s.dtype, device=s.device)], 1)
    w = torch.linalg.solve(torch.cat([top, bottom], 1), rhs).to(sites.dtype)
    return w[:, :n], w[:, n:]


def evaluate_tps(points: Tensor, sites: Tensor, kernel_w: Tensor, affine: Tensor) -> Tensor:
    """``f(points)`` ``[B,P,2]`` for the spline of :func:`solve_tps`."""
    return _rbf(points, sites) @ kernel_w + points @ affine[:, 1:] + affine[:, :1]


def _crop_coords(r: int, pad: int, device) -> Tensor:
    """Normalised (x, y) of the centre ``R×R`` pixels of the ``(R+2·pad)²`` canvas, half-pixel
    centres (``align_corners=False``), row-major: ``[R·R, 2]``."""
    side = r + 2 * pad
    c = (2 * torch.arange(pad, pad + r, device=device, dtype=torch.float32) + 1) / side - 1
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], -1)


def random_tps(images: Tensor, gen: torch.Generator, params: TPSParams = TPSParams()) -> Tensor:
    """A random TPS warp of each image (see module docstring); ``[B,C,R,R]`` → same shape."""
    src, dst = random_targets(images.shape[0], params, gen, images.device)
    return tps_warp(images, src, dst)
