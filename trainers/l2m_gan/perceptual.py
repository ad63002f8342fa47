"""Frozen feature networks Ψ for the perceptual (irrelevance-preservation) term, docs/models.md §3.3.

:data:`PERCEPTUAL_NETS` maps a name to a builder ``fn(weights_path) -> nn.Module`` whose module
maps images ``[B,3,R,R]`` in [-1, 1] to pooled features ``[B,C]``; every module is frozen
(``eval``, no gradients to its own weights; gradients still flow to the input).

* ``resnet18``: torchvision's ResNet-18 with ImageNet weights loaded from a user file (a
  ``state_dict`` as torchvision saves it, e.g. ``resnet18-f37072fd.pth``), inputs mapped to
  [0, 1] and normalised with the ImageNet mean and standard deviation, global-average-pooled
  ``layer4`` features (C = 512). What [L2Mo] builds; nothing is downloaded (offline first). A
  file named as torchvision names it (``resnet18-<sha256 prefix>.pth``) is checked against
  that prefix; a missing, corrupt or foreign file is a one-line :class:`ConfigError`.
* ``tiny_random``: a clearly named stand-in when no weights are at hand: three frozen 3×3
  convolutions (stride 2, widths 16/32/64, leaky ReLU) with weights drawn from a fixed seed,
  global-average-pooled (C = 64). It measures low-level image change, not ImageNet semantics;
  the run's config records which network was used.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from lkbench.errors import ConfigError
from lkbench.registry import Registry

PERCEPTUAL_NETS: Registry[Callable[[str], nn.Module]] = Registry("perceptual networks")

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
TINY_RANDOM_SEED = 20210601


def _freeze(module: nn.Module) -> nn.Module:
    return module.eval().requires_grad_(False)


class ResNet18Features(nn.Module):
    """ImageNet ResNet-18 up to ``layer4``, globally average-pooled: ``[B,512]``."""

    def __init__(self, state_dict: dict[str, Tensor]):
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(weights=None)
        net.load_state_dict(state_dict)
        net.fc = nn.Identity()
        self.net = net
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, images: Tensor) -> Tensor:
        return self.net(((images + 1) / 2 - self.mean) / self.std)


class TinyRandomFeatures(nn.Module):
    """Three frozen random stride-2 convolutions, globally average-pooled: ``[B,64]``."""

    def __init__(self, seed: int = TINY_RANDOM_SEED):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        layers: list[nn.Module] = []
        for c_in, c_out in ((3, 16), (16, 32), (32, 64)):
            conv = nn.Conv2d(c_in, c_out, 3, 2, 1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen)
                                  * (2.0 / (9 * c_in)) ** 0.5)
                conv.bias.zero_()
            layers += [conv, nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images).mean((2, 3))


_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,})\.pth?$")
"""torchvision names weight files ``<arch>-<first hex digits of the file's sha256>.pth``."""


def check_weights_hash(path: Path) -> None:
    """Raise :class:`ConfigError` when ``path``'s name carries a sha256 prefix (torchvision's
    ``resnet18-f37072fd.pth``) that its content does not have: a truncated or corrupt copy."""
    match = _HASH_IN_NAME.search(path.name)
    if match is None:
        return
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if not digest.hexdigest().startswith(match.group(1)):
        raise ConfigError(f"loss.perceptual_weights {path}: the file's sha256 starts with "
                          f"{digest.hexdigest()[:len(match.group(1))]}, not {match.group(1)} as "
                          "its name says; the copy is corrupt or truncated, download it again")


def _resnet18(weights: str) -> nn.Module:
    if not weights:
        raise ConfigError("perceptual network 'resnet18' needs ImageNet weights: set "
                          "loss.perceptual_weights=PATH to torchvision's resnet18 state_dict "
                          "(e.g. resnet18-f37072fd.pth), or use loss.perceptual_net=tiny_random")
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ConfigError(f"loss.perceptual_weights: no file at {path}; give the path of "
                          "torchvision's ImageNet resnet18 state_dict")
    check_weights_hash(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:   # unpickling errors vary with the damage (EOF, zip, pickle)
        raise ConfigError(f"loss.perceptual_weights {path} cannot be read as a torch file "
                          f"({type(exc).__name__}: {exc}); it is corrupt or not a weights file"
                          ) from exc
    if not isinstance(state, dict):
        raise ConfigError(f"loss.perceptual_weights {path} holds a {type(state).__name__}, not "
                          "a torchvision resnet18 state_dict")
    try:
        return _freeze(ResNet18Features(state))
    except (RuntimeError, KeyError, TypeError) as exc:
        raise ConfigError(f"loss.perceptual_weights {path} is not a torchvision resnet18 "
                          f"state_dict ({str(exc).splitlines()[0]})") from exc


def _tiny_random(weights: str) -> nn.Module:
    if weights:
        raise ConfigError("loss.perceptual_weights is set but loss.perceptual_net is "
                          "'tiny_random', which has no weights; use perceptual_net=resnet18")
    return _freeze(TinyRandomFeatures())


PERCEPTUAL_NETS.add("resnet18", _resnet18)
PERCEPTUAL_NETS.add("tiny_random", _tiny_random)


def build_perceptual(name: str, weights: str = "") -> nn.Module:
    """The frozen feature network ``name`` (see the module docstring)."""
    return PERCEPTUAL_NETS.get(name)(weights)


def perceptual_distance(net: nn.Module, a: Tensor, b: Tensor) -> Tensor:
    """``mean |Ψ(a) − Ψ(b)|`` over batch and features (a scalar)."""
    return (net(a) - net(b)).abs().mean()
