"""Atomic file writes: nothing a reader can see is ever half written.

Every file lkbench writes in one go (checkpoints, resolved configs, PNGs, caches) goes through
:func:`atomic_write`: the bytes go to a temporary file in the destination folder, are flushed and
fsync-ed, and the file is then ``os.replace``-d onto the destination. A crash or Ctrl-C at any
moment leaves either the old file or the new one, and never a stray temporary file.
(Append-only JSONL stores use locked appends instead; see :mod:`lkbench.records`.)
"""
from __future__ import annotations

import contextlib
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, Union

PathLike = Union[str, "os.PathLike[str]"]


@contextmanager
def atomic_write(path: PathLike) -> Iterator[BinaryIO]:
    """Open a binary temp file beside ``path``; on clean exit it replaces ``path``.

    Parent folders are created. If the block raises (KeyboardInterrupt included), the temp file
    is removed and ``path`` is untouched.

    Example:
        >>> with atomic_write("out/config.toml") as fh:
        ...     fh.write(b"seed = 0\\n")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        # O_EXCL: never clobber another writer's temp file; mode 0o666 lets the umask decide.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; some filesystems cannot fsync a folder, which is fine."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
