"""Benchmark data (which dataset and splits a benchmark scores on) and predictions files.

Two things the detection protocol and ``lkbench score`` share:

* :func:`benchmark_data` reads a benchmark's dataset binding (:class:`~.benchmarks.BenchmarkData`,
  declared with its :class:`~.benchmarks.BenchmarkSpec`): dataset name, the fit and test splits,
  the image size the loader renders, and loader options; a user's per-dataset options
  (``--set data.KEY=VALUE``) reach the loader through :meth:`~.benchmarks.BenchmarkData.
  with_options`.
* Predictions files: an ``.npz`` with ``fit`` and ``test`` arrays ``[N,K,2]`` in dataset order
  (optionally ``fit_visible`` / ``test_visible``, bool ``[N,L]``), in any of the coordinate
  conventions of :data:`CONVENTIONS`, read by :func:`load_predictions` with a one-line error and
  its fix for every mistake; :func:`export_order` writes the order the arrays must follow.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from lkbench.atomic import PathLike, atomic_write
from lkbench.data import DATASETS, LandmarkSet
from lkbench.errors import DataError
from lkbench.keypoints import from_pixels, from_unit, rowcol_to_xy
from lkbench.registry import Registry
from .benchmarks import BENCHMARKS, BenchmarkData

__all__ = ["benchmark_data", "Convention", "CONVENTIONS",
           "from_align_corners", "convert", "Predictions", "load_predictions", "export_order",
           "image_ids", "describe_conventions"]


# ==================== benchmark → dataset
def benchmark_data(benchmark: str) -> tuple[str, BenchmarkData]:
    """``(canonical benchmark name, its BenchmarkData)``; ``benchmark`` may be an alias.

    Raises:
        UnknownNameError: not a benchmark.
        DataError: a benchmark whose dataset is not registered in :data:`lkbench.data.DATASETS`.
    """
    spec = BENCHMARKS.get(benchmark)
    if spec.data.dataset not in DATASETS:
        raise DataError(f"benchmark {spec.name!r} is scored on dataset {spec.data.dataset!r}, "
                        "which this lkbench has no loader for (datasets: "
                        f"{', '.join(DATASETS.names())}); register one with "
                        "register_benchmark(spec, dataset=factory), or score your arrays with "
                        "lkbench.protocols.landmarks.score.score(...) in Python meanwhile")
    return spec.name, spec.data


def image_ids(ds: LandmarkSet) -> list[str]:
    """One id per image of ``ds`` in dataset order: the dataset's ``image_ids`` if it has them
    (file names of real datasets), else ``"<split>/<index>"``."""
    ids = getattr(ds, "image_ids", None)
    if ids is not None:
        return [str(i) for i in ids]
    return [f"{ds.split}/{i:06d}" for i in range(len(ds))]


def export_order(benchmark: str, path: PathLike, root: "PathLike | None" = None,
                 options: "Mapping[str, Any] | None" = None) -> Path:
    """Write the image order a predictions file must follow, as CSV ``array,index,image_id``.

    ``array`` is ``fit`` or ``test`` (the npz key), ``index`` the row in that array;
    ``options`` are the dataset's options (:meth:`~.benchmarks.BenchmarkData.with_options`), which can change
    which images a split holds (e.g. 300-W's ``subset``).
    """
    _, data = benchmark_data(benchmark)
    data = data.with_options(options)
    rows = [(role, i, image_id) for role in ("fit", "test")
            for i, image_id in enumerate(image_ids(data.load(role, root)))]
    with atomic_write(path) as fh:
        text = "array,index,image_id\n" + "".join(f"{r},{i},{d}\n" for r, i, d in rows)
        fh.write(text.encode("utf-8"))
    return Path(path)


# ==================== coordinate conventions
def from_align_corners(v: np.ndarray, size: int) -> np.ndarray:
    """``[..., 2]`` (x, y) with ±1 at the centres of the outer pixels of a ``size`` grid (the
    ``linspace(-1, 1, size)`` read-out of AutoLink/GANSeg heatmaps) → project convention."""
    return from_pixels((np.asarray(v, dtype=np.float64) + 1) * (size - 1) / 2, size)


@dataclass(frozen=True)
class Convention:
    """A way of writing keypoints: ``to_lkbench(arr [...,2], size) -> [...,2]`` in [-1, 1]."""

    to_lkbench: Callable[[np.ndarray, "int | None"], np.ndarray]
    needs_size: bool
    description: str


CONVENTIONS: Registry[Convention] = Registry("conventions")
CONVENTIONS.add("lkbench", Convention(lambda a, s: a, False,
                "(x, y) in [-1, 1], -1/+1 at the image edges (grid_sample align_corners=False)"))
CONVENTIONS.add("unit", Convention(lambda a, s: from_unit(a), False,
                "(x, y) in [0, 1], 0/1 at the image edges (top-left origin)"))
CONVENTIONS.add("pixels-xy", Convention(lambda a, s: from_pixels(a, s), True,
                "(x, y) 0-based pixels, pixel i's centre at i, of an S x S image"))
CONVENTIONS.add("pixels-rowcol", Convention(lambda a, s: from_pixels(rowcol_to_xy(a), s), True,
                "(row, col) 0-based pixels, pixel i's centre at i, of an S x S image"))
CONVENTIONS.add("align-corners", Convention(from_align_corners, True,
                "(x, y) in [-1, 1] with -1/+1 at the centres of the outer pixels of an S grid"))


def convert(arr: np.ndarray, convention: str, pixel_size: "int | None") -> np.ndarray:
    """``arr [...,2]`` written in ``convention`` → float64 project convention.

    Raises:
        UnknownNameError: unknown convention. DataError: ``pixel_size`` missing or superfluous.
    """
    conv = CONVENTIONS.get(convention)
    if conv.needs_size and pixel_size is None:
        raise DataError(f"--convention {convention} needs --pixel-size S: the side in pixels of "
                        "the images your detector's coordinates refer to (e.g. 128)")
    if not conv.needs_size and pixel_size is not None:
        sized = [n for n in CONVENTIONS.names() if CONVENTIONS.get(n).needs_size]
        raise DataError(f"--pixel-size applies only to pixel conventions ({', '.join(sized)}); "
                        f"drop it for --convention {convention}")
    if pixel_size is not None and pixel_size < 2:
        raise DataError(f"--pixel-size must be at least 2 pixels, got {pixel_size}")
    return np.asarray(conv.to_lkbench(np.asarray(arr, dtype=np.float64), pixel_size),
                      dtype=np.float64)


# ==================== predictions files
@dataclass(frozen=True)
class Predictions:
    """A validated predictions file in the project convention (float64).

    Attributes:
        fit: ``[N_fit,K,2]`` or ``None`` (not needed without regression).
        test: ``[N_test,K,2]``.
        fit_visible, test_visible: optional bool ``[N,L]`` masks, ANDed with the ground truth's.
        ignored: names of arrays in the file that were not used.
    """

    fit: "np.ndarray | None"
    test: np.ndarray
    fit_visible: "np.ndarray | None" = None
    test_visible: "np.ndarray | None" = None
    ignored: tuple[str, ...] = ()


_SAVE_HINT = "np.savez(path, fit=fit_pred, test=test_pred)"


def _open_npz(path: Path) -> Mapping[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"predictions file not found: {path}; write it with {_SAVE_HINT}")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path} is not an .npz archive; save the arrays with {_SAVE_HINT} "
                        "(one [N,K,2] array per split)")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read {path} as an .npz of plain numeric arrays ({exc}); save "
                        f"with {_SAVE_HINT}") from exc


def _points(name: str, arr: np.ndarray, n: int, benchmark: str, split_len_hint: str
            ) -> np.ndarray:
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise DataError(f"array {name!r} has dtype {arr.dtype}; it must hold real numbers "
                        "(float32 or float64 keypoints)")
    if arr.ndim != 3 or arr.shape[-1] != 2:
        raise DataError(f"array {name!r} has shape {tuple(arr.shape)}; expected [N,K,2] with "
                        "(x, y) per keypoint (reshape flat coordinates with .reshape(N, -1, 2))")
    if arr.shape[0] != n:
        raise DataError(f"array {name!r} has N={arr.shape[0]} rows but benchmark {benchmark!r} "
                        f"has {n} {name} images; predict every image in the order of "
                        f"{split_len_hint}")
    if arr.shape[1] == 0:
        raise DataError(f"array {name!r} has K=0 keypoints")
    bad = ~np.isfinite(arr).all(axis=-1)
    if bad.any():
        i, k = np.argwhere(bad)[0]
        raise DataError(f"array {name!r} has {int(bad.sum())} non-finite keypoint(s) (NaN or "
                        f"inf), first at image {i}, keypoint {k}; every keypoint needs a "
                        "position: fill failed detections (e.g. with the image centre)")
    return arr.astype(np.float64)


def _mask(name: str, arr: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if arr.shape != shape:
        raise DataError(f"array {name!r} has shape {tuple(arr.shape)}; expected [N,L] = {shape} "
                        "(True = score this landmark of this image)")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise DataError(f"array {name!r} must be boolean (or 0/1)")
        arr = arr.astype(bool)
    return arr


def _range_check(name: str, kp: np.ndarray, convention: str) -> None:
    outside = (np.abs(kp) > 1.5).any(axis=-1).mean()
    if outside > 0.5:
        hint = ("they look like pixel coordinates: pass --convention pixels-xy (or "
                "pixels-rowcol) --pixel-size S" if np.abs(kp).max() > 4 else
                "check --convention and --pixel-size")
        raise DataError(f"read as --convention {convention}, {100 * outside:.0f}% of the "
                        f"keypoints in {name!r} lie far outside the image (|v| > 1.5 where the "
                        f"image spans [-1, 1]); {hint}")


def load_predictions(path: PathLike, *, benchmark: str, num_fit: int, num_test: int,
                     num_landmarks: int, convention: str = "lkbench",
                     pixel_size: "int | None" = None, need_fit: bool = True) -> Predictions:
    """Read and validate a predictions ``.npz`` (see module docstring).

    Args:
        path: the file.
        benchmark: canonical benchmark name (for messages).
        num_fit, num_test: images in the benchmark's fit and test splits.
        num_landmarks: ``L`` (shape of the optional masks).
        convention: a key of :data:`CONVENTIONS`.
        pixel_size: ``S`` for the pixel conventions.
        need_fit: whether ``fit`` is required (False without regression).

    Raises:
        DataError: with the fix, for a missing or non-npz file, missing arrays, wrong shapes or
            counts, non-finite values, or coordinates that do not fit ``convention``.
    """
    path = Path(path)
    CONVENTIONS.get(convention)  # unknown names fail before the file is read
    arrays = _open_npz(path)
    order_hint = f"`lkbench score --benchmark {benchmark} --export-order order.csv`"
    wanted = ("fit", "test") if need_fit else ("test",)
    missing = [k for k in wanted if k not in arrays]
    if missing:
        raise DataError(f"{path} has no array {' or '.join(map(repr, missing))} (it has: "
                        f"{', '.join(arrays) or 'nothing'}); save the predictions of both "
                        f"splits with {_SAVE_HINT}")
    sizes = {"fit": num_fit, "test": num_test}
    pts = {k: convert(_points(k, arrays[k], sizes[k], benchmark, order_hint), convention,
                      pixel_size) for k in wanted}
    if need_fit and pts["fit"].shape[1] != pts["test"].shape[1]:
        raise DataError(f"array 'fit' has K={pts['fit'].shape[1]} keypoints but 'test' has "
                        f"K={pts['test'].shape[1]}; use the same detector for both splits")
    for k, v in pts.items():
        _range_check(k, v, convention)
    masks = {k: _mask(k, arrays[k], (sizes[k.split("_")[0]], num_landmarks))
             for k in ("fit_visible", "test_visible") if k in arrays}
    used = set(wanted) | set(masks)
    return Predictions(pts.get("fit"), pts["test"], masks.get("fit_visible"),
                       masks.get("test_visible"), tuple(k for k in arrays if k not in used))


def describe_conventions() -> str:
    """One line per convention, for help texts."""
    return "\n".join(f"{n}: {CONVENTIONS.get(n).description}" for n in CONVENTIONS.names())
