"""Training monitors that tell whether Ψ reads the skeleton and Φ finds the landmarks.

Issue 26's diagnosis: a run can look healthy by its losses while Ψ ignores the skeleton (it
reconstructs x from x′ alone) or Φ emits one plausible skeleton for every face. These
quantities, computed every ``monitor.every`` steps on fixed probe images in eval mode (running
BatchNorm statistics, no running-mean update of Γ, no effect on training), show both:

* ``psi_swap_change`` — mean |Ψ(s, x′) − Ψ(s_π, x′)| in image units ([-1, 1] pixels) when the
  skeletons ``s`` of the probe batch are permuted (``π``: each image takes the next one's): 0
  when Ψ ignores its skeleton input.
* ``psi_gap`` — ``L(Ψ(s_π, x′), x) − L(Ψ(s, x′), x)``, the reconstruction loss (the run's Γ)
  with permuted minus true skeletons: > 0 when knowing the pose helps Ψ, 0 when it does not.
* ``grad_ratio`` — ‖∇_Φ w_perc·L_perc‖ / ‖∇_Φ w_adv·L_adv‖ on the probe batch, the generator
  side's terms at this step's weights: ≪ 1 means the pose adversary swamps the reconstruction
  signal (one plausible constant skeleton satisfies it).
* on ``monitor.faces`` labelled faces of ``monitor.split``: the direct read-out η(Φ(x)) against
  the landmarks — ``readout_err`` (mean point error, % of the dataset's normaliser, e.g. the
  inter-ocular distance), ``readout_err_x`` / ``_y`` (mean |error| per axis, same unit),
  ``meanshape_err`` (the prior's mean pose predicted for every face, same unit; ``_x``/``_y``
  per axis),
  ``readout_corr_x`` / ``_y`` (Pearson correlation of each predicted coordinate with its own
  landmark across faces, averaged over landmarks), ``readout_corr_other`` (the same against the
  *other* landmarks, both axes: a rigid template that only follows the head correlates as much
  with every landmark as with its own) and ``readout_spread`` (the read-out's standard deviation
  across faces over the landmarks', averaged over coordinates: a template is too still).

:class:`FailureAlarm` turns the first two signals into one early log line: a run whose gap stays
at 0 or whose read-out stays at the mean shape is failing.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any, Callable, TextIO

import torch
from torch import Tensor, nn


def _roll(t: Tensor) -> Tensor:
    """The probe batch's permutation π: image ``i`` takes image ``i + 1``'s skeleton."""
    return t.roll(-1, 0)


@torch.no_grad()
def skeleton_swap(generator: Callable[[Tensor], Tensor], skeletons: Tensor, target: Tensor,
                  loss: Callable[[Tensor, Tensor], Tensor]) -> dict[str, float]:
    """``psi_swap_change`` and ``psi_gap`` (module doc) of ``generator`` (skeleton ``[B,1,R,R]``
    → image ``[B,3,R,R]``, appearance bound) on ``skeletons`` with reconstruction ``target``.

    Needs ``B ≥ 2``.
    """
    own = generator(skeletons).float()
    swapped = generator(_roll(skeletons)).float()
    return {"psi_swap_change": float((own - swapped).abs().mean()),
            "psi_gap": float(loss(swapped, target) - loss(own, target))}


def gradient_ratio(params: list[nn.Parameter], perc: Tensor, adv: Tensor) -> "float | None":
    """‖∇perc‖ / ‖∇adv‖ over ``params`` (both scalars already weighted); None when the
    adversarial gradient is 0 (e.g. ``w_adv = 0``). Leaves ``.grad`` untouched."""
    def norm(term: Tensor) -> float:
        if not term.requires_grad:                    # the term does not depend on params
            return 0.0
        grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
        return math.sqrt(sum(float(g.pow(2).sum()) for g in grads if g is not None))
    g_adv = norm(adv)
    return None if g_adv == 0 else norm(perc) / g_adv


def _pearson(a: Tensor, b: Tensor) -> Tensor:
    """Column-wise Pearson correlation of ``a`` ``[N,P]`` and ``b`` ``[N,Q]``: ``[P,Q]``
    (0 where a column is constant)."""
    a, b = a - a.mean(0), b - b.mean(0)
    na, nb = a.norm(dim=0), b.norm(dim=0)
    c = (a.T @ b) / (na[:, None] * nb[None, :]).clamp_min(1e-12)
    return torch.where((na[:, None] > 0) & (nb[None, :] > 0), c, torch.zeros_like(c))


def readout_stats(pred: Tensor, true: Tensor, norm: Tensor, mean_shape: Tensor) -> dict[str, float]:
    """The read-out monitors of the module doc.

    Args:
        pred, true: ``[N,K,2]`` (x, y) keypoints, same frame (N ≥ 2).
        norm: ``[N]`` per-face normaliser (e.g. inter-ocular distance), same units.
        mean_shape: ``[K,2]`` the baseline prediction for every face.

    Returns:
        errors in percent of the normaliser, correlations in [-1, 1], the spread ratio.
    """
    n, k, _ = true.shape
    scale = 100.0 / norm[:, None]
    diff = pred - true
    out = {"readout_err": float((diff.norm(dim=-1) * scale).mean()),
           "readout_err_x": float((diff[..., 0].abs() * scale).mean()),
           "readout_err_y": float((diff[..., 1].abs() * scale).mean()),
           "meanshape_err": float(((mean_shape - true).norm(dim=-1) * scale).mean()),
           "meanshape_err_x": float(((mean_shape - true)[..., 0].abs() * scale).mean()),
           "meanshape_err_y": float(((mean_shape - true)[..., 1].abs() * scale).mean())}
    corr = _pearson(pred.reshape(n, 2 * k), true.reshape(n, 2 * k))   # columns k0x k0y k1x …
    own = corr.diagonal()
    out["readout_corr_x"] = float(own[0::2].mean())
    out["readout_corr_y"] = float(own[1::2].mean())
    axis = torch.arange(2 * k) % 2
    other = (axis[:, None] == axis[None, :]) & ~torch.eye(2 * k, dtype=torch.bool)
    out["readout_corr_other"] = float(corr[other].mean()) if k > 1 else 0.0
    out["readout_spread"] = float((pred.std(0) / true.std(0).clamp_min(1e-12)).mean())
    return out


@dataclass
class FailureAlarm:
    """One early line on ``stream`` when a run is failing: the skeleton gap stays below
    ``min_gap`` or the read-out error stays within ``meanshape_margin`` (relative) of the mean
    shape's for ``patience`` consecutive checks. Each condition is reported once.

    Attributes:
        min_gap: a ``psi_gap`` below this counts as "Ψ ignores the skeleton".
        meanshape_margin: ``readout_err ≥ (1 − margin)·meanshape_err`` counts as "at the mean
            shape".
        patience: consecutive checks before the line is written.
    """
    min_gap: float = 1e-3
    meanshape_margin: float = 0.05
    patience: int = 3
    stream: "TextIO | None" = None

    def __post_init__(self) -> None:
        self.counts = {"gap": 0, "meanshape": 0}
        self.reported: set[str] = set()

    def update(self, step: int, stats: dict[str, Any]) -> list[str]:
        """Feed one check's monitors; returns (and writes) the new alarm lines."""
        bad = {"gap": "psi_gap" in stats and stats["psi_gap"] < self.min_gap,
               "meanshape": "readout_err" in stats and stats["readout_err"]
               >= (1 - self.meanshape_margin) * stats["meanshape_err"]}
        lines = []
        for key, is_bad in bad.items():
            self.counts[key] = self.counts[key] + 1 if is_bad else 0
            if self.counts[key] >= self.patience and key not in self.reported:
                self.reported.add(key)
                lines.append(self._line(key, step, stats))
        for line in lines:
            print(line, file=self.stream or sys.stderr, flush=True)
        return lines

    def _line(self, key: str, step: int, stats: dict[str, Any]) -> str:
        if key == "gap":
            return (f"KeypointGAN monitor at step {step}: the run is failing — Ψ ignores the "
                    f"skeleton (psi_gap {stats['psi_gap']:.4f} < {self.min_gap} for "
                    f"{self.patience} checks); its pairs may differ too little in pose or the "
                    "pose adversary swamps Φ (see grad_ratio)")
        return (f"KeypointGAN monitor at step {step}: the run is failing — the read-out stays at "
                f"the mean shape (readout_err {stats['readout_err']:.1f} vs meanshape_err "
                f"{stats['meanshape_err']:.1f} for {self.patience} checks); check "
                "readout_corr_* and readout_spread")
