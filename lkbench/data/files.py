"""Reading real dataset downloads: where they live, annotation tables, images, problems.

Every real dataset reads its files from one folder per dataset under a *data root*: the
``root`` argument (``--root DIR`` on the command line), else the ``LKBENCH_DATA`` environment
variable. The sub-folder name is the dataset family's (``celeba/``, ``cub-aligned/``,
``taichi/``, ``deepfashion/``); each module's docstring shows its layout.

Problems found while reading (a missing file, a corrupt image, a malformed annotation line) go
to a :class:`Problems` collector. Loaders use a strict collector that raises the first problem as
a :class:`DataError` naming the file (and line); ``lkbench datasets check`` uses a lenient one
that keeps going and reports them all.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
from PIL import Image

from ..errors import DataError

ENV_DATA = "LKBENCH_DATA"
"""Environment variable naming the data root when no ``root`` argument is given."""


class MissingDataError(DataError, FileNotFoundError):
    """A dataset file or folder that is not where the official layout puts it."""


class AnnotationError(DataError):
    """A malformed annotation file or line (the message names the path and line number)."""


class CorruptImageError(DataError):
    """An image file that exists but cannot be decoded (truncated, not an image)."""


@dataclass
class Problems:
    """Collects problems found while reading a dataset.

    Attributes:
        strict: raise each problem at once (loaders) instead of collecting it (``datasets check``).
        items: the collected problems, one line each, in the order found.
    """
    strict: bool = True
    items: list[str] = field(default_factory=list)

    def add(self, error: DataError) -> None:
        """Raise ``error`` (strict) or record its message."""
        if self.strict:
            raise error
        if str(error) not in self.items:  # the same file can be hit by two passes
            self.items.append(str(error))

    def __bool__(self) -> bool:
        return bool(self.items)


def data_root(root: "str | os.PathLike[str] | None", folder: str, where_to_get: str) -> Path:
    """The dataset folder ``<root>/<folder>``.

    Args:
        root: the data root; ``None`` reads ``$LKBENCH_DATA``.
        folder: the dataset family's sub-folder name.
        where_to_get: one line saying what to download (used in the error message).

    Raises:
        MissingDataError: no root given and ``LKBENCH_DATA`` unset, or the folder is missing.
    """
    if root is None:
        env = os.environ.get(ENV_DATA)
        if not env:
            raise MissingDataError(
                f"no data root for dataset folder {folder!r}: pass --root DIR (Python: root=DIR) "
                f"or set {ENV_DATA}=DIR, where DIR/{folder}/ holds {where_to_get}")
        root = env
    path = Path(root).expanduser() / folder
    if not path.is_dir():
        raise MissingDataError(f"dataset folder not found: {path} (expected {where_to_get}; "
                               f"see `lkbench datasets check NAME --help` for the layout)")
    return path


def require(path: Path, where_to_get: str) -> Path:
    """``path`` if it is a file, else a :class:`MissingDataError` saying where to get it."""
    if not path.is_file():
        raise MissingDataError(f"missing file {path}: {where_to_get}")
    return path


def require_any(paths: Sequence[Path], where_to_get: str) -> Path:
    """The first of ``paths`` that is a file (alternative official spellings)."""
    for p in paths:
        if p.is_file():
            return p
    names = " or ".join(str(p) for p in paths)
    raise MissingDataError(f"missing file {names}: {where_to_get}")


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(1-based line number, stripped line)`` of every non-blank line of a text file."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            line = line.strip()
            if line:
                yield number, line


def read_names(path: Path) -> list[str]:
    """One name per non-blank line (MAFL lists); surrounding whitespace removed."""
    return [line for _, line in numbered_lines(path)]


def read_table(path: Path, num_values: int, problems: Problems, *, header_lines: int = 0,
               parse: Callable[[str], float] = int, dtype=np.int64
               ) -> tuple[list[str], np.ndarray]:
    """Rows ``<name> <num_values numbers>`` (CelebA ``Anno`` / ``Eval`` lists, CUB ``.txt``).

    Args:
        path: the text file.
        num_values: numbers after the name on every row.
        problems: where malformed rows go (strict: raised; lenient: reported and skipped).
        header_lines: leading lines to skip (CelebA: a count line and a header line).
        parse: converts one field (``int`` or ``float``).
        dtype: dtype of the returned array.

    Returns:
        names (``[N]``) and values ``[N, num_values]`` of the well-formed rows, in file order.
    """
    names, rows = [], []
    for number, line in numbered_lines(path):
        if number <= header_lines:
            continue
        fields = line.split()
        try:
            if len(fields) != num_values + 1:
                raise ValueError(f"expected a name and {num_values} numbers, "
                                 f"got {len(fields)} fields")
            values = [parse(f) for f in fields[1:]]
        except ValueError as exc:
            problems.add(AnnotationError(f"{path}:{number}: malformed line {line[:60]!r} "
                                         f"({exc}); re-download the file"))
            continue
        names.append(fields[0])
        rows.append(values)
    return names, np.asarray(rows, dtype=dtype).reshape(len(rows), num_values)


def image_size_of(path: Path) -> tuple[int, int]:
    """``(H, W)`` of an image from its header (the pixels are not decoded).

    Raises:
        MissingDataError: no such file.  CorruptImageError: not a readable image.
    """
    if not path.is_file():
        raise MissingDataError(f"missing image {path}")
    try:
        with Image.open(path) as im:
            w, h = im.size
    except OSError as exc:
        raise CorruptImageError(f"cannot read image {path}: {exc}") from None
    return h, w


def load_rgb(path: Path) -> Image.Image:
    """Decode ``path`` fully as RGB (grey and RGBA are converted).

    Raises:
        MissingDataError: no such file.  CorruptImageError: truncated or not an image.
    """
    if not path.is_file():
        raise MissingDataError(f"missing image {path}")
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert("RGB")
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptImageError(f"corrupt image {path}: {exc} (re-download or re-extract it)"
                                ) from None


Box = tuple[float, float, float, float]
"""A source region ``(x0, y0, x1, y1)`` in continuous pixel coordinates (edges: pixel ``i``
spans ``[i, i+1)``), as PIL's ``resize(box=...)`` reads it."""


def crop_resize(image: Image.Image, box: Box, size: int) -> np.ndarray:
    """The region ``box`` of ``image`` resized to ``size×size`` (PIL bilinear, antialiased).

    Parts of ``box`` outside the image are filled with black.

    Returns:
        uint8 ``[3, size, size]``.
    """
    x0, y0, x1, y1 = box
    w, h = image.size
    if x0 < 0 or y0 < 0 or x1 > w or y1 > h:  # pad so that PIL's box lies inside the canvas
        import math
        ox, oy = math.ceil(max(0.0, -x0)), math.ceil(max(0.0, -y0))
        cw, ch = math.ceil(max(x1 + ox, w + ox)), math.ceil(max(y1 + oy, h + oy))
        canvas = Image.new("RGB", (cw, ch))
        canvas.paste(image, (ox, oy))
        image, box = canvas, (x0 + ox, y0 + oy, x1 + ox, y1 + oy)
    out = image.resize((size, size), Image.Resampling.BILINEAR, box=box)
    return np.asarray(out, dtype=np.uint8).transpose(2, 0, 1)


def file_digest(paths: Sequence[Path]) -> str:
    """sha256 over the bytes of ``paths`` (annotation and split files): a cache-key part."""
    import hashlib
    h = hashlib.sha256()
    for p in paths:
        h.update(str(p.name).encode())
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()
