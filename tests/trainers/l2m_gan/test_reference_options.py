"""The options that bring the L2M-GAN trainer closer to the reference: ResNet-18 perceptual
features from a user file (missing / corrupt / foreign files), balanced target-domain sampling,
He init; each in the run config, the reference values in the ``paper-celeba-hq`` preset."""
from __future__ import annotations

import hashlib
import math

import pytest
import torch

from lkbench.config import resolve
from lkbench.data import get_dataset
from lkbench.errors import ConfigError
from lkbench.trainers.distributed import RunContext
from lkbench.trainers.l2m_gan import Discriminator, L2MConfig, L2MEditor, L2MRunConfig, L2MTrainer
from lkbench.trainers.l2m_gan.perceptual import build_perceptual
from lkbench.trainers.l2m_gan.trainer import TARGET_SAMPLERS
from lkbench.trainers.loop import step_generator

SMOKE = dict(image_size=32, first_width=8, max_width=32, style_dim=8)


def smoke_config(*overrides: str) -> L2MRunConfig:
    return resolve(L2MRunConfig, preset="smoke", overrides=overrides)


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    """A random (not ImageNet) torchvision resnet18 state_dict, named as torchvision names it:
    ``resnet18-<first 8 hex digits of its sha256>.pth``."""
    from torchvision.models import resnet18
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("weights")
    raw = folder / "raw.pth"
    torch.save(resnet18(weights=None).state_dict(), raw)
    named = folder / f"resnet18-{hashlib.sha256(raw.read_bytes()).hexdigest()[:8]}.pth"
    raw.rename(named)
    return named


def test_resnet18_loads_a_hash_named_file_and_rejects_damaged_ones(resnet18_file, tmp_path):
    net = build_perceptual("resnet18", str(resnet18_file))
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 512)
    assert not any(p.requires_grad for p in net.parameters())
    # the same bytes, truncated, under the torchvision name: the hash check catches it
    cut = tmp_path / resnet18_file.name
    cut.write_bytes(resnet18_file.read_bytes()[:1000])
    with pytest.raises(ConfigError, match="corrupt or truncated"):
        build_perceptual("resnet18", str(cut))
    # tiny fake files without a hash in the name: unreadable, not a dict, not resnet18
    garbage = tmp_path / "weights.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(ConfigError, match="cannot be read as a torch file"):
        build_perceptual("resnet18", str(garbage))
    tensor = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(ConfigError, match="holds a Tensor, not a torchvision resnet18"):
        build_perceptual("resnet18", str(tensor))
    foreign = tmp_path / "foreign.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, foreign)
    with pytest.raises(ConfigError, match="not a torchvision resnet18 state_dict"):
        build_perceptual("resnet18", str(foreign))
    with pytest.raises(ConfigError, match="no file at"):
        build_perceptual("resnet18", str(tmp_path / "missing.pth"))
    with pytest.raises(ConfigError, match="perceptual_weights=PATH"):
        build_perceptual("resnet18", "")


def test_he_init_gives_kaiming_statistics_and_zero_biases():
    torch.manual_seed(0)
    he = L2MEditor(L2MConfig(**SMOKE, init="he"))
    torch.manual_seed(0)
    default = L2MEditor(L2MConfig(**SMOKE))
    convs = [m for m in he.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(convs) > 20
    for m in convs:
        if m.bias is not None:
            assert float(m.bias.detach().abs().max()) == 0
    # the pooled relative spread of all weights around std = √(2 / fan_in)
    z = torch.cat([(m.weight.detach() / math.sqrt(2 / m.weight[0].numel())).flatten()
                   for m in convs])
    assert abs(float(z.std()) - 1) < 0.02 and abs(float(z.mean())) < 0.02
    # PyTorch's default (uniform, gain 1/√3 of fan-in) is well below that spread
    zd = torch.cat([(m.weight.detach() / math.sqrt(2 / m.weight[0].numel())).flatten()
                    for m in default.modules() if isinstance(m, (torch.nn.Conv2d,
                                                                 torch.nn.Linear))])
    assert float(zd.std()) < 0.5
    d = Discriminator(L2MConfig(**SMOKE, init="he"))
    assert float(d.head.bias.detach().abs().max()) == 0
    with pytest.raises(ValueError, match="model.init must be one of default, he"):
        L2MConfig(**SMOKE, init="xavier")


def test_balanced_targets_are_uniform_independent_and_step_determined():
    y = torch.tensor([0, 1] * 2000)
    gen = step_generator(0, 7, 0, torch.device("cpu"))
    t = TARGET_SAMPLERS["balanced"](y, 2, gen)
    assert t.dtype == torch.long and set(t.tolist()) == {0, 1}
    assert abs(float((t == y).float().mean()) - 0.5) < 0.03         # half translate to own
    assert abs(float(t[y == 0].float().mean()) - float(t[y == 1].float().mean())) < 0.05
    again = TARGET_SAMPLERS["balanced"](y, 2, step_generator(0, 7, 0, torch.device("cpu")))
    assert torch.equal(t, again)
    assert torch.equal(TARGET_SAMPLERS["flip"](y, 2, gen), 1 - y)
    with pytest.raises(ValueError, match="data.target must be one of flip, balanced"):
        smoke_config("data.target=random")


@pytest.mark.parametrize("overrides", [
    ("model.init=he",),
    ("data.target=balanced",),
    ("loss.perceptual_net=resnet18",),
    ("model.init=he", "data.target=balanced", "loss.perceptual_net=resnet18"),
])
def test_every_reference_option_runs_a_step_with_finite_losses(overrides, resnet18_file):
    extra = (f"loss.perceptual_weights={resnet18_file}",) \
        if "loss.perceptual_net=resnet18" in overrides else ()
    cfg = smoke_config(*overrides, *extra)
    torch.manual_seed(0)
    trainer = L2MTrainer(cfg, RunContext.create("cpu", amp=False))
    data = get_dataset("synthetic", split="train", image_size=32, size=8)
    real = data.batch(range(4)).images
    y = torch.tensor([0, 1, 1, 0])
    target = TARGET_SAMPLERS[cfg.data.target](y, 2, step_generator(0, 0, 0, torch.device("cpu")))
    losses = trainer.step(real, y, 0, target)
    assert all(torch.isfinite(v) for v in losses.values()), losses
    assert {"loss_d", "loss_g", "style", "cycle", "perceptual", "ort"} <= set(losses)


def test_paper_preset_carries_the_reference_values_and_demo_the_cpu_choices():
    paper = resolve(L2MRunConfig, preset="paper-celeba-hq",
                    overrides=["loss.perceptual_weights=/x/resnet18-f37072fd.pth"])
    assert (paper.model.init, paper.data.target, paper.loss.perceptual_net) == \
        ("he", "balanced", "resnet18")
    demo = resolve(L2MRunConfig, preset="demo")
    assert (demo.model.init, demo.data.target, demo.loss.perceptual_net) == \
        ("default", "flip", "tiny_random")
    assert (demo.data.difficulty, demo.data.attribute) == ("edit", "dark_hair")
