"""The LatentKeypointGAN model config (``docs/models.md`` §1): every open choice is a field.

Stored in checkpoints as plain data; ``MODELS["latent-keypoint-gan"](asdict(cfg))`` rebuilds
the generator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

STYLEGAN2_CHANNELS = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32}
"""Channels per level, shared by G and D (StyleGAN2 ``channel_multiplier=1``, docs/models.md §1.7)."""


@dataclass(frozen=True)
class LKGConfig:
    """LatentKeypointGAN architecture.

    Attributes:
        image_size: output side ``R`` in pixels, a power of two in [8, 512]; levels 4, 8, …, R.
        num_keypoints: ``K``, the number of parts (the background part comes on top).
        noise_dim: ``D_noise``, size of each of the three noises and width of the mapping MLPs.
        embed_dim: ``D_embed``, size of part and background embeddings.
        kp_tanh_divisor: keypoints are ``tanh(out / divisor)``; larger keeps them near the centre
            early in training ([GS] 20; 5 and 10 also work).
        tau: heatmap width τ in normalised [-1, 1] units: one float, or one per keypoint.
        heatmap: ``gaussian`` ``exp(-d²/τ)`` (default) or ``linear`` ``max(1 − d/τ, 0)`` ([GS]).
        subnormal_guard: zero heatmap values below 2⁻⁴⁰ (see ``heatmaps.py``); turning it off
            only exists to measure what subnormal floats cost on a CPU.
        cond_mode: ``concat`` (parts on separate channels, default) or ``sum`` ([GS]).
        cond_impl: ``factorised`` (default: convolve heatmaps with contracted kernels, exact) or
            ``literal`` (build the ``(K+1)·D_embed``-channel tensor; the reference).
        spade_hidden: width of SPADE's shared conv.
        g_channels: generator channels per level, from 4 px up to ``R``; empty = StyleGAN2 table.
        d_channels: discriminator channels per level, from 4 px up to ``R``; empty = the table.
        upsample: ``bilinear`` (default) or ``nearest`` ([D37]).
        const_input: the generator's 4×4 start: ``learned`` (a learned 4×4 map, docs/models.md §1.7) or
            ``uniform`` (one learned vector repeated over the 4×4 grid, so the layout has to
            come from the keypoint heatmaps rather than from a learned template).
        d_arch: ``stylegan2`` residual D with minibatch stddev (default) or ``ganseg``.
        mbstd_group: minibatch-stddev group size (the batch must be divisible by
            ``min(group, batch)``).
    """
    image_size: int = 128
    num_keypoints: int = 10
    noise_dim: int = 256
    embed_dim: int = 64
    kp_tanh_divisor: float = 20.0
    tau: float | tuple[float, ...] = 0.01
    heatmap: Literal["gaussian", "linear"] = "gaussian"
    subnormal_guard: bool = True
    cond_mode: Literal["concat", "sum"] = "concat"
    cond_impl: Literal["factorised", "literal"] = "factorised"
    spade_hidden: int = 128
    g_channels: tuple[int, ...] = ()
    d_channels: tuple[int, ...] = ()
    upsample: Literal["bilinear", "nearest"] = "bilinear"
    const_input: Literal["learned", "uniform"] = "learned"
    d_arch: Literal["stylegan2", "ganseg"] = "stylegan2"
    mbstd_group: int = 4

    def __post_init__(self) -> None:
        r = self.image_size
        if r < 8 or r > 512 or r & (r - 1):
            raise ValueError(f"image_size must be a power of two in [8, 512], got {r}")
        if self.num_keypoints < 1:
            raise ValueError(f"num_keypoints must be >= 1, got {self.num_keypoints}")
        for name in ("noise_dim", "embed_dim", "spade_hidden", "mbstd_group"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.kp_tanh_divisor <= 0:
            raise ValueError(f"kp_tanh_divisor must be > 0, got {self.kp_tanh_divisor}")
        taus = self.tau if isinstance(self.tau, tuple) else (self.tau,)
        if isinstance(self.tau, tuple) and len(taus) != self.num_keypoints:
            raise ValueError(f"tau has {len(taus)} values for {self.num_keypoints} keypoints; "
                             "give one float or one per keypoint")
        if any(t <= 0 for t in taus):
            raise ValueError(f"tau must be > 0, got {self.tau}")
        for name in ("g_channels", "d_channels"):
            ch = getattr(self, name)
            if ch and len(ch) != self.num_levels:
                raise ValueError(f"{name} needs one width per level 4..{r} ({self.num_levels} "
                                 f"values), got {len(ch)}")
            if any(c < 1 for c in ch):
                raise ValueError(f"{name} must be positive, got {ch}")

    @property
    def num_levels(self) -> int:
        """Generator levels 4, 8, …, R."""
        return int(math.log2(self.image_size)) - 1

    @property
    def levels(self) -> tuple[int, ...]:
        return tuple(4 * 2 ** i for i in range(self.num_levels))

    def channels(self, which: str) -> dict[int, int]:
        """Level → channels for ``g`` or ``d``."""
        given = self.g_channels if which == "g" else self.d_channels
        return dict(zip(self.levels, given or [STYLEGAN2_CHANNELS[r] for r in self.levels]))

    def taus(self) -> tuple[float, ...]:
        """τ of each keypoint."""
        return self.tau if isinstance(self.tau, tuple) else (float(self.tau),) * self.num_keypoints
