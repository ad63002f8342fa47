"""Seeded, batch-size-independent streams of latents for the generation protocols (FID, CPD).

A protocol that renders ``num`` samples must get the same samples whatever batch size it renders
them in (user expectation 7). :class:`~lkbench.models.KeypointGenerator.sample_latents` draws
``n`` rows at once, so splitting one draw differently would change the numbers. Latents are
therefore drawn in fixed blocks of :data:`LATENT_BLOCK` rows from one seeded
``torch.Generator`` and only then cut into render batches: the samples depend on the seed alone.
"""
from __future__ import annotations

from dataclasses import fields, replace
from typing import Iterator

import torch

from lkbench.errors import ConfigError
from lkbench.models import KeypointGenerator, Latents

__all__ = ["LATENT_BLOCK", "take", "latent_batches", "paired_latent_batches", "model_device"]

LATENT_BLOCK = 100
"""Rows per ``sample_latents`` call; part of a protocol's definition (changing it changes the
samples of a seed, so it would need a protocol version bump)."""


def model_device(model) -> torch.device:
    """The device of a module's first parameter or buffer (CPU for parameterless objects)."""
    if isinstance(model, torch.nn.Module):
        for t in (*model.parameters(), *model.buffers()):
            return t.device
    return torch.device("cpu")


def take(lat: Latents, start: int, stop: int) -> Latents:
    """Rows ``start:stop`` of every per-sample field (``slots`` is shared and kept)."""
    out = {}
    for f in fields(lat):
        v = getattr(lat, f.name)
        out[f.name] = v if v is None or f.name == "slots" else v[start:stop]
    return replace(lat, **out)


def _check(num: int, batch_size: int) -> None:
    if num < 1:
        raise ConfigError(f"the number of samples must be at least 1, got {num}")
    if batch_size < 1:
        raise ConfigError(f"the batch size must be at least 1, got {batch_size}")


def latent_batches(generator: KeypointGenerator, num: int, seed: int, batch_size: int,
                   ) -> Iterator[Latents]:
    """``num`` latents from ``seed`` in render batches of at most ``batch_size`` rows.

    The rows are the same for every ``batch_size`` (blocks of :data:`LATENT_BLOCK`).
    """
    _check(num, batch_size)
    gen = torch.Generator(device=model_device(generator)).manual_seed(int(seed))
    for start in range(0, num, LATENT_BLOCK):
        block = generator.sample_latents(min(LATENT_BLOCK, num - start), gen)
        for s in range(0, len(block), batch_size):
            yield take(block, s, s + batch_size)


def paired_latent_batches(generator: KeypointGenerator, num_pairs: int, seed: int,
                          batch_size: int) -> Iterator[tuple[Latents, Latents]]:
    """``num_pairs`` independent pairs ``(a_i, b_i)`` from ``seed``, in render batches.

    Each block draws its ``a`` rows, then its ``b`` rows, from one generator; pairs are therefore
    random pairs of ``2·num_pairs`` i.i.d. latents, the same for every ``batch_size``.
    """
    _check(num_pairs, batch_size)
    gen = torch.Generator(device=model_device(generator)).manual_seed(int(seed))
    for start in range(0, num_pairs, LATENT_BLOCK):
        m = min(LATENT_BLOCK, num_pairs - start)
        a, b = generator.sample_latents(m, gen), generator.sample_latents(m, gen)
        for s in range(0, m, batch_size):
            yield take(a, s, s + batch_size), take(b, s, s + batch_size)
