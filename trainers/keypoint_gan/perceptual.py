"""Perceptual loss Γ of KeypointGAN (``docs/models.md`` §2.6) and its weight-free alternatives.

``PERCEPTUAL_NETS`` maps the ``loss.perceptual`` choice to a feature-extractor factory:

* ``vgg19`` / ``vgg16``: torchvision VGG with ImageNet weights read from ``loss.vgg_weights``
  (a state dict file, checked) or downloaded by torchvision (``download``, online only).
  Features: input pixels, conv1_2, conv2_2, conv3_2, conv4_2, conv5_2 (6 terms), ReLU'd unless
  ``vgg_relu = false``. Inputs go from [-1,1] to [0,1] and torchvision's mean/std.
* ``random-vgg``: the same VGG-19 layers with a frozen random init (seeded; no weights needed).
* ``tiny-random``: a frozen random 3-stage CNN (docs/models.md §4.2) — pixels + 3 feature maps.
* ``l1``: mean absolute pixel error (one term, no normalisation).

Each feature term is an MSE divided by its own running mean (EMA, initialised to the first
value), and the loss is the mean of the normalised terms (≈ 1 at equilibrium). The running means
are buffers, saved in checkpoints so a resumed run continues bit for bit.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lkbench.errors import CheckpointError, ConfigError
from lkbench.registry import Registry

from .config import KGLossConfig

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
# index of conv{1..5}_2 in torchvision's vgg.features (the conv, before its ReLU)
_VGG_TAPS = {"vgg16": (2, 7, 12, 19, 26), "vgg19": (2, 7, 12, 21, 30)}
_VGG_CFG = {"vgg16": "D", "vgg19": "E"}        # torchvision.models.vgg.cfgs keys


class FeatureNet(nn.Module):
    """Frozen feature extractor: ``[B,3,R,R]`` in [-1,1] → list of feature maps (pixels first)."""

    def __init__(self, features: nn.Sequential, taps: tuple[int, ...], relu: bool,
                 imagenet_norm: bool):
        super().__init__()
        self.features = features[:max(taps) + 1].requires_grad_(False).eval()
        self.taps, self.relu, self.imagenet_norm = set(taps), relu, imagenet_norm
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> "FeatureNet":
        super().train(mode)
        self.features.eval()                      # frozen: never update any statistics
        return self

    def forward(self, x: Tensor) -> list[Tensor]:
        out = [x]
        h = (x + 1) / 2
        if self.imagenet_norm:
            h = (h - self.mean) / self.std
        for i, layer in enumerate(self.features):
            if isinstance(layer, nn.ReLU) and not self.relu:
                continue                           # [KG]'s linear stacks
            h = layer(h) if not isinstance(layer, nn.ReLU) else F.relu(h)
            if i in self.taps:
                out.append(F.relu(h) if self.relu else h)
        return out


def _vgg_features(arch: str) -> nn.Sequential:
    """torchvision's ``arch`` convolutional trunk (``vgg.features``), randomly initialised."""
    from torchvision.models import vgg as tv_vgg

    return tv_vgg.make_layers(tv_vgg.cfgs[_VGG_CFG[arch]])


def _vgg(arch: str, weights: str) -> FeatureNet:
    if weights == "download":
        import torchvision

        enum = getattr(torchvision.models, f"VGG{arch[3:]}_Weights").IMAGENET1K_V1
        features = getattr(torchvision.models, arch)(weights=enum).features
    else:
        path = Path(weights)
        if not path.is_file():
            raise ConfigError(f"VGG weights {path} do not exist; {_weights_hint(arch)}")
        features = _vgg_features(arch)
        features.load_state_dict(load_vgg_state(path, arch, features.state_dict()))
    return FeatureNet(features, _VGG_TAPS[arch], True, True)


def _weights_hint(arch: str) -> str:
    return (f"give --vgg-weights a torchvision {arch} ImageNet state dict (the file torchvision "
            f"downloads as {arch}-*.pth), or train with --set loss.perceptual=random-vgg or l1")


def load_vgg_state(path: "str | Path", arch: str, expected: dict) -> dict:
    """Read a torchvision ``arch`` state dict from ``path``; return its ``features.*`` tensors
    keyed as in ``expected`` (the trunk's own state dict), checked for names and shapes.

    Raises:
        ConfigError: the file does not exist.
        CheckpointError: unreadable, not a state dict, or a different architecture.
    """
    p, hint = Path(path), _weights_hint(arch)
    if not p.is_file():
        raise ConfigError(f"VGG weights {p} do not exist; {hint}")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt files
        raise CheckpointError(f"VGG weights {p} could not be read as a torch state dict "
                              f"({type(exc).__name__}); {hint}") from None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"VGG weights {p} hold no state dict of tensors; {hint}")
    bad = [k for k, v in expected.items()
           if f"features.{k}" not in state or state[f"features.{k}"].shape != v.shape]
    if bad:
        raise CheckpointError(f"VGG weights {p} do not fit torchvision's {arch} ({len(bad)} "
                              f"tensors missing or of another shape, e.g. 'features.{bad[0]}'); "
                              f"{hint}")
    return {k: state[f"features.{k}"] for k in expected}


def _random_vgg(cfg: KGLossConfig) -> FeatureNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)                   # the same random network in every run
        features = _vgg_features("vgg19")
    return FeatureNet(features, _VGG_TAPS["vgg19"], cfg.vgg_relu, True)


def _tiny_random(cfg: KGLossConfig) -> FeatureNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        layers = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1), nn.ReLU(),
                               nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
                               nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU())
    return FeatureNet(layers, (0, 2, 4), cfg.vgg_relu, False)


FeatureFactory = Callable[[KGLossConfig], "FeatureNet | None"]
PERCEPTUAL_NETS: Registry[FeatureFactory] = Registry("perceptual-nets")
"""``loss.perceptual`` value → feature-extractor factory (``None`` for pixel L1)."""
PERCEPTUAL_NETS.add("vgg19", lambda c: _vgg_checked("vgg19", c))
PERCEPTUAL_NETS.add("vgg16", lambda c: _vgg_checked("vgg16", c))
PERCEPTUAL_NETS.add("random-vgg", _random_vgg)
PERCEPTUAL_NETS.add("tiny-random", _tiny_random)
PERCEPTUAL_NETS.add("l1", lambda c: None)


def _vgg_checked(arch: str, cfg: KGLossConfig) -> FeatureNet:
    if not cfg.vgg_weights:
        raise ConfigError(f"loss.perceptual = {arch} needs ImageNet weights: pass --vgg-weights "
                          f"PATH (a torchvision {arch} state dict) or --vgg-weights download "
                          "(online), or train without them with --set loss.perceptual=random-vgg"
                          " (or tiny-random, l1); the choice is recorded with every result")
    net = _vgg(arch, cfg.vgg_weights)
    if not cfg.vgg_relu:
        net.relu = False
    return net


class RunningMeans(nn.Module):
    """Per-term EMA of the loss terms (buffers only: the part of Γ checkpoints keep)."""

    def __init__(self, terms: int, momentum: float):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running", torch.zeros(terms))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def update(self, values: Tensor) -> None:
        """Initialise to ``values`` on first use, then ``m ← momentum·m + (1 − momentum)·v``."""
        if not bool(self.initialised):
            self.running.copy_(values)
            self.initialised.fill_(True)
        else:
            self.running.mul_(self.momentum).add_((1 - self.momentum) * values)


class PerceptualLoss(nn.Module):
    """Γ-based reconstruction loss with per-term running-mean normalisation (see module doc).

    The feature network is frozen and rebuilt from the config; only :attr:`norm` (the running
    means) belongs in checkpoints.

    Args:
        cfg: the loss config (``perceptual``, ``vgg_weights``, ``vgg_relu``, ``norm_momentum``).
    """

    def __init__(self, cfg: KGLossConfig):
        super().__init__()
        self.kind = cfg.perceptual
        self.net = PERCEPTUAL_NETS.get(cfg.perceptual)(cfg)
        terms = 0 if self.net is None else 1 + len(self.net.taps)
        self.norm = RunningMeans(terms, cfg.norm_momentum)

    def forward(self, fake: Tensor, real: Tensor) -> Tensor:
        """Scalar loss of ``fake`` vs ``real`` (both ``[B,3,R,R]`` in [-1,1]); updates the
        running means when the module is in training mode."""
        if self.net is None:
            return (fake.float() - real.float()).abs().mean()
        with torch.no_grad():
            target = self.net(real.float())
        terms = torch.stack([F.mse_loss(a, b) for a, b in zip(self.net(fake.float()), target)])
        if self.training:
            self.norm.update(terms.detach())
        running = self.norm.running
        live = running > 0            # a term that has always been exactly 0 contributes 0
        return (terms / torch.where(live, running, torch.ones_like(running)) * live).mean()
