"""Training LatentKeypointGAN with the shared loop (``docs/models.md`` §1.9–1.10).

One step = one D step (non-saturating loss on fresh fakes; the gradient penalty on reals every
``d_reg_every`` steps, lazily rescaled for R1) and one G step (non-saturating loss plus any extra
loss terms registered with :meth:`LKGTrainer.add_loss`), then the optional G EMA update.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import torch
from torch import Tensor, nn

from lkbench.models import Latents

from ..distributed import RunContext
from ..images import TrainDataConfig
from ..ema import update_ema
from ..loop import GDTrainer, LoopConfig
from .config import LKGConfig
from .losses import PENALTIES, d_logistic_loss, g_nonsaturating_loss
from .model import MODEL_NAME, LatentKeypointGenerator, build_discriminator, model_config_dict


@dataclass(frozen=True)
class LKGOptimConfig:
    """Losses and optimisation (docs/models.md §1.9–1.10).

    Attributes:
        lr_g, lr_d: Adam learning rates (TTUR).
        betas: Adam betas.
        gp: ``r1`` (zero-centred, lazy, default) | ``one_centered`` ([GS]) | ``none``.
        gp_weight: γ of R1, or the weight of the one-centred penalty.
        d_reg_every: apply the penalty every N D steps (R1 is multiplied by N).
        ema: keep an exponential moving average of G (``G_ema``, evaluated when present).
        ema_decay: EMA decay per step.
        hflip: flip real images horizontally at random (augmentation).
    """
    lr_g: float = 1e-4
    lr_d: float = 4e-4
    betas: tuple[float, float] = (0.5, 0.9)
    gp: Literal["r1", "one_centered", "none"] = "r1"
    gp_weight: float = 10.0
    d_reg_every: int = 16
    ema: bool = False
    ema_decay: float = 0.999
    hflip: bool = False

    def __post_init__(self) -> None:
        if self.lr_g <= 0 or self.lr_d <= 0:
            raise ValueError("optim.lr_g and optim.lr_d must be > 0")
        if self.d_reg_every < 1:
            raise ValueError(f"optim.d_reg_every must be >= 1, got {self.d_reg_every}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"optim.ema_decay must be in [0, 1), got {self.ema_decay}")


@dataclass(frozen=True)
class LKGRunConfig:
    """Everything ``lkbench train --model latent-keypoint-gan`` reads: ``[model]``, ``[optim]``,
    ``[loop]``, ``[data]`` tables (``--set model.num_keypoints=8``)."""
    model: LKGConfig = field(default_factory=LKGConfig)
    optim: LKGOptimConfig = field(default_factory=LKGOptimConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    data: TrainDataConfig = field(default_factory=TrainDataConfig)


ExtraLoss = Callable[[Latents, Tensor], Tensor]
"""``fn(latents, fake_images) -> scalar`` added to the G loss (e.g. GANSeg's mask penalties)."""


class LKGTrainer(GDTrainer):
    """LatentKeypointGAN on the shared loop; see the module docstring for the step."""
    model_name = MODEL_NAME
    config_class = LKGRunConfig
    presets: dict[str, str] = {}
    """Preset name → one-line description (filled by ``presets.py``)."""

    def __init__(self, cfg: LKGRunConfig, ctx: RunContext):
        super().__init__(cfg, ctx)
        opt = cfg.optim
        self.G = ctx.prepare(LatentKeypointGenerator(cfg.model))
        self.D = ctx.prepare(build_discriminator(cfg.model))
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if opt.ema else None
        self.generator_key = "G_ema" if opt.ema else "G"
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=opt.lr_g, betas=opt.betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=opt.lr_d, betas=opt.betas)
        self.extra_losses: dict[str, ExtraLoss] = {}
        # Fixed noise for sample grids and keypoint statistics (seeded, independent of steps).
        gen = torch.Generator().manual_seed(cfg.loop.seed + 12345)
        n = max(64, cfg.loop.num_samples)
        self._fixed = tuple(torch.randn(n, cfg.model.noise_dim, generator=gen).to(ctx.device)
                            for _ in range(3))

    # -- Trainer interface --------------------------------------------------------------
    def model_config(self) -> dict[str, Any]:
        return model_config_dict(self.cfg.model)

    def add_loss(self, name: str, fn: ExtraLoss) -> None:
        """Add ``fn(latents, fake) -> scalar`` to every G step's loss; logged as ``name``."""
        self.extra_losses[name] = fn

    def train_step(self, real: Tensor, gen: torch.Generator, step: int) -> dict[str, Tensor]:
        opt, ctx = self.cfg.optim, self.ctx
        b = real.shape[0]
        if opt.hflip:
            flip = torch.rand(b, generator=gen, device=real.device) < 0.5
            real = torch.where(flip[:, None, None, None], real.flip(-1), real)
        out: dict[str, Tensor] = {}

        # D step
        self.D.requires_grad_(True)
        self.G.requires_grad_(False)
        with torch.no_grad(), ctx.autocast():
            fake = self.G(*self._noise(b, gen))
        regularise = opt.gp != "none" and step % opt.d_reg_every == 0
        real_in = real.detach().requires_grad_(regularise)
        with ctx.autocast():
            real_logits = self.D(real_in)
            fake_logits = self.D(fake)
        loss_d = d_logistic_loss(real_logits.float(), fake_logits.float())
        total_d = loss_d
        if regularise:
            penalty = PENALTIES[opt.gp](real_logits.float(), real_in, opt.gp_weight)
            out["gp"] = penalty.detach()
            total_d = total_d + penalty * (opt.d_reg_every if opt.gp == "r1" else 1)
        self.opt_D.zero_grad(set_to_none=True)
        total_d.backward()
        ctx.average_gradients(self.D)
        self.opt_D.step()
        out["loss_d"] = loss_d.detach()
        out["d_real"] = real_logits.detach().float().mean()
        out["d_fake"] = fake_logits.detach().float().mean()

        # G step
        self.D.requires_grad_(False)
        self.G.requires_grad_(True)
        lat = self.G.map(*self._noise(b, gen))
        with ctx.autocast():
            fake = self.G.render(lat).images
            loss_g = g_nonsaturating_loss(self.D(fake).float())
        total_g = loss_g
        for name, fn in self.extra_losses.items():
            term = fn(lat, fake)
            out[name] = term.detach()
            total_g = total_g + term
        self.opt_G.zero_grad(set_to_none=True)
        total_g.backward()
        ctx.average_gradients(self.G)
        self.opt_G.step()
        ctx.average_buffers(self.G)
        out["loss_g"] = loss_g.detach()
        if self.G_ema is not None:
            update_ema(self.G_ema, self.G, opt.ema_decay)
        return out

    def samples(self, n: int) -> tuple[Tensor, Tensor]:
        g = self.G_ema if self.G_ema is not None else self.G
        was_training = g.training
        g.eval()
        try:
            with torch.no_grad():
                res = g.render(g.map(*(z[:n] for z in self._fixed)))
        finally:
            g.train(was_training)
        return res.images.float().cpu(), res.keypoints.float().cpu()

    def monitor(self) -> dict[str, Any]:
        """Keypoint spread (mean pairwise distance, normalised units) and each keypoint's mean
        position over the fixed noise: keypoints collapsing onto the centre is the failure
        mode to watch."""
        g = self.G_ema if self.G_ema is not None else self.G
        with torch.no_grad():
            kp = g.map(*self._fixed).keypoints.float()                      # [N,K,2]
        k = kp.shape[1]
        spread = (torch.cdist(kp, kp).sum((1, 2)) / max(k * (k - 1), 1)).mean()
        return {"kp_spread": round(float(spread), 5),
                "kp_mean": [[round(float(v), 4) for v in p] for p in kp.mean(0)]}

    # -- helpers ------------------------------------------------------------------------
    def _noise(self, b: int, gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        return tuple(torch.randn(b, self.cfg.model.noise_dim, generator=gen,
                                 device=self.ctx.device) for _ in range(3))
