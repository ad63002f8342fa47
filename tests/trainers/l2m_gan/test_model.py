"""L2M-GAN-style networks, manipulator and loss terms (docs/models.md §3, §4.3)."""
from __future__ import annotations

import pytest
import torch

from lkbench.errors import ConfigError
from lkbench.trainers.l2m_gan import Discriminator, L2MConfig, L2MEditor
from lkbench.trainers.l2m_gan.losses import (d_adversarial_loss, orthogonality_loss,
                                             r1_penalty)
from lkbench.trainers.l2m_gan.perceptual import build_perceptual, perceptual_distance

SMOKE = L2MConfig(image_size=32, first_width=8, max_width=32, style_dim=8)


def count(m):
    return sum(p.numel() for p in m.parameters())


def test_smoke_parameter_counts_match_the_spec():
    """Spec §4.3: G 24 323, E 45 016, D 44 554; M+T 648 with 3-Linear MLPs (864 with 4)."""
    editor = L2MEditor(SMOKE)
    assert count(editor.generator) == 24_323
    assert count(editor.style) == 45_016
    assert count(Discriminator(SMOKE)) == 44_554
    assert count(editor.manipulator) == 648
    four = L2MConfig(image_size=32, first_width=8, max_width=32, style_dim=8, mlp_layers=4)
    assert count(L2MEditor(four).manipulator) == 864


def test_shapes_and_domain_heads():
    torch.manual_seed(0)
    editor, d = L2MEditor(SMOKE).eval(), Discriminator(SMOKE)
    x = torch.randn(4, 3, 32, 32)
    y = torch.tensor([0, 1, 1, 0])
    assert editor.edit(x, y).shape == (4, 3, 32, 32)
    assert d(x, y).shape == (4,)
    s = editor.style(x, y)
    assert s.shape == (4, 8)
    # each image is read by its own domain's head
    h = editor.style.trunk(x)
    assert torch.allclose(s[1], editor.style.heads[1](h[1:2])[0])
    assert torch.allclose(s[0], editor.style.heads[0](h[0:1])[0])
    assert torch.allclose(d(x, 1 - y)[2], d.head(d.trunk(x[2:3]))[0, 0])
    with pytest.raises(ValueError, match="power of two"):
        L2MConfig(image_size=48)


def test_factorisation_and_edit_strength():
    torch.manual_seed(1)
    editor = L2MEditor(SMOKE).eval()
    x = torch.randn(3, 3, 32, 32)
    y = torch.tensor([0, 1, 0])
    with torch.no_grad():
        split = editor.split(x, y, 1 - y)
        # s_rel = s - s_irr, so s_irr + s_rel is s (up to rounding)
        assert torch.allclose(split.irrelevant + split.relevant, split.code, atol=1e-6)
        # α = 0 returns the source code exactly, and the edit at α = 0 is G(x, s)
        assert torch.equal(split.edited(0.0), split.code)
        assert torch.equal(editor.edit(x, y, alpha=0.0), editor.generator(x, split.code))
        # α = 1 is s_irr + s̃_rel; α = 0.5 lies halfway
        assert torch.allclose(split.edited(1.0), split.irrelevant + split.transformed, atol=1e-6)
        half = split.edited(0.5)
        assert torch.allclose(half, (split.edited(0.0) + split.edited(1.0)) / 2, atol=1e-6)
        # the target domain picks the transformer
        t1 = editor.manipulator.transform[1](split.relevant[0:1])
        assert torch.allclose(split.transformed[0], t1[0])


@pytest.mark.parametrize("form", ["cosine", "elementwise"])
def test_orthogonality_is_zero_for_orthogonal_codes_and_positive_otherwise(form):
    irr = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0]])
    rel = torch.tensor([[0.0, 3.0, 0.0, 0.0], [1.0, 0.0, 5.0, 0.0]])
    new = torch.tensor([[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, -2.0]])
    assert orthogonality_loss(rel, new, irr, form).item() == 0.0
    skew = rel + 0.5 * irr
    assert orthogonality_loss(skew, new, irr, form).item() > 0
    assert orthogonality_loss(rel, new + irr, irr, form).item() > 0   # the edited code counts


def test_orthogonality_values_against_hand_computation():
    a = torch.tensor([[1.0, 1.0]])
    b = torch.tensor([[1.0, 0.0]])
    zero = torch.zeros(1, 2)
    # |cos 45°| = 1/√2; the second term is 0 (zero vector: 0 / 1e-8)
    assert orthogonality_loss(a, zero, b, "cosine").item() == pytest.approx(2 ** -0.5, abs=1e-6)
    # elementwise: mean |a ⊙ b| = (1 + 0) / 2
    assert orthogonality_loss(a, zero, b, "elementwise").item() == pytest.approx(0.5)
    # the cosine form is scale free, the elementwise one is not
    assert orthogonality_loss(3 * a, zero, b, "cosine").item() == pytest.approx(2 ** -0.5,
                                                                                abs=1e-6)
    assert orthogonality_loss(3 * a, zero, b, "elementwise").item() == pytest.approx(1.5)


def test_r1_and_adversarial_losses():
    x = torch.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    logits = (x * torch.tensor([2.0, 1.0])).sum(1)      # gradient (2, 1) per row: |g|² = 5
    assert r1_penalty(logits, x).item() == pytest.approx(2.5)
    zero = torch.zeros(3)
    assert d_adversarial_loss(zero, zero).item() == pytest.approx(2 * 0.6931472, abs=1e-6)
    big = torch.full((3,), 30.0)
    assert d_adversarial_loss(big, -big).item() < 1e-10


def test_perceptual_networks(tmp_path):
    net = build_perceptual("tiny_random")
    again = build_perceptual("tiny_random")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.equal(net(x), again(x))                # fixed seed: the same stand-in always
    assert perceptual_distance(net, x, x).item() == 0
    assert perceptual_distance(net, x, x.flip(-1) * 0.5).item() > 0
    assert not any(p.requires_grad for p in net.parameters())
    with pytest.raises(ConfigError, match="perceptual_weights=PATH"):
        build_perceptual("resnet18")
    with pytest.raises(ConfigError, match="no file at"):
        build_perceptual("resnet18", str(tmp_path / "missing.pth"))
    from torchvision.models import resnet18
    torch.manual_seed(0)
    path = tmp_path / "resnet18.pth"
    torch.save(resnet18(weights=None).state_dict(), path)
    r18 = build_perceptual("resnet18", str(path))
    assert r18(x).shape == (2, 512)
    bad = tmp_path / "bad.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, bad)
    with pytest.raises(ConfigError, match="not a torchvision resnet18"):
        build_perceptual("resnet18", str(bad))
