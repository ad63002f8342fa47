"""CPD, correlation-based part disentanglement (``docs/protocols.md`` §3.3; LKG extended abstract
Table 2 and its Fig. 3 caption).

Definition (the implementable form of the spec; ▶ marks lkbench's choices where the paper is
silent):

1. sample ``2P`` latents with a fixed seed and pair them, ``(a_i, b_i)``, ``i = 1..P``
   (default ``P = 1000``, i.e. 2 000 latents);
2. for every *unit* ``u`` (a part, a group of parts, or the background), render
   ``I_i^u = G(a_i with u's embeddings taken from b_i)`` — keypoint positions and every other
   embedding of ``a_i`` kept (the generator's
   :meth:`~lkbench.models.EditableGenerator.swap_parts`; the background unit uses its
   ``swap_background``). A group swaps all its members at once;
3. ``D_i^u = mean over RGB of |I_i^u − G(a_i)|`` — an ``H×W`` map, images in [-1, 1] (▶ abs
   and channel mean);
4. ``v_u`` = the concatenation of ``D_i^u`` over all pairs and pixels (▶ pooled over pairs);
5. ``C_uv = Pearson(v_u, v_v)``; ``CPD = 1 − mean_{u≠v} C_uv``. 1 = every unit changes its own
   pixels only (perfect disentanglement), 0 = every unit changes the same pixels in the same way.

Without ``groups`` every part is its own unit; the background unit is included unless
``background=False`` (GANLocalEditing has no background, so the paper's comparison drops it).
Parts not named in any group are left out.

**⚠ Pearson vs. "1 = perfect".** The abstract's reading (1 = perfect, 0 = no control) holds
exactly for the *uncentred* correlation ``Σxy / sqrt(Σx² Σy²)``: units that change disjoint pixels
give 0, so CPD = 1. Pearson (the spec's step 5) centres the maps first, and the centred maps of
disjoint non-negative changes correlate *negatively* (two disjoint indicator maps each covering
a fraction ``p`` of the values correlate at ``−p/(1−p)``), so Pearson-CPD can exceed 1. The
record's value is the spec's Pearson CPD; ``cpd_uncentred`` and its matrix are computed from the
same running sums and stored beside it.

Streaming: :class:`CorrelationStats` keeps ``(n, mean, co-moment)`` in float64 and merges batches
with the pairwise update of Chan et al., so memory does not grow with the number of pairs and
the result equals the all-in-memory Pearson matrix (tests check it). A unit whose edit never
changes a pixel has no variance: its row and column are NaN and CPD averages the defined
off-diagonal entries (the run reports which units were constant).

Published values (SEED-EA): LKG 0.63, SEAN 0.70, GANLocalEditing 0.45 / 0.39 / 0.35.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from lkbench.errors import ConfigError, DataError
from lkbench.finite import check_images_finite
from lkbench.models import EditableGenerator, KeypointGenerator, Latents, edit_op

from .latent_stream import paired_latent_batches

__all__ = ["Unit", "CPDConfig", "CPDResult", "CorrelationStats", "parse_groups", "make_units",
           "difference_maps", "cpd_from_correlation", "compute_cpd"]


@dataclass(frozen=True)
class Unit:
    """One thing CPD swaps: a set of part indices, or the background (``parts == ()``)."""
    name: str
    parts: tuple[int, ...] = ()

    @property
    def is_background(self) -> bool:
        return not self.parts

    def edit(self, a: Latents, b: Latents, generator: EditableGenerator) -> Latents:
        """``a`` with this unit's embeddings taken from ``b`` (same number of rows), by the
        generator's ``swap_background`` / ``swap_parts`` (UnsupportedEditError without it)."""
        if self.is_background:
            return edit_op(generator, "swap_background", "CPD")(a, b)
        return edit_op(generator, "swap_parts", "CPD")(a, b, self.parts)


@dataclass(frozen=True)
class CPDConfig:
    """Settings of one CPD run.

    Attributes:
        num_latents: latents sampled; ``num_latents / 2`` pairs (even, ≥ 4). Published: 2 000.
        groups: ``((name, (part, ...)), ...)``; empty = every part is its own unit.
        background: include the background as a unit.
        batch_size: pairs rendered at once (does not change the result).
        seed: seed of the latents.
        device: auto | cpu | cuda | cuda:N.
    """
    num_latents: int = 2000
    groups: tuple[tuple[str, tuple[int, ...]], ...] = ()
    background: bool = True
    batch_size: int = 50
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.num_latents < 4 or self.num_latents % 2:
            raise ConfigError(f"CPD pairs latents, so --num-latents must be even and at least 4; "
                              f"got {self.num_latents}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {self.batch_size}")

    @property
    def num_pairs(self) -> int:
        return self.num_latents // 2


@dataclass(frozen=True)
class CPDResult:
    """CPD and its correlation matrix.

    Attributes:
        cpd: ``1 − mean`` of the defined off-diagonal Pearson correlations (the spec's CPD).
        correlation: float64 ``[U,U]`` Pearson matrix (NaN rows/columns for constant units).
        cpd_uncentred, correlation_uncentred: the same with the uncentred (cosine) correlation,
            see the module docstring.
        units: the units in matrix order.
        num_pairs: pairs the statistics pooled; num_values: values per unit vector (pairs × H × W).
        constant_units: names of units whose edit changed no pixel.
        wall_time_s: seconds spent generating and accumulating.
    """
    cpd: float
    correlation: np.ndarray
    cpd_uncentred: float
    correlation_uncentred: np.ndarray
    units: tuple[Unit, ...]
    num_pairs: int
    num_values: int
    constant_units: tuple[str, ...]
    wall_time_s: float


class CorrelationStats:
    """Streaming Pearson correlation of ``U`` variables in float64.

    State: count ``n``, mean ``[U]`` and co-moment ``M = Σ (x − mean)(x − mean)ᵀ`` ``[U,U]``.
    :meth:`update` folds in a chunk with the pairwise formula
    ``M = M_a + M_b + δδᵀ·n_a·n_b/n`` (``δ`` the difference of the chunk means), which stays
    accurate where raw sums of squares would cancel. Memory: ``O(U²)``, whatever ``n``.
    """

    def __init__(self, num_vars: int):
        if num_vars < 1:
            raise DataError(f"CorrelationStats needs at least one variable, got {num_vars}")
        self.num_vars = num_vars
        self.n = 0
        self.mean = torch.zeros(num_vars, dtype=torch.float64)
        self.comoment = torch.zeros(num_vars, num_vars, dtype=torch.float64)

    def update(self, values: Tensor) -> None:
        """Add observations: ``values`` ``[U, M]`` (M observations of each of the U variables)."""
        if values.dim() != 2 or values.shape[0] != self.num_vars:
            raise DataError(f"CorrelationStats.update takes [{self.num_vars}, M], got shape "
                            f"{tuple(values.shape)}")
        x = values.detach().to("cpu", torch.float64)
        m = x.shape[1]
        if m == 0:
            return
        mean_b = x.mean(1)
        xc = x - mean_b[:, None]
        self._merge(m, mean_b, xc @ xc.T)

    def merge(self, other: "CorrelationStats") -> None:
        """Fold in another accumulator (e.g. from another process)."""
        if other.num_vars != self.num_vars:
            raise DataError(f"cannot merge statistics of {other.num_vars} variables into "
                            f"{self.num_vars}")
        if other.n:
            self._merge(other.n, other.mean, other.comoment)

    def _merge(self, n_b: int, mean_b: Tensor, m_b: Tensor) -> None:
        n_a, n = self.n, self.n + n_b
        delta = mean_b - self.mean
        self.comoment = self.comoment + m_b + torch.outer(delta, delta) * (n_a * n_b / n)
        self.mean = self.mean + delta * (n_b / n)
        self.n = n

    def correlation(self, centred: bool = True) -> np.ndarray:
        """float64 ``[U,U]`` correlation matrix.

        ``centred=True``: Pearson, ``M_uv / sqrt(M_uu M_vv)``; NaN in the rows/columns of
        constant variables. ``centred=False``: the uncentred (cosine) form
        ``S_uv / sqrt(S_uu S_vv)`` with ``S = Σ x xᵀ = M + n·mean meanᵀ``; NaN for variables
        that are identically 0.
        """
        if self.n < 2:
            raise DataError("a correlation needs at least 2 observations")
        m = self.comoment.numpy()
        if not centred:
            m = m + self.n * np.outer(self.mean.numpy(), self.mean.numpy())
        sd = np.sqrt(np.clip(np.diag(m), 0.0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            c = m / np.outer(sd, sd)
        bad = sd <= 0
        c[bad, :] = np.nan
        c[:, bad] = np.nan
        idx = np.flatnonzero(~bad)
        c[idx, idx] = 1.0
        return np.clip(c, -1.0, 1.0)


def cpd_from_correlation(corr: np.ndarray) -> float:
    """``1 − mean`` of the off-diagonal entries of ``corr`` ``[U,U]`` that are defined (not NaN).

    Raises:
        DataError: fewer than 2 units, or no defined off-diagonal entry.
    """
    corr = np.asarray(corr, dtype=np.float64)
    u = corr.shape[0]
    if corr.shape != (u, u) or u < 2:
        raise DataError(f"CPD needs a square correlation matrix of at least 2 units, got shape "
                        f"{corr.shape}")
    off = corr[~np.eye(u, dtype=bool)]
    off = off[np.isfinite(off)]
    if off.size == 0:
        raise DataError("every unit's edit left the image unchanged (or all but one did), so no "
                        "correlation is defined; check the generator and the --groups")
    return float(1.0 - off.mean())


_GROUP_RE = re.compile(r"^\s*([A-Za-z_][\w\-]*)\s*=\s*([\d\s,]+)$")


def parse_groups(text: "str | None") -> tuple[tuple[str, tuple[int, ...]], ...]:
    """``"eyes=0,1;mouth=2,3"`` → ``(("eyes", (0, 1)), ("mouth", (2, 3)))``; None/"" → ``()``.

    Raises:
        ConfigError: a malformed group, a repeated name, or a part in two groups.
    """
    if text is None or not text.strip():
        return ()
    groups, seen_parts = [], {}
    for chunk in filter(str.strip, text.split(";")):
        m = _GROUP_RE.match(chunk)
        parts = tuple(int(p) for p in m.group(2).split(",") if p.strip()) if m else ()
        if not m or not parts:
            raise ConfigError(f"--groups: cannot read {chunk.strip()!r}; write groups as "
                              "NAME=J,J;NAME=J, e.g. \"eyes=0,1;mouth=2,3\"")
        name = m.group(1)
        if name in dict(groups) or name == "background":
            raise ConfigError(f"--groups: the name {name!r} is used twice (or is reserved for "
                              "the background unit); give each group its own name")
        for p in parts:
            if p in seen_parts:
                raise ConfigError(f"--groups: part {p} is in both {seen_parts[p]!r} and "
                                  f"{name!r}; a part may belong to one group only")
            seen_parts[p] = name
        groups.append((name, tuple(dict.fromkeys(parts))))
    return tuple(groups)


def make_units(num_parts: int, groups: Sequence[tuple[str, Sequence[int]]] = (),
               background: bool = True) -> tuple[Unit, ...]:
    """The units of a CPD run: the groups (or every part alone), then the background.

    Raises:
        ConfigError: a part index outside ``0..num_parts-1``, or fewer than 2 units.
    """
    if groups:
        units = []
        for name, parts in groups:
            bad = [p for p in parts if not 0 <= p < num_parts]
            if bad:
                raise ConfigError(f"--groups: group {name!r} names part(s) {bad} but the "
                                  f"generator has parts 0..{num_parts - 1}")
            units.append(Unit(name, tuple(parts)))
    else:
        units = [Unit(f"part {j}", (j,)) for j in range(num_parts)]
    if background:
        units.append(Unit("background"))
    if len(units) < 2:
        raise ConfigError(f"CPD correlates at least 2 units, got {len(units)}; add groups or "
                          "keep the background in")
    return tuple(units)


def difference_maps(render: Callable[[Latents], Tensor], a: Latents, b: Latents,
                    units: Sequence[Unit], base: "Tensor | None" = None, *,
                    generator: EditableGenerator) -> Tensor:
    """``D^u = mean_RGB |render(edit_u(a, b)) − render(a)|`` for every unit.

    Args:
        render: latents → float images ``[B,3,H,W]`` in [-1, 1].
        a, b: the pairs' latents (``B`` rows each).
        units: what to swap.
        base: ``render(a)`` if already computed.
        generator: whose edits swap the units (:class:`~lkbench.models.EditableGenerator`).

    Returns:
        float32 ``[U,B,H,W]``, values in [0, 2].
    """
    base = render(a) if base is None else base
    return torch.stack([(render(u.edit(a, b, generator)) - base).abs().mean(1) for u in units])


def compute_cpd(generator: KeypointGenerator, cfg: CPDConfig, *, progress: bool = False,
                on_batch: "Callable[[Tensor], None] | None" = None) -> CPDResult:
    """Stream CPD over ``cfg.num_pairs`` pairs of ``generator`` (already on its device, eval).

    Args:
        generator: a :class:`~lkbench.models.KeypointGenerator` with the edits ``swap_parts``
            and (with the background unit) ``swap_background`` of
            :class:`~lkbench.models.EditableGenerator`; without them the first batch raises
            :class:`~lkbench.models.UnsupportedEditError`.
        cfg: settings.
        progress: tqdm bar on stderr.
        on_batch: called with each batch's ``[U,B,H,W]`` difference maps (tests, analysis).

    Returns:
        :class:`CPDResult`.
    """
    t0 = time.perf_counter()
    units = make_units(int(generator.num_keypoints), cfg.groups, cfg.background)
    stats = CorrelationStats(len(units))

    def render(lat: Latents) -> Tensor:
        images = generator.render(lat).images.float()
        check_images_finite(images, "the generator")
        return images

    bar = tqdm(total=cfg.num_pairs, desc="CPD pairs", unit="pair", disable=not progress,
               leave=False)
    with torch.no_grad(), bar:
        for a, b in paired_latent_batches(generator, cfg.num_pairs, cfg.seed, cfg.batch_size):
            d = difference_maps(render, a, b, units, generator=generator)
            if on_batch is not None:
                on_batch(d)
            stats.update(d.reshape(len(units), -1))
            bar.update(len(a))
    corr = stats.correlation()
    constant = tuple(u.name for u, ok in zip(units, np.isfinite(np.diag(corr))) if not ok)
    unc = stats.correlation(centred=False)
    return CPDResult(cpd_from_correlation(corr), corr, cpd_from_correlation(unc), unc, units, cfg.num_pairs, stats.n, constant,
                     time.perf_counter() - t0)


def iter_units(result: CPDResult) -> Iterator[tuple[str, tuple[int, ...]]]:
    """``(name, parts)`` per unit (``()`` for the background), for records."""
    return ((u.name, u.parts) for u in result.units)


def json_matrix(corr: np.ndarray) -> list[list["float | None"]]:
    """The matrix as nested lists with NaN as None (JSON has no NaN), 6 decimals."""
    return [[None if not math.isfinite(v) else round(float(v), 6) for v in row] for row in corr]
