"""The editor's actions as calls of the pure editing functions that ``lkbench edit`` uses.

:data:`SERVE_OPS` maps each action the page can send to a :class:`ServeOp`. Where
``lkbench edit`` has the same operation, the action calls that :class:`EditOp` of
:data:`~lkbench.trainers.latent_keypoint_gan.edit_ops.EDIT_OPS` with the same
:class:`EditParams`, so ``POST /api/edit {"op": "move", "params": {"part": 2, "dx": 0.3}}`` on
the latents of seed ``s`` renders the pixels of ``lkbench edit --op move --part 2 --dx 0.3
--seed s --num 1``. The others call :mod:`~lkbench.trainers.latent_keypoint_gan.editing`
directly (``move-all`` with a translation, ``interpolate`` at one ``t``) or
:func:`restore_parts`, the inverse of ``remove_parts``.

Offsets ``dx, dy`` are in normalised image units (the image is 2 wide; x right, y down).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import torch
from pydantic import BaseModel, ConfigDict, Field

from lkbench.errors import ConfigError
from lkbench.models import Latents
from lkbench.trainers.latent_keypoint_gan import editing
from lkbench.trainers.latent_keypoint_gan.edit_ops import EDIT_OPS, EditParams

__all__ = ["OpParams", "ServeOp", "SERVE_OPS", "restore_parts"]


class OpParams(BaseModel):
    """The settings of one action (all optional; each op reads the ones it lists in ``uses``).

    Bounds keep every request cheap and meaningful; a value outside them is a 422.
    """
    model_config = ConfigDict(extra="forbid")

    part: int = Field(0, ge=-64, le=64, description="part index (negative counts from the end)")
    parts: list[int] = Field(default_factory=list, max_length=64,
                             description="part indices for swap-parts")
    dx: float = Field(0.0, ge=-4.0, le=4.0, allow_inf_nan=False,
                      description="offset right, normalised units")
    dy: float = Field(0.0, ge=-4.0, le=4.0, allow_inf_nan=False,
                      description="offset down, normalised units")
    scale: float = Field(1.0, ge=0.05, le=20.0, allow_inf_nan=False,
                         description="move-all: layout scale about the centroid")
    factor: float = Field(1.0, ge=0.05, le=20.0, allow_inf_nan=False,
                          description="resize: factor on the part's heatmap width tau")
    t: float = Field(0.5, ge=0.0, le=1.0, allow_inf_nan=False,
                     description="interpolate: weight of the donor")

    def edit_params(self) -> EditParams:
        """The same settings as ``lkbench edit`` options."""
        return EditParams(part=self.part, parts=tuple(self.parts) or (self.part,), dx=self.dx,
                          dy=self.dy, scale=self.scale, factor=self.factor)


def restore_parts(lat: Latents, parts: Sequence[int]) -> Latents:
    """Re-activate ``parts`` (the inverse of ``editing.remove_parts``, which keeps positions and
    embeddings): a new :class:`Latents` whose ``active`` is True at those indices."""
    js = editing._parts(lat, parts)
    active = lat.active.clone()
    active[:, torch.tensor(js, device=active.device)] = True
    return replace(lat, active=active)


@dataclass(frozen=True)
class ServeOp:
    """One editor action: ``apply(latents, donor, params) -> latents``.

    Attributes:
        name: the ``op`` of ``POST /api/edit``.
        help: one line for the page's tooltips and ``/api/info``.
        needs_donor: whether the request must carry ``donor`` latents.
        uses: the :class:`OpParams` fields it reads.
        edit_op: the ``lkbench edit --op`` with the same result, or None.
    """
    name: str
    help: str
    needs_donor: bool
    apply: Callable[[Latents, "Latents | None", OpParams], Latents]
    uses: tuple[str, ...] = ()
    edit_op: "str | None" = None


def _edit(name: str) -> Callable[[Latents, "Latents | None", OpParams], Latents]:
    """Apply ``EDIT_OPS[name]`` (single-column ops) with the request's settings."""
    def apply(lat: Latents, donor: "Latents | None", p: OpParams) -> Latents:
        (_, out), = EDIT_OPS[name].apply(lat, donor, p.edit_params())
        return out
    return apply


def _move_all(lat: Latents, donor: "Latents | None", p: OpParams) -> Latents:
    offset = None if p.dx == 0 and p.dy == 0 else (p.dx, p.dy)
    return editing.move_all(lat, p.scale, offset=offset)


def _swap_parts(lat: Latents, donor: "Latents | None", p: OpParams) -> Latents:
    if not p.parts:
        raise ConfigError("swap-parts needs at least one part in params.parts; tick the parts "
                          "whose appearance should come from the donor")
    return _edit("swap-parts")(lat, donor, p)


SERVE_OPS: dict[str, ServeOp] = {op.name: op for op in (
    ServeOp("move", "move one part by (dx, dy)", False, _edit("move"), ("part", "dx", "dy"),
            "move"),
    ServeOp("move-all", "scale the layout about its centroid, then shift it by (dx, dy)", False,
            _move_all, ("scale", "dx", "dy"), "move-all"),
    ServeOp("swap-parts", "take the chosen parts' appearance from the donor", True,
            _swap_parts, ("parts",), "swap-parts"),
    ServeOp("swap-background", "take the donor's background", True, _edit("swap-background"),
            (), "swap-background"),
    ServeOp("swap-global", "take the donor's global appearance (all parts)", True,
            _edit("swap-global"), (), "swap-global"),
    ServeOp("remove", "remove a part (the background fills in)", False, _edit("remove"),
            ("part",), "remove"),
    ServeOp("restore", "bring a removed part back", False,
            lambda s, d, p: restore_parts(s, [p.part]), ("part",)),
    ServeOp("add", "add a copy of a part at its position + (dx, dy)", False, _edit("add"),
            ("part", "dx", "dy"), "add"),
    ServeOp("resize", "multiply a part's heatmap width by factor", False, _edit("resize"),
            ("part", "factor"), "resize"),
    ServeOp("interpolate", "blend everything towards the donor by t", True,
            lambda s, d, p: editing.interpolate(s, d, p.t), ("t",), "interpolate"),
)}
"""``POST /api/edit`` ``op`` → :class:`ServeOp`."""


def apply_op(name: str, lat: Latents, donor: "Latents | None", params: OpParams) -> Latents:
    """Run action ``name``; ConfigError for an unknown name or a missing donor."""
    op = SERVE_OPS.get(name)
    if op is None:
        raise ConfigError(f"unknown op {name!r}; available: {', '.join(SERVE_OPS)}")
    if op.needs_donor and donor is None:
        raise ConfigError(f"op {name!r} needs donor latents in the request (sample a donor "
                          "first)")
    return op.apply(lat, donor if op.needs_donor else None, params)
