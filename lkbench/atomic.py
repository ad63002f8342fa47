"""Atomic file writes, and the one place where a file-system fault becomes a clear error.

Every file lkbench writes in one go (checkpoints, resolved configs, PNGs, caches) goes through
:func:`atomic_write`: the bytes go to a temporary file in the destination folder, are flushed and
fsync-ed, and the file is then ``os.replace``-d onto the destination. A crash or Ctrl-C at any
moment leaves either the old file or the new one, and never a stray temporary file.
(Append-only JSONL stores use locked appends instead; see :mod:`lkbench.records`.)

A write that the file system refuses — read-only, disk full, quota, permission, a folder where a
file should be (or the reverse) — raises :class:`FileWriteError`, one line that names the path
and the fix, instead of an ``OSError`` traceback. :func:`writing` wraps any other writer (an
append, a copy, a folder being created) the same way, and :func:`write_error` is the one
translation table both use (the command line's last resort uses it too).
"""
from __future__ import annotations

import contextlib
import errno
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, Union

from .errors import LkbenchError

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["PathLike", "atomic_write", "writing", "write_error", "FileWriteError",
           "is_temp_name"]


class FileWriteError(LkbenchError, OSError):
    """The file system refused a write: read-only, full, no permission, or a path in the way."""

    def __str__(self) -> str:   # OSError would format (errno, strerror)
        return str(self.args[0]) if self.args else ""


# errno → (what happened, how to fix it); the fix is said about the path the user gave.
_REASONS: dict[int, tuple[str, str]] = {
    errno.EROFS: ("the file system is read-only",
                  "choose a location on a writable file system"),
    errno.ENOSPC: ("no space left on the device",
                   "free some space, or choose a location on another disk, and run again"),
    errno.EDQUOT: ("the disk quota is exceeded",
                   "free some space, or choose a location on another disk, and run again"),
    errno.EACCES: ("permission denied",
                   "choose a folder you can write to, or change its permissions"),
    errno.EPERM: ("the operation is not permitted",
                  "choose a folder you can write to, or change its permissions"),
    errno.EISDIR: ("it is a folder, not a file", "give a file name (e.g. add .png / .pt)"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder",
                    "choose a path whose folders are folders"),
    errno.EEXIST: ("a file is in the way of a folder that must be created there",
                   "move that file away, or choose another location"),
    errno.ENAMETOOLONG: ("the name is too long", "choose a shorter path"),
    errno.EMLINK: ("the folder holds too many links", "choose another location"),
    errno.EFBIG: ("the file is too large for this file system", "choose another location"),
}


def write_error(exc: BaseException, path: "PathLike | None" = None, *,
                verb: str = "write", hint: str = "") -> "FileWriteError | None":
    """The one-line :class:`FileWriteError` for ``exc`` met while writing ``path``, or ``None``
    when ``exc`` is not a file-system refusal the user can fix (a bug, a missing input).

    The message names ``path`` (else the file the OS named), the reason and the fix, e.g.
    ``cannot write out/x.png: the file system is read-only (/mnt/ro); choose a location on a
    writable file system``; ``hint`` adds a fix specific to the caller (an option, a variable).
    """
    if isinstance(exc, FileWriteError):
        return exc
    exc = _os_error_in(exc)
    if exc is None:
        return None
    reason, fix = _REASONS[exc.errno]
    fix += f" ({hint})" if hint else ""
    named = exc.filename if exc.filename is not None else None
    target = path if path is not None else named
    if target is None:
        return FileWriteError(f"cannot {verb} a file: {reason}; {fix}")
    where = ""
    if named is not None and not is_temp_name(Path(os.fsdecode(named)).name) and \
            os.fsdecode(named) != os.fsdecode(target):
        where = f" ({os.fsdecode(named)})"
    return FileWriteError(f"cannot {verb} {os.fsdecode(target)}: {reason}{where}; {fix}")


def _os_error_in(exc: "BaseException | None") -> "OSError | None":
    """``exc`` or the error it was raised from, if that is a file-system refusal: a writer like
    ``torch.save`` reports a full disk as a RuntimeError whose context is the ``OSError``."""
    for _ in range(4):
        if exc is None:
            return None
        if isinstance(exc, OSError):
            return exc if exc.errno in _REASONS else None
        exc = exc.__cause__ or exc.__context__
    return None


@contextmanager
def writing(path: PathLike, *, verb: str = "write", hint: str = "") -> Iterator[None]:
    """Turn a file-system refusal inside the block into :func:`write_error`'s one line.

    Example:
        >>> with writing("runs/x/stats.jsonl"):
        ...     open("runs/x/stats.jsonl", "a").write("{}\\n")
    """
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - only file-system refusals are translated
        err = write_error(exc, path, verb=verb, hint=hint)
        if err is None or err is exc:
            raise
        raise err from None


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is a temporary file of :func:`atomic_write` (``.<name>.<pid>-<hex>.tmp``)."""
    return name.startswith(".") and name.endswith(".tmp")


def temp_owner_alive(name: str) -> bool:
    """Whether the process that created temporary file ``name`` may still be writing it (its
    pid, read from the name, is alive; unparsable names count as alive)."""
    try:
        pid = int(name.rsplit(".", 2)[-2].split("-")[0])
    except (ValueError, IndexError):
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:   # exists, owned by someone else
        return True
    return True


def remove_stale_temps(folder: PathLike, pattern: str = ".*.tmp") -> list[Path]:
    """Delete temporary files of :func:`atomic_write` in ``folder`` left by processes that are
    gone (killed mid-write); returns what was removed. Files of live processes are kept."""
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for tmp in sorted(folder.glob(pattern)):
        if tmp.is_file() and is_temp_name(tmp.name) and not temp_owner_alive(tmp.name):
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed.append(tmp)
    return removed


@contextmanager
def atomic_write(path: PathLike) -> Iterator[BinaryIO]:
    """Open a binary temp file beside ``path``; on clean exit it replaces ``path``.

    Parent folders are created. If the block raises (KeyboardInterrupt included), the temp file
    is removed and ``path`` is untouched.

    Raises:
        FileWriteError: the file system refused the write (read-only, full, permission, a
            folder at ``path``); nothing was changed and no temp file is left.

    Example:
        >>> with atomic_write("out/config.toml") as fh:
        ...     fh.write(b"seed = 0\\n")
    """
    path = Path(path)
    with writing(path):
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
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
    except BaseException as exc:
        # Cleaning up must never add a second error on top of the first one.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        err = write_error(exc, path) if isinstance(exc, Exception) else None
        if err is None or err is exc:
            raise
        raise err from None
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
