"""L2M-GAN loss terms (``docs/models.md`` §3.2–3.3); pure functions of tensors.

Shapes: codes ``[B,S]``, logits ``[B]``, images ``[B,3,R,R]``. Every function returns a scalar.
"""
from __future__ import annotations

from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from lkbench.registry import Registry

OrtForm = Literal["cosine", "elementwise"]


def _abs_cosine(a: Tensor, b: Tensor) -> Tensor:
    """``|⟨a,b⟩| / (‖a‖‖b‖ + 1e-8)`` per row, averaged over the batch (lkbench default)."""
    dot = (a * b).sum(1)
    return (dot.abs() / (a.norm(dim=1) * b.norm(dim=1) + 1e-8)).mean()


def _elementwise(a: Tensor, b: Tensor) -> Tensor:
    """``mean |a ⊙ b|`` ([L2Mu]'s form)."""
    return (a * b).abs().mean()


ORT_FORMS: Registry[Callable[[Tensor, Tensor], Tensor]] = Registry("orthogonality forms")
ORT_FORMS.add("cosine", _abs_cosine)
ORT_FORMS.add("elementwise", _elementwise)


def orthogonality_loss(relevant: Tensor, transformed: Tensor, irrelevant: Tensor,
                       form: str = "cosine") -> Tensor:
    """``|⟨s_rel, s_irr⟩| + |⟨s̃_rel, s_irr⟩|``: both the source's and the edited relevant code
    must be orthogonal to the irrelevant code (docs/models.md §3.2). 0 exactly when both are."""
    fn = ORT_FORMS.get(form)
    return fn(relevant, irrelevant) + fn(transformed, irrelevant)


def d_adversarial_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Discriminator BCE: real → 1, fake → 0 (each averaged over the batch)."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def g_adversarial_loss(fake_logits: Tensor) -> Tensor:
    """Generator BCE: fake → 1."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def d_mismatch_loss(wrong_logits: Tensor) -> Tensor:
    """Discriminator BCE on real images under the *other* domain's head: → 0."""
    return F.binary_cross_entropy_with_logits(wrong_logits, torch.zeros_like(wrong_logits))


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """``½·E‖∇_x D_y(x)‖²`` on real images (``real`` must require grad)."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return 0.5 * grad.pow(2).flatten(1).sum(1).mean()


def l1(a: Tensor, b: Tensor) -> Tensor:
    """Mean absolute difference."""
    return (a - b).abs().mean()
