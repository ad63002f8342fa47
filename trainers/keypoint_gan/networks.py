"""KeypointGAN's networks (``docs/models.md`` §2.2, §2.4, §2.5, §2.7) at base width ``b``.

Shapes at ``R`` = image side, ``K`` keypoints::

    PoseEncoder   Φ  image [B,3,R,R]     → skeleton image [B,1,R,R] (unbounded)
    Regressor     η  skeleton [B,1,R,R]  → maps [B,K,R/8,R/8] → keypoints [B,K,2] (x, y)
    CondGenerator Ψ  skeleton [B,1,R,R] (+ appearance image [B,3,R,R]) → image [B,3,R,R]
    MultiScaleDiscriminator D  [B,C,R,R] → one patch map per scale (inputs R, R/2, …)

Parameter counts (asserted in tests): at R = 128, K = 32, b = 32: Φ 3.12 M, η 1.18 M, Ψ 4.83 M,
D 8.29 M; at the smoke scale (R = 32, K = 5, b = 8, D 2 scales × 2 layers × ndf 8): Φ 196 945,
η 74 109, Ψ 304 011, D 21 874.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1) -> list[nn.Module]:
    """Conv(bias=False) + BatchNorm2d + ReLU ([KG]'s default block)."""
    return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True)]


def _up(x: Tensor) -> Tensor:
    """Bilinear ×2 (half-pixel centres)."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class _Upsample(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return _up(x)


class PoseEncoder(nn.Module):
    """Φ: the 4-level skip U-Net ``SkipNipsGenerator`` of docs/models.md §2.2; image → skeleton image.

    1×1 convs are plain (no bias, norm or activation); the output conv has a bias.
    """

    def __init__(self, width: int = 32, in_channels: int = 3):
        super().__init__()
        b = width
        self.enc0 = nn.Sequential(*_conv_bn(in_channels, b, 7), *_conv_bn(b, b))
        self.enc1 = nn.Sequential(*_conv_bn(b, 2 * b, 3, 2), *_conv_bn(2 * b, 2 * b))
        self.enc2 = nn.Sequential(*_conv_bn(2 * b, 4 * b, 3, 2), *_conv_bn(4 * b, 4 * b))
        self.enc3 = nn.Sequential(*_conv_bn(4 * b, 8 * b, 3, 2), *_conv_bn(8 * b, 8 * b),
                                  nn.Conv2d(8 * b, 8 * b, 1, bias=False))
        self.dec0 = nn.Sequential(*_conv_bn(8 * b, 8 * b), *_conv_bn(8 * b, 8 * b))
        self.dec1 = nn.Sequential(nn.Conv2d(12 * b, 8 * b, 1, bias=False),
                                  *_conv_bn(8 * b, 4 * b), *_conv_bn(4 * b, 4 * b))
        self.dec2 = nn.Sequential(nn.Conv2d(6 * b, 4 * b, 1, bias=False),
                                  *_conv_bn(4 * b, 2 * b), *_conv_bn(2 * b, 2 * b))
        self.dec3 = nn.Sequential(nn.Conv2d(3 * b, 2 * b, 1, bias=False),
                                  *_conv_bn(2 * b, b), nn.Conv2d(b, 1, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        """``[B,3,R,R]`` in [-1,1] → ``[B,1,R,R]`` unbounded skeleton image."""
        e0 = self.enc0(x)
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        h = self.dec0(self.enc3(e2))
        h = self.dec1(torch.cat([_up(h), e2], 1))
        h = self.dec2(torch.cat([_up(h), e1], 1))
        return self.dec3(torch.cat([_up(h), e0], 1))


class NipsEncoder(nn.Module):
    """[KG]'s ``NipsEncoder``: 7×7 conv, three stride-2 stages (widths b, 2b, 4b, 8b), 1×1 out.

    ``norm="instance"``: InstanceNorm2d without affine and biased convs (η); ``"batch"``:
    BatchNorm2d and bias-free convs (Ψ's encoders). Output ``[B,out,R/8,R/8]``.
    """

    def __init__(self, in_channels: int, out_channels: int, width: int, norm: str):
        super().__init__()
        bias = norm == "instance"

        def block(cin: int, cout: int, k: int, stride: int) -> list[nn.Module]:
            n = (nn.InstanceNorm2d(cout, affine=False) if norm == "instance"
                 else nn.BatchNorm2d(cout))
            return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=bias), n, nn.ReLU(inplace=True)]

        b = width
        layers = block(in_channels, b, 7, 1) + block(b, b, 3, 1)
        for cin, cout in ((b, 2 * b), (2 * b, 4 * b), (4 * b, 8 * b)):
            layers += block(cin, cout, 3, 2) + block(cout, cout, 3, 1)
        layers.append(nn.Conv2d(8 * b, out_channels, 1, bias=bias))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def soft_argmax(maps: Tensor) -> Tensor:
    """Marginal soft-argmax: maps ``[B,K,H,W]`` → keypoints ``[B,K,2]`` (x, y).

    x: average over rows → ``[B,K,W]``, softmax over W, expectation of the pixel-centre
    coordinates ``(2j + 1)/W − 1``; y likewise over columns. ([KG] uses ``linspace(-1, 1, W)``,
    i.e. the corner convention; lkbench uses its own pixel-centre convention [L].)
    """
    h, w = maps.shape[-2:]
    cx = (2 * torch.arange(w, device=maps.device, dtype=maps.dtype) + 1) / w - 1
    cy = (2 * torch.arange(h, device=maps.device, dtype=maps.dtype) + 1) / h - 1
    px = torch.softmax(maps.mean(dim=2), dim=-1)                 # [B,K,W]
    py = torch.softmax(maps.mean(dim=3), dim=-1)                 # [B,K,H]
    return torch.stack([(px * cx).sum(-1), (py * cy).sum(-1)], dim=-1)


class Regressor(nn.Module):
    """η: skeleton image ``[B,1,R,R]`` → keypoints ``[B,K,2]`` (docs/models.md §2.4)."""

    def __init__(self, num_keypoints: int, width: int = 32):
        super().__init__()
        self.encoder = NipsEncoder(1, num_keypoints, width, "instance")

    def forward(self, skeleton: Tensor) -> Tensor:
        return soft_argmax(self.encoder(skeleton).float())


class CondGenerator(nn.Module):
    """Ψ (``CondNipsGenerator``, docs/models.md §2.5): skeleton (+ appearance image) → image.

    With ``conditional=False`` (the CycleGAN variants) the appearance encoder is absent and the
    decoder sees the skeleton code alone.
    """

    def __init__(self, width: int = 32, conditional: bool = True):
        super().__init__()
        b = width
        self.conditional = conditional
        self.pose_encoder = NipsEncoder(1, 8 * b, b, "batch")
        self.appearance_encoder = NipsEncoder(3, 8 * b, b, "batch") if conditional else None
        cin = 16 * b if conditional else 8 * b
        self.decoder = nn.Sequential(
            *_conv_bn(cin, 8 * b), *_conv_bn(8 * b, 8 * b), _Upsample(),
            *_conv_bn(8 * b, 4 * b), *_conv_bn(4 * b, 4 * b), _Upsample(),
            *_conv_bn(4 * b, 2 * b), *_conv_bn(2 * b, 2 * b), _Upsample(),
            *_conv_bn(2 * b, b), nn.Conv2d(b, 3, 3, 1, 1))

    def forward(self, skeleton: Tensor, appearance: "Tensor | None" = None) -> Tensor:
        """``[B,1,R,R]`` (+ ``[B,3,R,R]``) → ``[B,3,R,R]`` unbounded."""
        code = self.pose_encoder(skeleton)
        if self.appearance_encoder is not None:
            if appearance is None:
                raise ValueError("this conditional generator needs an appearance image")
            code = torch.cat([code, self.appearance_encoder(appearance)], 1)
        return self.decoder(code)


class NLayerDiscriminator(nn.Module):
    """PatchGAN (docs/models.md §2.7): conv4/s2 + LReLU, (n−1)× conv4/s2 + IN + LReLU, conv4/s1 + IN +
    LReLU, conv4/s1 → 1. InstanceNorm without affine, biased convs."""

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1),
                       nn.InstanceNorm2d(ndf * mult, affine=False), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def batch_std_map(x: Tensor) -> Tensor:
    """Per-pixel standard deviation across the batch, averaged over channels: ``[B,C,H,W]`` →
    ``[B,1,H,W]`` (the same map for every sample). A minibatch-statistics channel in the spirit
    of StyleGAN's minibatch-stddev layer: it lets the pose discriminator see that a batch of
    skeletons does not vary as the prior's do."""
    std = x.float().std(0, unbiased=False, keepdim=True).mean(1, keepdim=True)
    return std.to(x.dtype).expand(x.shape[0], -1, -1, -1)


class MultiScaleDiscriminator(nn.Module):
    """``scales`` PatchGANs applied at 1, ½, ¼, … (bilinear resize); returns one map per scale."""

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, scales: int = 3,
                 batch_std: bool = False):
        super().__init__()
        self.batch_std = batch_std
        extra = 1 if batch_std else 0
        self.scales = nn.ModuleList(NLayerDiscriminator(in_channels + extra, ndf, n_layers)
                                    for _ in range(scales))

    def forward(self, x: Tensor) -> list[Tensor]:
        if self.batch_std:
            x = torch.cat([x, batch_std_map(x)], 1)
        out = []
        for i, d in enumerate(self.scales):
            xi = x if i == 0 else F.interpolate(x, scale_factor=0.5 ** i, mode="bilinear",
                                                align_corners=False)
            out.append(d(xi))
        return out


def init_weights(module: nn.Module) -> None:
    """[KG]'s init (docs/models.md §2.8): conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0.

    Uses torch's global RNG (the shared loop seeds it around model construction).
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def num_params(module: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in module.parameters())
