"""Training the L2M-GAN-style attribute editor with the shared loop (``docs/models.md`` §3.3).

Data: real images with one binary attribute (``data.attribute``) as the domain label ``y``; every
image is translated to the other domain ``ỹ = 1 − y``.

One step:

* D step: ``BCE(D_y(x), 1) + BCE(D_ỹ(x̃), 0)`` with ``x̃ = G(x, s̃)`` made without gradients,
  optionally ``w_mis·BCE(D_ỹ(x), 0)`` (real images under the other domain's head), plus
  ``w_r1 · ½‖∇_x D_y(x)‖²`` (every ``optim.r1_every`` steps, scaled by that interval).
* G step (generator, style encoder and manipulator together), with
  ``s = E_y(x)``, ``s_irr = M(s)``, ``s_rel = s − s_irr``, ``s̃_rel = T_ỹ(s_rel)``,
  ``s̃ = s_irr + s̃_rel``, ``x̃ = G(x, s̃)``::

      w_adv·BCE(D_ỹ(x̃), 1) + w_sty·|E_ỹ(x̃) − s̃|₁ + w_cyc·|G(x̃, s) − x|₁
      + w_per·mean|Ψ(x) − Ψ(x̃)| + w_ort·(|⟨s_rel, s_irr⟩| + |⟨s̃_rel, s_irr⟩|)

  (weights 1, 2, 1, 2, 1 and R1 1 by default: [L2Mu] and StarGAN v2), then the EMA update of the
  editor.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Literal, Mapping

import torch
from torch import Tensor, nn

from lkbench.errors import ConfigError, DataError

from ..distributed import RunContext
from ..images import TrainDataConfig, TrainImages
from ..ema import update_ema
from ..loop import GDTrainer, LoopConfig
from .config import L2MConfig
from .losses import (d_adversarial_loss, d_mismatch_loss, g_adversarial_loss, l1,
                     orthogonality_loss, r1_penalty)
from .model import MODEL_NAME, Discriminator, L2MEditor, model_config_dict
from .perceptual import build_perceptual, perceptual_distance


@dataclass(frozen=True)
class L2MLossConfig:
    """Loss weights and forms (docs/models.md §3.3).

    Attributes:
        adv, r1, cycle, style, perceptual, ort: term weights.
        mismatch: weight of the mismatched-domain term in D's loss, ``BCE(D_ỹ(x), 0)`` for a
            real ``x`` of domain ``y`` (an lkbench addition [L], the matching-aware
            discriminator of Reed et al. 2016, not in [P]/[L2Mu]; 0 = off, the paper presets).
            Without it D's head ỹ only ever sees real images of domain ỹ and edits aimed at ỹ,
            so it can reject an edit for being blurred without learning the attribute; with it
            every real image of the other domain is a negative for that head, so the head is
            asked to learn the attribute from real data. It does not make a subtle attribute
            visible sooner: on the synthetic smile at 32 px, D stayed at chance
            (``d_attr_acc`` ≈ 0.5) for about 10 000 steps with it.
        rec: weight of the self-reconstruction term ``‖G(x, E_y(x)) − x‖₁`` (an lkbench
            addition [L], not in [P]/[L2Mu]; 0 = off, the paper presets). The cycle term only
            asks that the *edit* be invertible, so a short run can hide the source in a noisy
            edit; this term asks G to reproduce x from its own code. On the synthetic demo it
            lowered the edits' keypoint displacement from 0.13 to 0.10 inter-ocular distances
            (weight 5, style size 64, 6 000 steps); it does not make the edit itself work.
        ort_form: ``cosine`` (absolute cosine, lkbench default) or ``elementwise``
            (``mean|a ⊙ b|``, [L2Mu] parity).
        perceptual_net: Ψ: ``resnet18`` (ImageNet weights from ``perceptual_weights``),
            ``tiny_random`` (frozen random stand-in, no weights) or ``auto`` (``resnet18`` when
            ``perceptual_weights`` is set, else ``tiny_random``; the resolved name is what the
            run's config records).
        perceptual_weights: path of torchvision's resnet18 ImageNet ``state_dict``.
    """
    adv: float = 1.0
    r1: float = 1.0
    cycle: float = 1.0
    style: float = 2.0
    perceptual: float = 2.0
    ort: float = 1.0
    mismatch: float = 0.0
    rec: float = 0.0
    ort_form: Literal["cosine", "elementwise"] = "cosine"
    perceptual_net: Literal["auto", "resnet18", "tiny_random"] = "auto"
    perceptual_weights: str = ""

    def __post_init__(self) -> None:
        for name in ("adv", "r1", "cycle", "style", "perceptual", "ort", "mismatch", "rec"):
            if getattr(self, name) < 0:
                raise ValueError(f"loss.{name} must be >= 0, got {getattr(self, name)}")
        if self.perceptual_net == "auto":
            object.__setattr__(self, "perceptual_net",
                               "resnet18" if self.perceptual_weights else "tiny_random")


@dataclass(frozen=True)
class L2MOptimConfig:
    """Optimisation (docs/models.md §3.3: Adam 1e-4, β = (0, 0.99), weight decay 1e-4, EMA 0.999).

    Attributes:
        lr: Adam learning rate of the editor (G, E, M, T).
        lr_d: Adam learning rate of D.
        betas: Adam betas.
        weight_decay: Adam weight decay (all nets).
        r1_every: apply R1 every N D steps (multiplied by N; 1 = every step, as StarGAN v2).
        ema: keep an EMA of the editor (``G_ema``, evaluated when present).
        ema_decay: EMA decay per step.
    """
    lr: float = 1e-4
    lr_d: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.99)
    weight_decay: float = 1e-4
    r1_every: int = 1
    ema: bool = True
    ema_decay: float = 0.999

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.lr_d <= 0:
            raise ValueError("optim.lr and optim.lr_d must be > 0")
        if self.r1_every < 1:
            raise ValueError(f"optim.r1_every must be >= 1, got {self.r1_every}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"optim.ema_decay must be in [0, 1), got {self.ema_decay}")


@dataclass(frozen=True)
class L2MDataConfig(TrainDataConfig):
    """:class:`~lkbench.trainers.images.TrainDataConfig` plus the attribute to edit.

    Attributes:
        attribute: a name in the dataset's ``attribute_names`` (``synthetic``: smiling,
            mouth_open, hair, dark_hair, dark_skin); its label is the domain.
        target: the domain each training image is translated to, a key of
            :data:`TARGET_SAMPLERS`: ``flip`` — always the other one, ``ỹ = 1 − y`` (lkbench
            default and the CPU demo's: every step trains the edit); ``balanced`` — drawn
            uniformly over the domains, independently of ``y``, as the public re-implementation
            [L2Mu] does with its separate reference batch (with two domains about half the
            steps translate an image into its own domain).
    """
    attribute: str = "smiling"
    target: str = "flip"

    def __post_init__(self) -> None:
        if self.target not in TARGET_SAMPLERS:
            raise ValueError(f"data.target must be one of {', '.join(TARGET_SAMPLERS)}, got "
                             f"{self.target!r}")


def _flip_target(y: Tensor, num_domains: int, gen: torch.Generator) -> Tensor:
    return 1 - y


def _balanced_target(y: Tensor, num_domains: int, gen: torch.Generator) -> Tensor:
    return torch.randint(0, num_domains, y.shape, generator=gen, device=gen.device).to(y.device)


TARGET_SAMPLERS: Mapping[str, Callable[[Tensor, int, torch.Generator], Tensor]] = \
    MappingProxyType({"flip": _flip_target, "balanced": _balanced_target})
"""``data.target`` → ``fn(y [B], num_domains, gen) -> target domains [B]`` (long)."""


@dataclass(frozen=True)
class L2MRunConfig:
    """Everything ``lkbench train --model l2m-gan`` reads: ``[model]``, ``[loss]``, ``[optim]``,
    ``[loop]``, ``[data]`` tables (``--attribute smiling`` sets ``data.attribute``)."""
    model: L2MConfig = field(default_factory=L2MConfig)
    loss: L2MLossConfig = field(default_factory=L2MLossConfig)
    optim: L2MOptimConfig = field(default_factory=L2MOptimConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    data: L2MDataConfig = field(default_factory=L2MDataConfig)


class L2MTrainer(GDTrainer):
    """The L2M-GAN-style editor on the shared loop; see the module docstring for the step."""
    model_name = MODEL_NAME
    config_class = L2MRunConfig
    presets: dict[str, str] = {}
    """Preset name → one-line description (filled by ``presets.py``)."""
    PROBE_IMAGES = 256
    """Real training images :meth:`monitor` asks D about."""

    def __init__(self, cfg: L2MRunConfig, ctx: RunContext):
        super().__init__(cfg, ctx)
        if cfg.model.num_domains != 2:
            raise ConfigError("l2m-gan trains on one binary attribute: model.num_domains must "
                              f"be 2, got {cfg.model.num_domains}")
        opt = cfg.optim
        self.G = ctx.prepare(L2MEditor(cfg.model))
        self.D = ctx.prepare(Discriminator(cfg.model))
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if opt.ema else None
        self.generator_key = "G_ema" if opt.ema else "G"
        self.psi = build_perceptual(cfg.loss.perceptual_net,
                                    cfg.loss.perceptual_weights).to(ctx.device)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=opt.lr, betas=opt.betas,
                                      weight_decay=opt.weight_decay)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=opt.lr_d, betas=opt.betas,
                                      weight_decay=opt.weight_decay)
        self._data: "TrainImages | None" = None
        self._labels: "Tensor | None" = None
        self._fixed: "tuple[Tensor, Tensor] | None" = None
        self._probe: "tuple[Tensor, Tensor] | None" = None

    # -- data -----------------------------------------------------------------------------
    def attach_data(self, data: TrainImages) -> None:
        """Read the attribute labels of the whole training split (cheap for ``synthetic``)
        and keep a fixed batch of real images for the sample grids."""
        ds, name = data.dataset, self.cfg.data.attribute
        if not ds.attribute_names:
            raise DataError(f"dataset {ds.name!r} has no attribute labels; l2m-gan needs one "
                            "(e.g. --dataset synthetic --attribute smiling)")
        col = ds.attribute_index(name)
        self._data = data
        self._labels = ds.attributes(range(len(ds)))[:, col].long()
        if self._labels.min() == self._labels.max():
            raise DataError(f"attribute {name!r} has one value on every training image; "
                            "it cannot be edited")
        n = min(len(ds), max(1, self.cfg.loop.num_samples // 2))
        self._fixed = (ds.batch(range(n)).images.to(self.ctx.device),
                       self._labels[:n].to(self.ctx.device))
        p = min(len(ds), self.PROBE_IMAGES)
        self._probe = (ds.batch(range(p)).images, self._labels[:p])   # on the CPU

    def labels(self, step: int) -> Tensor:
        """Domain labels ``[B]`` of the images :class:`TrainImages` gives at ``step``."""
        if self._data is None or self._labels is None:
            raise RuntimeError("L2MTrainer.attach_data must be called before training")
        idx = self._data.indices(step, self.ctx.rank, self.ctx.world)
        return self._labels[idx].to(self.ctx.device)

    # -- Trainer interface ------------------------------------------------------------------
    def model_config(self) -> dict[str, Any]:
        return model_config_dict(self.cfg.model)

    def train_step(self, real: Tensor, gen: torch.Generator, step: int) -> dict[str, Tensor]:
        y = self.labels(step)
        target = TARGET_SAMPLERS[self.cfg.data.target](y.long(), self.cfg.model.num_domains, gen)
        return self.step(real, y, step, target)

    def step(self, real: Tensor, y: Tensor, step: int,
             target: "Tensor | None" = None) -> dict[str, Tensor]:
        """One D and one G step on ``real`` ``[B,3,R,R]`` with domains ``y`` ``[B]``,
        translated to ``target`` ``[B]`` (default: the other domain, ``1 − y``)."""
        w, opt, ctx = self.cfg.loss, self.cfg.optim, self.ctx
        y = y.long()
        target = 1 - y if target is None else target.long().to(y.device)
        out: dict[str, Tensor] = {}

        # D step
        self.D.requires_grad_(True)
        with torch.no_grad(), ctx.autocast():
            fake = self.G.edit(real, y, target)
        regularise = w.r1 > 0 and step % opt.r1_every == 0
        real_in = real.detach().requires_grad_(regularise)
        with ctx.autocast():
            real_logits = self.D(real_in, y).float()
            fake_logits = self.D(fake, target).float()
        loss_d = d_adversarial_loss(real_logits, fake_logits)
        total_d = w.adv * loss_d
        if w.mismatch > 0:
            with ctx.autocast():
                wrong_logits = self.D(real, target).float()
            mismatch = d_mismatch_loss(wrong_logits)
            total_d = total_d + w.mismatch * mismatch
            out["mismatch"] = mismatch.detach()
        if regularise:
            penalty = r1_penalty(real_logits, real_in)
            out["r1"] = penalty.detach()
            total_d = total_d + w.r1 * opt.r1_every * penalty
        self.opt_D.zero_grad(set_to_none=True)
        total_d.backward()
        ctx.average_gradients(self.D)
        self.opt_D.step()
        out["loss_d"] = loss_d.detach()

        # G step (generator, style encoder, manipulator)
        self.D.requires_grad_(False)
        with ctx.autocast():
            split = self.G.split(real, y, target)
            code = split.irrelevant + split.transformed
            fake = self.G.generator(real, code)
            adv = g_adversarial_loss(self.D(fake, target).float())
            sty = l1(self.G.style(fake, target).float(), code.float())
            cyc = l1(self.G.generator(fake, split.code).float(), real)
            per = perceptual_distance(self.psi, real, fake.float())
        ort = orthogonality_loss(split.relevant.float(), split.transformed.float(),
                                 split.irrelevant.float(), w.ort_form)
        total_g = w.adv * adv + w.style * sty + w.cycle * cyc + w.perceptual * per + w.ort * ort
        if w.rec > 0:
            with ctx.autocast():
                rec = l1(self.G.generator(real, split.code).float(), real)
            total_g = total_g + w.rec * rec
            out["rec"] = rec.detach()
        self.opt_G.zero_grad(set_to_none=True)
        total_g.backward()
        ctx.average_gradients(self.G)
        self.opt_G.step()
        out.update(loss_g=adv.detach(), style=sty.detach(), cycle=cyc.detach(),
                   perceptual=per.detach(), ort=ort.detach())
        if self.G_ema is not None:
            update_ema(self.G_ema, self.G, opt.ema_decay)
        return out

    def monitor(self) -> dict[str, Any]:
        """``d_attr_acc``: the share of :attr:`PROBE_IMAGES` real training images whose own
        domain head scores higher than the other domain's, ``D_y(x) > D_ỹ(x)``. Near 0.5, D
        cannot see the attribute, so its adversarial gradient cannot ask G to change it (a
        subtle attribute, e.g. ``smiling`` at 32 px, stays there for thousands of steps)."""
        if self._probe is None:
            return {}
        images, labels = self._probe
        right = 0
        with torch.no_grad():
            for x, y in zip(images.split(32), labels.split(32)):   # bounded memory at 256 px
                x, y = x.to(self.ctx.device), y.to(self.ctx.device)
                right += int((self.D(x, y) > self.D(x, 1 - y)).sum())
        return {"d_attr_acc": round(right / len(labels), 4)}

    def samples(self, n: int) -> tuple[Tensor, Tensor]:
        """Up to ``n // 2`` fixed real training images followed by their edits (EMA editor),
        so a grid of 2·(n // 2) tiles with ``n // 2`` per row shows sources above edits; no
        keypoints (``[2m, 0, 2]``)."""
        if self._fixed is None:
            raise RuntimeError("L2MTrainer.attach_data must be called before samples")
        g = self.G_ema if self.G_ema is not None else self.G
        images, y = self._fixed
        m = min(max(1, n // 2), images.shape[0])
        was_training = g.training
        g.eval()
        try:
            with torch.no_grad():
                edits = g.edit(images[:m], y[:m])
        finally:
            g.train(was_training)
        both = torch.cat([images[:m], edits.clamp(-1, 1)]).float().cpu()
        return both, torch.zeros(both.shape[0], 0, 2)
