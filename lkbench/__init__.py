"""lkbench: train keypoint-conditioned generators and benchmark them as the papers do."""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import LkbenchError  # noqa: E402

__all__ = ["__version__", "LkbenchError", "load_generator"]


def __getattr__(name: str):
    # Lazy so that `import lkbench` (and the CLI's --help) does not import torch.
    if name == "load_generator":
        from .checkpoint import load_model
        return load_model
    raise AttributeError(f"module 'lkbench' has no attribute {name!r}")
