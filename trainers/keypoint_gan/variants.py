"""The ablation variants of KeypointGAN's Table 4 (Jakab et al. 2020, §5.4) as a registry.

The paper builds its method from CycleGAN in three changes: (1) a conditional image generator
Ψ(skeleton, appearance image), (2) the skeleton bottleneck β(η(·)) between the pose encoder and
Ψ, (3) dropping the second auto-encoder cycle (skeleton → image → skeleton). Each row is a set of
three switches:

=================  ===========  ==========  ============  =========================================
variant            conditional  bottleneck  second cycle  Table 4 row
=================  ===========  ==========  ============  =========================================
``cyclegan``       no           no          yes           CycleGAN
``conditional``    yes          no          yes           + conditional generator (1)
``bottleneck``     yes          yes         yes           + skeleton bottleneck (2)
``full``           yes          yes         no            cycle = KeypointGAN (3)
``cyclegan-cycle`` no           no          no            CycleGAN cycle
=================  ===========  ==========  ============  =========================================

The last row's meaning is not spelled out in the text we hold; lkbench reads it as CycleGAN with
change (3) alone (one cycle, no conditioning, no bottleneck) [L]. The second cycle renders a
prior pose, decodes it to an image and encodes that back (L1 against the rendered pose), with its
own multi-scale LSGAN image discriminator, as in CycleGAN.
"""
from __future__ import annotations

from dataclasses import dataclass

from lkbench.registry import Registry


@dataclass(frozen=True)
class VariantSpec:
    """The three switches of one ablation row (see the module docstring)."""
    conditional: bool
    bottleneck: bool
    second_cycle: bool
    description: str


VARIANTS: Registry[VariantSpec] = Registry("keypoint-gan-variants")
"""Variant name → :class:`VariantSpec` (plugins: group ``lkbench.keypoint-gan-variants``)."""
VARIANTS.add("cyclegan", VariantSpec(False, False, True, "CycleGAN: unconditional decoder, "
                                     "no bottleneck, both cycles"))
VARIANTS.add("conditional", VariantSpec(True, False, True, "+ conditional generator"))
VARIANTS.add("bottleneck", VariantSpec(True, True, True, "+ skeleton bottleneck"))
VARIANTS.add("full", VariantSpec(True, True, False, "KeypointGAN: conditional, bottleneck, "
                                 "one cycle"))
VARIANTS.add("cyclegan-cycle", VariantSpec(False, False, False, "CycleGAN with one cycle"))
