"""Tiny keypoint generators with known behaviour, for the CPD and FID tests."""
from __future__ import annotations

import torch

from lkbench.models import Generated, Latents
from lkbench.trainers.latent_keypoint_gan import editing


class RenderOnlyStripeGenerator(torch.nn.Module):
    """A :class:`lkbench.models.KeypointGenerator` without edits.

    Part ``k`` paints column stripe ``k`` of an ``R×R`` image with ``tanh`` of its embedding;
    the background paints the last stripe. With ``shared=True`` a sample's parts and background
    all carry the same embedding value ``e`` and the whole image shows ``tanh`` of the mean of all
    embeddings, so swapping any one of them (``e_a → e_b``) gives the same image: every edit
    changes every pixel identically.

    ``K`` parts, embedding size 1; stripes of width ``R // (K + 1)``.
    """

    def __init__(self, num_keypoints: int = 3, image_size: int = 8, shared: bool = False):
        super().__init__()
        self.num_keypoints, self.image_size, self.shared = num_keypoints, image_size, shared
        self.register_buffer("dummy", torch.zeros(()))

    def sample_latents(self, n: int, gen: "torch.Generator | None" = None) -> Latents:
        k = self.num_keypoints
        if self.shared:
            e = torch.randn(n, 1, generator=gen)
            return Latents(keypoints=torch.rand(n, k, 2, generator=gen) * 2 - 1,
                           part_embeddings=e[:, None, :].expand(n, k, 1).clone(), background=e,
                           active=torch.ones(n, k, dtype=torch.bool))
        return Latents(keypoints=torch.rand(n, k, 2, generator=gen) * 2 - 1,
                       part_embeddings=torch.randn(n, k, 1, generator=gen),
                       background=torch.randn(n, 1, generator=gen),
                       active=torch.ones(n, k, dtype=torch.bool))

    def render(self, lat: Latents) -> Generated:
        n, k, r = len(lat), self.num_keypoints, self.image_size
        raw = torch.cat([lat.part_embeddings[..., 0], lat.background], 1)  # [N,K+1]
        values = torch.tanh(raw)
        img = torch.zeros(n, 3, r, r)
        if self.shared:
            img += torch.tanh(raw.mean(1))[:, None, None, None]
        else:
            w = r // (k + 1)
            for j in range(k + 1):
                img[:, :, :, j * w:(j + 1) * w] = values[:, j, None, None, None]
        return Generated(images=img, keypoints=lat.keypoints)


class StripeGenerator(editing.LatentEdits, RenderOnlyStripeGenerator):
    """:class:`RenderOnlyStripeGenerator` with the latent edits of
    :class:`lkbench.models.EditableGenerator` (LatentKeypointGAN's, which work on any latents)."""
