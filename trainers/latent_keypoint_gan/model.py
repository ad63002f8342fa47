"""LatentKeypointGAN generator and discriminator (``docs/models.md`` §1.2–1.8, §1.12).

Shapes (``B`` batch, ``K`` keypoints, ``D`` = ``embed_dim``, ``R`` = ``image_size``)::

    z_pose, z_app, z_bg  [B, noise_dim]  ──map──▶  Latents(keypoints [B,K,2], part_embeddings
                                                  [B,K,D], background [B,D], active [B,K], tau [B,K])
    Latents ──render──▶ heatmaps [B,K+1,r,r] at r = 4 … R ──SPADE blocks──▶ images [B,3,R,R]

``G(z) == G.render(G.map(z))`` holds bit for bit (``forward`` is literally that), so every edit
is a pure function of :class:`~lkbench.models.Latents` (``editing.py``).
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lkbench.config import from_dict
from lkbench.errors import DataError
from lkbench.models import Generated, Latents

from . import editing
from .conditioning import Conditioning, ConditionedConv
from .config import LKGConfig
from .heatmaps import background_heatmap, part_heatmaps

MODEL_NAME = "latent-keypoint-gan"


def _mlp(width: int, out: int, hidden_layers: int) -> nn.Sequential:
    """``hidden_layers`` × (Linear + LReLU 0.2), then Linear → ``out``; kaiming(a=0.2), zero bias.

    Each layer is its own module (GANSeg's ``[layer] * n`` shares one, docs/models.md §1.14).
    """
    layers: list[nn.Module] = []
    for _ in range(hidden_layers):
        layers += [nn.Linear(width, width), nn.LeakyReLU(0.2)]
    layers.append(nn.Linear(width, out))
    for m in layers:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, a=0.2)
            nn.init.zeros_(m.bias)
    return nn.Sequential(*layers)


class SPADE(nn.Module):
    """``BN(x)·(1 + γ(F)) + β(F)`` with ``a = LReLU(Conv3x3(F))`` and γ, β = Conv3x3(a).

    γ and β are one conv with ``2C`` outputs (same parameters as two convs, one kernel launch).
    """

    def __init__(self, channels: int, cfg: LKGConfig):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.shared = ConditionedConv(cfg.num_keypoints + 1, cfg.embed_dim, cfg.spade_hidden,
                                      cfg.cond_mode, cfg.cond_impl)
        self.gamma_beta = nn.Conv2d(cfg.spade_hidden, 2 * channels, 3, padding=1)

    def forward(self, x: Tensor, cond: Conditioning) -> Tensor:
        a = F.leaky_relu(self.shared(cond), 0.2)
        gamma, beta = self.gamma_beta(a).chunk(2, dim=1)
        return self.norm(x) * (1 + gamma) + beta


class SPADEResBlock(nn.Module):
    """SPADE residual block ``C_in → C_out`` (docs/models.md §1.6), learned 1×1 shortcut when they differ."""

    def __init__(self, c_in: int, c_out: int, cfg: LKGConfig):
        super().__init__()
        c_mid = min(c_in, c_out)
        self.norm0, self.conv0 = SPADE(c_in, cfg), nn.Conv2d(c_in, c_mid, 3, padding=1)
        self.norm1, self.conv1 = SPADE(c_mid, cfg), nn.Conv2d(c_mid, c_out, 3, padding=1)
        self.learned_skip = c_in != c_out
        if self.learned_skip:
            self.norm_s = SPADE(c_in, cfg)
            self.conv_s = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: Tensor, cond: Conditioning) -> Tensor:
        h = self.conv0(F.leaky_relu(self.norm0(x, cond), 0.2))
        h = self.conv1(F.leaky_relu(self.norm1(h, cond), 0.2))
        s = self.conv_s(self.norm_s(x, cond)) if self.learned_skip else x
        return h + s


class LatentKeypointGenerator(editing.LatentEdits, nn.Module):
    """The LatentKeypointGAN generator; implements :class:`lkbench.models.EditableGenerator`
    (a :class:`~lkbench.models.KeypointGenerator` with the protocols' latent edits).

    Args:
        cfg: an :class:`LKGConfig` (or the dict of one, as checkpoints store it).
    """

    def __init__(self, cfg: "LKGConfig | dict[str, Any]"):
        super().__init__()
        cfg = cfg if isinstance(cfg, LKGConfig) else from_dict(LKGConfig, dict(cfg))
        self.cfg = cfg
        self.num_keypoints, self.image_size = cfg.num_keypoints, cfg.image_size
        k, d, z = cfg.num_keypoints, cfg.embed_dim, cfg.noise_dim
        self.kp_mlp = _mlp(z, 2 * k, 4)
        self.app_mlp = _mlp(z, d, 3)
        self.bg_mlp = _mlp(z, d, 3)
        self.w_const = nn.Parameter(torch.randn(k, d))
        ch = cfg.channels("g")
        levels = cfg.levels
        side = 4 if cfg.const_input == "learned" else 1
        self.const = nn.Parameter(torch.randn(1, ch[4], side, side))
        self.blocks = nn.ModuleList(
            SPADEResBlock(ch[levels[max(i - 1, 0)]], ch[r], cfg) for i, r in enumerate(levels))
        self.to_rgb = nn.ModuleList(nn.Conv2d(ch[r], 3, 1) for r in levels)
        self.register_buffer("tau", torch.tensor(cfg.taus(), dtype=torch.float32),
                             persistent=False)

    # -- latents ------------------------------------------------------------------------
    def sample_noise(self, n: int, gen: "torch.Generator | None" = None) -> tuple[Tensor, ...]:
        """The three noises ``z_pose, z_app, z_bg``, each ``[n, noise_dim]`` ~ N(0, I)."""
        device = self.const.device
        return tuple(torch.randn(n, self.cfg.noise_dim, generator=gen, device=device)
                     for _ in range(3))

    def map(self, z_pose: Tensor, z_app: Tensor, z_bg: Tensor) -> Latents:
        """Noises → keypoints (tanh with divisor), part embeddings ``w_global ⊙ w_const``,
        background embedding; all parts active, τ from the config."""
        b, k = z_pose.shape[0], self.num_keypoints
        kp = torch.tanh(self.kp_mlp(z_pose) / self.cfg.kp_tanh_divisor).view(b, k, 2)
        w_global = self.app_mlp(z_app)
        return Latents(keypoints=kp,
                       part_embeddings=w_global.unsqueeze(1) * self.w_const.unsqueeze(0),
                       background=self.bg_mlp(z_bg),
                       active=torch.ones(b, k, dtype=torch.bool, device=kp.device),
                       tau=self.tau.expand(b, k).clone())

    def sample_latents(self, n: int, gen: "torch.Generator | None" = None) -> Latents:
        """``map`` of fresh noise drawn from ``gen`` (on the model's device)."""
        return self.map(*self.sample_noise(n, gen))

    # -- rendering ----------------------------------------------------------------------
    def conditioning(self, lat: Latents, size: int) -> Conditioning:
        """Heatmaps ⊗ embeddings at one level, background last (docs/models.md §1.4–1.5, §1.12)."""
        k0 = self.num_keypoints
        b, k = lat.keypoints.shape[:2]
        slots = (torch.arange(k, device=lat.keypoints.device) if lat.slots is None
                 else lat.slots.to(lat.keypoints.device))
        tau = self.tau[slots].expand(b, k) if lat.tau is None else lat.tau
        parts = part_heatmaps(lat.keypoints, tau, size, kind=self.cfg.heatmap,
                              guard=self.cfg.subnormal_guard)
        active = lat.active.to(parts.device)
        parts = parts * active[:, :, None, None].to(parts.dtype)
        heat = torch.cat([parts, background_heatmap(parts, active)], dim=1)
        emb = torch.cat([lat.part_embeddings, lat.background.unsqueeze(1)], dim=1)
        slots = torch.cat([slots, slots.new_tensor([k0])])
        return Conditioning(heat, emb, slots, k0 + 1, self.cfg.cond_mode)

    def render(self, latents: Latents) -> Generated:
        """Images ``[B,3,R,R]`` in (-1, 1) from ``latents``, and the keypoints they were drawn at."""
        self._check_latents(latents)
        b = latents.keypoints.shape[0]
        mode = self.cfg.upsample
        align = False if mode == "bilinear" else None
        x = self.const.expand(b, -1, 4, 4)
        rgb = None
        for i, (r, block, to_rgb) in enumerate(zip(self.cfg.levels, self.blocks, self.to_rgb)):
            if i:
                x = F.interpolate(x, scale_factor=2, mode=mode, align_corners=align)
            x = block(x, self.conditioning(latents, r))
            y = to_rgb(x)
            rgb = y if rgb is None else F.interpolate(rgb, scale_factor=2, mode=mode,
                                                      align_corners=align) + y
        return Generated(images=torch.tanh(rgb), keypoints=latents.keypoints)

    def forward(self, z_pose: Tensor, z_app: Tensor, z_bg: Tensor) -> Tensor:
        """``render(map(z)).images``."""
        return self.render(self.map(z_pose, z_app, z_bg)).images

    def _check_latents(self, lat: Latents) -> None:
        b, k = lat.keypoints.shape[:2]
        d = self.cfg.embed_dim
        expected = {"keypoints": (b, k, 2), "part_embeddings": (b, k, d), "background": (b, d),
                    "active": (b, k)}
        if lat.tau is not None:
            expected["tau"] = (b, k)
        if lat.slots is not None:
            expected["slots"] = (k,)
        for name, shape in expected.items():
            got = tuple(getattr(lat, name).shape)
            if got != shape:
                raise DataError(f"latents.{name} has shape {got}, expected {shape} "
                                f"(N={b}, K={k}, embed_dim={d}); build latents with "
                                "G.sample_latents or G.map and edit them with editing.py")
        if lat.slots is None and k != self.num_keypoints:
            raise DataError(f"latents have {k} parts but the generator has "
                            f"{self.num_keypoints}; parts added by editing need latents.slots")
        if lat.slots is not None and k and not (
                0 <= int(lat.slots.min()) and int(lat.slots.max()) < self.num_keypoints):
            raise DataError(f"latents.slots must lie in [0, {self.num_keypoints}), got "
                            f"{lat.slots.tolist()}")


class _DBlock(nn.Module):
    """StyleGAN2 residual down block ``C_in → C_out`` (docs/models.md §1.8), halving the resolution."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv0 = nn.Conv2d(c_in, c_in, 3, padding=1)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, h: Tensor) -> Tensor:
        y = F.leaky_relu(self.conv0(h), 0.2)
        y = F.avg_pool2d(F.leaky_relu(self.conv1(y), 0.2), 2)
        return (y + self.skip(F.avg_pool2d(h, 2))) * 2 ** -0.5


def minibatch_stddev(h: Tensor, group: int) -> Tensor:
    """Append one channel: the mean over features of the stddev within groups of ``group``
    samples, broadcast over space (StyleGAN2, one feature). ``B`` must be divisible by it."""
    b, c, hh, ww = h.shape
    g = min(group, b)
    if b % g:
        raise ValueError(f"batch {b} is not divisible by the minibatch-stddev group {g}; use a "
                         f"batch size that is a multiple of {g}")
    y = h.view(g, b // g, c, hh, ww)
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))     # [B/g]
    y = y.view(1, b // g, 1, 1, 1).expand(g, -1, 1, hh, ww).reshape(b, 1, hh, ww)
    return torch.cat([h, y], dim=1)


class Discriminator(nn.Module):
    """StyleGAN2-style residual discriminator with minibatch stddev (docs/models.md §1.8): ``[B,3,R,R] →
    [B,1]`` logits."""

    def __init__(self, cfg: LKGConfig):
        super().__init__()
        self.cfg = cfg
        ch = cfg.channels("d")
        levels = cfg.levels[::-1]                                            # R, …, 4
        self.from_rgb = nn.Conv2d(3, ch[cfg.image_size], 1)
        self.blocks = nn.Sequential(*(_DBlock(ch[r], ch[r // 2]) for r in levels[:-1]))
        c4 = ch[4]
        self.final_conv = nn.Conv2d(c4 + 1, c4, 3, padding=1)
        self.fc = nn.Linear(16 * c4, c4)
        self.out = nn.Linear(c4, 1)

    def forward(self, img: Tensor) -> Tensor:
        h = self.blocks(F.leaky_relu(self.from_rgb(img), 0.2))
        h = F.leaky_relu(self.final_conv(minibatch_stddev(h, self.cfg.mbstd_group)), 0.2)
        return self.out(F.leaky_relu(self.fc(h.flatten(1)), 0.2))


class _GansegDBlock(nn.Module):
    """Plain residual stride-2 block of GANSeg's discriminator (``d_arch = "ganseg"``)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv0 = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)
        self.conv1 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1, stride=2)

    def forward(self, h: Tensor) -> Tensor:
        y = self.conv1(F.leaky_relu(self.conv0(h), 0.2))
        return F.leaky_relu(y + self.skip(h), 0.2)


class GansegDiscriminator(nn.Module):
    """[GS]'s plain residual D: stride-2 blocks 3→64→128→256→512→… down to 2×2, then
    Linear(4·C → 512) → Linear(512 → 1). At R = 128: 6 blocks, Linear 2048 → 512 → 1."""

    def __init__(self, cfg: LKGConfig):
        super().__init__()
        widths = [3] + [min(64 * 2 ** i, 512) for i in range(cfg.num_levels)]
        self.blocks = nn.Sequential(*(_GansegDBlock(a, b) for a, b in zip(widths, widths[1:])))
        self.fc = nn.Linear(4 * widths[-1], 512)
        self.out = nn.Linear(512, 1)

    def forward(self, img: Tensor) -> Tensor:
        return self.out(F.leaky_relu(self.fc(self.blocks(img).flatten(1)), 0.2))


def build_discriminator(cfg: LKGConfig) -> nn.Module:
    return Discriminator(cfg) if cfg.d_arch == "stylegan2" else GansegDiscriminator(cfg)


def from_config(config: dict[str, Any]) -> LatentKeypointGenerator:
    """The ``MODELS`` factory: rebuild the generator from a checkpoint's model config."""
    return LatentKeypointGenerator(from_dict(LKGConfig, dict(config)))


def model_config_dict(cfg: LKGConfig) -> dict[str, Any]:
    """Plain-data form of ``cfg`` for checkpoints (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}
