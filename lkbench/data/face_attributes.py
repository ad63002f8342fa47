"""Binary attributes of the synthetic faces and their exact counterfactuals.

Each attribute is decided by one uniform of the face's draw (a slot of
:data:`lkbench.data.cartoon.SLOTS`), so it can be read off the uniforms and *flipped* by changing
that one uniform: the counterfactual is the same face — identity, pose, background, every other
uniform — with only that attribute changed, rendered by the same renderer. No real dataset has
this: it is the exact image an ideal attribute edit would produce.

==============  =================  =========================================  ==================
attribute       slot               positive when                              share positive
==============  =================  =========================================  ==================
``smiling``     ``smile``          smile ≥ 0.025 face units (mouth centre      ½
                                   bent down, corners up; range −0.02–0.07)
``mouth_open``  ``mouth_open``     lip gap ≥ 0.015 face units (range 0–0.03)   ½
``hair``        ``hair_on``        the face has hair                           ``hair_prob``:
                                                                               0.6 easy, 0.85
                                                                               hard, 1 edit
``dark_hair``   ``hair_colour``    black, dark-brown or brown hair (palette    ½
                                   entries 0–2; 3–5 are blond, red, grey);
                                   also colours the eyebrows, so it is
                                   visible on faces without hair
``dark_skin``   ``skin_tone``      skin tone ≥ ½ of the way from light to      ½
                                   dark (lips and neck follow the skin)
==============  =================  =========================================  ==================

The shares are exact expectations of the uniform draw (measured shares on the 20 000-image
``train`` split are pinned in ``tests/data/test_synthetic_attributes.py``).

Flips. For the four attributes thresholded at ½ the flip is the half turn ``u → u + ½ mod 1`` of
the slot's uniform: exact in float64 (uniforms are multiples of 2⁻⁵³), its own inverse, and it
moves the parameter by half its range, so every counterfactual changes its face by the same
amount. ``hair`` depends on its uniform only through ``u < hair_prob``; its flip sets the uniform
to the middle of the other class (``hair_prob/2`` or ``(1 + hair_prob)/2``), so flipping twice
gives back the same parameters and the same bytes. ``dark_skin`` keeps the source's background
colour. Under the ``contrast`` background law (``easy``, ``hard``) the generator picks the
background's lightness to contrast with the skin, so a kept background gives light-to-dark
counterfactuals a background–skin gap no real face has (99.4 % of them fall below the real
faces' minimum of 0.28): a confound an editor's discriminator can reward. Under the
``independent`` law (the ``edit`` difficulty, the attribute-editing presets' data) the gap
distributions of real faces and counterfactuals agree (Kolmogorov–Smirnov distance 0.007 on
20 000 training faces), and the kept background is what the law itself would draw.
``hair`` is constant on ``edit`` (every face has hair): it cannot be edited there.

Keypoints do not move under any flip: the mouth corners sit where the smile curve meets zero and
the lip gap opens between them.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Callable, Mapping

import torch
from torch import Tensor

from .cartoon import SLOTS, FaceParams, FaceStyle

_SLOT = {name: i for i, name in enumerate(SLOTS)}


def _half_turn(u: Tensor, style: FaceStyle) -> Tensor:
    # u - ½ and u + ½ are both exact for multiples of 2⁻⁵³ on their side (u + ½ - 1 is not)
    return torch.where(u >= 0.5, u - 0.5, u + 0.5)


def _at_least_half(u: Tensor, style: FaceStyle) -> Tensor:
    return u >= 0.5


def _below_half(u: Tensor, style: FaceStyle) -> Tensor:
    return u < 0.5


def _has_hair(u: Tensor, style: FaceStyle) -> Tensor:
    return u < style.hair_prob


def _flip_hair(u: Tensor, style: FaceStyle) -> Tensor:
    p = style.hair_prob
    return torch.where(u < p, torch.full_like(u, (1 + p) / 2), torch.full_like(u, p / 2))


@dataclass(frozen=True)
class FaceAttribute:
    """One binary attribute of the synthetic faces.

    Attributes:
        name: the attribute's name (a column of ``SyntheticFaces.attributes``).
        slot: the uniform (:data:`~lkbench.data.cartoon.SLOTS`) that decides it.
        label: ``fn(u_slot [N], style) -> bool [N]``.
        flip: ``fn(u_slot [N], style) -> u_slot' [N]`` on the other side of the threshold.
        keep: :class:`FaceParams` fields the counterfactual takes from the source face.
        description: one line for listings.
    """
    name: str
    slot: str
    label: Callable[[Tensor, FaceStyle], Tensor]
    flip: Callable[[Tensor, FaceStyle], Tensor]
    keep: tuple[str, ...] = ()
    description: str = ""


FACE_ATTRIBUTES: Mapping[str, FaceAttribute] = MappingProxyType({a.name: a for a in (
    FaceAttribute("smiling", "smile", _at_least_half, _half_turn,
                  description="mouth centre bent down by at least 0.025 face units"),
    FaceAttribute("mouth_open", "mouth_open", _at_least_half, _half_turn,
                  description="lips parted by at least 0.015 face units"),
    FaceAttribute("hair", "hair_on", _has_hair, _flip_hair, description="the face has hair"),
    FaceAttribute("dark_hair", "hair_colour", _below_half, _half_turn,
                  description="black or brown hair and eyebrows (not blond, red or grey)"),
    FaceAttribute("dark_skin", "skin_tone", _at_least_half, _half_turn, keep=("background",),
                  description="skin tone in the darker half of the light-to-dark range"),
)})
"""Attribute name → definition, in the column order of ``SyntheticFaces.attributes``."""

ATTRIBUTE_NAMES: tuple[str, ...] = tuple(FACE_ATTRIBUTES)


def attribute_labels(u: Tensor, style: FaceStyle) -> Tensor:
    """Labels of every attribute: bool ``[N, A]`` from uniforms ``[N, NUM_SLOTS]``."""
    return torch.stack([a.label(u[:, _SLOT[a.slot]], style) for a in FACE_ATTRIBUTES.values()],
                       1)


def flip_uniforms(u: Tensor, attribute: FaceAttribute, style: FaceStyle) -> Tensor:
    """A copy of uniforms ``u`` ``[N, NUM_SLOTS]`` with ``attribute``'s slot flipped."""
    out = u.clone()
    col = _SLOT[attribute.slot]
    out[:, col] = attribute.flip(u[:, col], style)
    return out


def keep_fields(flipped: FaceParams, source: FaceParams, keep: tuple[str, ...]) -> FaceParams:
    """``flipped`` with the fields named in ``keep`` taken from ``source``."""
    if not keep:
        return flipped
    return FaceParams(**{f.name: getattr(source if f.name in keep else flipped, f.name)
                         for f in fields(FaceParams)})
