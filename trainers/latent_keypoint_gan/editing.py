"""Editing operations on :class:`~lkbench.models.Latents` (``docs/models.md`` §1.12).

Every edit is a pure function ``Latents → Latents``: inputs are never modified in place, the
result holds new tensors with the inputs' dtype and device, and rendering it with
``G.render`` gives the edited image. The functions touch nothing but the fields of
:class:`Latents`, so any generator that renders from them can use them; only
:func:`swap_global`'s meaning is LatentKeypointGAN-specific (see there).

Conventions (``N`` samples, ``K`` parts, ``D`` embedding size):

* keypoints are ``(x, y)`` in normalised ``[-1, 1]`` image coordinates (``-1`` is the left/top
  edge, ``+1`` the right/bottom edge; :mod:`lkbench.keypoints`). Edits keep them exactly as
  computed, **without clamping**: a part moved off the image is still rendered (its heatmap
  peak lies outside, so only its tail shows), and a later edit can bring it back;
* a position or offset is a tensor ``[N,2]`` (one per sample) or ``[2]`` (the same for all),
  or a pair of floats;
* part indices address entries ``0 … K-1`` of the latents (added parts come after the model's
  own ``K0``); negative indices count from the end as in Python;
* a *donor* is another ``Latents`` with the same ``N`` (row ``i`` gives to row ``i``) or with
  ``N = 1`` (one donor for every row);
* ``slots`` (``[K]``, ``None`` = ``arange(K)``) say which model part each entry renders as;
  ``tau`` (``[N,K]`` or ``None`` = the model's own widths) is each part's heatmap width.

Edits that copy a part's own values (move a part to where it is, swap with itself, resize by
1, the identity affine map, ``interpolate(a, a, t)``) return latents equal bit for bit to the
input, so they render the input image exactly (tests check it).

Bad input raises :class:`~lkbench.errors.ConfigError` (a bad argument: index out of range,
non-positive factor, unknown ``about``) or :class:`~lkbench.errors.DataError` (tensors of the
wrong shape, latents that do not fit together).

The named operations of ``lkbench edit`` are in :mod:`.edit_ops`.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import torch
from torch import Tensor

from lkbench.errors import ConfigError, DataError
from lkbench.models import Latents

__all__ = ["LatentEdits", "move", "move_all", "swap_parts", "swap_global", "swap_background", "remove_parts",
           "add_part", "interpolate", "resize_part"]


# -- helpers --------------------------------------------------------------------------------

def _part(lat: Latents, part: int, what: str = "part") -> int:
    """``part`` as an index in ``0 … K-1`` (negative counts from the end), or ConfigError."""
    k = lat.num_parts
    if isinstance(part, bool) or not isinstance(part, int):
        try:
            part = int(part.__index__())  # numpy / torch integer scalars
        except (AttributeError, TypeError):
            raise ConfigError(f"{what} index must be an integer, got {part!r}") from None
    if not -k <= part < k:
        raise ConfigError(f"{what} {part} is out of range for latents with {k} parts; use an "
                          f"index in 0..{k - 1} (or -{k}..-1 counting from the end)")
    return part % k


def _parts(lat: Latents, parts: Sequence[int], what: str = "part") -> list[int]:
    if isinstance(parts, int) or isinstance(parts, Tensor) and parts.dim() == 0:
        parts = [parts]
    out = [_part(lat, p, what) for p in parts]
    if not out:
        raise ConfigError(f"no {what}s given; name at least one {what} index")
    return out


def _points(value, lat: Latents, name: str) -> Tensor:
    """A ``[2]`` or ``[N,2]`` (x, y) value as ``[N,2]`` in the keypoints' dtype and device."""
    n = len(lat)
    t = torch.as_tensor(value, dtype=lat.keypoints.dtype, device=lat.keypoints.device)
    if t.shape == (2,):
        return t.expand(n, 2)
    if t.shape == (n, 2):
        return t
    raise DataError(f"{name} must be an (x, y) pair [2] or one per sample [{n},2], got shape "
                    f"{tuple(t.shape)}")


def _slots(lat: Latents) -> Tensor:
    """The slot map ``[K]`` (``arange(K)`` where ``lat.slots`` is None), long, on the device."""
    if lat.slots is None:
        return torch.arange(lat.num_parts, device=lat.keypoints.device)
    return lat.slots.to(device=lat.keypoints.device, dtype=torch.long)


def _rows(donor_field: Tensor, n: int, donor_n: int, name: str) -> Tensor:
    """A donor's field with ``n`` rows (``N = 1`` donors are broadcast)."""
    if donor_n == n:
        return donor_field
    if donor_n == 1:
        return donor_field.expand(n, *donor_field.shape[1:])
    raise DataError(f"{name} has {donor_n} samples but the latents have {n}; give a donor with "
                    f"the same number of samples or with 1 (used for every sample)")


def _check_donor(lat: Latents, donor: Latents, what: str) -> None:
    if not isinstance(donor, Latents):
        raise DataError(f"{what} needs a donor Latents, got {type(donor).__name__}")
    d, dd = lat.part_embeddings.shape[-1], donor.part_embeddings.shape[-1]
    if d != dd or lat.background.shape[-1] != donor.background.shape[-1]:
        raise DataError(f"{what}: the donor's embeddings have size {dd} but the latents' have "
                        f"{d}; take the donor from the same generator")


def _same_slots(a: Latents, b: Latents) -> bool:
    if a.num_parts != b.num_parts:
        return False
    return bool(torch.equal(_slots(a).cpu(), _slots(b).cpu()))


# -- moving -----------------------------------------------------------------------------------

def move(lat: Latents, part: int, to) -> Latents:
    """Put part ``part`` at ``to``; embeddings, widths and the other parts are unchanged.

    Args:
        lat: latents with ``K`` parts.
        part: index of the part to move.
        to: new position, ``(x, y)`` in ``[-1, 1]``: ``[N,2]`` or ``[2]``. Not clamped.

    Returns:
        New latents; ``move(lat, j, lat.keypoints[:, j])`` equals ``lat`` exactly.
    """
    j = _part(lat, part)
    kp = lat.keypoints.clone()
    kp[:, j] = _points(to, lat, "to")
    return replace(lat, keypoints=kp)


def move_all(lat: Latents, matrix=None, offset=None, about: str = "centroid") -> Latents:
    """An affine map of every keypoint: ``p ↦ M (p − c) + c + offset``.

    ``p`` and ``c`` are column vectors ``(x, y)``; ``c`` is the centroid of each sample's active
    parts (``about="centroid"``, all parts when none is active) or ``(0, 0)`` (``"origin"``, the
    image centre). Scale the whole layout by ``s`` about its centroid with ``matrix=s``.

    Args:
        lat: latents.
        matrix: ``[2,2]`` or ``[N,2,2]`` (acting on ``(x, y)`` columns), a float ``s``
            (``s·I``), or None (identity).
        offset: translation ``[2]`` or ``[N,2]`` in normalised units, or None (zero).
        about: ``centroid`` | ``origin``.

    Returns:
        New latents; keypoints may leave ``[-1, 1]`` (no clamping). The identity map with no
        offset returns the keypoints bit for bit: the map is evaluated as ``M p + t`` with
        ``t = c − M c + offset``, which is exactly 0 for ``M = I``.
    """
    n, dtype, device = len(lat), lat.keypoints.dtype, lat.keypoints.device
    if about not in ("centroid", "origin"):
        raise ConfigError(f"about must be 'centroid' or 'origin', got {about!r}")
    if matrix is None:
        matrix = 1.0
    m = torch.as_tensor(matrix, dtype=dtype, device=device)
    if m.dim() == 0:
        m = m * torch.eye(2, dtype=dtype, device=device)
    if m.shape == (2, 2):
        m = m.expand(n, 2, 2)
    elif m.shape != (n, 2, 2):
        raise DataError(f"matrix must be a float, [2,2] or [{n},2,2], got shape "
                        f"{tuple(m.shape)}")
    off = (torch.zeros(n, 2, dtype=dtype, device=device) if offset is None
           else _points(offset, lat, "offset"))
    kp = lat.keypoints
    if about == "centroid":
        w = lat.active.to(device=device, dtype=dtype)
        w = torch.where(w.sum(1, keepdim=True) > 0, w, torch.ones_like(w))
        c = (kp * w.unsqueeze(-1)).sum(1) / w.sum(1, keepdim=True)               # [N,2]
    else:
        c = torch.zeros(n, 2, dtype=dtype, device=device)
    t = c - torch.einsum("nij,nj->ni", m, c) + off                              # [N,2]
    new = torch.einsum("nij,nkj->nki", m, kp) + t.unsqueeze(1)
    return replace(lat, keypoints=new)


# -- appearance -----------------------------------------------------------------------------

def swap_parts(lat: Latents, donor: Latents, parts: Sequence[int]) -> Latents:
    """Give parts ``parts`` the donor's embeddings (``w_kp[:, S] ← w_kp_donor[:, S]``).

    Only those parts' appearance changes: positions, widths and every other embedding stay.

    Args:
        lat: latents ``[N,K,…]``.
        donor: latents with ``N`` or 1 samples holding every index in ``parts``; an index must
            denote the same model part (slot) in both.
        parts: part indices (an int is one part).

    Returns:
        New latents; ``swap_parts(lat, lat, S)`` equals ``lat`` exactly.
    """
    _check_donor(lat, donor, "swap_parts")
    js = _parts(lat, parts)
    _parts(donor, js, "donor part")
    src_slots, don_slots = _slots(lat), _slots(donor)
    for j in js:
        if int(src_slots[j]) != int(don_slots[j]):
            raise DataError(f"part {j} renders as model part {int(src_slots[j])} in the "
                            f"latents but as {int(don_slots[j])} in the donor; swap parts "
                            "between latents with the same layout of parts")
    emb = lat.part_embeddings.clone()
    donor_emb = _rows(donor.part_embeddings, len(lat), len(donor), "the donor")
    idx = torch.tensor(js, device=emb.device)
    emb[:, idx] = donor_emb.to(device=emb.device, dtype=emb.dtype)[:, idx]
    return replace(lat, part_embeddings=emb)


def swap_global(lat: Latents, donor: Latents) -> Latents:
    """Swap the global appearance: every part embedding comes from the donor.

    LatentKeypointGAN's part embeddings are ``w_kp = w_global ⊙ w_const`` with ``w_const`` a
    parameter shared by all samples (docs/models.md §1.3), so a sample's ``w_kp`` is a fixed function of
    its ``w_global`` alone. Copying all of the donor's ``w_kp`` is therefore exactly rendering
    with the donor's ``w_global`` (the spec's "replace ``w_global``"), and needs no access to
    the model. (Parts added by :func:`add_part` with a custom embedding lose it here, as they
    would with ``w_global`` replaced.)

    Args:
        lat: latents.
        donor: latents with ``N`` or 1 samples and the same parts (count and slots).

    Returns:
        New latents; ``swap_global(lat, lat)`` equals ``lat`` exactly.
    """
    _check_donor(lat, donor, "swap_global")
    if not _same_slots(lat, donor):
        raise DataError(f"swap_global: the donor has {donor.num_parts} parts (slots "
                        f"{_slots(donor).tolist()}) but the latents have {lat.num_parts} (slots "
                        f"{_slots(lat).tolist()}); swap the global appearance before adding "
                        "parts, or use swap_parts for a subset")
    emb = _rows(donor.part_embeddings, len(lat), len(donor), "the donor")
    like = lat.part_embeddings
    return replace(lat, part_embeddings=emb.to(device=like.device, dtype=like.dtype).clone())


def swap_background(lat: Latents, donor: Latents) -> Latents:
    """Replace the background embedding ``w_bg`` ``[N,D]`` with the donor's (``N`` or 1 rows).

    ``swap_background(lat, lat)`` equals ``lat`` exactly.
    """
    _check_donor(lat, donor, "swap_background")
    bg = _rows(donor.background, len(lat), len(donor), "the donor")
    like = lat.background
    return replace(lat, background=bg.to(device=like.device, dtype=like.dtype).clone())


# -- removing, adding, resizing -------------------------------------------------------------

def remove_parts(lat: Latents, parts: Sequence[int]) -> Latents:
    """Deactivate ``parts``: their heatmaps become 0 at every level and they no longer cover
    the background (``H_bg = 1 − max`` over the remaining parts), so the background fills the
    hole (docs/models.md §1.12). Positions and embeddings are kept, so re-activating restores the part.
    """
    js = _parts(lat, parts)
    active = lat.active.clone()
    active[:, torch.tensor(js, device=active.device)] = False
    return replace(lat, active=active)


def add_part(lat: Latents, position, like: int, embedding=None) -> Latents:
    """Append a part at ``position`` that renders as a copy of part ``like``.

    The new entry gets ``like``'s slot (in ``concat`` mode its heatmap × embedding goes into the
    channels of that model part; docs/models.md §1.12), ``like``'s width τ (when ``lat.tau`` is given),
    is active, and carries ``embedding`` (default: a copy of ``like``'s embedding).

    Args:
        lat: latents with ``K`` parts.
        position: ``(x, y)`` in ``[-1, 1]``: ``[N,2]`` or ``[2]``. Not clamped.
        like: index of the part to copy.
        embedding: ``[N,D]`` or ``[D]``, or None.

    Returns:
        New latents with ``K + 1`` parts; the new part is index ``K`` (or ``-1``).
        ``slots`` is always set (``arange(K)`` extended).
    """
    j = _part(lat, like, "like")
    n, d = len(lat), lat.part_embeddings.shape[-1]
    pos = _points(position, lat, "position")
    if embedding is None:
        emb = lat.part_embeddings[:, j]
    else:
        emb = torch.as_tensor(embedding, dtype=lat.part_embeddings.dtype,
                              device=lat.part_embeddings.device)
        if emb.shape == (d,):
            emb = emb.expand(n, d)
        elif emb.shape != (n, d):
            raise DataError(f"embedding must be [{d}] or [{n},{d}], got shape "
                            f"{tuple(emb.shape)}")
    slots = _slots(lat)
    active = torch.ones(n, 1, dtype=lat.active.dtype, device=lat.active.device)
    return Latents(
        keypoints=torch.cat([lat.keypoints, pos.unsqueeze(1)], dim=1),
        part_embeddings=torch.cat([lat.part_embeddings, emb.unsqueeze(1)], dim=1),
        background=lat.background.clone(),
        active=torch.cat([lat.active, active], dim=1),
        tau=None if lat.tau is None else torch.cat([lat.tau, lat.tau[:, j:j + 1]], dim=1),
        slots=torch.cat([slots, slots[j:j + 1]]),
    )


def resize_part(lat: Latents, part: int, factor: float) -> Latents:
    """Multiply part ``part``'s heatmap width τ by ``factor`` (> 0): the part's size.

    τ divides the squared distance (``exp(−d²/τ)``), so the footprint's radius scales with
    ``√factor``. Needs ``lat.tau`` (models whose part size is a latent, like
    LatentKeypointGAN's ``map``). ``resize_part(lat, j, 1.0)`` equals ``lat`` exactly.
    """
    if lat.tau is None:
        raise DataError("these latents carry no per-part width (tau is None), so a part cannot "
                        "be resized; use latents from a model whose map() sets tau "
                        "(LatentKeypointGAN does)")
    j = _part(lat, part)
    factor = float(factor)
    if not factor > 0 or factor == float("inf"):
        raise ConfigError(f"resize factor must be a finite number > 0, got {factor}")
    tau = lat.tau.clone()
    tau[:, j] = tau[:, j] * factor
    return replace(lat, tau=tau)


# -- interpolation --------------------------------------------------------------------------

def interpolate(a: Latents, b: Latents, t: float) -> Latents:
    """Linear interpolation ``a + t (b − a)`` of keypoints, part embeddings, background and τ.

    ``torch.lerp`` is exact at the ends: ``t = 0`` gives ``a`` and ``t = 1`` gives ``b`` bit for
    bit, and ``interpolate(a, a, t) = a``. ``t`` outside [0, 1] extrapolates.

    Args:
        a, b: latents with the same parts (count, slots and ``active``; ``tau`` given in both or
            in neither); ``b`` may have 1 sample (broadcast).
        t: the weight of ``b``.

    Returns:
        New latents with ``a``'s ``active`` and ``slots``.
    """
    _check_donor(a, b, "interpolate")
    n = len(a)
    if not _same_slots(a, b):
        raise DataError(f"interpolate needs latents with the same parts: a has {a.num_parts} "
                        f"(slots {_slots(a).tolist()}), b has {b.num_parts} (slots "
                        f"{_slots(b).tolist()}); interpolate before adding parts")
    if (a.tau is None) != (b.tau is None):
        raise DataError("interpolate: one latents has per-part widths (tau) and the other has "
                        "none; take both from the same model")
    act_b = _rows(b.active.to(a.active.device), n, len(b), "b")
    if not torch.equal(a.active, act_b):
        raise DataError("interpolate: the latents have different active parts; remove the same "
                        "parts from both (remove_parts) before interpolating")
    t = float(t)

    def lerp(x: Tensor, y: Tensor, name: str) -> Tensor:
        return torch.lerp(x, _rows(y, n, len(b), name).to(device=x.device, dtype=x.dtype), t)

    return Latents(keypoints=lerp(a.keypoints, b.keypoints, "b"),
                   part_embeddings=lerp(a.part_embeddings, b.part_embeddings, "b"),
                   background=lerp(a.background, b.background, "b"),
                   active=a.active.clone(),
                   tau=None if a.tau is None else lerp(a.tau, b.tau, "b"),
                   slots=None if a.slots is None else a.slots.clone())


class LatentEdits:
    """The methods of :class:`lkbench.models.EditableGenerator` for any generator whose latents
    are :class:`~lkbench.models.Latents`: the functions above, reached through the generator so
    that protocols (CPD, FID_interp) import no trainer package."""

    def swap_parts(self, latents: Latents, donor: Latents, parts: Sequence[int]) -> Latents:
        """:func:`swap_parts`."""
        return swap_parts(latents, donor, parts)

    def swap_background(self, latents: Latents, donor: Latents) -> Latents:
        """:func:`swap_background`."""
        return swap_background(latents, donor)

    def interpolate(self, a: Latents, b: Latents, t: float) -> Latents:
        """:func:`interpolate`."""
        return interpolate(a, b, t)
