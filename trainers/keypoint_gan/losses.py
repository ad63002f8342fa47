"""Least-squares GAN terms and the discriminator's history pool (``docs/models.md`` §2.7).

Pure functions of discriminator outputs, plus :class:`ImagePool` whose contents are buffers
(saved in checkpoints, so a resumed run draws the same fakes).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def lsgan(outputs: "list[Tensor]", target: float) -> Tensor:
    """``mean_s mean((D_s − target)²)`` over the discriminator's scales (scalar, float32)."""
    return torch.stack([(o.float() - target).pow(2).mean() for o in outputs]).mean()


def lsgan_d(real: "list[Tensor]", fake: "list[Tensor]") -> Tensor:
    """Discriminator loss ``½·[lsgan(real, 1) + lsgan(fake, 0)]``."""
    return 0.5 * (lsgan(real, 1.0) + lsgan(fake, 0.0))


class ImagePool(nn.Module):
    """CycleGAN's history of fakes: until full, every fake is stored and returned; then each
    fake is, with probability ½, swapped for a random stored one (which it replaces).

    Args:
        size: number of images kept (0 returns the fakes unchanged).
        shape: ``(C, H, W)`` of one image.
    """

    def __init__(self, size: int, shape: tuple[int, int, int]):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, *shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, fakes: Tensor, gen: torch.Generator) -> Tensor:
        """``[B,C,H,W]`` → ``[B,C,H,W]`` mix of new and stored fakes; randomness from ``gen``."""
        if self.size == 0:
            return fakes.detach()
        out = fakes.detach().clone()
        coins = torch.rand(len(fakes), generator=gen, device=gen.device)
        picks = torch.randint(self.size, (len(fakes),), generator=gen, device=gen.device)
        for i in range(len(fakes)):
            n = int(self.count)
            if n < self.size:
                self.images[n] = fakes[i].detach().to(self.images.dtype)
                self.count += 1
            elif coins[i] > 0.5:
                j = int(picks[i])
                out[i] = self.images[j].to(out.dtype)
                self.images[j] = fakes[i].detach().to(self.images.dtype)
        return out
