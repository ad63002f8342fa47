"""GAN losses and gradient penalties of LatentKeypointGAN (``docs/models.md`` §1.9).

Pure functions of logits and images; the trainer decides when to call them.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def d_logistic_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Non-saturating D loss ``E softplus(D(G(z))) + E softplus(−D(x))`` (scalar)."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def g_nonsaturating_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating G loss ``E softplus(−D(G(z)))`` (scalar)."""
    return F.softplus(-fake_logits).mean()


def _input_grad_norm2(logits: Tensor, images: Tensor) -> Tensor:
    """``‖∇_x D(x)‖²`` per sample, ``[B]``, with a graph so the penalty can be minimised."""
    (grad,) = torch.autograd.grad(logits.sum(), images, create_graph=True)
    return grad.pow(2).flatten(1).sum(1)


def r1_penalty(real_logits: Tensor, real_images: Tensor, gamma: float) -> Tensor:
    """Zero-centred R1: ``(γ/2)·E‖∇_x D(x)‖²`` on real images (``real_images`` must require
    grad and ``real_logits`` be computed from them)."""
    return gamma / 2 * _input_grad_norm2(real_logits, real_images).mean()


def one_centred_penalty(real_logits: Tensor, real_images: Tensor, weight: float) -> Tensor:
    """GANSeg's one-centred penalty ``weight·E(‖∇_x D(x)‖₂ − 1)²`` on real images."""
    norm = (_input_grad_norm2(real_logits, real_images) + 1e-12).sqrt()
    return weight * (norm - 1).pow(2).mean()


GradientPenalty = Callable[[Tensor, Tensor, float], Tensor]
PENALTIES: dict[str, GradientPenalty] = {"r1": r1_penalty, "one_centered": one_centred_penalty}
"""``gp`` config value → penalty; ``none`` disables it."""
