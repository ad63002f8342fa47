"""Exponential moving average of a model's weights (the ``G_ema`` of the GAN trainers)."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["update_ema"]


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """``ema ← decay·ema + (1 − decay)·model`` for every parameter; buffers (e.g. BatchNorm
    statistics) are copied, not averaged. Both modules must have the same architecture."""
    for pe, p in zip(ema.parameters(), model.parameters()):
        pe.lerp_(p, 1 - decay)
    for be, b in zip(ema.buffers(), model.buffers()):
        be.copy_(b)
