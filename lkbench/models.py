"""The model-side interfaces of docs/architecture.md and the model registry.

Protocols reach models only through this module: :class:`KeypointGenerator` (sample and
render :class:`Latents`), the optional :class:`EditableGenerator` (the latent edits CPD and
FID_interp apply, looked up with :func:`edit_op`) and :class:`KeypointPredictor`; a protocol
never imports a trainer package.

``MODELS`` maps a registry name to a *factory*: any callable ``factory(config: dict) ->
torch.nn.Module``, typically a model class whose ``__init__`` takes the config's keys (use a
classmethod ``from_config`` and register that when the mapping is not 1:1). Checkpoints store
the registry name and the config, so :func:`lkbench.checkpoint.load_model` can rebuild any
model without pickling code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import torch
from torch import Tensor

from .errors import LkbenchError
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


@runtime_checkable
class EditableGenerator(KeypointGenerator, Protocol):
    """A :class:`KeypointGenerator` that also offers the latent edits the protocols apply.

    Each edit is pure (inputs untouched, new tensors returned) and the result renders with
    :meth:`~KeypointGenerator.render`. A *donor* has the latents' ``N`` rows or 1 (broadcast).
    LatentKeypointGAN implements them with :mod:`lkbench.trainers.latent_keypoint_gan.editing`,
    whose functions work on any :class:`Latents`, so another generator can delegate to them.
    Protocols look an edit up with :func:`edit_op`, so a generator may offer only some.
    """

    def swap_parts(self, latents: Latents, donor: Latents, parts: Sequence[int]) -> Latents:
        """``latents`` with the embeddings of ``parts`` taken from ``donor`` (CPD)."""
        ...

    def swap_background(self, latents: Latents, donor: Latents) -> Latents:
        """``latents`` with the background embedding taken from ``donor`` (CPD)."""
        ...

    def interpolate(self, a: Latents, b: Latents, t: float) -> Latents:
        """``a + t (b − a)``, exact at ``t = 0`` and ``t = 1`` (FID_interp)."""
        ...


EDIT_OPS: dict[str, str] = {
    "swap_parts": "swap_parts(latents, donor, parts)",
    "swap_background": "swap_background(latents, donor)",
    "interpolate": "interpolate(a, b, t)",
}
"""The edits of :class:`EditableGenerator`: method name → signature (for messages)."""


class UnsupportedEditError(LkbenchError, TypeError):
    """A protocol needs a latent edit the generator does not offer."""


def edit_op(generator: Any, op: str, needed_by: str) -> Callable[..., Latents]:
    """The generator's edit ``op`` (a bound method of :class:`EditableGenerator`).

    Args:
        generator: the model being evaluated.
        op: a key of :data:`EDIT_OPS`.
        needed_by: who needs it, for the message (``"CPD"``, ``"FID_interp"``).

    Raises:
        UnsupportedEditError: the generator has no such method.
    """
    if op not in EDIT_OPS:
        raise LkbenchError(f"unknown latent edit {op!r}; the edits are {', '.join(EDIT_OPS)}")
    fn = getattr(generator, op, None)
    if not callable(fn):
        name = type(generator).__name__
        raise UnsupportedEditError(
            f"{needed_by} needs a generator with {op}; {name} has none. Give {name} the method "
            f"{EDIT_OPS[op]} -> Latents (lkbench.models.EditableGenerator); a generator that "
            f"renders lkbench.models.Latents can return "
            f"lkbench.trainers.latent_keypoint_gan.editing.{op}(...) of its arguments")
    return fn
