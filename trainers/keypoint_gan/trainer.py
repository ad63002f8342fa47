"""Training KeypointGAN with the shared loop (``docs/models.md`` §2.1, §2.4, §2.8).

Steps ``0 … optim.regressor_pretrain_steps − 1`` pre-train η alone on rendered prior poses
(``MSE(η(β(p̄)), p̄)``). Every later step does, in [KG]'s order:

1. Φ+Ψ: ``w_perc·Γ(Ψ(pose(x), x′), x) + w_adv·LSGAN(D(Φ(x)), 1)`` (``w_adv`` ramped in over
   ``loss.pose_adv_warmup`` main steps when that is set) where ``pose(x)`` is
   ``β(η(Φ(x)))`` with the bottleneck and ``Φ(x)`` without (η frozen, gradients flow through
   it); variants with a second cycle add ``w_cyc·L1(pose(Ψ(β(p̄), x′)), β(p̄))`` and
   ``w_adv·LSGAN(D_img(Ψ(β(p̄), x′)), 1)``;
2. D (and D_img): ``½[LSGAN(D(β(p̄)), 1) + LSGAN(D(pool(Φ(x))), 0)]``;
3. η fine-tuning: ``w·MSE(η(β(p̄)), p̄) + (1 − w)·MSE(β(η(Φ(x))), Φ(x))``.

Each optimiser clips its gradients to global norm ``optim.grad_clip``. ``x′`` is the batch's
second frame (TPS-warped too with ``data.pairs = "frames+tps"``), or a random TPS warp of
``x`` (:mod:`.tps`) for datasets without pairs. With ``data.augment_*`` set, ``x``, ``x′`` and
the prior poses each get an independent random similarity first (:mod:`.augment`).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lkbench.data import get_dataset
from lkbench.errors import LkbenchError

from ..distributed import RunContext
from ..loop import Trainer
from .augment import random_similarity, warp_images, warp_keypoints
from .config import KGConfig, KGRunConfig
from .data import PairImages
from .losses import ImagePool, lsgan, lsgan_d
from .model import MODEL_NAME, KeypointGAN, model_config_dict
from .monitors import FailureAlarm, gradient_ratio, readout_stats, skeleton_swap
from .networks import MultiScaleDiscriminator, init_weights
from .perceptual import PerceptualLoss
from .tps import TPSParams, random_tps


def resolved_model_config(cfg: KGRunConfig) -> KGConfig:
    """``cfg.model`` with empty ``edges`` replaced by the training dataset's skeleton."""
    if cfg.model.edges:
        return cfg.model
    ds = get_dataset(cfg.data.name, split=cfg.data.split, image_size=cfg.model.image_size,
                     **cfg.data.dataset_options())
    return replace(cfg.model, edges=tuple(tuple(e) for e in ds.meta.edges))


class KGTrainer(Trainer):
    """KeypointGAN on the shared loop; see the module docstring for the step."""
    model_name = MODEL_NAME
    config_class = KGRunConfig
    generator_key = "G"
    presets: dict[str, str] = {}
    """Preset name → one-line description (filled by ``presets.py``)."""

    def __init__(self, cfg: KGRunConfig, ctx: RunContext):
        super().__init__(cfg, ctx)
        self.model_cfg = resolved_model_config(cfg)
        mc, opt = self.model_cfg, cfg.optim
        self.G = ctx.prepare(KeypointGAN(mc))
        self.variant = self.G.variant
        self.D = ctx.prepare(self._discriminator(1, mc.d_batch_std))
        self.D_img = ctx.prepare(self._discriminator(3)) if self.variant.second_cycle else None
        r = mc.image_size
        self.pool = ImagePool(opt.pool_size, (1, r, r)).to(ctx.device)
        self.pool_img = (ImagePool(opt.pool_size, (3, r, r)).to(ctx.device)
                         if self.variant.second_cycle else None)
        self.perceptual = PerceptualLoss(cfg.loss).to(ctx.device)
        g_params = [*self.G.encoder.parameters(), *self.G.generator.parameters()]
        d_params = [*self.D.parameters(), *(self.D_img.parameters() if self.D_img else ())]
        self.opt_G = torch.optim.Adam(g_params, lr=opt.lr, betas=opt.betas)
        self.opt_D = torch.optim.Adam(d_params, lr=opt.lr, betas=opt.betas)
        self.opt_R = torch.optim.Adam(self.G.regressor.parameters(), lr=opt.lr_regressor,
                                      betas=opt.betas)
        self.tps = TPSParams(grid=cfg.data.tps_grid)
        self._fixed_cache: "tuple[Tensor, Tensor] | None" = None
        self._probe_cache: "dict[str, Tensor] | None" = None
        self.data: "PairImages | None" = None
        self._step, self._last_check = -1, None
        self.alarm = FailureAlarm()

    def _discriminator(self, channels: int, batch_std: bool = False) -> nn.Module:
        mc = self.model_cfg
        d = MultiScaleDiscriminator(channels, mc.d_ndf, mc.d_layers, mc.d_scales, batch_std)
        init_weights(d)
        return d

    @property
    def _fixed(self) -> tuple[Tensor, Tensor]:
        """The first 16 (or ``loop.num_samples``) training images and their appearance
        partners, for sample grids and monitoring (loaded on first use)."""
        if self._fixed_cache is None:
            self._fixed_cache = self._fixed_images(max(16, self.cfg.loop.num_samples))
        return self._fixed_cache

    def _fixed_images(self, n: int) -> tuple[Tensor, Tensor]:
        data = self.cfg.data
        ds = get_dataset(data.name, split=data.split, image_size=self.model_cfg.image_size,
                         **data.dataset_options())
        n = min(n, len(ds))
        if data.pairs != "tps" and ds.supports_pairs:
            pair = ds.pairs(range(n))
            x, app = pair.first.images, pair.second.images
        else:
            x = ds.batch(range(n)).images
            app = random_tps(x, torch.Generator().manual_seed(self.cfg.loop.seed), self.tps)
        return x.to(self.ctx.device), app.to(self.ctx.device)

    # -- Trainer interface --------------------------------------------------------------
    @classmethod
    def training_data(cls, cfg: KGRunConfig, progress: bool) -> PairImages:
        return PairImages(cfg.data, cfg.model.image_size, cfg.loop.batch_size, cfg.loop.seed,
                          cfg.model.num_keypoints, progress)

    def attach_data(self, data: PairImages) -> None:
        self.data = data                    # the prior's mean pose feeds the read-out monitor

    def modules(self) -> dict[str, nn.Module]:
        mods: dict[str, nn.Module] = {"G": self.G, "D": self.D, "pool": self.pool,
                                      "perceptual_norm": self.perceptual.norm}
        if self.D_img is not None:
            mods.update(D_img=self.D_img, pool_img=self.pool_img)
        return mods

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt_G": self.opt_G, "opt_D": self.opt_D, "opt_R": self.opt_R}

    def model_config(self) -> dict[str, Any]:
        return model_config_dict(self.model_cfg)

    def train_step(self, batch: "dict[str, Tensor]", gen: torch.Generator,
                   step: int) -> dict[str, Tensor]:
        """One step on ``batch`` (``image``, optional ``appearance``, ``prior``; see
        :mod:`.data`); returns detached scalar losses."""
        aug = self.cfg.data.augment
        self._step = step
        self._set_lr(step)
        prior = batch["prior"]
        if aug.enabled:
            prior = warp_keypoints(prior, random_similarity(len(prior), aug, gen, prior.device))
        if step < self.cfg.optim.regressor_pretrain_steps:
            return {"loss_regressor": self._regressor_step(prior, None)}
        x = batch["image"]
        app = batch.get("appearance")
        warp_app = app is None or self.cfg.data.pairs == "frames+tps"
        app = x if app is None else app
        if aug.enabled:             # independent draws: x′ must not carry x's pose
            x = warp_images(x, random_similarity(len(x), aug, gen, x.device))
            app = warp_images(app, random_similarity(len(app), aug, gen, app.device))
        if warp_app:
            app = random_tps(app, gen, self.tps)
        return self._main_step(x, app, prior, gen, step)

    def samples(self, n: int) -> tuple[Tensor, Tensor]:
        """Four blocks of ``n``: inputs x, raw Φ(x), decoded skeleton, reconstruction x̂ —
        each with the read-out η(Φ(x))."""
        x, app = (t[:n] for t in self._fixed)
        was_training = self.G.training
        self.G.eval()
        try:
            with torch.no_grad():
                raw, pose = self.G.pose_image(x)
                kp = self.G.regressor(raw)
                x_hat = self.G.generator(pose, app if self.variant.conditional else None)
        finally:
            self.G.train(was_training)
        grey = [t.clamp(-1, 1).expand(-1, 3, -1, -1) for t in (raw, pose)]
        images = torch.cat([x, *grey, x_hat.clamp(-1, 1)]).float().cpu()
        return images, kp.float().cpu().repeat(4, 1, 1)

    def monitor(self) -> dict[str, Any]:
        """Read-out statistics on the fixed images: ``kp_spread`` (mean pairwise distance of
        an image's keypoints: all keypoints collapsing onto one point is one failure mode),
        ``kp_std`` (each coordinate's standard deviation across the images, averaged: the
        same skeleton for every face is the other; the synthetic landmarks' is 0.057) and
        each keypoint's mean position."""
        was_training = self.G.training
        self.G.eval()
        try:
            with torch.no_grad():
                kp = self.G.predict(self._fixed[0]).float()
        finally:
            self.G.train(was_training)
        k = kp.shape[1]
        spread = (torch.cdist(kp, kp).sum((1, 2)) / max(k * (k - 1), 1)).mean()
        out = {"kp_spread": round(float(spread), 5),
               "kp_std": round(float(kp.std(0).mean()), 5),
               "kp_mean": [[round(float(v), 4) for v in p] for p in kp.mean(0)]}
        return {**out, **self._learning_monitors()}

    def _learning_monitors(self) -> dict[str, Any]:
        """The :mod:`.monitors` quantities every ``monitor.every`` steps of the main phase
        (``{}`` in between); feeds :attr:`alarm`."""
        mon, done = self.cfg.monitor, self._step + 1
        if (mon.every == 0 or done <= self.cfg.optim.regressor_pretrain_steps
                or (self._last_check is not None and done - self._last_check < mon.every)):
            return {}
        self._last_check = done - done % mon.every
        probe = self._probe
        m, lc = self.G, self.cfg.loss
        cond = probe["app"] if self.variant.conditional else None
        was = (m.training, self.perceptual.training)
        m.eval()
        self.perceptual.eval()
        try:
            with torch.no_grad():
                _, pose = m.pose_image(probe["x"])
            stats = skeleton_swap(lambda s: m.generator(s, cond), pose, probe["x"],
                                  self.perceptual)
            with torch.enable_grad():
                raw, pose = m.pose_image(probe["x"])
                perc = lc.perceptual_weight * self.perceptual(m.generator(pose, cond), probe["x"])
                adv = self.pose_adv_weight(self._step) * lsgan(self.D(raw), 1.0)
                ratio = gradient_ratio(list(m.encoder.parameters()), perc, adv)
            if ratio is not None:
                stats["grad_ratio"] = ratio
            if "faces" in probe:
                with torch.no_grad():
                    pred = m.predict(probe["faces"]).float()
                stats.update(readout_stats(pred, probe["landmarks"], probe["norm"],
                                           probe["mean_shape"]))
        finally:
            m.train(was[0])
            self.perceptual.train(was[1])
        stats = {k: round(v, 5) for k, v in stats.items()}
        self.alarm.update(done, stats)
        return stats

    @property
    def _probe(self) -> dict[str, Tensor]:
        """The monitors' fixed inputs (built on first use): ``x``/``app``, the first
        ``monitor.probe`` training pairs (appearance TPS-warped as in training), and when the
        dataset has ``monitor.split`` with the model's landmarks: ``faces``, ``landmarks``,
        ``norm`` (normaliser distance) and ``mean_shape`` (the prior's mean pose)."""
        if self._probe_cache is None:
            mon, data, dev = self.cfg.monitor, self.cfg.data, self.ctx.device
            x, app = self._fixed_images(mon.probe)
            if data.pairs in ("tps", "frames+tps"):
                gen = torch.Generator().manual_seed(self.cfg.loop.seed + 1)
                app = random_tps(app.cpu(), gen, self.tps).to(dev)
            probe = {"x": x, "app": app}
            probe.update(self._readout_faces(self.data.prior if self.data is not None else None))
            self._probe_cache = probe
        return self._probe_cache

    def _readout_faces(self, prior: "Tensor | None") -> dict[str, Tensor]:
        """Labelled faces of ``monitor.split`` for the read-out monitors, or ``{}``."""
        mon, data = self.cfg.monitor, self.cfg.data
        opts = {k: v for k, v in data.dataset_options().items() if k != "size"}
        try:
            ds = get_dataset(data.name, split=mon.split, image_size=self.model_cfg.image_size,
                             **opts)
        except LkbenchError:
            return {}
        meta = ds.meta
        if (mon.faces == 0 or prior is None or ds.num_landmarks != self.model_cfg.num_keypoints
                or meta.normaliser is None or not ds.labelled):
            return {}
        b = ds.batch(range(min(mon.faces, len(ds))))
        i, j = (meta.index(n) for n in meta.normaliser)
        dev = self.ctx.device
        return {"faces": b.images.to(dev), "landmarks": b.keypoints.float(),
                "norm": (b.keypoints[:, i] - b.keypoints[:, j]).norm(dim=-1).float(),
                "mean_shape": prior.float().mean(0)}

    # -- the step -----------------------------------------------------------------------
    def _set_lr(self, step: int) -> None:
        """Learning rates at ``step`` (``optim.lr_decay_steps``); a function of the step
        alone, so a resumed run follows the same schedule."""
        opt = self.cfg.optim
        factor = opt.lr_factor(step, self.cfg.loop.steps)
        for o, base in ((self.opt_G, opt.lr), (self.opt_D, opt.lr),
                        (self.opt_R, opt.lr_regressor)):
            for group in o.param_groups:
                group["lr"] = base * factor

    def _optimise(self, opt: torch.optim.Optimizer, loss: Tensor, *mods: nn.Module) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for m in mods:
            self.ctx.average_gradients(m)
        if self.cfg.optim.grad_clip > 0:
            params = [p for g in opt.param_groups for p in g["params"]]
            nn.utils.clip_grad_norm_(params, self.cfg.optim.grad_clip)
        opt.step()

    def _regressor_step(self, prior: Tensor, raw: "Tensor | None") -> Tensor:
        """η on rendered prior poses (and, when fine-tuning, on re-rendering Φ(x))."""
        reg, w = self.G.regressor, self.cfg.loss.regressor_prior_weight
        reg.requires_grad_(True)
        with self.ctx.autocast():
            loss = F.mse_loss(reg(self.G.renderer(prior)), prior)
            if raw is not None:
                rerender = F.mse_loss(self.G.renderer(reg(raw)), raw.float())
                loss = w * loss + (1 - w) * rerender
        self._optimise(self.opt_R, loss.float(), reg)
        return loss.detach()

    def pose_adv_weight(self, step: int) -> float:
        """The pose adversary's generator-side weight at ``step`` (see ``loss.pose_adv_warmup``)."""
        lc = self.cfg.loss
        main_step = step - self.cfg.optim.regressor_pretrain_steps
        if lc.pose_adv_warmup <= 0:
            return lc.adv_weight
        return lc.adv_weight * min(1.0, (main_step + 1) / lc.pose_adv_warmup)

    def _main_step(self, x: Tensor, app: Tensor, prior: Tensor,
                   gen: torch.Generator, step: int) -> dict[str, Tensor]:
        lc, v, ctx = self.cfg.loss, self.variant, self.ctx
        m = self.G
        cond = app if v.conditional else None
        out: dict[str, Tensor] = {}
        discs = [d for d in (self.D, self.D_img) if d is not None]

        # (1) Φ + Ψ
        for d in discs:
            d.requires_grad_(False)
        m.regressor.requires_grad_(False)
        skel_prior = m.renderer(prior)
        with ctx.autocast():
            raw, pose = m.pose_image(x)
            x_hat = m.generator(pose, cond)
            l_perc = self.perceptual(x_hat, x)
            l_adv = lsgan(self.D(raw), 1.0)
            total = lc.perceptual_weight * l_perc + self.pose_adv_weight(step) * l_adv
            if v.second_cycle:
                y_hat = m.generator(skel_prior, cond)
                _, y_pose = m.pose_image(y_hat)
                l_cyc = (y_pose.float() - skel_prior).abs().mean()
                l_adv_img = lsgan(self.D_img(y_hat), 1.0)
                total = total + lc.cycle_weight * l_cyc + lc.adv_weight * l_adv_img
                out.update(loss_cycle=l_cyc.detach(), loss_adv_img=l_adv_img.detach())
        self._optimise(self.opt_G, total.float(), m.encoder, m.generator)
        ctx.average_buffers(m)
        out.update(loss_perc=l_perc.detach(), loss_adv=l_adv.detach())

        # (2) discriminators
        for d in discs:
            d.requires_grad_(True)
        with ctx.autocast():
            l_d = lsgan_d(self.D(skel_prior), self.D(self.pool.query(raw.float(), gen)))
            total_d = l_d
            if v.second_cycle:
                fake = self.pool_img.query(y_hat.float(), gen)
                l_d_img = lsgan_d(self.D_img(x), self.D_img(fake))
                total_d = total_d + l_d_img
                out["loss_d_img"] = l_d_img.detach()
        self._optimise(self.opt_D, total_d.float(), *discs)
        out["loss_d"] = l_d.detach()

        # (3) η fine-tuning
        if self.cfg.optim.finetune_regressor:
            out["loss_regressor"] = self._regressor_step(prior, raw.detach())
        return out
