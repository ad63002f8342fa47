"""Every trainer on CUDA with AMP through the shared loop (``lkbench.trainers.loop.train``, as
``lkbench train --device cuda`` runs it): LatentKeypointGAN, each KeypointGAN variant and the
L2M-GAN editor at their ``smoke`` presets, two steps each.

Checked: AMP really autocasts (the discriminator's outputs are bfloat16), every logged loss is
finite, every optimiser took a step with finite state, and the checkpoint holds everything a
resume needs. AMP is bfloat16 autocast (``RunContext.autocast``): bfloat16 has float32's
exponent range, so gradients cannot underflow and there is no loss scaling — no
``torch.amp.GradScaler``, hence no scaler state to checkpoint. The test fails, saying so, if AMP
ever autocasts to float16, which would need a GradScaler and its ``state_dict`` in checkpoints.

Then a checkpoint written on CUDA loads on the CPU (``lkbench.load_generator``, mapped to the
CPU) and gives the same outputs as the CUDA model to float tolerance (``atol 1e-4`` on images
in [-1, 1] and keypoints in [-1, 1], TF32 off).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import lkbench
from lkbench.checkpoint import load_checkpoint
from lkbench.config import resolve
from lkbench.trainers.keypoint_gan import VARIANTS, KGTrainer
from lkbench.trainers.l2m_gan import L2MTrainer
from lkbench.trainers.latent_keypoint_gan import LKGTrainer
from lkbench.trainers.loop import train

pytestmark = pytest.mark.cuda

RUNS = {
    "latent-keypoint-gan": (LKGTrainer, []),
    **{f"keypoint-gan/{v}": (KGTrainer, [f"model.variant={v}", "optim.regressor_pretrain_steps=1",
                                         "data.size=8", "data.prior_size=16"])
       for v in sorted(VARIANTS.names())},
    "l2m-gan": (L2MTrainer, ["data.size=16"]),
}
STEPS = 2


def _first_tensor(out):
    if isinstance(out, torch.Tensor):
        return out
    for item in out:
        found = _first_tensor(item)
        if found is not None:
            return found
    return None


def _capturing(trainer_cls):
    """``trainer_cls`` that remembers its last instance and the dtype of every D output."""
    class Capturing(trainer_cls):
        last = None

        def __init__(self, cfg, ctx):
            super().__init__(cfg, ctx)
            type(self).last = self
            self.d_dtypes: list[torch.dtype] = []
            self.D.register_forward_hook(
                lambda module, args, out: self.d_dtypes.append(_first_tensor(out).dtype))
    return Capturing


@pytest.fixture(scope="module")
def runs(tmp_path_factory, device):
    """name → (trainer, run folder): two AMP steps of each run of :data:`RUNS` on ``device``."""
    done = {}
    for name, (trainer_cls, overrides) in RUNS.items():
        cfg = resolve(trainer_cls.config_class, preset="smoke", overrides=[
            *overrides, f"loop.steps={STEPS}", f"loop.device={device.type}", "loop.amp=true",
            "loop.sample_every=100", "loop.ckpt_every=100"])
        out = tmp_path_factory.mktemp(name.replace("/", "-")) / "run"
        cls = _capturing(trainer_cls)
        result = train(cls, cfg, out, progress=False)
        assert result.step == STEPS and result.checkpoint is not None
        done[name] = (cls.last, out)
    return done


@pytest.mark.parametrize("name", list(RUNS))
def test_one_amp_step_of_each_trainer_has_finite_losses_and_a_full_checkpoint(name, runs,
                                                                              device):
    trainer, out = runs[name]
    assert trainer.ctx.device.type == device.type and trainer.ctx.amp
    assert trainer.d_dtypes, "the discriminator never ran"
    assert torch.float16 not in trainer.d_dtypes, (
        "AMP autocast to float16: that needs a torch.amp.GradScaler, and its state_dict saved "
        "with the checkpoint and restored on --resume")
    assert torch.bfloat16 in trainer.d_dtypes, \
        f"AMP did not autocast the discriminator (saw {set(trainer.d_dtypes)})"
    lines = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert [ln["step"] for ln in lines] == list(range(1, STEPS + 1))
    for ln in lines:
        losses = {k: v for k, v in ln.items() if isinstance(v, float)
                  and k not in ("wall_time_s", "images_per_s")}
        assert losses, ln
        bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
        assert not bad, f"step {ln['step']}: non-finite {bad}"
    for opt_name, opt in trainer.optimizers().items():
        state = opt.state_dict()["state"]
        assert state, f"{opt_name} took no step"
        for entry in state.values():
            for key, value in entry.items():
                if isinstance(value, torch.Tensor) and value.is_floating_point():
                    assert torch.isfinite(value).all(), f"{opt_name} {key} not finite"
    ckpt = load_checkpoint(out / "ckpt" / f"step-{STEPS:07d}.pt")
    assert ckpt.step == STEPS
    assert set(trainer.modules()) | set(trainer.optimizers()) <= set(ckpt.state)
    assert ckpt.extra["run_config"]["loop"]["amp"] is True
    assert ckpt.extra["run_config"]["loop"]["device"] == device.type
    for key, state in ckpt.state.items():     # mapped to the CPU on load, whatever wrote it
        for t in _tensors(state):
            assert t.device.type == "cpu", key


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)


def _cpu_and_device_outputs(name: str, trainer, ckpt: Path, device):
    """The same inputs through the trained model on ``device`` and through the checkpoint
    loaded on the CPU: ``{output name: (device result, CPU result)}``."""
    loaded = lkbench.load_generator(ckpt)
    assert all(t.device.type == "cpu" for t in loaded.state_dict().values())
    gen = torch.Generator().manual_seed(7)
    out = {}
    if name == "latent-keypoint-gan":
        live = trainer.G_ema.eval()
        z = [torch.randn(6, live.cfg.noise_dim, generator=gen) for _ in range(3)]
        with torch.no_grad():
            a = live.render(live.map(*(t.to(device) for t in z)))
            b = loaded.render(loaded.map(*z))
        out.update(images=(a.images, b.images), keypoints=(a.keypoints, b.keypoints))
    elif name.startswith("keypoint-gan"):
        live = trainer.G.eval()
        r = live.image_size
        x, app = (torch.rand(4, 3, r, r, generator=gen) * 2 - 1 for _ in range(2))
        with torch.no_grad():
            out["keypoints"] = (live.predict(x.to(device)), loaded.predict(x))
            out["images"] = (live.reconstruct(x.to(device), app.to(device)),
                             loaded.reconstruct(x, app))
    else:
        live = trainer.G_ema.eval()
        r = live.image_size
        x = torch.rand(4, 3, r, r, generator=gen) * 2 - 1
        y = torch.tensor([0, 1, 1, 0])
        with torch.no_grad():
            out["images"] = (live.edit(x.to(device), y.to(device)), loaded.edit(x, y))
    return out


@pytest.mark.parametrize("name", ["latent-keypoint-gan", "keypoint-gan/full", "l2m-gan"])
def test_a_cuda_checkpoint_loads_on_the_cpu_and_gives_the_same_outputs(name, runs, device,
                                                                      no_tf32):
    trainer, out = runs[name]
    ckpt = out / "ckpt" / f"step-{STEPS:07d}.pt"
    for what, (on_device, on_cpu) in _cpu_and_device_outputs(name, trainer, ckpt,
                                                             device).items():
        assert on_device.device.type == device.type and on_cpu.device.type == "cpu"
        torch.testing.assert_close(on_device.float().cpu(), on_cpu.float(), rtol=1e-4,
                                   atol=1e-4, msg=f"{name}: {what}")
