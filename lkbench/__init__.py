"""lkbench: train keypoint-conditioned generators and benchmark them as the papers do."""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import LkbenchError  # noqa: E402

__all__ = ["__version__", "LkbenchError", "load_generator"]


def load_generator(path, device="cpu"):
    """The keypoint generator saved at ``path`` (a checkpoint file or a shipped name such as
    ``"demo"``) on ``device``, in eval mode: ``sample_latents(n, gen)`` and ``render(latents)``.

    The same loader every command uses (:func:`lkbench.checkpoint.load_generator`, which also
    returns the checkpoint); torch is imported only when this is called, so ``import lkbench``
    and the CLI's ``--help`` stay light.
    """
    from .checkpoint import load_generator as _load

    return _load(path, device)[1]
