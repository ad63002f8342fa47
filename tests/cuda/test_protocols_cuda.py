"""The protocols' networks on CUDA agree with the CPU (TF32 off, float32):

* the landmark detector (``compact`` and ``deeplabv3-resnet50``, the ``paper`` preset's):
  predictions to ``atol 1e-4`` (keypoints in [-1, 1]); the keypoint loss to ``rtol 1e-3`` and
  its gradients, all together, to the relative error ``‖g − g_cpu‖ / ‖g_cpu‖`` of
  :data:`GRAD_TOL`, in eval mode and in train mode (batch statistics; dropout off); detector
  training on pairs streamed from a generator on CUDA runs with a finite loss;
* the FID feature path (``image_features``: uint8 rounding, clean-fid's resize, the network):
  features to ``rtol 1e-4`` plus ``1e-4 ×`` their largest magnitude — for ``random-conv``
  always, for clean-fid's Inception when its file is available offline (otherwise that case is
  skipped and says so); ``generator_stats`` runs on CUDA;
* CPD: on the same latents (drawn on the CPU), the difference maps agree to ``atol 1e-5`` and
  the CPD to ``1e-4``; ``compute_cpd`` runs on CUDA end to end. (Latents drawn with a CUDA
  ``torch.Generator`` are other samples than the CPU's for the same seed, so whole runs on the
  two devices are compared through the same latents instead.)
"""
from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch

from lkbench.config import resolve
from lkbench.models import Latents
from lkbench.protocols.generation.cpd import (CorrelationStats, CPDConfig, compute_cpd,
                                   cpd_from_correlation, difference_maps, make_units)
from lkbench.protocols.landmarks.detector import (build_detector, generated_pairs, keypoint_loss,
                                        train_detector)
from lkbench.protocols.generation.fid import generator_stats, image_features
from lkbench.protocols.generation.inception import WeightsError, build_extractor
from lkbench.protocols.generation.latent_stream import paired_latent_batches
from lkbench.trainers.latent_keypoint_gan import LatentKeypointGenerator, LKGRunConfig

pytestmark = pytest.mark.cuda

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def generators(device):
    """A smoke-preset LatentKeypointGenerator (untrained, eval) on the CPU and a copy on
    ``device``."""
    cfg = resolve(LKGRunConfig, preset="smoke").model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        g = LatentKeypointGenerator(cfg).eval()
    return g, copy.deepcopy(g).to(device).eval()


def _to(lat: Latents, device) -> Latents:
    return Latents(**{f.name: None if getattr(lat, f.name) is None
                      else getattr(lat, f.name).to(device) for f in dataclasses.fields(lat)})


# -- detector ---------------------------------------------------------------------------------

# (widths [8, 16, ...] at 64 px are avoided: torch 2.14.1 corrupts the heap in the CPU backward of
# the 8 → 16 channels_last 1×1 stride-2 shortcut conv at that size.)
ARCHS = {"compact": {"widths": [16, 32, 64], "blocks": 1, "out_stride": 2},
         "deeplabv3-resnet50": {}}


# Relative error bound of all keypoint-loss gradients together, (eval mode, train mode). Measured
# on one CPU, float32 against float64: compact 3e-6 / 1e-6; deeplabv3-resnet50 3e-4 in eval mode
# and 2.7e-2 in train mode, where the batch statistics of 4 images in a from-scratch ResNet-50
# make the gradients ill-conditioned (there the bound only catches a wrong kernel, not rounding).
GRAD_TOL = {"compact": (1e-4, 1e-4), "deeplabv3-resnet50": (5e-3, 0.15)}


def _grads(det, x, y):
    det.zero_grad(set_to_none=True)
    loss = keypoint_loss(det(x), y)
    loss.backward()
    names = [n for n, p in det.named_parameters() if p.grad is not None]
    return loss.detach().cpu(), names, torch.cat([dict(det.named_parameters())[n].grad
                                                  .detach().double().flatten().cpu()
                                                  for n in names])


@pytest.mark.parametrize("arch", list(ARCHS))
def test_detector_predictions_and_gradients_agree_with_the_cpu(arch, device, no_tf32, helpers):
    k, size = 5, 64
    det = build_detector(k, size, arch, ARCHS[arch], seed=0)
    det_dev = copy.deepcopy(det).to(device)
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(4, 3, size, size, generator=gen) * 2 - 1
    y = torch.rand(4, k, 2, generator=gen) * 1.6 - 0.8
    det.eval(), det_dev.eval()
    torch.testing.assert_close(det_dev.predict(x.to(device)).cpu(), det.predict(x),
                               rtol=0, atol=1e-4, msg=f"{arch} predictions")
    for mode, tol in zip(("eval", "train"), GRAD_TOL[arch]):
        for d in (det, det_dev):     # train: batch statistics on; dropout (deeplab's head) off,
            d.train(mode == "train")  # its masks come from each device's own random stream
            for m in d.modules():
                if isinstance(m, torch.nn.Dropout):
                    m.eval()
        loss, names, g = _grads(det, x, y)
        loss_dev, names_dev, g_dev = _grads(det_dev, x.to(device), y.to(device))
        assert names == names_dev and torch.isfinite(g_dev).all()
        torch.testing.assert_close(loss_dev, loss, rtol=1e-3, atol=0, msg=f"{arch} {mode} loss")
        err = helpers.rel_err(g_dev, g)
        assert err <= tol, f"{arch} {mode}: gradients differ by {err:.2e} (relative), > {tol}"


def test_detector_trains_on_pairs_from_a_generator_on_cuda(generators, device):
    _, g = generators
    det = build_detector(g.num_keypoints, g.image_size, "compact", ARCHS["compact"], seed=0)
    stream = ((p.images, p.keypoints, None) for p in
              generated_pairs(g, 64, 16, torch.Generator(device=device).manual_seed(0)))
    stats = train_detector(det, stream, lr=1e-3, total=64, device=device, progress=False)
    assert stats.steps == 4 and stats.samples == 64 and math.isfinite(stats.final_loss)
    assert next(det.parameters()).device.type == device.type
    out = det.predict(torch.zeros(2, 3, g.image_size, g.image_size, device=device))
    assert out.shape == (2, g.num_keypoints, 2) and torch.isfinite(out).all()


# -- FID features -----------------------------------------------------------------------------

@pytest.mark.parametrize("features", ["random-conv", "inception"])
def test_fid_features_agree_with_the_cpu(features, device, no_tf32, monkeypatch):
    monkeypatch.setenv("LKBENCH_OFFLINE", "1")           # never download in a test
    try:
        ext_cpu = build_extractor(features, "clean", CPU)
    except WeightsError as exc:
        pytest.skip(f"Inception weights not available offline: {str(exc)[:200]}")
    ext_dev = build_extractor(features, "clean", device)
    images = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(4)) * 2 - 1
    f_cpu = image_features(images, ext_cpu, "clean", CPU)
    f_dev = image_features(images, ext_dev, "clean", device)
    assert f_dev.device.type == "cpu" and f_dev.shape == (6, ext_cpu.dim)
    torch.testing.assert_close(f_dev, f_cpu, rtol=1e-4, atol=1e-4 * float(f_cpu.abs().max()))


def test_generator_stats_run_on_cuda(generators, device):
    _, g = generators
    ext = build_extractor("random-conv", "clean", device)
    stats = generator_stats(g, ext, "clean", 20, seed=0, batch_size=8, device=device)
    mu, sigma = stats.compute()
    assert stats.n == 20 and mu.shape == (ext.dim,) and sigma.shape == (ext.dim, ext.dim)
    assert all(math.isfinite(float(v)) for v in (mu.sum(), sigma.sum()))


# -- CPD --------------------------------------------------------------------------------------

def test_cpd_difference_maps_and_value_agree_with_the_cpu(generators, device):
    g_cpu, g_dev = generators
    units = make_units(g_cpu.num_keypoints, (), True)
    stats = {"cpu": CorrelationStats(len(units)), "dev": CorrelationStats(len(units))}
    with torch.no_grad():
        for a, b in paired_latent_batches(g_cpu, 40, 0, 20):      # the same latents for both
            d_cpu = difference_maps(lambda lat: g_cpu.render(lat).images.float(), a, b, units,
                                    generator=g_cpu)
            d_dev = difference_maps(lambda lat: g_dev.render(lat).images.float(),
                                    _to(a, device), _to(b, device), units, generator=g_dev)
            assert d_dev.device.type == device.type
            torch.testing.assert_close(d_dev.cpu(), d_cpu, rtol=0, atol=1e-5)
            stats["cpu"].update(d_cpu.reshape(len(units), -1))
            stats["dev"].update(d_dev.reshape(len(units), -1))
    cpd_cpu, cpd_dev = (cpd_from_correlation(s.correlation()) for s in stats.values())
    assert math.isfinite(cpd_cpu) and abs(cpd_dev - cpd_cpu) <= 1e-4, (cpd_dev, cpd_cpu)


def test_compute_cpd_runs_on_cuda(generators, device):
    _, g = generators
    result = compute_cpd(g, CPDConfig(num_latents=40, batch_size=10, device=device.type))
    assert result.num_pairs == 20 and math.isfinite(result.cpd)
    assert result.correlation.shape == (g.num_keypoints + 1,) * 2
