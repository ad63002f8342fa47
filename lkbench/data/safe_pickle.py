"""Reading pickled annotation tables without running code from them.

Some releases ship their annotations as pickles (Taichi's ``taichi_{train,test}_gt.pkl`` are
pandas DataFrames). ``pickle.load`` and ``pandas.read_pickle`` call whatever function the file
names, so a crafted file runs arbitrary code when it is read. :func:`load_dataframe_pickle`
reads them with an unpickler that resolves only an allow-list of names — the numpy and pandas
constructors a DataFrame of numbers, strings and arrays is rebuilt from — and refuses every
other name before anything is called; a refused file raises :class:`UnsafePickleError` naming
the first name it asked for.

The allow-list covers the official files (written by an older pandas: ``numpy.core``,
``pandas.core.frame.DataFrame``, ``pandas.core.internals.BlockManager``) and the files the
pinned pandas writes (``numpy._core``, ``pandas._libs.internals._unpickle_block``, string
columns as ``StringArray``, …).
"""
from __future__ import annotations

import importlib
import io
import pickle
from pathlib import Path
from typing import Any

from .files import AnnotationError

__all__ = ["UnsafePickleError", "load_dataframe_pickle", "ALLOWED"]


class UnsafePickleError(AnnotationError):
    """A pickle asked for a name outside the allow-list: it was not read, nothing ran."""


# (module, name) as written in a pickle → where the object lives now (first importable wins).
# Only constructors of plain data: arrays, dtypes, index and frame containers, slices.
_NUMPY_RECONSTRUCT = (("numpy._core.multiarray", "_reconstruct"),
                      ("numpy.core.multiarray", "_reconstruct"))
_NUMPY_FROMBUFFER = (("numpy._core.numeric", "_frombuffer"),
                     ("numpy.core.numeric", "_frombuffer"))
_BLOCK_MANAGER = (("pandas.core.internals.managers", "BlockManager"),
                  ("pandas.core.internals", "BlockManager"))
_SINGLE_BLOCK_MANAGER = (("pandas.core.internals.managers", "SingleBlockManager"),
                         ("pandas.core.internals", "SingleBlockManager"))
_INDEX = (("pandas", "Index"),)
_RANGE_INDEX = (("pandas", "RangeIndex"),)
_DATAFRAME = (("pandas", "DataFrame"),)
_SERIES = (("pandas", "Series"),)
_STRING_DTYPE = (("pandas", "StringDtype"),)
_STRING_ARRAY = (("pandas.arrays", "StringArray"),)

ALLOWED: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("builtins", "slice"): (("builtins", "slice"),),
    ("__builtin__", "slice"): (("builtins", "slice"),),
    ("numpy", "ndarray"): (("numpy", "ndarray"),),
    ("numpy", "dtype"): (("numpy", "dtype"),),
    ("numpy.core.multiarray", "_reconstruct"): _NUMPY_RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _NUMPY_RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _NUMPY_FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _NUMPY_FROMBUFFER,
    ("pandas", "DataFrame"): _DATAFRAME,
    ("pandas.core.frame", "DataFrame"): _DATAFRAME,
    ("pandas", "Series"): _SERIES,
    ("pandas.core.series", "Series"): _SERIES,
    ("pandas", "Index"): _INDEX,
    ("pandas.core.indexes.base", "Index"): _INDEX,
    ("pandas", "RangeIndex"): _RANGE_INDEX,
    ("pandas.core.indexes.range", "RangeIndex"): _RANGE_INDEX,
    ("pandas.core.indexes.base", "_new_Index"): (("pandas.core.indexes.base", "_new_Index"),),
    ("pandas.core.internals", "BlockManager"): _BLOCK_MANAGER,
    ("pandas.core.internals.managers", "BlockManager"): _BLOCK_MANAGER,
    ("pandas.core.internals", "SingleBlockManager"): _SINGLE_BLOCK_MANAGER,
    ("pandas.core.internals.managers", "SingleBlockManager"): _SINGLE_BLOCK_MANAGER,
    ("pandas._libs.internals", "_unpickle_block"): (("pandas._libs.internals",
                                                      "_unpickle_block"),),
    ("pandas.core.internals.blocks", "new_block"): (("pandas.core.internals.blocks",
                                                     "new_block"),),
    # string columns of a table written by pandas >= 3 (StringDtype, python storage)
    ("pandas", "StringDtype"): _STRING_DTYPE,
    ("pandas.core.arrays.string_", "StringDtype"): _STRING_DTYPE,
    ("pandas.arrays", "StringArray"): _STRING_ARRAY,
    ("pandas.core.arrays.string_", "StringArray"): _STRING_ARRAY,
    ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"): (("pandas._libs.arrays",
                                                               "__pyx_unpickle_NDArrayBacked"),),
}
"""Every (module, name) a table pickle may ask for, and where each lives in this install."""

def _resolve(module: str, name: str) -> Any:
    for mod, attr in ALLOWED[(module, name)]:
        try:
            return getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"{module}.{name} is allowed but this install of numpy/pandas "
                                 "does not provide it")


class _TableUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED` names (and no persistent ids)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise UnsafePickleError(f"{module}.{name}")
        return _resolve(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("a persistent id")


def load_dataframe_pickle(path: "str | Path", *, where_to_get: str = "") -> Any:
    """Read a pickled pandas DataFrame without running code from the file.

    Args:
        path: the ``.pkl`` file (uncompressed, as the releases ship them).
        where_to_get: where the genuine file comes from, for the messages.

    Returns:
        the DataFrame.

    Raises:
        UnsafePickleError: the file asks for a function or class outside the allow-list
            (a crafted or foreign pickle); nothing from it was run.
        AnnotationError: the file is unreadable, truncated, or not a DataFrame.
    """
    import pandas as pd

    path = Path(path)
    again = f"re-download it from {where_to_get}" if where_to_get else "re-download it"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AnnotationError(f"cannot read {path}: {exc.strerror or exc}; check the file's "
                              f"permissions or {again}") from None
    try:
        table = _TableUnpickler(io.BytesIO(data)).load()
    except UnsafePickleError as exc:
        raise UnsafePickleError(
            f"{path} is not a plain annotation table: it asks to load {exc}, which could run "
            "code, so lkbench did not read it (nothing from it was executed). Use the file "
            f"of the official release: {again}") from None
    except Exception as exc:  # noqa: BLE001 - truncated or garbled bytes of any kind
        detail = str(exc).strip() or type(exc).__name__
        raise AnnotationError(f"cannot read {path} as a pandas pickle ({detail}); "
                              f"{again}") from None
    if not isinstance(table, pd.DataFrame):
        raise AnnotationError(f"{path} holds a {type(table).__name__}, not a pandas DataFrame; "
                              f"{again}")
    return table
