"""Where a result came from: file hashes and the environment a run executed in (never raises).

:func:`collect_provenance` fills :attr:`lkbench.records.ResultRecord.provenance`; it imports torch
only inside the function, so reading records stays fast.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .atomic import PathLike

__all__ = ["sha256_file", "collect_provenance"]


def sha256_file(path: PathLike, *, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in ``chunk_size`` pieces (checkpoints can be gigabytes)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


_DISTRIBUTIONS = ("torch", "torchvision", "numpy", "scikit-learn", "clean-fid")


def collect_provenance(argv: Sequence[str] | None = None, device: Any = None) -> dict[str, Any]:
    """Describe the environment a result was produced in; never raises.

    Args:
        argv: the command line to record; ``sys.argv`` by default.
        device: the device the run used (``"cpu"``, ``"cuda:0"``, a ``torch.device``), or None.

    Returns:
        Plain JSON data: ``lkbench`` version, ``git_commit`` and ``git_dirty`` of the checkout
        lkbench runs from (None when it is not a git checkout), ``versions`` of python and the
        numerics-relevant packages (None when absent), ``cuda`` and ``cudnn`` versions,
        ``device`` and ``device_name``, ``platform``, ``hostname`` and ``argv``.
    """
    commit, dirty = _git_state(Path(__file__).resolve().parent)
    versions = {"python": platform.python_version()}
    versions.update({name: _dist_version(name) for name in _DISTRIBUTIONS})
    cuda, cudnn = _cuda_versions()
    return {
        "lkbench": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "versions": versions,
        "cuda": cuda,
        "cudnn": cudnn,
        "device": None if device is None else str(device),
        "device_name": _device_name(device),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "argv": list(sys.argv if argv is None else argv),
    }


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str] | None:
    """Run git briefly in ``cwd``; None if git is missing, hangs or fails."""
    # An inherited GIT_DIR (git hooks, some CI) would point git at another repository.
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE")}
    try:
        out = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out if out.returncode == 0 else None


def _git_state(package_dir: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the repository holding ``package_dir``, or (None, None).

    The package must be tracked there: an installed copy in a venv that happens to sit inside
    some git repository must not report that repository's commit.
    """
    if _git(["ls-files", "--error-unmatch", "__init__.py"], package_dir) is None:
        return None, None
    head = _git(["rev-parse", "HEAD"], package_dir)
    # Untracked (not ignored) files count: a new, uncommitted module can change the numbers.
    status = _git(["status", "--porcelain"], package_dir)
    commit = head.stdout.strip() if head else None
    return commit, (bool(status.stdout.strip()) if status else None)


def _cuda_versions() -> tuple[str | None, str | None]:
    try:
        import torch
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        return torch.version.cuda, (None if cudnn is None else str(cudnn))
    except Exception:  # provenance must never be the reason a finished run fails
        return None, None


def _device_name(device: Any) -> str | None:
    """Human-readable name of the accelerator or CPU behind ``device``."""
    if device is None:
        return None
    try:
        import torch
        dev = torch.device(device)
        if dev.type == "cuda" and torch.cuda.is_available():
            return torch.cuda.get_device_name(dev)
        if dev.type == "cpu":
            return _cpu_name()
    except Exception:  # as above: a description, not a requirement
        return None
    return None


def _cpu_name() -> str:
    with contextlib.suppress(OSError):  # no /proc on macOS: fall back to platform
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
