"""Finite-value checks: a NaN never becomes a picture or a recorded number.

A diverged run can leave a checkpoint whose weights hold NaN or inf; such a generator renders
NaN images, which turn into black PNGs and into plausible-looking distances (the uint8 and
feature steps hide the NaN). lkbench checks the values where they enter:

* :func:`check_state_finite` on a checkpoint's model state before a model is built from it
  (:func:`lkbench.checkpoint.build_model`), naming the checkpoint;
* :func:`check_images_finite` / :func:`check_features_finite` on rendered images and extracted
  features before they are written or summarised.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch

from .errors import CheckpointError, LkbenchError

__all__ = ["NonFiniteError", "nonfinite_entries", "check_state_finite", "check_images_finite",
           "check_features_finite"]


class NonFiniteError(LkbenchError, ValueError):
    """Images or features hold NaN or infinite values; nothing was written or recorded."""


def nonfinite_entries(state: Mapping[str, Any]) -> list[str]:
    """Names of the floating tensors of ``state`` (a state_dict) that hold NaN or inf."""
    return [name for name, value in state.items()
            if torch.is_tensor(value) and (value.is_floating_point() or value.is_complex())
            and not bool(torch.isfinite(value).all())]


def check_state_finite(state: Mapping[str, Any], checkpoint: Any, key: str) -> None:
    """Raise :class:`~lkbench.errors.CheckpointError` naming ``checkpoint`` when state ``key``
    holds a non-finite weight or buffer."""
    bad = nonfinite_entries(state)
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise CheckpointError(
            f"{checkpoint}: the {key!r} weights hold NaN or infinite values ({bad[0]}{more}); "
            "the run that wrote this checkpoint diverged, so everything it renders would be "
            "NaN. Use an earlier checkpoint of that run (<run>/ckpt/), or retrain with lower "
            "learning rates")


def check_images_finite(images: torch.Tensor, source: str) -> None:
    """Raise :class:`NonFiniteError` when ``images`` hold NaN or inf; ``source`` says what
    rendered them (``"the generator in runs/x/ckpt/step-0000100.pt"``)."""
    if images.is_floating_point() and not bool(torch.isfinite(images).all()):
        n = int((~torch.isfinite(images)).flatten(1).any(1).sum()) if images.dim() > 1 else 1
        raise NonFiniteError(
            f"{source} rendered {n} of {len(images)} images with NaN or infinite pixels; "
            "nothing was written or recorded. Its weights or the latents are broken: use an "
            "earlier checkpoint of the run, or edit less far")


def check_features_finite(features: torch.Tensor, what: str) -> None:
    """Raise :class:`NonFiniteError` when a feature batch (``what``: where it came from)
    holds NaN or inf, before it enters a statistic."""
    if not bool(torch.isfinite(features).all()):
        raise NonFiniteError(f"the features of {what} hold NaN or infinite values; nothing was "
                             "recorded. Check the images (a diverged generator renders NaN) "
                             "and the feature network's weights")
