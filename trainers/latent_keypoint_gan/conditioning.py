"""SPADE conditioning on part heatmaps ⊗ embeddings, with and without the wide tensor.

At generator level ``r`` the SPADE input is (``docs/models.md`` §1.5)::

    concat:  F_r = concat_s( Σ_{i in slot s} H_i · w_i )      [N, S·D, r, r]   (S = K + 1 slots)
    sum:     F_r = Σ_i H_i · w_i                               [N, D, r, r]

where ``H_i`` is part ``i``'s heatmap ``[N,1,r,r]``, ``w_i`` its embedding ``[N,D]`` and the
background is the last slot. Normally part ``i`` occupies slot ``i``; parts added by editing
share the slot of the part they copy (docs/models.md §1.12), which the slot map expresses.

Every SPADE block starts with ``Conv3x3(F_r)``. Since ``F_r`` is linear in the heatmaps,

    Conv_W(F_r)[o] = b[o] + Σ_i  V_i[o] ⋆ H_i,     V_i[o, ky, kx] = Σ_d W[o, slot(i)·D + d, ky, kx] · w_i[d]

(for ``sum`` the slot offset is dropped). The ``P`` single-channel heatmaps are convolved with
per-sample kernels obtained by contracting the conv weight with each part's embedding: exact,
including zero padding (``F_r`` is zero wherever every ``H_i`` is) and bias. This *factorised*
path costs ``P·9`` multiply-adds per output value instead of ``S·D·9``; the *literal* path
builds ``F_r`` and is kept as the reference. Heatmaps are unfolded once per level and shared by
every SPADE convolution of that level (:class:`Conditioning` caches them).
"""
from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CondMode = Literal["concat", "sum"]
CondImpl = Literal["factorised", "literal"]


class Conditioning:
    """The conditioning of one generator level, built lazily in whichever form a conv needs.

    Args:
        heatmaps: float ``[N,P,r,r]``: every part's heatmap, background last.
        embeddings: float ``[N,P,D]``: every part's embedding, background last.
        slots: long ``[P]``: the channel slot of each part (``arange(P)`` normally).
        num_slots: ``S``, the number of channel slots of ``concat`` mode (``K + 1``).
        mode: ``concat`` | ``sum``.
    """

    def __init__(self, heatmaps: Tensor, embeddings: Tensor, slots: Tensor, num_slots: int,
                 mode: CondMode):
        self.heatmaps, self.embeddings, self.slots = heatmaps, embeddings, slots
        self.num_slots, self.mode = num_slots, mode
        self._wide: Tensor | None = None
        self._cols: Tensor | None = None
        self._identity = (slots.numel() == num_slots
                          and bool((slots == torch.arange(num_slots, device=slots.device)).all()))

    @property
    def size(self) -> int:
        return self.heatmaps.shape[-1]

    def wide(self) -> Tensor:
        """The literal ``F_r``: ``[N, S·D, r, r]`` (concat) or ``[N, D, r, r]`` (sum)."""
        if self._wide is None:
            h, w = self.heatmaps, self.embeddings
            prod = h.unsqueeze(2) * w[:, :, :, None, None]                  # [N,P,D,r,r]
            if self.mode == "sum":
                self._wide = prod.sum(1)
            else:
                if not self._identity:
                    n, _, d, r, _ = prod.shape
                    out = prod.new_zeros(n, self.num_slots, d, r, r)
                    prod = out.index_add(1, self.slots, prod)
                self._wide = prod.flatten(1, 2)
        return self._wide

    def columns(self) -> Tensor:
        """Heatmaps unfolded for a 3×3 zero-padded conv: ``[N, P·9, r·r]``, (part, ky, kx) order."""
        if self._cols is None:
            self._cols = F.unfold(self.heatmaps, kernel_size=3, padding=1)
        return self._cols


class ConditionedConv(nn.Module):
    """``Conv3x3(F_r → out)`` with zero padding and bias, where ``F_r`` is a :class:`Conditioning`.

    The parameters are exactly those of ``nn.Conv2d(in_channels, out, 3, padding=1)`` with
    ``in_channels = S·D`` (concat) or ``D`` (sum), so both implementations load the same
    checkpoints and compute the same function.

    Args:
        num_slots: ``S`` (``K + 1``).
        embed_dim: ``D``.
        out_channels: output channels (SPADE's hidden width).
        mode: ``concat`` | ``sum``.
        impl: ``factorised`` (default, never builds ``F_r``) | ``literal`` (reference).
    """

    def __init__(self, num_slots: int, embed_dim: int, out_channels: int, mode: CondMode,
                 impl: CondImpl = "factorised"):
        super().__init__()
        if mode not in ("concat", "sum"):
            raise ValueError(f"cond_mode must be 'concat' or 'sum', got {mode!r}")
        if impl not in ("factorised", "literal"):
            raise ValueError(f"cond_impl must be 'factorised' or 'literal', got {impl!r}")
        self.num_slots, self.embed_dim, self.mode, self.impl = num_slots, embed_dim, mode, impl
        in_ch = num_slots * embed_dim if mode == "concat" else embed_dim
        self.weight = nn.Parameter(torch.empty(out_channels, in_ch, 3, 3))
        self.bias = nn.Parameter(torch.empty(out_channels))
        # nn.Conv2d's default initialisation, so the module is a drop-in for the literal conv.
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1 / math.sqrt(in_ch * 9)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, cond: Conditioning) -> Tensor:
        if self.impl == "literal":
            return F.conv2d(cond.wide(), self.weight, self.bias, padding=1)
        n, p, r, _ = cond.heatmaps.shape
        o, d = self.weight.shape[0], self.embed_dim
        if self.mode == "concat":
            w = self.weight.view(o, self.num_slots, d, 9)
            w = w if cond._identity else w.index_select(1, cond.slots)        # [o,P,D,9]
            kernels = torch.einsum("opdk,npd->nopk", w, cond.embeddings)
        else:
            kernels = torch.einsum("odk,npd->nopk", self.weight.view(o, d, 9), cond.embeddings)
        out = torch.baddbmm(self.bias.view(1, o, 1).expand(n, o, 1),
                            kernels.reshape(n, o, p * 9), cond.columns())
        return out.view(n, o, r, r)

    def extra_repr(self) -> str:
        return (f"slots={self.num_slots}, embed_dim={self.embed_dim}, out={self.weight.shape[0]}, "
                f"mode={self.mode}, impl={self.impl}")
