"""The model-side interfaces of architecture.md and the model registry.

``MODELS`` maps a registry name to a *factory*: any callable ``factory(config: dict) ->
torch.nn.Module``, typically a model class whose ``__init__`` takes the config's keys (use a
classmethod ``from_config`` and register that when the mapping is not 1:1). Checkpoints store
the registry name and the config, so :func:`lkbench.checkpoint.load_model` can rebuild any
model without pickling code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, runtime_checkable

import torch
from torch import Tensor

from .registry import Registry

ModelFactory = Callable[[dict[str, Any]], torch.nn.Module]
MODELS: Registry[ModelFactory] = Registry("models")


@dataclass
class Latents:
    """Everything a keypoint generator renders from; editing and CPD act on this.

    Attributes:
        keypoints: float32 ``[N,K,2]`` (x, y) in [-1, 1] (see :mod:`lkbench.keypoints`).
        part_embeddings: float32 ``[N,K,D]``.
        background: float32 ``[N,D]``.
        active: bool ``[N,K]``; False removes a part.
        tau: optional float ``[N,K]``: each part's heatmap width τ (normalised units), for models
            whose part size is a latent (LatentKeypointGAN); ``None`` = the model's own τ.
        slots: optional long ``[K]``: which of the model's parts each entry renders as. Models
            with a fixed part count ``K0`` use ``arange(K0)`` (``None``); parts added by editing
            repeat the slot of the part they copy, so ``K`` may exceed ``K0``.
    """
    keypoints: Tensor
    part_embeddings: Tensor
    background: Tensor
    active: Tensor
    tau: "Tensor | None" = None
    slots: "Tensor | None" = None

    def __len__(self) -> int:
        return self.keypoints.shape[0]

    @property
    def num_parts(self) -> int:
        """``K``, the number of parts (including any added by editing)."""
        return self.keypoints.shape[1]


@dataclass
class Generated:
    """A generator's output: float32 images ``[N,3,H,W]`` in [-1, 1] and the keypoints
    ``[N,K,2]`` (x, y) in [-1, 1] where the parts were put."""
    images: Tensor
    keypoints: Tensor


@runtime_checkable
class KeypointGenerator(Protocol):
    num_keypoints: int
    image_size: int

    def sample_latents(self, n: int, gen: torch.Generator) -> Latents: ...

    def render(self, latents: Latents) -> Generated: ...


@runtime_checkable
class KeypointPredictor(Protocol):
    num_keypoints: int

    def predict(self, images: Tensor) -> Tensor:
        """float32 ``[N,3,H,W]`` in [-1,1] → keypoints ``[N,K,2]`` (x, y) in [-1, 1]."""
        ...
