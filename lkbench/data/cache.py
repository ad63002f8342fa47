"""The preprocessed-data cache: one root, content-keyed entries, atomic writes.

Real datasets preprocess once (decode, crop, resize) and keep the result as ``.npy`` arrays that
later runs memory-map, so the second run starts in seconds. Layout::

    <cache root>/<dataset>/<kind>-<key>/
        key.json          everything that determined the content (readable provenance)
        *.npy, *.json     the arrays (images uint8 [N,3,R,R], keypoints, …)

The cache root is the ``root`` argument, else ``$LKBENCH_CACHE_DIR``, else
``$XDG_CACHE_HOME/lkbench`` (default ``~/.cache/lkbench``). ``<key>`` is the first 16 hex digits
of the sha256 of ``key.json``'s canonical JSON, which holds the dataset's preprocessing
``version``, its options, the split, the image size and digests of the input files — change any
of them and a new entry is built. An entry is built in a temporary sibling folder and renamed
into place, so a crash never leaves a half-written entry; two processes racing to build the same
entry both succeed and one result is kept. ``lkbench cache info`` lists entries,
``lkbench cache clear`` removes them.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from ..atomic import writing

ENV_CACHE = "LKBENCH_CACHE_DIR"
KEY_FILE = "key.json"


def cache_root(root: "str | os.PathLike[str] | None" = None) -> Path:
    """The cache root: ``root``, else ``$LKBENCH_CACHE_DIR``, else the user's cache folder."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lkbench"


def key_digest(key: Mapping[str, Any]) -> str:
    """16 hex digits of sha256 over the canonical JSON of ``key``."""
    text = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def cached_entry(dataset: str, kind: str, key: Mapping[str, Any],
                 build: Callable[[Path], None], *,
                 root: "str | os.PathLike[str] | None" = None) -> Path:
    """The folder of cache entry ``(dataset, kind, key)``, building it first if absent.

    Args:
        dataset: dataset name (first folder level).
        kind: what the entry holds (``index``, ``images``).
        key: JSON-serialisable dict of everything that determines the content.
        build: ``build(folder)`` writes the entry's files into an empty temporary folder.
        root: cache root (see :func:`cache_root`).

    Returns:
        the entry folder; its files are complete.
    """
    parent = cache_root(root) / dataset
    final = parent / f"{kind}-{key_digest(key)}"
    if (final / KEY_FILE).is_file():
        return final
    # A read-only or full cache is a one-line error naming the folder and $LKBENCH_CACHE_DIR.
    with writing(parent, verb="write the dataset cache in",
                 hint=f"or set ${ENV_CACHE} to a folder with room"):
        parent.mkdir(parents=True, exist_ok=True)
        tmp = parent / f".{final.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
        tmp.mkdir()
        try:
            build(tmp)
            # key.json last: its presence marks a complete entry even on filesystems without
            # atomic folder renames.
            (tmp / KEY_FILE).write_text(json.dumps(dict(key), sort_keys=True, indent=1,
                                                   default=str))
            try:
                os.replace(tmp, final)
            except OSError:  # another process finished the same entry first: keep theirs
                if not (final / KEY_FILE).is_file():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return final


@dataclass(frozen=True)
class CacheEntry:
    """One cache entry as listed by :func:`list_entries`."""
    dataset: str
    name: str
    path: Path
    bytes: int
    key: Mapping[str, Any]


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def list_entries(root: "str | os.PathLike[str] | None" = None,
                 dataset: "str | None" = None) -> list[CacheEntry]:
    """Complete entries under the cache root (of one ``dataset``, or all), sorted by path."""
    base = cache_root(root)
    if not base.is_dir():
        return []
    out = []
    for key_file in sorted(base.glob(f"{dataset or '*'}/*/{KEY_FILE}")):
        entry = key_file.parent
        if entry.name.startswith("."):
            continue
        try:
            key = json.loads(key_file.read_text())
        except (OSError, ValueError):
            key = {}
        out.append(CacheEntry(entry.parent.name, entry.name, entry, _size(entry), key))
    return out


def dataset_folder(dataset: str, root: "str | os.PathLike[str] | None" = None) -> str:
    """The cache folder name of ``dataset``: a registered dataset or alias (→ its canonical
    name) or a folder already in the cache; anything else is an error with a suggestion, so a
    typo never silently matches nothing (or, with a pattern, everything).

    Raises:
        UnknownNameError: neither a dataset nor a cache folder (did-you-mean, the choices).
    """
    from ..errors import UnknownNameError
    from ..registry import did_you_mean
    from . import DATASETS

    base = cache_root(root)
    present = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    if dataset in present:
        return dataset
    if dataset in DATASETS:
        return DATASETS.resolve(dataset)
    known = sorted(set(DATASETS.names(include_aliases=True)) | set(present))
    raise UnknownNameError(did_you_mean(dataset, known, "dataset") + " (`lkbench cache info` "
                           "lists the cache's entries)")


def clear(root: "str | os.PathLike[str] | None" = None, dataset: "str | None" = None) -> int:
    """Remove the entries (and leftover temporary folders) of ``dataset`` or of all datasets.

    Only folders this module creates are touched. Returns the number of bytes freed.
    """
    base = cache_root(root)
    if not base.is_dir():
        return 0
    freed = 0
    for folder in sorted(base.glob(f"{dataset or '*'}/*")):
        if folder.is_dir() and ((folder / KEY_FILE).is_file() or folder.name.endswith(".tmp")):
            freed += _size(folder)
            shutil.rmtree(folder, ignore_errors=True)
    for ds in sorted(base.glob(dataset or "*")):
        if ds.is_dir() and not any(ds.iterdir()):
            ds.rmdir()
    return freed
