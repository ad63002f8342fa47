"""lkbench: train keypoint-conditioned generators and benchmark them as the papers do."""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import LkbenchError  # noqa: E402

__all__ = ["__version__", "LkbenchError"]
