"""How far a benchmark number can move: per-image contributions and bootstrap intervals.

Every landmark error formula (:data:`~lkbench.protocols.landmarks.errors.ERRORS`) is a weighted mean of
per-image values: ``value = Σ_n w_n e_n / Σ_n w_n`` (:class:`PerImage`; e.g. IOD error: ``e_n``
the image's mean landmark error, ``w_n`` its number of visible landmarks). That makes two
computations possible without rerunning anything:

* :func:`bootstrap_interval` — a 95 % percentile bootstrap interval over test images: resample
  the scored images with replacement, recompute the weighted mean, take the 2.5 / 97.5 %
  quantiles. It measures how much the number depends on which test images were drawn; the
  regression fit on the fit split is held fixed.
* :func:`paired_difference` — whether two rows of a table differ by more than noise: a paired,
  two-level bootstrap of the difference. Test images are resampled with the *same* indices for
  both rows (pairing removes the part of the variance that comes from image difficulty, which
  both rows share), and each row's seeds are resampled within the row (so seed-to-seed spread
  counts when a row has several seeds; with one seed per row it is the paired image bootstrap).
  The difference is "within noise" when its 95 % interval contains 0.

Random draws come from ``numpy.random.default_rng([seed, block])`` per block of replicates, so an
interval is reproducible bit for bit on one machine and does not depend on memory limits.

Records store the per-image values compactly (:meth:`PerImage.encode`: float32, zlib, base64).
"""
from __future__ import annotations

import base64
import math
import zlib
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from lkbench.errors import DataError

__all__ = ["PerImage", "bootstrap_indices", "bootstrap_interval", "paired_difference",
           "within_noise", "REPLICATES", "LEVEL"]

REPLICATES = 2000
"""Bootstrap replicates (the Monte-Carlo error of a 95 % bound is then ~1 % of its width)."""
LEVEL = 0.95
_BLOCK_VALUES = 1 << 22        # indices drawn per block (32 MiB of int64)
_ENCODING = "zlib-base64-float32"


@dataclass(frozen=True, eq=False)
class PerImage:
    """Per-test-image contributions to a benchmark value.

    Attributes:
        errors: float64 ``[N]``, each image's value in the benchmark's unit (NaN or anything
            where ``weights`` is 0).
        weights: float64 ``[N]`` ≥ 0; 0 marks an image that is not scored (no visible landmark).
    """
    errors: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        e = np.asarray(self.errors, dtype=np.float64).reshape(-1)
        w = np.asarray(self.weights, dtype=np.float64).reshape(-1)
        if e.shape != w.shape:
            raise DataError(f"per-image errors and weights differ in length ({e.size} vs "
                            f"{w.size})")
        if not (np.isfinite(w).all() and (w >= 0).all()) or not w.any():
            raise DataError("per-image weights must be finite, >= 0 and not all 0")
        if not np.isfinite(e[w > 0]).all():
            raise DataError("a scored image has a non-finite per-image error")
        object.__setattr__(self, "errors", np.where(w > 0, e, 0.0))
        object.__setattr__(self, "weights", w)

    def __len__(self) -> int:
        return int(self.errors.size)

    @property
    def value(self) -> float:
        """``Σ w e / Σ w``: the benchmark value these contributions make up."""
        return float((self.weights * self.errors).sum() / self.weights.sum())

    def encode(self) -> dict[str, Any]:
        """JSON-safe and compact: float32 arrays, zlib-compressed, base64 text. ``weights`` is
        omitted when every image has weight 1."""
        out: dict[str, Any] = {"encoding": _ENCODING, "n": len(self),
                               "errors": _pack(self.errors)}
        if not np.all(self.weights == 1.0):
            out["weights"] = _pack(self.weights)
        return out

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> "PerImage":
        """Inverse of :meth:`encode` (values rounded to float32)."""
        if not isinstance(data, Mapping) or data.get("encoding") != _ENCODING:
            raise DataError(f"per-image errors: expected encoding {_ENCODING!r}, got "
                            f"{data.get('encoding') if isinstance(data, Mapping) else data!r}")
        n = int(data["n"])
        errors = _unpack(data["errors"], n)
        weights = _unpack(data["weights"], n) if "weights" in data else np.ones(n)
        return cls(errors, weights)


def _pack(a: np.ndarray) -> str:
    return base64.b64encode(zlib.compress(a.astype("<f4").tobytes(), 9)).decode("ascii")


def _unpack(text: str, n: int) -> np.ndarray:
    try:
        a = np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype="<f4")
    except (ValueError, zlib.error) as e:
        raise DataError(f"per-image errors: cannot decode ({e})") from None
    if a.size != n:
        raise DataError(f"per-image errors: {a.size} values where n = {n}")
    return a.astype(np.float64)


def bootstrap_indices(n: int, replicates: int = REPLICATES, seed: int = 0
                      ) -> Iterator[np.ndarray]:
    """Blocks of resampling indices, int64 ``[b, n]`` (``Σ b = replicates``): row ``r`` is one
    draw of ``n`` indices in ``[0, n)`` with replacement; block ``k`` from
    ``default_rng([seed, k])``."""
    rows = max(1, _BLOCK_VALUES // max(n, 1))
    for k, start in enumerate(range(0, replicates, rows)):
        yield np.random.default_rng([seed, k]).integers(
            0, n, size=(min(rows, replicates - start), n))


def _replicate_means(p: PerImage, idx: np.ndarray) -> np.ndarray:
    """Weighted means of ``p`` over each row of ``idx`` (indices into ``p``) → ``[b]``."""
    return (p.weights * p.errors)[idx].sum(1) / np.maximum(p.weights[idx].sum(1), 1e-300)


def _quantiles(values: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def bootstrap_interval(p: PerImage, *, replicates: int = REPLICATES, level: float = LEVEL,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``p.value`` over the scored images (weight > 0).

    Returns:
        ``(low, high)`` in the benchmark's unit.
    """
    used = np.flatnonzero(p.weights > 0)
    sub = PerImage(p.errors[used], p.weights[used])
    values = np.concatenate([_replicate_means(sub, idx)
                             for idx in bootstrap_indices(used.size, replicates, seed)])
    return _quantiles(values, level)


def paired_difference(a: Sequence[PerImage], b: Sequence[PerImage], *,
                      replicates: int = REPLICATES, level: float = LEVEL, seed: int = 0
                      ) -> tuple[float, float, float]:
    """Paired two-level bootstrap of ``mean(a) − mean(b)`` (see the module docstring).

    Args:
        a, b: one :class:`PerImage` per seed of each row, all over the same ``N`` test images
            in the same order.

    Returns:
        ``(difference, low, high)``: the observed difference of the seed means and its interval.

    Raises:
        DataError: no seeds, or per-image arrays of different lengths.
    """
    if not a or not b:
        raise DataError("paired_difference needs at least one seed per row")
    n = len(a[0])
    if any(len(p) != n for p in (*a, *b)):
        raise DataError("paired_difference: the rows were scored on different numbers of test "
                        "images, so they cannot be paired")
    observed = float(np.mean([p.value for p in a]) - np.mean([p.value for p in b]))
    diffs = []
    for k, idx in enumerate(bootstrap_indices(n, replicates, seed)):
        seeds = np.random.default_rng([seed, k, 1])
        means = []
        for row in (a, b):
            per_seed = np.stack([_replicate_means(p, idx) for p in row])      # [S, b]
            pick = seeds.integers(0, len(row), size=(len(row), idx.shape[0]))  # seeds, resampled
            means.append(np.take_along_axis(per_seed, pick, 0).mean(0))
        diffs.append(means[0] - means[1])
    lo, hi = _quantiles(np.concatenate(diffs), level)
    return observed, lo, hi


def within_noise(a: Sequence[PerImage], b: Sequence[PerImage], **kwargs: Any) -> bool:
    """True when the paired bootstrap interval of the difference contains 0."""
    _, lo, hi = paired_difference(a, b, **kwargs)
    return lo <= 0.0 <= hi or math.isclose(lo, hi)
