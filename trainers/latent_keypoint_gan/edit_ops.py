"""The named operations of ``lkbench edit``: :data:`EDIT_OPS` maps each ``--op`` name to an
:class:`EditOp` built on the pure functions of :mod:`.editing`, so the command line dispatches
without a chain of name tests.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import Tensor

from lkbench.errors import ConfigError
from lkbench.models import Latents

from .editing import (_part, add_part, interpolate, move, move_all, remove_parts, resize_part,
                      swap_background, swap_global, swap_parts)

__all__ = ["EditParams", "EditOp", "EDIT_OPS"]


@dataclass(frozen=True)
class EditParams:
    """The settings of one ``lkbench edit`` call (the command-line options).

    Attributes:
        part: the part for move, remove, add (the part copied), resize, and swap-parts when
            ``parts`` is empty.
        parts: the parts for swap-parts.
        dx, dy: offset (normalised units, x right, y down) for move and add (relative to
            ``part``'s position).
        scale: move-all's scale factor about the centroid.
        factor: resize's τ factor.
        steps: interpolation columns (t evenly spaced in [0, 1], ends included), >= 2.
    """
    part: int = 0
    parts: tuple[int, ...] = ()
    dx: float = 0.3
    dy: float = 0.0
    scale: float = 1.3
    factor: float = 2.0
    steps: int = 5


EditFn = Callable[[Latents, "Latents | None", EditParams], list[tuple[str, Latents]]]


@dataclass(frozen=True)
class EditOp:
    """One named edit: ``apply(source, donor, params)`` returns ``[(column label, latents)]``
    (one entry, or one per interpolation step). ``donor`` is None unless ``needs_donor``."""
    name: str
    help: str
    needs_donor: bool
    apply: EditFn
    uses: tuple[str, ...] = ()
    """The :class:`EditParams` fields the op reads (shown in the grid's title)."""

    def describe(self, p: EditParams) -> str:
        """``name`` with the values of the settings it uses, e.g. ``move part=0 dx=0.3 dy=0``."""
        vals = " ".join(f"{f}={_fmt(getattr(p, f))}" for f in self.uses)
        return f"{self.name} {vals}".strip()


def _fmt(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, tuple) else f"{v:g}" if isinstance(v, float) \
        else str(v)


def _offset(src: Latents, p: EditParams) -> Tensor:
    j = _part(src, p.part)
    return src.keypoints[:, j] + src.keypoints.new_tensor([p.dx, p.dy])


def _interp_columns(src: Latents, donor: Latents, p: EditParams) -> list[tuple[str, Latents]]:
    if p.steps < 2:
        raise ConfigError(f"interpolate needs at least 2 steps, got {p.steps}")
    ts = [i / (p.steps - 1) for i in range(p.steps)]
    return [(f"t={t:.2f}", interpolate(src, donor, t)) for t in ts]


EDIT_OPS: dict[str, EditOp] = {op.name: op for op in (
    EditOp("move", "move --part by (--dx, --dy)", False,
           lambda s, d, p: [(f"part {p.part} moved", move(s, p.part, _offset(s, p)))],
           ("part", "dx", "dy")),
    EditOp("move-all", "scale all keypoints by --scale about their centroid", False,
           lambda s, d, p: [(f"layout x{p.scale:g}", move_all(s, p.scale))], ("scale",)),
    EditOp("swap-parts", "donor's embeddings for --parts (default: --part)", True,
           lambda s, d, p: [("parts swapped", swap_parts(s, d, p.parts or (p.part,)))],
           ("parts",)),
    EditOp("swap-global", "donor's global appearance (all part embeddings)", True,
           lambda s, d, p: [("global swapped", swap_global(s, d))]),
    EditOp("swap-background", "donor's background embedding", True,
           lambda s, d, p: [("bg swapped", swap_background(s, d))]),
    EditOp("remove", "remove --part (the background fills in)", False,
           lambda s, d, p: [(f"part {p.part} removed", remove_parts(s, [p.part]))], ("part",)),
    EditOp("add", "add a copy of --part at its position + (--dx, --dy)", False,
           lambda s, d, p: [(f"copy of {p.part} added", add_part(s, _offset(s, p), p.part))],
           ("part", "dx", "dy")),
    EditOp("interpolate", "lerp everything towards the donor in --steps columns", True,
           _interp_columns, ("steps",)),
    EditOp("resize", "multiply --part's heatmap width tau by --factor", False,
           lambda s, d, p: [(f"part {p.part} tau x{p.factor:g}",
                             resize_part(s, p.part, p.factor))], ("part", "factor")),
)}
"""``lkbench edit --op NAME`` → :class:`EditOp`."""
